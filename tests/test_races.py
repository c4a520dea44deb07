"""Races against the app as it runs in production: gunicorn with several worker processes, one database.

Each worker has its own connections, so only the database can keep "personalised once"
and "a reset wipes everything" true: these tests check that it does, on SQLite (writers
wait for the lock instead of failing) and on PostgreSQL alike.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select

from portal import tokens
from portal.extensions import db
from portal.links import overview_url
from portal.models import Order, OrderEvent
from portal.services import personalisation
from portal.services.organizers import create_backoffice_user
from tests.backoffice_pages import timeline
from tests.conftest import links_in
from tests.pages import confirmation_fields, csrf_token, path_of, text

ALREADY_PERSONALISED = "already been personalised"
WORKERS = 4
ROUNDS = 4


@pytest.fixture
def server(gunicorn):
    return gunicorn(workers=WORKERS)


def race(*calls):
    """Run the calls at the same moment from separate threads; returns their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def shared_ticket(app, make_order, tickets: int = 1) -> tuple[int, str, str]:
    """A new order whose ticket 1 the booker shared via WhatsApp: (order id, overview path, share path)."""
    order_id = make_order(tickets=tickets)
    with app.app_context():
        order = db.session.get(Order, order_id)
        share_url = personalisation.share_by_whatsapp(order, order.ticket_at(1))
        db.session.commit()
        return order_id, path_of(overview_url(order)), path_of(share_url)


def opened(url: str) -> tuple[requests.Session, str]:
    """A browser that opened a page with a form: its cookies and the form's CSRF token."""
    session = requests.Session()
    page = session.get(url, timeout=60)
    assert page.status_code == 200, (url, page.status_code)
    return session, csrf_token(page.text)


def ticket_and_events(app, order_id: int) -> tuple[dict[str, object], list[str]]:
    with app.app_context():
        order = db.session.get(Order, order_id)
        ticket = order.ticket_at(1)
        state = {"status": ticket.status, "personalised_by": ticket.personalised_by, "holder": ticket.holder_email,
                 "barcode": ticket.barcode}
        kinds = list(db.session.scalars(
            select(OrderEvent.kind).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)))
        return state, kinds


def test_fifty_recipients_submitting_at_once_exactly_one_wins(app, make_order, server):
    order_id, _, share_path = shared_ticket(app, make_order)
    phones = [opened(server.url + share_path) for _ in range(50)]

    def submit(number: int):
        session, token = phones[number]
        details = {"csrf_token": token, "first_name": f"Holder{number}", "last_name": "Racer",
                   "email": f"holder{number}@example.org"}
        return lambda: session.post(server.url + share_path, data=details, allow_redirects=False, timeout=120)

    responses = race(*(submit(number) for number in range(50)))

    codes = [response.status_code for response in responses]
    assert sorted(set(codes)) == [303, 409], codes  # no 5xx, no 429, nothing else
    [winner] = [number for number, code in enumerate(codes) if code == 303]
    assert all(ALREADY_PERSONALISED in text(r.text) for r in responses if r.status_code == 409)
    state, kinds = ticket_and_events(app, order_id)
    assert (state["status"], state["holder"]) == ("personalised", f"holder{winner}@example.org")
    assert kinds.count("ticket_personalised") == 1


def test_share_and_claim_of_one_ticket_at_once_end_consistently(app, make_order, server):
    for _ in range(ROUNDS):  # either may come first; a few rounds see both orders
        share_and_claim_at_once(app, make_order, server)


def share_and_claim_at_once(app, make_order, server) -> None:
    order_id, overview, old_share = shared_ticket(app, make_order)
    sharer, share_token = opened(f"{server.url}{overview}/tickets/1/share")
    claimer, claim_token = opened(f"{server.url}{overview}/tickets/1/claim")

    share, claim = race(
        lambda: sharer.post(f"{server.url}{overview}/tickets/1/share/whatsapp", data={"csrf_token": share_token},
                            allow_redirects=False, timeout=60),
        lambda: claimer.post(f"{server.url}{overview}/tickets/1/claim", allow_redirects=False, timeout=60,
                             data={"csrf_token": claim_token, "first_name": "Sam", "last_name": "de Vries",
                                   "email": "booker@example.com"}),
    )

    assert claim.status_code == 302  # a claim of an open or shared ticket always stands
    state, kinds = ticket_and_events(app, order_id)
    assert (state["status"], state["personalised_by"]) == ("personalised", "booker")
    assert kinds.count("ticket_claimed") == 1
    if share.status_code == 303:
        # Shared first, then claimed: the link just made is already revoked.
        assert kinds.count("ticket_shared") == 2 and kinds.index("ticket_claimed") == len(kinds) - 1
        with app.app_context():
            ticket = db.session.get(Order, order_id).ticket_at(1)
            new_share = tokens.make_token(tokens.SHARE, ticket.id, ticket.share_version - 1)  # the claim came after
        assert requests.get(f"{server.url}/t/{new_share}", timeout=30).status_code == 410
    else:
        # Claimed first: the share is refused with the reason.
        assert share.status_code == 409 and ALREADY_PERSONALISED in text(share.text)
        assert kinds.count("ticket_shared") == 1
    assert requests.get(server.url + old_share, timeout=30).status_code == 410  # never the booker's data


def backoffice_session(app, url: str) -> requests.Session:
    email = "staff@acme-events.example"
    with app.app_context():
        from portal.models import BackofficeUser

        if db.session.scalar(select(BackofficeUser).where(BackofficeUser.email == email)) is None:
            create_backoffice_user(organizer_name="Acme Events", email=email, password="correct horse battery")
            db.session.commit()
    session, token = opened(url + "/backoffice/login")
    response = session.post(url + "/backoffice/login", allow_redirects=False, timeout=30,
                            data={"csrf_token": token, "email": email, "password": "correct horse battery"})
    assert response.status_code == 303
    return session


def test_open_personalisation_while_a_recipient_submits_ends_consistently(app, make_order, server):
    for _ in range(ROUNDS):
        reopen_while_submitting(app, make_order, server)


def reopen_while_submitting(app, make_order, server) -> None:
    order_id, _, share_path = shared_ticket(app, make_order, tickets=2)
    before, _ = ticket_and_events(app, order_id)
    staff = backoffice_session(app, server.url)
    reopen_path = f"/backoffice/orders/{order_id}/open-personalisation"
    staff_form = confirmation_fields(staff.get(server.url + reopen_path, timeout=30).text)
    recipient, recipient_token = opened(server.url + share_path)

    reopen, submit = race(
        lambda: staff.post(server.url + reopen_path, data=staff_form, allow_redirects=False, timeout=60),
        lambda: recipient.post(server.url + share_path, allow_redirects=False, timeout=60,
                               data={"csrf_token": recipient_token, "first_name": "Noor", "last_name": "Bakker",
                                     "email": "noor@example.org"}),
    )

    assert reopen.status_code == 303
    state, kinds = ticket_and_events(app, order_id)
    # Whoever came first, the reset has the last word: the ticket is open, with no holder and a new barcode.
    assert (state["status"], state["holder"], state["personalised_by"]) == ("open", None, None)
    assert state["barcode"] != before["barcode"]
    assert kinds.count("personalisation_reopened") == 1
    if submit.status_code == 303:
        # The submission landed first and was wiped by the reset; the timeline says so, in that order.
        assert kinds.count("ticket_personalised") == 1
        assert kinds.index("ticket_personalised") < kinds.index("personalisation_reopened")
    else:
        # The reset came first: the old link was refused and nothing was stored.
        assert submit.status_code in (409, 410), submit.status_code
        assert "ticket_personalised" not in kinds
    entries = timeline(staff.get(f"{server.url}/backoffice/orders/{order_id}", timeout=30).text)
    personalised = [n for n, entry in enumerate(entries) if "personalised by the recipient" in entry]
    reopened = [n for n, entry in enumerate(entries) if "Personalisation reopened" in entry]
    assert len(reopened) == 1
    assert personalised == ([reopened[0] + 1] if submit.status_code == 303 else [])  # newest first
    assert requests.get(server.url + share_path, timeout=30).status_code == 410


def test_many_writers_at_once_all_succeed(app, make_order, server):
    """Thirty bookers claim at the same moment, each on their own order: on SQLite every writer
    waits its turn for the database lock (busy timeout) instead of failing with a 500."""
    order_ids = [make_order(tickets=1) for _ in range(30)]
    with app.app_context():
        overviews = [path_of(overview_url(db.session.get(Order, order_id))) for order_id in order_ids]
    forms = [opened(f"{server.url}{overview}/tickets/1/claim") for overview in overviews]

    def claim(number: int):
        session, token = forms[number]
        return lambda: session.post(f"{server.url}{overviews[number]}/tickets/1/claim", allow_redirects=False,
                                    timeout=120, data={"csrf_token": token, "first_name": "Sam",
                                                       "last_name": f"Writer{number}", "email": "booker@example.com"})

    responses = race(*(claim(number) for number in range(30)))

    assert [response.status_code for response in responses] == [302] * 30
    for order_id in order_ids:
        state, kinds = ticket_and_events(app, order_id)
        assert state["status"] == "personalised" and kinds.count("ticket_claimed") == 1


def test_open_personalisation_posted_three_times_at_once_resets_once_and_sends_one_link(
    app, smtp, deliver, make_order, server
):
    """A double click, or three tabs: the confirmation carries the version it showed, so one reset, one new link."""
    order_id = make_order(tickets=2)
    deliver()
    smtp.take_one("booker@example.com")
    staff = backoffice_session(app, server.url)
    reopen_path = f"{server.url}/backoffice/orders/{order_id}/open-personalisation"
    form = confirmation_fields(staff.get(reopen_path, timeout=30).text)

    responses = race(*(
        lambda: staff.post(reopen_path, data=form, allow_redirects=False, timeout=60) for _ in range(3)
    ))

    assert [response.status_code for response in responses] == [303] * 3
    _, kinds = ticket_and_events(app, order_id)
    assert kinds.count("personalisation_reopened") == 1
    again = staff.post(reopen_path, data=form, timeout=60)  # and once more, later
    assert "had been reopened already" in text(again.text)
    deliver()
    [link] = [url for url in links_in(smtp.take_one("booker@example.com")) if "/o/" in url]
    assert requests.get(server.url + path_of(link), timeout=30).status_code == 200
