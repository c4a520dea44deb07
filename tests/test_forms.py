"""What the holder forms accept, what they refuse (with the error next to the field), and that refusals store nothing."""

import re
from dataclasses import dataclass
from datetime import date

import pytest

from portal.extensions import db
from portal.models import Order, OrderEvent, OutgoingMessage
from tests.conftest import links_in
from tests.pages import field_error, flashes, path_of, share_via_whatsapp, submit_form, text

VALID = {"first_name": "Noor", "last_name": "Bakker", "email": "noor@example.org", "phone": "+31 6 23456789"}


@dataclass
class HolderFormPage:
    """One of the two forms that personalise a ticket: the booker's claim form or the recipient's page."""

    path: str
    order_id: int
    status_before: str


def open_overview(smtp, deliver) -> str:
    deliver()
    return path_of(links_in(smtp.take_one("booker@example.com"))[0])


@pytest.fixture(params=["claim", "recipient"])
def holder_form(request, client, smtp, deliver, make_order):
    """Ticket 1 of a fresh order, reached through the claim form or through a share link."""
    order_id = make_order(tickets=2)
    overview = open_overview(smtp, deliver)
    if request.param == "claim":
        return HolderFormPage(f"{overview}/tickets/1/claim", order_id, "open")
    return HolderFormPage(share_via_whatsapp(client, overview, 1), order_id, "shared")


def stored(app, order_id: int) -> dict[str, object]:
    """Everything a submission could have stored: the ticket, the timeline, the outbox."""
    with app.app_context():
        ticket = db.session.get(Order, order_id).ticket_at(1)
        return {
            "ticket": (ticket.status, ticket.holder_first_name, ticket.holder_email, ticket.holder_phone),
            "events": db.session.query(OrderEvent).count(),
            "outbox": db.session.query(OutgoingMessage).count(),
        }


def holder(app, order_id: int):
    with app.app_context():
        ticket = db.session.get(Order, order_id).ticket_at(1)
        db.session.expunge(ticket)
        return ticket


INVALID = {
    "invalid email": ("email", "noor.example.org", "valid email address"),
    "unparsable phone": ("phone", "12ab", "valid phone number"),
    "empty last name": ("last_name", "", "required"),
    "empty first name": ("first_name", "   ", "required"),
    "10 kB first name": ("first_name", "N" * 10_240, "100"),
    "NUL in a name": ("first_name", "No\x00or", "letters, spaces and punctuation"),
    "escape sequence in a name": ("last_name", "Bakker\x1b[2J", "letters, spaces and punctuation"),
}


@pytest.mark.parametrize(("field", "value", "says"), INVALID.values(), ids=INVALID.keys())
def test_invalid_details_are_refused_next_to_the_field_and_nothing_is_stored(
    app, client, holder_form, field, value, says
):
    before = stored(app, holder_form.order_id)

    response = submit_form(client, holder_form.path, **{**VALID, field: value})

    assert 200 <= response.status_code < 500 and response.status_code not in (301, 302, 303)
    error = field_error(response.get_data(as_text=True), field)
    assert error is not None and says in error, error
    assert stored(app, holder_form.order_id) == before
    assert before["ticket"][0] == holder_form.status_before


def test_a_dutch_mobile_without_country_code_is_stored_in_international_form(app, client, holder_form):
    response = submit_form(client, holder_form.path, **{**VALID, "phone": "06 12345678"})

    assert response.status_code in (302, 303)
    assert holder(app, holder_form.order_id).holder_phone == "+31612345678"


NAMES = {
    "Greek": ("Αλέξανδρος", "Παπαδόπουλος"),
    "Arabic": ("محمد", "عبد الله"),
    "Chinese": ("小明", "王"),
}


@pytest.mark.parametrize(("first_name", "last_name"), NAMES.values(), ids=NAMES.keys())
def test_names_in_any_script_are_stored_exactly(app, client, holder_form, first_name, last_name):
    response = submit_form(client, holder_form.path, **{**VALID, "first_name": first_name, "last_name": last_name})

    assert response.status_code in (302, 303)
    ticket = holder(app, holder_form.order_id)
    assert (ticket.holder_first_name, ticket.holder_last_name) == (first_name, last_name)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"{first_name} {last_name}" in text(page)


def test_a_post_without_csrf_token_is_not_acted_on(app, client, holder_form):
    before = stored(app, holder_form.order_id)

    response = client.post(holder_form.path, data=VALID, follow_redirects=True)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert any("session had expired, so nothing was saved" in message for message in flashes(html))
    assert 'name="first_name"' in html  # the form again, to try once more
    assert stored(app, holder_form.order_id) == before


@pytest.mark.parametrize("action", ["share/whatsapp", "share/email", "download"])
def test_a_booker_button_without_csrf_token_is_not_acted_on(app, client, smtp, deliver, make_order, action):
    order_id = make_order(tickets=1)
    overview = open_overview(smtp, deliver)
    before = stored(app, order_id)

    response = client.post(f"{overview}/tickets/1/{action}", data={"email": "friend@example.org"})

    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert stored(app, order_id) == before


def test_sharing_by_email_to_an_invalid_address_is_refused_and_nothing_is_sent(app, client, smtp, deliver, make_order):
    order_id = make_order(tickets=1)
    overview = open_overview(smtp, deliver)
    before = stored(app, order_id)

    share_page = f"{overview}/tickets/1/share"
    response = submit_form(client, share_page, action=f"{share_page}/email", email="friend@@example")

    assert response.status_code == 422
    assert "valid email address" in field_error(response.get_data(as_text=True), "email")
    assert stored(app, order_id) == before
    assert before["ticket"][0] == "open"
    assert deliver().sent == 0


@pytest.fixture
def birthday_shop_form(client, smtp, deliver, make_order):
    """The claim form of a shop that asks for the holder's date of birth."""
    order_id = make_order(tickets=1, date_of_birth_required=True)
    return HolderFormPage(f"{open_overview(smtp, deliver)}/tickets/1/claim", order_id, "open")


def test_a_shop_that_asks_for_the_date_of_birth_requires_it(app, client, birthday_shop_form):
    form = birthday_shop_form
    html = client.get(form.path).get_data(as_text=True)
    assert '<label for="date_of_birth">Date of birth</label>' in html

    refused = submit_form(client, form.path, **VALID)
    assert "date of birth" in field_error(refused.get_data(as_text=True), "date_of_birth").lower()
    assert holder(app, form.order_id).status == "open"

    accepted = submit_form(client, form.path, **VALID, date_of_birth="1990-05-17")
    assert accepted.status_code == 302
    assert holder(app, form.order_id).holder_date_of_birth == date(1990, 5, 17)


def test_a_shop_that_does_not_ask_for_the_date_of_birth_shows_no_such_field(client, holder_form):
    assert "Date of birth" not in client.get(holder_form.path).get_data(as_text=True)


def test_an_email_address_with_a_non_ascii_local_part_is_refused_at_the_form(app):
    """Mail relays rarely take such addresses; saying so at once beats a ticket mail that never arrives."""
    from portal.forms import normalise_email
    from wtforms.validators import ValidationError

    with app.test_request_context():
        assert normalise_email("Zoe@Example.org") == "Zoe@example.org"
        with pytest.raises(ValidationError):
            normalise_email("zoë@example.org")


#: Passes email_validator's IDNA 2008 check, not the IDNA 2003 codec Flask-Mail encodes it with.
UNSENDABLE = "eve@\u05d0\u05d11.example"


def test_an_address_the_mail_layer_cannot_encode_is_refused_next_to_the_field(app, client, holder_form):
    response = submit_form(client, holder_form.path, **{**VALID, "email": UNSENDABLE})
    assert response.status_code == 200
    assert field_error(response.get_data(as_text=True), "email") == "Enter a valid email address, like name@example.com."
    assert holder(app, holder_form.order_id).holder_email is None


def test_a_phone_can_fill_in_the_person_fields_and_the_optional_one_is_marked(client, holder_form):
    html = client.get(holder_form.path).get_data(as_text=True)
    for name, autocomplete in (("first_name", "given-name"), ("last_name", "family-name"), ("email", "email"),
                               ("phone", "tel")):
        [tag] = re.findall(rf'<input[^>]* name="{name}"[^>]*>', html)
        assert f'autocomplete="{autocomplete}"' in tag, tag
        assert (" required" in tag) == (name != "phone"), tag
    assert re.search(r'<label for="phone">Phone <span class="field-optional">\(optional\)</span></label>', html)
    assert re.search(r'<label for="first_name">First name</label>', html)


@pytest.mark.parametrize("name", ["🎉🎉", "★ ☆", "!!!", "12345"])
def test_what_cannot_be_a_name_is_refused_next_to_the_field(app, client, holder_form, name):
    response = submit_form(client, holder_form.path, **{**VALID, "first_name": name})
    assert response.status_code == 200
    assert field_error(response.get_data(as_text=True), "first_name") == "Enter a name with letters."
    assert holder(app, holder_form.order_id).holder_first_name is None


def test_a_date_of_birth_in_the_future_is_refused(app, client, birthday_shop_form):
    from datetime import timedelta

    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    response = submit_form(client, birthday_shop_form.path, **VALID, date_of_birth=tomorrow)
    assert field_error(response.get_data(as_text=True), "date_of_birth") == "A date of birth cannot be in the future."
    assert holder(app, birthday_shop_form.order_id).holder_date_of_birth is None
