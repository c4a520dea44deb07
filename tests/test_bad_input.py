"""Bad input, generated: arbitrary unicode, control characters, huge values and malformed links
at every form and every link route. Never a 500, nothing stored on refusal, and whatever is
stored comes out escaped in pages and emails and legible in the ticket PDF.

The CSRF check and the rate limits are off here: they are tested on their own, and here
they would only stop the generated requests before they reach the code under test.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st
from itsdangerous import URLSafeSerializer
from markupsafe import escape
from sqlalchemy import func, select

from portal.extensions import db
from portal.services.emails import compose
from portal.links import overview_url
from portal.models import Order, OrderEvent, OutgoingMessage, Shop
from portal.services import personalisation
from tests.pages import path_of, pdf_text

FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

#: Markup and template syntax that must come out as text.
NASTY = [
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "{{ 7*7 }}", "{% raw %}", "'; DROP TABLE ticket;--",
    "<b>Zoë</b>", "&amp;&lt;", "\u202eevil", "Ζωή 李 Łukasz", "a\x00b", "\r\nBcc: x@example.org", " ", "",
]
#: Any text (every code point but surrogates), markup, and huge values made cheaply.
text = st.one_of(
    st.text(max_size=120),
    st.sampled_from(NASTY),
    st.builds(lambda piece, times: piece * times, st.text(min_size=1, max_size=3), st.integers(200, 20_000)),
)
emails = st.one_of(st.emails().map(lambda address: address[:254]), text)
phones = st.one_of(st.sampled_from(["+31 6 12345678", "06-12345678", "+1 202 555 0143", ""]), text)


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False}


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(OrderEvent)),
                db.session.scalar(select(func.count()).select_from(OutgoingMessage)))


def new_shared_ticket(app, make_order, shop_id) -> tuple[int, str, str]:
    """A fresh order of the shop with ticket 1 shared: (order id, overview path, share path)."""
    order_id = make_order(tickets=2, shop_id=shop_id)
    with app.app_context():
        order = db.session.get(Order, order_id)
        share = personalisation.share_by_whatsapp(order, order.ticket_at(1))
        db.session.commit()
        return order_id, path_of(overview_url(order)), path_of(share)


def holder(app, order_id: int, position: int = 1):
    with app.app_context():
        ticket = db.session.get(Order, order_id).ticket_at(position)
        return ticket.status, ticket.holder_first_name, ticket.holder_last_name, ticket.holder_email, ticket.holder_phone


def assert_shown_as_text(value: str, html: str) -> None:
    """A stored value appears escaped: its markup never reaches the page as markup."""
    if value and str(escape(value)) != value:
        assert value not in html
    assert str(escape(value)) in html


def squash(value: str) -> str:
    return re.sub(r"\s+", " ", value).strip()


@FUZZ
@given(first=text, last=text, email=emails, phone=phones)
@example(first="<script>alert(1)</script>", last='"><b>', email="noor@example.org", phone="")
def test_recipient_form_takes_any_input_without_harm(app, client, make_shop, make_order, first, last, email, phone):
    shop_id = make_shop()
    order_id, _, share = new_shared_ticket(app, make_order, shop_id)
    before = counts(app)

    response = client.post(share, data={"first_name": first, "last_name": last, "email": email, "phone": phone})

    assert response.status_code in (200, 303, 400, 413), response.status_code
    status, first_name, last_name, holder_email, _ = holder(app, order_id)
    if response.status_code != 303:
        assert (status, first_name, holder_email) == ("shared", None, None)
        assert counts(app) == before
        return
    assert status == "personalised"
    page = client.get(share).get_data(as_text=True)
    assert_shown_as_text(f"{first_name} {last_name}".strip(), page)
    with app.app_context():
        mail = db.session.scalars(select(OutgoingMessage).where(OutgoingMessage.kind == "ticket_ready")
                                  .order_by(OutgoingMessage.id.desc())).first()
        assert_shown_as_text(first_name, compose(mail).html)
    pdf = client.post(f"{share}/download")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    name = f"{first_name} {last_name}"
    if name.isascii() and name.isprintable() and len(name) <= 30:
        assert squash(name) in squash(" ".join(pdf_text(pdf.data)))


@FUZZ
@given(first=text, last=text, email=emails, phone=phones)
def test_booker_claim_form_takes_any_input_without_harm(app, client, make_shop, make_order, first, last, email, phone):
    shop_id = make_shop(phone_required=True)
    order_id, overview, _ = new_shared_ticket(app, make_order, shop_id)
    before = counts(app)

    response = client.post(f"{overview}/tickets/2/claim",
                           data={"first_name": first, "last_name": last, "email": email, "phone": phone})

    assert response.status_code in (200, 302, 400, 413), response.status_code
    status, first_name, last_name, *_ = holder(app, order_id, 2)
    if response.status_code != 302:
        assert (status, first_name) == ("open", None) and counts(app) == before
        return
    assert_shown_as_text(f"{first_name} {last_name}".strip(), client.get(overview).get_data(as_text=True))


@FUZZ
@given(email=emails)
def test_share_by_email_takes_any_address_without_harm(app, client, make_shop, make_order, email):
    shop_id = make_shop()
    order_id, overview, _ = new_shared_ticket(app, make_order, shop_id)
    before = counts(app)

    response = client.post(f"{overview}/tickets/2/share/email", data={"email": email})

    assert response.status_code in (303, 400, 413, 422), response.status_code
    if response.status_code != 303:
        assert holder(app, order_id, 2)[0] == "open" and counts(app) == before
        return
    with app.app_context():
        ticket = db.session.get(Order, order_id).ticket_at(2)
        assert ticket.status == "shared"
        assert_shown_as_text(ticket.shared_with_email, client.get(overview).get_data(as_text=True))


@FUZZ
@given(number=text, email=emails)
def test_lost_link_form_takes_any_input_and_sends_nothing_for_a_mismatch(app, client, number, email):
    before = counts(app)
    response = client.post("/link", data={"order_number": number, "email": email})
    assert response.status_code in (200, 400, 413)
    assert counts(app) == before  # no order exists: nothing recorded, nothing sent


#: Every route a link opens, with the methods it answers.
LINK_ROUTES = [
    ("GET", "/o/{}"), ("GET", "/o/{}/tickets/1/claim"), ("POST", "/o/{}/tickets/1/claim"),
    ("GET", "/o/{}/tickets/1/share"), ("POST", "/o/{}/tickets/1/share/whatsapp"),
    ("POST", "/o/{}/tickets/1/share/email"), ("POST", "/o/{}/tickets/1/download"), ("POST", "/o/{}/download"),
    ("GET", "/t/{}"), ("POST", "/t/{}"), ("POST", "/t/{}/download"),
]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)


def signed(app, purpose: str, payload) -> str:
    """A genuinely signed token with any payload: the signature is fine, the contents are not ours."""
    return URLSafeSerializer(app.config["SECRET_KEY"], salt=f"portal.{purpose}").dumps(payload)


@FUZZ
@given(
    token=st.one_of(
        st.text(max_size=200),
        st.from_regex(r"\A[A-Za-z0-9_\-]{0,40}\.[A-Za-z0-9_\-]{0,40}\Z"),
        st.tuples(st.sampled_from(["overview", "share", "other"]), JSON),
        st.tuples(st.sampled_from(["overview", "share"]), st.lists(st.integers(), min_size=2, max_size=2)),
    )
)
@example(token=("overview", [2**70, 1]))  # genuinely signed, but no database integer holds it
@example(token="WzEsMV0\x00.abc")
def test_malformed_links_never_crash_any_link_route(app, client, make_order, token):
    make_order(tickets=1)  # something for a lucky token to find
    before = counts(app)
    if isinstance(token, tuple):
        token = signed(app, *token)
    for method, route in LINK_ROUTES:
        response = client.open(route.format(quote(token, safe="")), method=method, data={"email": "a@example.org"})
        assert response.status_code in (308, 400, 404, 405, 410), (method, route, response.status_code)
    assert counts(app) == before


@pytest.fixture
def staff(app):
    """A backoffice session of the Acme Events organizer (make_shop's default)."""
    from portal.services.organizers import create_backoffice_user

    with app.app_context():
        create_backoffice_user(organizer_name="Acme Events", email="staff@acme.example", password="correct horse 1")
        db.session.commit()
    client = app.test_client()
    response = client.post("/backoffice/login", data={"email": "staff@acme.example", "password": "correct horse 1"})
    assert response.status_code == 303
    return client


@FUZZ
@given(first=text, last=text, email=emails, phone=phones)
def test_backoffice_contact_and_ticket_forms_take_any_input_without_harm(
    app, staff, make_shop, make_order, first, last, email, phone
):
    shop_id = make_shop()
    order_id = make_order(tickets=1, shop_id=shop_id)
    base = f"/backoffice/orders/{order_id}"
    data = {"first_name": first, "last_name": last, "email": email, "phone": phone}

    contact = staff.post(f"{base}/contact", data=data)
    assert contact.status_code in (200, 303, 400, 413), contact.status_code
    edit = staff.post(f"{base}/tickets/1/edit", data=data)
    assert edit.status_code in (200, 400, 413), edit.status_code
    confirm = staff.post(f"{base}/tickets/1/edit/confirm", data=data)
    assert confirm.status_code in (303, 400, 413, 422), confirm.status_code

    with app.app_context():
        order = db.session.get(Order, order_id)
        stored = [order.booker_first_name, order.booker_last_name, order.tickets[0].holder_first_name or ""]
        holder_status = order.tickets[0].status
    if contact.status_code != 303:
        assert stored[:2] == ["Sam", "de Vries"]
    if confirm.status_code != 303:
        assert holder_status == "open" and stored[2] == ""
    page = staff.get(base).get_data(as_text=True)
    for value in stored:
        assert_shown_as_text(value, page)


@FUZZ
@given(name=text, venue=text, whatsapp=phones, support=text, search=text)
def test_backoffice_shop_settings_and_search_take_any_input_without_harm(
    app, staff, make_shop, name, venue, whatsapp, support, search
):
    shop_id = make_shop()
    response = staff.post(f"/backoffice/shops/{shop_id}", data={
        "event_name": name, "venue": venue, "consumer_desk_whatsapp": whatsapp, "support_contact": support,
        "download_enabled": "y", "personalisation_required": "y"})
    assert response.status_code in (200, 303, 400, 413), response.status_code
    with app.app_context():
        shop = db.session.get(Shop, shop_id)
        stored = [shop.event_name, shop.venue, shop.support_contact or ""]
    if response.status_code != 303:
        assert stored[:2] == ["Harbour Jazz Nights", "Pier 5, Rotterdam"]
    page = staff.get(f"/backoffice/shops/{shop_id}").get_data(as_text=True)
    for value in stored[:2]:
        assert_shown_as_text(value, page)
    searched = staff.post("/backoffice/orders", data={"q": search})
    assert searched.status_code in (303, 400)
    listing = staff.get("/backoffice/orders")
    assert listing.status_code == 200
