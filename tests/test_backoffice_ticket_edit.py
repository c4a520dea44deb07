"""Ticket-level ⋯ → Edit: the organizer overwrites one ticket's holder (the "unclaim" for one ticket)."""

import re

from portal.extensions import db
from portal.models import Order, OrderEvent
from tests.backoffice_pages import is_disabled, menu_entry, order_path, page, timeline
from tests.conftest import links_in
from tests.pages import csrf_token, field_error, flashes, path_of, share_via_whatsapp, text

HOLDER = {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com", "phone": "+1 212 555 0123"}


def edit_path(order_id: int, position: int) -> str:
    return f"{order_path(order_id)}/tickets/{position}/edit"


def save(client, order_id: int, position: int, **fields: str):
    """Fill in the edit form and press Save; returns the confirmation step (or the form with errors)."""
    form = page(client, edit_path(order_id, position))
    return client.post(edit_path(order_id, position), data={"csrf_token": csrf_token(form), **fields})


def press_confirm(client, confirmation_html: str):
    """Press Confirm on the confirmation step: its form carries the values in hidden fields."""
    action = re.search(r'<form method="post" action="([^"]+/edit/confirm)"', confirmation_html).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', confirmation_html))
    return client.post(action, data={"csrf_token": csrf_token(confirmation_html), **fields})


def claim(client, overview: str, position: int, **holder: str) -> None:
    claim_page = client.get(f"{overview}/tickets/{position}/claim").get_data(as_text=True)
    client.post(f"{overview}/tickets/{position}/claim", data={"csrf_token": csrf_token(claim_page), **holder})


def ticket_state(app, order_id: int, position: int) -> dict:
    with app.app_context():
        ticket = db.session.get(Order, order_id).ticket_at(position)
        return {name: getattr(ticket, name) for name in (
            "status", "barcode", "share_version", "holder_first_name", "holder_last_name", "holder_email",
            "holder_phone", "personalised_by")}


def test_each_ticket_has_a_ticket_actions_button_with_edit(login, make_order):
    order_id = make_order(tickets=2)
    html = page(login(), order_path(order_id))
    buttons = re.findall(r'<button[^>]*aria-label="Ticket actions"[^>]*>.*?</button>', html, flags=re.S)
    assert len(buttons) == 2 and all("⋯" in button for button in buttons)
    entry = menu_entry(html, "Edit", "ticket-actions-2")
    assert not is_disabled(entry) and f'href="{edit_path(order_id, 2)}"' in entry


def test_edit_form_is_labelled_and_validated_like_the_portal(login, make_order):
    order_id = make_order(tickets=1, phone_required=True)
    staff = login()
    form = page(staff, edit_path(order_id, 1))
    for field, label in (("first_name", "First name"), ("last_name", "Last name"), ("email", "Email"), ("phone", "Phone")):
        assert f'<label for="{field}">{label}</label>' in form
    assert ">Save</button>" in form

    response = save(staff, order_id, 1, first_name="", last_name="x" * 101, email="grace@", phone="")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert field_error(html, "first_name") == "This field is required."
    assert field_error(html, "last_name")
    assert field_error(html, "email") == "Enter a valid email address, like name@example.com."
    assert field_error(html, "phone") == "This field is required."  # the shop asks for a phone
    response = save(staff, order_id, 1, first_name="Grace\u0000", last_name="Hopper", email="grace@example.com", phone="12")
    html = response.get_data(as_text=True)
    assert field_error(html, "first_name") == "Use letters, spaces and punctuation only."
    assert field_error(html, "phone") == "Enter a valid phone number, like +31 6 12345678."


def test_edit_shows_a_confirmation_and_changes_nothing_until_confirmed(app, login, make_order):
    order_id = make_order(tickets=2)
    staff = login()
    before = ticket_state(app, order_id, 1)
    response = save(staff, order_id, 1, **HOLDER)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert ">Confirm</button>" in html
    assert "Grace Hopper" in text(html) and "+12125550123" in text(html)  # validated values, as they will be saved
    assert ticket_state(app, order_id, 1) == before


def test_editing_a_claimed_ticket_replaces_holder_barcode_and_tells_both_holders(app, client, login, smtp, deliver, make_order):
    order_id = make_order(tickets=2, booker_email="sam@example.com")
    deliver()
    overview = path_of(links_in(smtp.take_one("sam@example.com"))[0])
    claim(client, overview, 1, first_name="Wrong", last_name="Person", email="wrong@example.com")
    deliver()
    holders_link = path_of(next(link for link in links_in(smtp.take_one("wrong@example.com")) if "/t/" in link))
    assert client.get(holders_link).status_code == 200
    before = ticket_state(app, order_id, 1)
    untouched = ticket_state(app, order_id, 2)

    staff = login()
    confirmation = save(staff, order_id, 1, **HOLDER).get_data(as_text=True)
    assert "wrong@example.com" in text(confirmation)  # the previous holder will be told
    response = press_confirm(staff, confirmation)
    assert response.status_code == 303

    after = ticket_state(app, order_id, 1)
    assert (after["holder_first_name"], after["holder_last_name"], after["holder_email"], after["holder_phone"]) == (
        "Grace", "Hopper", "grace@example.com", "+12125550123")
    assert after["status"] == "personalised" and after["personalised_by"] == "organizer"
    assert after["barcode"] != before["barcode"]
    assert after["share_version"] == before["share_version"] + 1
    assert ticket_state(app, order_id, 2) == untouched  # the rest of the order is untouched
    # The previous holder's link stops working.
    assert client.get(holders_link).status_code == 410

    deliver()
    notice = smtp.take_one("wrong@example.com")
    assert "changed" in notice["Subject"]
    assert links_in(notice) == []  # nothing of the new holder, no link
    assert "Grace" not in notice.get_body(("plain",)).get_content()
    ready = smtp.take_one("grace@example.com")
    new_link = path_of(next(link for link in links_in(ready) if "/t/" in link))
    ticket_page = client.get(new_link)
    assert ticket_page.status_code == 200 and "Grace Hopper" in text(ticket_page.get_data(as_text=True))

    # The booker's overview shows the new holder; the timeline names the fields, never the old values.
    assert "Personalised by Grace Hopper" in text(client.get(overview).get_data(as_text=True))
    html = page(staff, order_path(order_id))
    assert flashes(html) == ["Ticket 1 has been saved with its new holder."]
    with app.app_context():
        event = db.session.query(OrderEvent).filter_by(order_id=order_id, kind="ticket_edited").one()
        assert event.details == {"fields": ["first_name", "last_name", "email", "phone"]}
        assert event.actor_label == staff.user_email
    edited = next(entry for entry in timeline(html) if "edited by organizer" in entry)
    assert "Ticket 1 edited by organizer (changed: first name, last name, email, phone)" in edited
    assert "Wrong" not in text(html) and "wrong@example.com" not in text(html)


def test_editing_a_shared_ticket_makes_its_share_link_stop_working(app, client, login, smtp, deliver, make_order):
    order_id = make_order(tickets=2, booker_email="sam@example.com")
    deliver()
    overview = path_of(links_in(smtp.take_one("sam@example.com"))[0])
    share = share_via_whatsapp(client, overview, 2)
    assert client.get(share).status_code == 200

    staff = login()
    press_confirm(staff, save(staff, order_id, 2, **HOLDER).get_data(as_text=True))
    response = client.get(share)
    assert response.status_code == 410
    assert "Grace" not in response.get_data(as_text=True)
    assert ticket_state(app, order_id, 2)["status"] == "personalised"
    deliver()
    smtp.take_one("grace@example.com")  # the new holder gets the ticket; there was no previous holder to tell


def test_the_confirm_step_validates_the_carried_values_again(app, login, make_order):
    order_id = make_order(tickets=1)
    staff = login()
    confirmation = save(staff, order_id, 1, **HOLDER).get_data(as_text=True)
    tampered = confirmation.replace('value="grace@example.com"', 'value="not-an-email"')
    response = press_confirm(staff, tampered)
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "email")
    assert ticket_state(app, order_id, 1)["holder_email"] is None


def test_saving_the_same_details_changes_nothing(app, login, smtp, deliver, make_order):
    order_id = make_order(tickets=1, booker_email="sam@example.com")
    staff = login()
    press_confirm(staff, save(staff, order_id, 1, **HOLDER).get_data(as_text=True))
    before = ticket_state(app, order_id, 1)
    response = save(staff, order_id, 1, **{**HOLDER, "phone": "+12125550123"})
    assert response.status_code == 303
    assert flashes(page(staff, order_path(order_id))) == ["Nothing was changed."]
    assert ticket_state(app, order_id, 1) == before
    deliver()
    smtp.take_one("sam@example.com")
    smtp.take_one("grace@example.com")  # once, for the first edit only


def test_editing_the_name_only_sends_the_same_holder_the_new_ticket(app, login, smtp, deliver, make_order):
    """The barcode changed, so the holder's earlier PDF no longer scans: they get the ticket again."""
    order_id = make_order(tickets=1)
    staff = login()
    press_confirm(staff, save(staff, order_id, 1, **HOLDER).get_data(as_text=True))
    barcode = ticket_state(app, order_id, 1)["barcode"]
    press_confirm(staff, save(staff, order_id, 1, **{**HOLDER, "first_name": "Grace B."}).get_data(as_text=True))
    assert ticket_state(app, order_id, 1)["barcode"] != barcode
    deliver()
    smtp.take("booker@example.com")
    assert len(smtp.take("grace@example.com")) == 2  # no "details changed" notice: the email stayed
