"""Sharing a ticket, and the rule that a ticket is personalised once: over HTTP, also under load."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from portal.extensions import db
from portal.models import Order, OutgoingMessage
from tests.conftest import links_in
from tests.pages import (
    csrf_token,
    field_error,
    flashes,
    hrefs,
    path_of,
    share_via_whatsapp,
    submit_form,
    text,
    ticket_card,
    whatsapp_link,
    whatsapp_text,
)

HOLDER = {"first_name": "Noor", "last_name": "Bakker", "email": "noor@example.org", "phone": "+31 6 23456789"}
ALREADY_PERSONALISED = "already been personalised"


def open_overview(smtp, deliver, booker: str = "booker@example.com") -> str:
    """The path of the overview link in the booker's confirmation email."""
    deliver()
    return path_of(links_in(smtp.take_one(booker))[0])


def share(client, smtp, deliver, overview: str, position: int, channel: str) -> str:
    """Share a ticket the way the booker does; returns the path of the link the recipient gets."""
    if channel == "whatsapp":
        return share_via_whatsapp(client, overview, position)
    page = f"{overview}/tickets/{position}/share"
    response = submit_form(client, page, action=f"{page}/email", email="friend@example.org")
    assert response.status_code == 303
    deliver()
    return path_of(next(link for link in links_in(smtp.take_one("friend@example.org")) if "/t/" in link))


def ticket_state(app, order_id: int, position: int = 1) -> dict[str, object]:
    """What the database holds about a ticket and its order's history and outbox."""
    with app.app_context():
        order = db.session.get(Order, order_id)
        ticket = order.ticket_at(position)
        return {
            "status": ticket.status,
            "share_version": ticket.share_version,
            "holder": (ticket.holder_first_name, ticket.holder_last_name, ticket.holder_email, ticket.holder_phone),
            "personalised_by": ticket.personalised_by,
            "events": [event.kind for event in order.events],
            "outbox": db.session.query(OutgoingMessage).count(),
        }


def assert_link_no_longer_works(client, path: str) -> str:
    """The friendly page of a share link that stopped working: what happened, and whom to ask."""
    response = client.get(path)
    assert response.status_code == 410
    page = text(response.get_data(as_text=True))
    assert "This link does not work" in page
    assert "ask them to share another one" in page or "Ask the person who shared it with you" in page
    return page


def test_whatsapp_button_sends_the_phone_to_click_to_chat_with_a_working_link(client, smtp, deliver, make_order):
    make_order(tickets=2)
    overview = open_overview(smtp, deliver)
    page = client.get(f"{overview}/tickets/2/share").get_data(as_text=True)

    response = client.post(f"{overview}/tickets/2/share/whatsapp", data={"csrf_token": csrf_token(page)})

    assert response.status_code == 303
    whatsapp_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert whatsapp_link(whatsapp_page).startswith("https://wa.me/?text=")
    message = whatsapp_text(whatsapp_link(whatsapp_page))
    assert "Harbour Jazz Nights" in message
    [link] = [word for word in message.split() if word.startswith("http")]
    assert link.startswith("http://portal.test/t/")
    recipient_page = client.get(path_of(link))
    assert recipient_page.status_code == 200
    assert 'name="first_name"' in recipient_page.get_data(as_text=True)


@pytest.mark.parametrize("first", ["whatsapp", "email"])
@pytest.mark.parametrize("again", ["whatsapp", "email"])
def test_sharing_again_makes_the_earlier_link_stop_working(client, smtp, deliver, make_order, first, again):
    make_order(tickets=1)
    overview = open_overview(smtp, deliver)
    earlier = share(client, smtp, deliver, overview, 1, first)
    assert client.get(earlier).status_code == 200

    later = share(client, smtp, deliver, overview, 1, again)

    assert later != earlier
    assert_link_no_longer_works(client, earlier)
    assert client.get(later).status_code == 200


def test_overview_says_how_each_ticket_was_shared(client, smtp, deliver, make_order):
    make_order(tickets=3)
    overview = open_overview(smtp, deliver)
    share(client, smtp, deliver, overview, 1, "whatsapp")
    share(client, smtp, deliver, overview, 2, "email")

    html = client.get(overview).get_data(as_text=True)

    first, second, third = (text(ticket_card(html, position)) for position in (1, 2, 3))
    assert "Shared" in first and "Shared via WhatsApp" in first
    assert "Shared" in second and "Shared by email with friend@example.org" in second
    assert "Open" in third and "Shared" not in third


def test_booker_claiming_a_shared_ticket_locks_out_the_person_with_the_old_link(app, client, smtp, deliver, make_order):
    order_id = make_order(tickets=1)
    overview = open_overview(smtp, deliver)
    shared_link = share(client, smtp, deliver, overview, 1, "whatsapp")
    recipient_page = client.get(shared_link).get_data(as_text=True)

    # The claim form starts with the booker's own details; the booker submits it as is.
    claim_page = client.get(f"{overview}/tickets/1/claim").get_data(as_text=True)
    assert 'value="booker@example.com"' in claim_page
    response = client.post(
        f"{overview}/tickets/1/claim",
        data={"csrf_token": csrf_token(claim_page), "first_name": "Sam", "last_name": "de Vries",
              "email": "booker@example.com", "phone": "+31612345678"},
    )
    assert response.status_code == 302

    page = assert_link_no_longer_works(client, shared_link)
    # Even submitting the form they still have open gets them nowhere near the booker's data.
    late = client.post(shared_link, data={"csrf_token": csrf_token(recipient_page), **HOLDER})
    assert late.status_code == 410
    for seen in (page, text(late.get_data(as_text=True))):
        for secret in ("Sam", "de Vries", "booker@example.com", "+31612345678", "612345678"):
            assert secret not in seen
    state = ticket_state(app, order_id)
    assert state["holder"] == ("Sam", "de Vries", "booker@example.com", "+31612345678")
    assert state["personalised_by"] == "booker"
    deliver()
    smtp.take_one("booker@example.com")  # "your ticket is ready"


@pytest.fixture
def personalised_ticket(app, client, smtp, deliver, make_order):
    """An order whose ticket 1 a recipient has personalised; its ready email already read."""
    order_id = make_order(tickets=2)
    overview = open_overview(smtp, deliver)
    shared_link = share(client, smtp, deliver, overview, 1, "whatsapp")
    assert submit_form(client, shared_link, **HOLDER).status_code == 303
    deliver()
    smtp.take_one("noor@example.org")
    return order_id, overview, shared_link


def test_personalised_ticket_cannot_be_claimed(app, client, personalised_ticket):
    order_id, overview, _ = personalised_ticket
    before = ticket_state(app, order_id)
    token = csrf_token(client.get(overview).get_data(as_text=True))

    response = client.post(
        f"{overview}/tickets/1/claim",
        data={"csrf_token": token, "first_name": "Sam", "last_name": "de Vries", "email": "booker@example.com"},
        follow_redirects=True,
    )

    assert any(ALREADY_PERSONALISED in message for message in flashes(response.get_data(as_text=True)))
    assert ticket_state(app, order_id) == before


@pytest.mark.parametrize("channel", ["whatsapp", "email"])
def test_personalised_ticket_cannot_be_shared(app, client, personalised_ticket, channel):
    order_id, overview, _ = personalised_ticket
    before = ticket_state(app, order_id)
    token = csrf_token(client.get(overview).get_data(as_text=True))

    response = client.post(
        f"{overview}/tickets/1/share/{channel}", data={"csrf_token": token, "email": "other@example.org"}
    )

    assert response.status_code == 409
    assert ALREADY_PERSONALISED in text(response.get_data(as_text=True))
    assert ticket_state(app, order_id) == before


def test_recipient_cannot_submit_a_second_time(app, client, personalised_ticket):
    order_id, _, shared_link = personalised_ticket
    before = ticket_state(app, order_id)
    page = client.get(shared_link).get_data(as_text=True)
    assert 'name="first_name"' not in page  # never the form again

    response = client.post(
        shared_link,
        data={"csrf_token": csrf_token(page), "first_name": "Mallory", "last_name": "Other",
              "email": "mallory@example.org"},
    )

    assert response.status_code == 409
    assert ALREADY_PERSONALISED in text(response.get_data(as_text=True))
    assert ticket_state(app, order_id) == before
    assert before["holder"] == ("Noor", "Bakker", "noor@example.org", "+31623456789")


def test_overview_offers_the_consumer_desk_instead_of_claim_once_personalised(app, client, personalised_ticket):
    order_id, overview, _ = personalised_ticket
    with app.app_context():
        number = db.session.get(Order, order_id).number

    card = ticket_card(client.get(overview).get_data(as_text=True), 1)

    assert "Personalised by Noor Bakker" in text(card)
    assert '<button type="button" class="button" disabled' in card and ">Claim</button>" in card
    assert "/claim" not in card and "/share" not in card
    [desk] = [href for href in hrefs(card) if href.startswith("https://wa.me/")]
    assert desk.startswith("https://wa.me/31205550100?text=")
    assert number in whatsapp_text(desk)
    assert "Contact consumer desk" in text(card)


def race(*requests_to_send):
    """Send the requests at the same moment from separate threads; returns their responses in order."""
    barrier = threading.Barrier(len(requests_to_send))

    def send(request):
        barrier.wait()
        return request()

    with ThreadPoolExecutor(max_workers=len(requests_to_send)) as pool:
        return list(pool.map(send, requests_to_send))


def recipient_session(live_server: str, shared_link: str) -> tuple[requests.Session, str]:
    """A phone that opened the share link: its cookies and the form's CSRF token."""
    session = requests.Session()
    page = session.get(live_server + shared_link, timeout=30)
    assert page.status_code == 200
    return session, csrf_token(page.text)


def test_twenty_recipients_submitting_at_once_only_one_becomes_the_holder(
    app, client, smtp, deliver, make_order, live_server
):
    order_id = make_order(tickets=1)
    overview = open_overview(smtp, deliver)
    shared_link = share(client, smtp, deliver, overview, 1, "whatsapp")
    phones = [recipient_session(live_server, shared_link) for _ in range(20)]

    def submit(number: int, session: requests.Session, token: str):
        details = {"csrf_token": token, "first_name": f"Holder{number}", "last_name": "Racer",
                   "email": f"holder{number}@example.org"}
        return lambda: session.post(live_server + shared_link, data=details, allow_redirects=False, timeout=60)

    responses = race(*(submit(number, session, token) for number, (session, token) in enumerate(phones)))

    assert all(response.status_code < 500 for response in responses), [r.status_code for r in responses]
    [winner] = [number for number, response in enumerate(responses) if response.status_code == 303]
    for number, response in enumerate(responses):
        if number != winner:
            assert response.status_code == 409
            assert ALREADY_PERSONALISED in text(response.text)
    state = ticket_state(app, order_id)
    assert state["holder"] == (f"Holder{winner}", "Racer", f"holder{winner}@example.org", None)
    assert state["events"].count("ticket_personalised") == 1
    deliver()
    smtp.take_one(f"holder{winner}@example.org")  # and, by the smtp guard, no one else's


def test_booker_claim_and_recipient_submission_at_once_only_one_wins(
    app, client, smtp, deliver, make_order, live_server
):
    order_id = make_order(tickets=1)
    overview = open_overview(smtp, deliver)
    shared_link = share(client, smtp, deliver, overview, 1, "whatsapp")
    recipient, recipient_token = recipient_session(live_server, shared_link)
    booker = requests.Session()
    booker_token = csrf_token(booker.get(f"{live_server}{overview}/tickets/1/claim", timeout=30).text)

    claim_response, submit_response = race(
        lambda: booker.post(
            f"{live_server}{overview}/tickets/1/claim",
            data={"csrf_token": booker_token, "first_name": "Sam", "last_name": "de Vries",
                  "email": "booker@example.com"},
            timeout=60,
        ),
        lambda: recipient.post(
            live_server + shared_link, data={"csrf_token": recipient_token, **HOLDER}, timeout=60
        ),
    )

    state = ticket_state(app, order_id)
    assert state["events"].count("ticket_claimed") + state["events"].count("ticket_personalised") == 1
    claim_flashes = flashes(claim_response.text)
    if state["personalised_by"] == "booker":
        assert claim_flashes == ["Ticket 1 is now personalised."]
        assert submit_response.status_code in (409, 410)  # refused, or the link was already revoked
        assert "de Vries" not in submit_response.text
        winner = "booker@example.com"
    else:
        assert state["personalised_by"] == "recipient"
        assert flashes(submit_response.text) == ["Thank you! Your ticket is personalised."]
        refused_outright = claim_response.status_code == 409 and ALREADY_PERSONALISED in text(claim_response.text)
        assert refused_outright or any(ALREADY_PERSONALISED in message for message in claim_flashes)
        winner = "noor@example.org"
    assert all(response.status_code < 500 for response in (claim_response, submit_response))
    deliver()
    smtp.take_one(winner)


def test_sharing_by_email_to_an_address_the_mail_layer_cannot_encode_is_refused_next_to_the_field(
    client, smtp, deliver, make_order
):
    make_order(tickets=1)
    deliver()
    overview = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    response = submit_form(
        client, f"{overview}/tickets/1/share", action=f"{overview}/tickets/1/share/email", email="eve@\u05d0\u05d11.example"
    )
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "email") == "Enter a valid email address, like name@example.com."
    assert deliver().sent == 0


def share_form(client, overview: str, position: int) -> dict[str, str]:
    """What the share page's forms send besides the address: the CSRF token and the share version shown."""
    page = client.get(f"{overview}/tickets/{position}/share").get_data(as_text=True)
    version = re.search(r'name="share_version" type="hidden" value="(\d+)"', page).group(1)
    return {"csrf_token": csrf_token(page), "share_version": version}


def test_tapping_whatsapp_twice_shares_once_and_the_first_link_keeps_working(app, client, smtp, deliver, make_order):
    """The app was slow to open, so the booker tapped again: the link the first tap sent must not die."""
    order_id = make_order(tickets=1)
    overview = open_overview(smtp, deliver)
    form = share_form(client, overview, 1)
    first = client.post(f"{overview}/tickets/1/share/whatsapp", data=form)
    first_link = whatsapp_link(client.get(first.headers["Location"]).get_data(as_text=True))
    second = client.post(f"{overview}/tickets/1/share/whatsapp", data=form)
    assert second.status_code == 303
    assert whatsapp_link(client.get(second.headers["Location"]).get_data(as_text=True)) == first_link
    [link] = re.findall(r"https?://\S+/t/\S+", whatsapp_text(first_link))
    assert client.get(path_of(link)).status_code == 200
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert [e.kind for e in order.events].count("ticket_shared") == 1


def test_sending_the_share_email_form_twice_sends_one_email(app, client, smtp, deliver, make_order):
    make_order(tickets=1)
    overview = open_overview(smtp, deliver)
    form = {**share_form(client, overview, 1), "email": "friend@example.org"}
    for _ in range(2):
        assert client.post(f"{overview}/tickets/1/share/email", data=form).status_code == 303
    deliver()
    [link] = [url for url in links_in(smtp.take_one("friend@example.org")) if "/t/" in url]
    assert client.get(path_of(link)).status_code == 200


def test_a_share_form_opened_before_another_share_is_refused_with_the_reason(app, client, smtp, deliver, make_order):
    make_order(tickets=1)
    overview = open_overview(smtp, deliver)
    stale = share_form(client, overview, 1)
    share_via_whatsapp(client, overview, 1)
    response = client.post(f"{overview}/tickets/1/share/email", data={**stale, "email": "friend@example.org"})
    assert response.status_code == 409
    assert "shared or changed since you opened the page" in text(response.get_data(as_text=True))
    assert deliver().sent == 0


def test_a_recipient_whose_ticket_the_booker_took_is_told_so_and_sees_what_they_typed(client, smtp, deliver, make_order):
    """The recipient had the form open; meanwhile the booker claimed the ticket themselves."""
    make_order(tickets=1)
    overview = open_overview(smtp, deliver)
    link = share_via_whatsapp(client, overview, 1)
    friend = client.application.test_client()
    form = csrf_token(friend.get(link).get_data(as_text=True))
    assert submit_form(client, f"{overview}/tickets/1/claim", first_name="Sam", last_name="de Vries",
                       email="sam@example.com").status_code == 302

    response = friend.post(link, data={"csrf_token": form, "first_name": "Noor", "last_name": "Bakker",
                                       "email": "noor@example.org", "phone": "+31 6 23456789"})

    assert response.status_code == 410
    page = text(response.get_data(as_text=True))
    assert "The person who shared this ticket with you has filled in its details themselves" in page
    assert "ask them to share another one with you" in page
    for typed in ("Noor", "Bakker", "noor@example.org", "+31 6 23456789"):
        assert typed in page
    assert "Send me a new link" not in page  # the booker's link would not help the friend
    deliver()
    smtp.take_one("sam@example.com")


def test_a_recipient_of_a_ticket_shared_again_is_told_to_ask_for_the_newest_link(client, smtp, deliver, make_order):
    make_order(tickets=1)
    overview = open_overview(smtp, deliver)
    first = share_via_whatsapp(client, overview, 1)
    share_via_whatsapp(client, overview, 1)
    page = text(client.get(first).get_data(as_text=True))
    assert "This ticket has been shared again with a newer link" in page
