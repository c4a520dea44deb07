"""The personalisation deadline: pages say by when; after it, consumers can no longer claim, share or fill in."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from portal.extensions import db
from portal.models import Order
from tests.conftest import body, links_in
from tests.pages import csrf_token, hrefs, path_of, submit_form, text, ticket_card, whatsapp_text

HOLDER = {"first_name": "Noor", "last_name": "Bakker", "email": "noor@example.org"}
#: Friday 6 February 2037, 18:00 in Amsterdam (17:00 UTC): far enough ahead for every test.
DEADLINE = datetime(2037, 2, 6, 17, 0, tzinfo=UTC)
CLOSED = "Personalisation closed on"


@pytest.fixture
def order(app, make_order, smtp, deliver):
    """An order of 3 tickets with a deadline ahead: 1 personalised by Ada, 2 shared by email with a friend.

    Returns (order id, overview path, the friend's link path).
    """
    starts = datetime(2037, 2, 14, 19, 0, tzinfo=UTC)
    order_id = make_order(
        tickets=3, personalisation_deadline=DEADLINE, event_starts_at=starts, event_ends_at=starts + timedelta(hours=4)
    )
    deliver()
    confirmation = smtp.take_one("booker@example.com")
    assert "Fill in by Friday 6 February, 18:00" in body(confirmation)
    overview = path_of(links_in(confirmation)[0])
    submit_form(client := app.test_client(), f"{overview}/tickets/1/claim", first_name="Ada", last_name="Test", email="ada@example.com")
    submit_form(client, f"{overview}/tickets/2/share", action=f"{overview}/tickets/2/share/email", email="friend@example.org")
    deliver()
    smtp.take_one("ada@example.com")
    share_mail = smtp.take_one("friend@example.org")
    assert "Fill in by Friday 6 February, 18:00" in body(share_mail)
    return order_id, overview, path_of(links_in(share_mail)[0])


def pass_the_deadline(app, order_id: int) -> None:
    with app.app_context():
        db.session.get(Order, order_id).shop.personalisation_deadline = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()


def test_before_the_deadline_the_overview_and_the_recipients_page_say_by_when(client, order):
    _, overview, friend_link = order
    assert "Fill in by Friday 6 February, 18:00" in text(client.get(overview).get_data(as_text=True))
    assert "Fill in by Friday 6 February, 18:00" in text(client.get(friend_link).get_data(as_text=True))
    dutch = text(client.get(overview, headers={"Accept-Language": "nl"}).get_data(as_text=True))
    assert "Vul in vóór vrijdag 6 februari, 18:00" in dutch


def test_after_the_deadline_the_overview_has_no_claim_or_share_and_says_it_has_closed(app, client, order):
    order_id, overview, _ = order
    pass_the_deadline(app, order_id)
    html = client.get(overview).get_data(as_text=True)
    page = text(html)
    assert CLOSED in page and "Fill in by" not in page
    assert "Personalised tickets can still be downloaded." in page
    for position in (1, 2, 3):
        card = ticket_card(html, position)
        assert "/claim" not in card and "/share" not in card and ">Claim<" not in card
    # The consumer desk is one tap away, with the order number prefilled.
    notice = re.search(r'<div class="notice" id="personalisation-closed">(.*?)</div>', html, flags=re.S).group(1)
    [desk] = [href for href in hrefs(notice) if href.startswith("https://wa.me/31205550100?text=")]
    with app.app_context():
        assert db.session.get(Order, order_id).number in whatsapp_text(desk)


def test_after_the_deadline_personalised_tickets_still_download(app, client, order):
    order_id, overview, _ = order
    pass_the_deadline(app, order_id)
    html = client.get(overview).get_data(as_text=True)
    response = client.post(f"{overview}/tickets/1/download", data={"csrf_token": csrf_token(html)})
    assert response.status_code == 200 and response.mimetype == "application/pdf"


def test_after_the_deadline_every_consumer_action_is_refused_with_a_clear_page(app, client, order):
    order_id, overview, friend_link = order
    # Pages opened before the deadline, their forms sent after it.
    token = csrf_token(client.get(f"{overview}/tickets/3/share").get_data(as_text=True))
    friend_token = csrf_token(client.get(friend_link).get_data(as_text=True))
    pass_the_deadline(app, order_id)
    with app.app_context():
        before = [(t.status, t.share_version, t.holder_email) for t in db.session.get(Order, order_id).tickets]

    refused = [
        client.get(f"{overview}/tickets/3/claim"),
        client.get(f"{overview}/tickets/3/share"),
        client.get(f"{overview}/tickets/2/share/whatsapp"),
        client.post(f"{overview}/tickets/3/claim", data={"csrf_token": token, **HOLDER}),
        client.post(f"{overview}/tickets/3/share/whatsapp", data={"csrf_token": token, "share_version": "0"}),
        client.post(f"{overview}/tickets/3/share/email", data={"csrf_token": token, "email": "x@example.org", "share_version": "0"}),
        client.post(friend_link, data={"csrf_token": friend_token, **HOLDER}),
    ]
    for response in refused:
        assert response.status_code == 403, response.request.path
        page = text(response.get_data(as_text=True))
        assert "Personalisation has closed" in page and "Nothing was changed" in page
        assert "Contact consumer desk" in page
    link_share = client.post(f"{overview}/tickets/3/share/link", data={"csrf_token": token})
    assert link_share.status_code == 403 and "closed" in link_share.get_json()["error"]

    with app.app_context():
        after = [(t.status, t.share_version, t.holder_email) for t in db.session.get(Order, order_id).tickets]
    assert after == before


def test_after_the_deadline_the_recipients_page_shows_no_form_and_how_to_reach_the_consumer_desk(app, client, order):
    order_id, _, friend_link = order
    pass_the_deadline(app, order_id)
    html = client.get(friend_link).get_data(as_text=True)
    assert 'name="first_name"' not in html
    page = text(html)
    assert CLOSED in page and "Contact consumer desk" in page
    # Still nothing of the booker.
    assert "Sam" not in page and "booker@example.com" not in page


def test_without_a_consumer_desk_number_the_closed_page_gives_the_support_contact(app, client, order):
    order_id, overview, _ = order
    with app.app_context():
        shop = db.session.get(Order, order_id).shop
        shop.consumer_desk_whatsapp = None
        shop.support_contact = "Call us on 020 555 0100"
        db.session.commit()
    pass_the_deadline(app, order_id)
    response = client.get(f"{overview}/tickets/3/claim")
    assert response.status_code == 403
    assert "Call us on 020 555 0100" in text(response.get_data(as_text=True))


def test_a_get_after_the_deadline_changes_nothing_either(app, client, order):
    order_id, overview, friend_link = order
    pass_the_deadline(app, order_id)
    for path in (overview, f"{overview}/tickets/3/claim", f"{overview}/tickets/3/share", friend_link):
        client.get(path)
    with app.app_context():
        statuses = [t.status for t in db.session.get(Order, order_id).tickets]
    assert statuses == ["personalised", "shared", "open"]


def test_the_overview_shows_when_each_ticket_was_shared_and_personalised(app, client, order, smtp, deliver):
    _, overview, friend_link = order
    submit_form(client, friend_link, **HOLDER)
    deliver()
    smtp.take_one("noor@example.org")
    html = client.get(overview).get_data(as_text=True)
    claimed, shared, open_ = (text(ticket_card(html, n)) for n in (1, 2, 3))
    assert "Personalised on " in claimed and "Shared on " not in claimed
    assert re.search(r"Shared on \w+day \d+ \w+, \d\d:\d\d Personalised on \w+day \d+ \w+, \d\d:\d\d", shared)
    assert "Shared on" not in open_ and "Personalised on" not in open_
