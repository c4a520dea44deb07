"""Signed links: bad, expired, revoked and wrong-purpose links get a friendly page; keys rotate; lost links come back."""

from datetime import timedelta

import pytest

from portal import create_app, worker
from portal.config import Config, TestConfig
from portal.extensions import db
from portal.links import overview_url
from portal.models import Order, OrderEvent, OutgoingMessage
from portal.models._time import utcnow
from tests.conftest import links_in
from tests.database import counting_statements
from tests.pages import csrf_token, form_actions, path_of, share_via_whatsapp, submit_form, text


@pytest.fixture
def links(app, client, smtp, deliver, make_order):
    """A four-ticket order's overview link (from the confirmation email) and ticket 1's share link."""
    order_id = make_order(tickets=4)
    deliver()
    overview = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    return {"order_id": order_id, "overview": overview, "share": share_via_whatsapp(client, overview, 1)}


def change_order(app, order_id: int, **values) -> None:
    """Change the order (and with `event_ends_at`, its shop) in the database, as the backoffice would."""
    with app.app_context():
        order = db.session.get(Order, order_id)
        if "event_ends_at" in values:
            order.shop.event_ends_at = values.pop("event_ends_at")
            order.shop.event_starts_at = order.shop.event_ends_at - timedelta(hours=5)
        for name, value in values.items():
            setattr(order, name, value)
        db.session.commit()


def assert_friendly_page(response, status: int, says: str) -> None:
    """The link answered with what happened and a way to get a fresh link, not a crash."""
    assert response.status_code == status
    html = response.get_data(as_text=True)
    page = text(html)
    assert "This link does not work" in page
    assert says in page
    assert "/link" in form_actions(html)
    assert "Send me a new link" in page and "Order number" in page


def tampered(token: str) -> str:
    """One character of the signature changed (the first: every bit of it counts)."""
    payload, signature = token.rsplit(".", 1)
    return f"{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"


MANGLED = {
    "tampered": tampered,
    "truncated": lambda token: token[:-5],
    "signature cut off": lambda token: token.rsplit(".", 1)[0],
    "halved": lambda token: token[: len(token) // 2],
    "garbage": lambda token: "not-a-real-link",
    "garbage with a dot": lambda token: "WzEsMV0.AAAAAAAAAAAAAAAAAAAAAAAAAAA",
    # Base64 decoding skips what is not in its alphabet: such a link still is not one the portal made.
    "letters outside ASCII added": lambda token: token + "é",
    "letters outside ASCII inside": lambda token: token[:-4] + "ß" + token[-4:],
}


@pytest.mark.parametrize("kind", ["overview", "share"])
@pytest.mark.parametrize("mangle", MANGLED.values(), ids=MANGLED.keys())
def test_a_damaged_link_gets_the_friendly_not_found_page(client, links, kind, mangle):
    prefix, token = links[kind].rsplit("/", 1)

    response = client.get(f"{prefix}/{mangle(token)}")

    assert_friendly_page(response, 404, "This link is not valid")


def test_a_damaged_link_to_a_booker_page_gets_the_friendly_page_too(client, links):
    prefix, token = links["overview"].rsplit("/", 1)
    for page in ("/tickets/1/claim", "/tickets/1/share"):
        assert_friendly_page(client.get(f"{prefix}/{tampered(token)}{page}"), 404, "This link is not valid")


@pytest.mark.parametrize("kind", ["overview", "share"])
def test_a_link_expires_thirty_days_after_the_event(app, client, links, kind):
    change_order(app, links["order_id"], event_ends_at=utcnow() - timedelta(days=29))
    assert client.get(links[kind]).status_code == 200

    change_order(app, links["order_id"], event_ends_at=utcnow() - timedelta(days=31))

    expired = client.get(links[kind])
    assert expired.status_code == 410
    page = text(expired.get_data(as_text=True))
    assert "This link does not work" in page and "This event is over, so its links no longer work." in page
    assert "Send me a new link" not in page  # it would only mail a link as expired


def test_links_used_for_the_wrong_purpose_are_not_found(client, links):
    overview_token = links["overview"].rsplit("/", 1)[1]
    share_token = links["share"].rsplit("/", 1)[1]

    assert_friendly_page(client.get(f"/t/{overview_token}"), 404, "This link is not valid")
    assert_friendly_page(client.get(f"/o/{share_token}"), 404, "This link is not valid")


@pytest.mark.parametrize("kind", ["overview", "share"])
def test_links_of_a_cancelled_order_are_gone(app, client, links, kind):
    change_order(app, links["order_id"], status="cancelled")

    assert_friendly_page(client.get(links[kind]), 410, "cancelled")


def test_an_overview_link_of_an_earlier_personalisation_round_is_gone(app, client, links):
    change_order(app, links["order_id"], personalisation_version=2)

    assert_friendly_page(client.get(links["overview"]), 410, "replaced by a newer one")


@pytest.fixture
def app_with(app, app_config):
    """Factory: another app over the same database, e.g. after a restart with different keys."""
    apps = []

    def app_with(**overrides):
        other = create_app(TestConfig, {**app_config, **overrides})
        apps.append(other)
        return other

    yield app_with
    for other in apps:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def test_links_survive_a_key_rotation_while_the_old_key_is_a_fallback(app, smtp, deliver, make_order, app_with):
    order_id = make_order(tickets=1)
    deliver()
    smtp.take_one("booker@example.com")  # signed with the suite's own key; this test uses its own
    before = app_with(SECRET_KEY="old")
    with before.app_context():
        old_link = path_of(overview_url(db.session.get(Order, order_id)))
    assert before.test_client().get(old_link).status_code == 200

    rotated = app_with(SECRET_KEY="new", SECRET_KEY_FALLBACKS=["old"])
    without_fallback = app_with(SECRET_KEY="new")

    assert rotated.test_client().get(old_link).status_code == 200
    assert_friendly_page(without_fallback.test_client().get(old_link), 404, "This link is not valid")

    # A link issued now (the booker asks for it again) is signed with the new key.
    booker = rotated.test_client()
    with rotated.app_context():
        number = db.session.get(Order, order_id).number
    submit_form(booker, "/link", order_number=number, email="booker@example.com")
    with rotated.app_context():  # the mail is written when it is sent, by a worker with the new keys
        worker.send_all_now()
    new_link = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    assert without_fallback.test_client().get(new_link).status_code == 200
    assert_friendly_page(before.test_client().get(new_link), 404, "This link is not valid")


def test_a_form_opened_before_a_key_rotation_is_accepted_after_it(app, smtp, deliver, make_order, app_with):
    """A recipient's half-filled form must not be refused because the operator rotated SECRET_KEY meanwhile."""
    order_id = make_order(tickets=1)
    deliver()
    smtp.take_one("booker@example.com")
    before = app_with(SECRET_KEY="old")
    with before.app_context():
        claim = path_of(overview_url(db.session.get(Order, order_id))) + "/tickets/1/claim"
    browser = before.test_client()
    form = csrf_token(browser.get(claim).get_data(as_text=True))  # the form token and session signed with "old"

    rotated = app_with(SECRET_KEY="new", SECRET_KEY_FALLBACKS=["old"])
    same_browser = rotated.test_client()
    same_browser.set_cookie("session", browser.get_cookie("session").value)
    response = same_browser.post(claim, data={"csrf_token": form, "first_name": "Noor", "last_name": "Bakker",
                                              "email": "noor@example.org"})

    assert response.status_code == 302
    with rotated.app_context():
        assert db.session.get(Order, order_id).ticket_at(1).holder_email == "noor@example.org"
        worker.send_all_now()
    smtp.take_one("noor@example.org")


def ask_for_a_new_link(client, order_number: str, email: str) -> str:
    """Fill in "Send me a new link" on the page of a link that no longer works; returns the answer's text."""
    response = submit_form(client, "/link", order_number=order_number, email=email)
    assert response.status_code == 200
    return text(response.get_data(as_text=True))


def test_the_booker_gets_the_current_link_by_asking_for_a_new_one(app, client, smtp, deliver, links):
    change_order(app, links["order_id"], personalisation_version=2)  # the link in the email no longer works
    gone = client.get(links["overview"]).get_data(as_text=True)
    with app.app_context():
        number = db.session.get(Order, links["order_id"]).number

    response = client.post(
        form_actions(gone)[0],
        data={"csrf_token": csrf_token(gone), "order_number": number.lower(), "email": "Booker@Example.COM"},
    )

    assert response.status_code == 200
    assert "Check your email" in text(response.get_data(as_text=True))
    deliver()
    [link] = [link for link in links_in(smtp.take_one("booker@example.com")) if "/o/" in link]
    assert link.startswith("http://portal.test/o/")
    assert path_of(link) != links["overview"]
    page = client.get(path_of(link))
    assert page.status_code == 200
    assert "Ticket 4" in page.get_data(as_text=True)
    with app.app_context():
        kinds = [event.kind for event in db.session.get(Order, links["order_id"]).events]
    assert "link_requested" in kinds


def test_asking_for_a_link_answers_the_same_whether_or_not_the_order_matches(app, client, smtp, deliver, links):
    with app.app_context():
        number = db.session.get(Order, links["order_id"]).number
        queued = db.session.query(OutgoingMessage).count()
        events = db.session.query(OrderEvent).count()

    wrong_email = ask_for_a_new_link(client, number, "someone.else@example.com")
    unknown_number = ask_for_a_new_link(client, "NX-2026-999999", "booker@example.com")

    assert wrong_email == unknown_number
    with app.app_context():
        assert db.session.query(OutgoingMessage).count() == queued
        assert db.session.query(OrderEvent).count() == events
    assert deliver().sent == 0

    matching = ask_for_a_new_link(client, number, "booker@example.com")
    assert matching == wrong_email
    deliver()
    smtp.take_one("booker@example.com")


def test_no_link_is_sent_for_a_cancelled_order(app, client, deliver, links):
    change_order(app, links["order_id"], status="cancelled")
    with app.app_context():
        number = db.session.get(Order, links["order_id"]).number

    assert "Check your email" in ask_for_a_new_link(client, number, "booker@example.com")

    assert deliver().sent == 0


def test_a_recipient_never_sees_the_bookers_or_other_holders_data(app, client, smtp, deliver, make_order):
    """Every page and every email the person with a share link can reach: only their own ticket."""
    from tests.pages import pdf_text

    make_order(tickets=3)
    deliver()
    overview = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    submit_form(client, f"{overview}/tickets/1/claim", first_name="Claire", last_name="Claimer",
                email="claire@example.org", phone="+31 6 11112222")
    other = share_via_whatsapp(client, overview, 3)
    submit_form(client, other, first_name="Otto", last_name="Otherholder", email="otto@example.org")
    share_page = f"{overview}/tickets/2/share"
    submit_form(client, share_page, action=f"{share_page}/email", email="friend@example.org")
    deliver()
    smtp.take_one("claire@example.org"), smtp.take_one("otto@example.org")
    share_mail = smtp.take_one("friend@example.org")
    link = path_of(next(url for url in links_in(share_mail) if "/t/" in url))

    recipient = app.test_client()  # the recipient's own phone: no cookies of the booker
    # The share email says who shared the ticket by their first name (a friend knows it); nothing more of them.
    invitation = [share_mail.get_body(preferencelist=(kind,)).get_content() for kind in ("plain", "html")]
    assert share_mail["Subject"] == "Sam shared a ticket for Harbour Jazz Nights with you"
    seen = [part.replace("Sam has shared", "[the booker]").replace("Sam shared", "[the booker]") for part in invitation]
    form = recipient.get(link).get_data(as_text=True)
    seen.append(form)
    refused = recipient.post(link, data={"csrf_token": csrf_token(form), "first_name": "", "last_name": "x",
                                         "email": "not an address"})
    seen.append(refused.get_data(as_text=True))
    done = recipient.post(link, data={"csrf_token": csrf_token(form), "first_name": "Ria", "last_name": "Recipient",
                                      "email": "friend@example.org"}, follow_redirects=True)
    seen.append(done.get_data(as_text=True))
    again = recipient.post(link, data={"csrf_token": csrf_token(form), "first_name": "Eve", "last_name": "Again",
                                       "email": "eve@example.org"})
    assert again.status_code == 409
    seen.append(again.get_data(as_text=True))
    pdf = recipient.post(f"{link}/download", data={"csrf_token": csrf_token(done.get_data(as_text=True))})
    assert pdf.mimetype == "application/pdf"
    seen.extend(pdf_text(pdf.data))
    deliver()
    ready = smtp.take_one("friend@example.org")
    seen += [ready.get_body(preferencelist=(kind,)).get_content() for kind in ("plain", "html")]

    others = ("Sam", "de Vries", "booker@example.com", "+31612345678", "612345678", "Claire", "Claimer",
              "claire@example.org", "11112222", "Otto", "Otherholder", "otto@example.org")
    leaks = {value: n for n, page in enumerate(seen) for value in others if value in page}
    assert not leaks
    assert "Ria Recipient" in seen[-3]  # the PDF is theirs


def test_without_a_secret_key_the_portal_refuses_to_start_on_a_database_server():
    # Each machine would make a key of its own, and links from one would fail on the others.
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set.*the same SECRET_KEY on every one"):
        create_app(Config, {"SECRET_KEY": None, "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://portal@db.invalid/portal"})


def statements_of(app, request) -> list[str]:
    """The SQL statements the app sends while `request()` runs."""
    with counting_statements(app) as statements:
        request()
    return statements


def test_the_lost_link_page_does_the_same_work_whether_or_not_an_order_matches(app, client, smtp, deliver, links):
    """Its time tells nothing: the look-up and the mail are the worker's (bench/lost_link_timing.py times it)."""
    with app.app_context():
        number = db.session.get(Order, links["order_id"]).number
    page = client.get("/link").get_data(as_text=True)

    def ask(order_number: str, email: str):
        return lambda: client.post("/link", data={"csrf_token": csrf_token(page), "order_number": order_number,
                                                  "email": email})

    matching = statements_of(app, ask(number, "booker@example.com"))
    wrong_email = statements_of(app, ask(number, "someone.else@example.com"))
    unknown = statements_of(app, ask("NX-2026-999999", "booker@example.com"))
    assert matching == wrong_email == unknown
    assert deliver().sent == 1
    smtp.take_one("booker@example.com")


def test_an_order_number_of_two_organizers_sends_each_matching_booker_their_own_link(
    app, client, smtp, deliver, make_shop, make_order
):
    first = make_order(tickets=1, shop_id=make_shop("Acme Events"), number="NX-1")
    second = make_order(tickets=1, shop_id=make_shop("Other Events"), number="NX-1")
    deliver()
    confirmations = [path_of(links_in(m)[0]) for m in smtp.take("booker@example.com")]
    assert len(confirmations) == 2

    submit_form(client, "/link", order_number="nx-1", email="booker@example.com")
    deliver()
    sent = sorted(path_of(links_in(m)[0]) for m in smtp.take("booker@example.com"))
    assert sent == sorted(confirmations)
    with app.app_context():
        for order_id in (first, second):
            assert "link_requested" in [e.kind for e in db.session.get(Order, order_id).events]


def test_no_link_is_mailed_for_an_event_whose_links_have_expired(app, client, smtp, deliver, links):
    change_order(app, links["order_id"], event_ends_at=utcnow() - timedelta(days=31))
    with app.app_context():
        number = db.session.get(Order, links["order_id"]).number
    submit_form(client, "/link", order_number=number, email="booker@example.com")
    assert deliver().sent == 0
