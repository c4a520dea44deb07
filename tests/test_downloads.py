"""Downloading tickets: only when the shop allows it, only tickets that are ready, and every download on the timeline."""

import pytest

from portal.extensions import db
from portal.models import Order
from tests.conftest import body, links_in
from tests.pages import (
    csrf_token,
    form_actions,
    path_of,
    pdf_text,
    share_via_whatsapp,
    submit_form,
    text,
    ticket_card,
    whatsapp_link,
)

HOLDER = {"first_name": "Noor", "last_name": "Bakker", "email": "noor@example.org"}
SWITCHED_OFF = "The organizer has switched off downloading tickets here"
NOT_READY = "once its holder's details have been filled in"


def open_overview(smtp, deliver) -> str:
    deliver()
    return path_of(links_in(smtp.take_one("booker@example.com"))[0])


def session_csrf(client) -> str:
    """The browser session's CSRF token, from a page that always has a form."""
    return csrf_token(client.get("/link").get_data(as_text=True))


def post_download(client, url: str):
    return client.post(url, data={"csrf_token": session_csrf(client)})


def download_buttons(html: str) -> list[str]:
    return [action for action in form_actions(html) if action.endswith("/download")]


def assert_pdf(response) -> list[str]:
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    return pdf_text(response.data)


@pytest.fixture
def personalised_pair(client, smtp, deliver, make_order):
    """Factory: an order whose ticket 1 the booker claimed and ticket 2 a recipient personalised."""

    def personalised_pair(**shop_settings):
        order_id = make_order(tickets=3, **shop_settings)
        overview = open_overview(smtp, deliver)
        claimed = submit_form(
            client, f"{overview}/tickets/1/claim", first_name="Sam", last_name="de Vries", email="sam@example.com"
        )
        assert claimed.status_code == 302
        shared_link = share_via_whatsapp(client, overview, 2)
        assert submit_form(client, shared_link, **HOLDER).status_code == 303
        deliver()
        ready = [smtp.take_one("sam@example.com"), smtp.take_one("noor@example.org")]
        return order_id, overview, shared_link, ready

    return personalised_pair


def set_download_enabled(app, order_id: int, enabled: bool) -> None:
    with app.app_context():
        db.session.get(Order, order_id).shop.download_enabled = enabled
        db.session.commit()


def test_with_download_switched_off_there_is_no_download_and_the_url_says_why(app, client, personalised_pair):
    order_id, overview, shared_link, ready = personalised_pair(download_enabled=False)

    overview_html = client.get(overview).get_data(as_text=True)
    recipient_html = client.get(shared_link).get_data(as_text=True)
    assert download_buttons(overview_html) == download_buttons(recipient_html) == []
    assert "Download" not in text(overview_html) and "Download" not in text(recipient_html)
    assert "cannot be downloaded here" in text(recipient_html)
    for url in (f"{overview}/tickets/1/download", f"{overview}/download", f"{shared_link}/download"):
        response = post_download(client, url)
        assert response.status_code == 403, url
        assert SWITCHED_OFF in text(response.get_data(as_text=True))
    for message in ready:
        for part in ("plain", "html"):
            assert "download" not in body(message, part).lower()


def test_switching_download_on_takes_effect_at_once(app, client, personalised_pair):
    order_id, overview, shared_link, _ = personalised_pair(download_enabled=False)

    set_download_enabled(app, order_id, True)

    overview_html = client.get(overview).get_data(as_text=True)
    assert "Download" in text(ticket_card(overview_html, 1)) and "Download" in text(ticket_card(overview_html, 2))
    assert "Download" not in text(ticket_card(overview_html, 3))  # still open
    [own_ticket] = [action for action in download_buttons(overview_html) if "/tickets/1/" in action]
    assert "Sam de Vries" in assert_pdf(post_download(client, own_ticket))[0]
    recipient_html = client.get(shared_link).get_data(as_text=True)
    [recipient_button] = download_buttons(recipient_html)
    assert "Noor Bakker" in assert_pdf(post_download(client, recipient_button))[0]


def test_an_open_ticket_cannot_be_downloaded_while_personalisation_is_required(client, smtp, deliver, make_order):
    make_order(tickets=2)
    overview = open_overview(smtp, deliver)
    shared_link = share_via_whatsapp(client, overview, 2)

    assert download_buttons(client.get(overview).get_data(as_text=True)) == []
    for url in (f"{overview}/tickets/1/download", f"{overview}/tickets/2/download", f"{shared_link}/download",
                f"{overview}/download"):
        response = post_download(client, url)
        assert response.status_code == 403, url
        assert NOT_READY in text(response.get_data(as_text=True))


def test_a_recipient_of_a_share_made_before_personalisation_was_switched_off_gets_no_one_elses_name(
    app, client, smtp, deliver, make_order
):
    order_id = make_order(tickets=2)
    overview = open_overview(smtp, deliver)
    shared_link = share_via_whatsapp(client, overview, 2)
    with app.app_context():
        db.session.get(Order, order_id).shop.personalisation_required = False
        db.session.commit()
    [page] = assert_pdf(post_download(client, f"{shared_link}/download"))
    assert "Sam" not in page and "de Vries" not in page


def test_a_shop_without_personal_data_offers_every_ticket_for_download_at_once(client, smtp, deliver, make_order):
    make_order(tickets=3, personalisation_required=False)
    overview = open_overview(smtp, deliver)

    html = client.get(overview).get_data(as_text=True)

    page = text(html)
    for word in ("Claim", "Share", "Open", "Shared", "Personalised"):
        assert word not in page
    for position in (1, 2, 3):
        assert "Download" in text(ticket_card(html, position))
    pages = assert_pdf(post_download(client, f"{overview}/tickets/2/download"))
    # Without a holder a ticket carries no name: never the booker's, whoever ends up using it.
    assert len(pages) == 1 and "Sam" not in pages[0] and "Harbour Jazz Nights" in pages[0]
    all_pages = assert_pdf(post_download(client, f"{overview}/download"))
    assert len(all_pages) == 3 and not any("Sam de Vries" in page_text for page_text in all_pages)
    # Nor can the tickets be claimed or shared behind the page's back.
    assert post_download(client, f"{overview}/tickets/1/share/whatsapp").status_code == 409


def test_downloads_are_written_on_the_order_timeline(app, client, personalised_pair):
    order_id, overview, shared_link, _ = personalised_pair()

    post_download(client, f"{overview}/tickets/1/download")
    post_download(client, f"{shared_link}/download")
    post_download(client, f"{overview}/download")

    with app.app_context():
        order = db.session.get(Order, order_id)
        downloads = [(e.kind, e.actor, e.ticket.position if e.ticket else None, e.details)
                     for e in order.events if e.kind.endswith("downloaded")]
    assert downloads == [
        ("ticket_downloaded", "booker", 1, {}),
        ("ticket_downloaded", "recipient", 2, {}),
        ("tickets_downloaded", "booker", None, {"tickets": 2}),
    ]


def test_a_cancelled_order_cannot_be_downloaded(app, client, personalised_pair):
    order_id, overview, shared_link, _ = personalised_pair()
    token = session_csrf(client)
    with app.app_context():
        db.session.get(Order, order_id).status = "cancelled"
        db.session.commit()

    for url in (f"{overview}/tickets/1/download", f"{overview}/download", f"{shared_link}/download"):
        response = client.post(url, data={"csrf_token": token})
        assert response.status_code == 410, url
        assert "cancelled" in text(response.get_data(as_text=True))


@pytest.mark.parametrize("number", ["订单-1", "ΩMEGA-2"])
def test_an_order_number_in_any_script_downloads_under_gunicorn_and_each_download_is_recorded_once(
    app, smtp, deliver, make_order, gunicorn, number
):
    """gunicorn refuses a header that is not Latin-1: the file name goes as RFC 6266's filename* (UTF-8)."""
    import re
    from urllib.parse import unquote

    import requests

    from portal.models import OrderEvent

    order_id = make_order(tickets=2, number=number)
    overview = open_overview(smtp, deliver)
    server = gunicorn(workers=1)
    booker, recipient = requests.Session(), requests.Session()

    def post(session, page_path: str, action: str, *, follow: bool = True, **fields):
        page = session.get(server.url + page_path, timeout=30)
        assert page.status_code == 200
        data = {"csrf_token": csrf_token(page.text), **fields}
        return session.post(server.url + action, data=data, allow_redirects=follow, timeout=30)

    claim = f"{overview}/tickets/1/claim"
    assert post(booker, claim, claim, **HOLDER).status_code == 200  # followed back to the overview
    share = f"{overview}/tickets/2/share"
    shared = post(booker, share, f"{share}/whatsapp")
    [link] = re.findall(r"/t/[^\s\"&<]+", unquote(whatsapp_link(shared.text)))
    assert post(recipient, link, link, first_name="Ana", last_name="Lima", email="ana@example.org").status_code == 200
    deliver()
    smtp.take_one("noor@example.org")
    smtp.take_one("ana@example.org")

    downloads = [
        (post(booker, overview, f"{overview}/tickets/1/download"), f"ticket-{number}-1.pdf"),
        (post(booker, overview, f"{overview}/download"), f"tickets-{number}.pdf"),
        (post(recipient, link, f"{link}/download"), f"ticket-{number}-2.pdf"),
    ]
    for response, filename in downloads:
        assert response.status_code == 200, server.log_text()
        assert response.content.startswith(b"%PDF")
        disposition = response.headers["Content-Disposition"]
        assert disposition.isascii() and disposition.startswith("attachment;")
        [encoded] = re.findall(r"filename\*=UTF-8''(\S+)", disposition)
        assert unquote(encoded) == filename
    with app.app_context():
        kinds = [e.kind for e in db.session.query(OrderEvent).filter_by(order_id=order_id)]
    assert kinds.count("ticket_downloaded") == 2 and kinds.count("tickets_downloaded") == 1
