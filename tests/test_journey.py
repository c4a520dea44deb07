"""The whole journey over HTTP: from the confirmation email to a downloaded, scannable ticket."""

import io

import pypdfium2
import zxingcpp

from portal.extensions import db
from portal.models import Order, Ticket
from portal.services.barcodes import signed_barcode
from tests.conftest import body, links_in
from tests.pages import csrf_token, form_actions, path_of, text


def pdf_pages(pdf: bytes) -> list[tuple[str, list[str]]]:
    """Each page's text and the QR codes a scanner reads on it."""
    document = pypdfium2.PdfDocument(io.BytesIO(pdf))
    pages = []
    for page in document:
        page_text = page.get_textpage().get_text_range()
        image = page.render(scale=200 / 72).to_pil()
        pages.append((page_text, [code.text for code in zxingcpp.read_barcodes(image)]))
    return pages


def test_booker_claims_shares_and_recipient_downloads(app, client, smtp, deliver, make_order):
    order_id = make_order(tickets=4, booker_email="sam@example.com")
    deliver()

    # The confirmation email carries the overview link.
    confirmation = smtp.take_one("sam@example.com")
    assert "Harbour Jazz Nights" in confirmation["Subject"]
    overview_path = path_of(next(link for link in links_in(confirmation) if "/o/" in link))
    assert links_in(confirmation)[0].startswith("http://portal.test/o/")

    page = client.get(overview_path)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert text(html).count("Open") >= 4
    for position in range(1, 5):
        assert f"Ticket {position}" in html

    # Claim ticket 1 for the booker: the form starts with the booker's details.
    claim_page = client.get(f"{overview_path}/tickets/1/claim").get_data(as_text=True)
    assert 'value="sam@example.com"' in claim_page
    response = client.post(
        f"{overview_path}/tickets/1/claim",
        data={
            "csrf_token": csrf_token(claim_page),
            "first_name": "Sam",
            "last_name": "de Vries",
            "email": "sam@example.com",
            "phone": "06 12345678",
        },
    )
    assert response.status_code == 302
    # Share ticket 2 by email.
    share_page = client.get(f"{overview_path}/tickets/2/share").get_data(as_text=True)
    response = client.post(
        f"{overview_path}/tickets/2/share/email",
        data={"csrf_token": csrf_token(share_page), "email": "friend@example.org"},
    )
    assert response.status_code == 303
    deliver()
    smtp.take_one("sam@example.com")  # the booker's own "ticket ready" for ticket 1

    share_mail = smtp.take_one("friend@example.org")
    assert share_mail["Subject"] == "Sam shared a ticket for Harbour Jazz Nights with you"  # who, and for what
    assert share_mail["From"] == "Harbour Jazz Nights <tickets@localhost>"  # the event's name, not a bare "Tickets"
    for part in ("plain", "html"):
        content = share_mail.get_body(preferencelist=(part,)).get_content()
        assert "Sam has shared a ticket for Harbour Jazz Nights" in content
        assert "de Vries" not in content and "sam@example.com" not in content  # the first name only
    share_path = path_of(next(link for link in links_in(share_mail) if "/t/" in link))

    # The recipient sees the event and this one ticket, nothing of the booker.
    recipient_page = client.get(share_path)
    assert recipient_page.status_code == 200
    recipient_html = recipient_page.get_data(as_text=True)
    assert "Harbour Jazz Nights" in recipient_html
    for secret in ("Sam", "de Vries", "sam@example.com", "+31612345678", "Ticket 1", "Ticket 3"):
        assert secret not in recipient_html

    response = client.post(
        share_path,
        data={
            "csrf_token": csrf_token(recipient_html),
            "first_name": "Łukasz",
            "last_name": "Żółć-Ñúñez",
            "email": "lukasz@example.org",
            "phone": "+48 512 345 678",
        },
    )
    assert response.status_code == 303
    personalised = client.get(share_path).get_data(as_text=True)
    assert "Łukasz Żółć-Ñúñez" in personalised
    assert 'name="first_name"' not in personalised  # never the form again
    assert "Contact consumer desk" in personalised

    # The holder gets the "ready" email with their link.
    deliver()
    ready = smtp.take_one("lukasz@example.org")
    assert path_of(next(link for link in links_in(ready) if "/t/" in link)) == share_path

    # Download: the PDF names the holder and its QR code is the ticket's barcode.
    download_action = next(action for action in form_actions(personalised) if action.endswith("/download"))
    pdf_response = client.post(download_action, data={"csrf_token": csrf_token(personalised)})
    assert pdf_response.status_code == 200
    assert pdf_response.mimetype == "application/pdf"
    [(page_text, codes)] = pdf_pages(pdf_response.data)
    with app.app_context():
        ticket = db.session.get(Order, order_id).ticket_at(2)
        assert ticket.holder_phone == "+48512345678"
        assert ticket.personalised_by == "recipient"
        assert codes == [signed_barcode(ticket)]
        kinds = [event.kind for event in db.session.get(Order, order_id).events]
    assert "Łukasz Żółć-Ñúñez" in page_text
    assert "Harbour Jazz Nights" in page_text
    assert "ticket_downloaded" in kinds

    # The booker's overview shows the change.
    overview = text(client.get(overview_path).get_data(as_text=True))
    assert "Personalised by Łukasz Żółć-Ñúñez" in overview
    assert "Personalised by Sam de Vries" in overview


def test_download_all_puts_every_personalised_ticket_in_one_file(app, client, smtp, deliver, make_order):
    order_id = make_order(tickets=3)
    deliver()
    overview_path = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    for position, name in ((1, "Ada"), (3, "Grace")):
        page = client.get(f"{overview_path}/tickets/{position}/claim").get_data(as_text=True)
        client.post(
            f"{overview_path}/tickets/{position}/claim",
            data={"csrf_token": csrf_token(page), "first_name": name, "last_name": "Test", "email": f"{name.lower()}@example.com"},
        )
    html = client.get(overview_path).get_data(as_text=True)
    assert "Download the 2 ready tickets" in html and "Download all" not in html  # it says how many it downloads
    response = client.post(f"{overview_path}/download", data={"csrf_token": csrf_token(html)})
    assert response.status_code == 200
    pages = pdf_pages(response.data)
    with app.app_context():
        order = db.session.get(Order, order_id)
        expected = [signed_barcode(order.ticket_at(1)), signed_barcode(order.ticket_at(3))]
    assert [codes for _, codes in pages] == [[expected[0]], [expected[1]]]
    assert "Ada Test" in pages[0][0] and "Grace Test" in pages[1][0]
    deliver()
    smtp.take_one("ada@example.com")
    smtp.take_one("grace@example.com")


def test_get_requests_change_nothing(app, client, smtp, deliver, make_order):
    """Mail scanners and link previews open every link: a GET must not act."""
    order_id = make_order(tickets=1)
    deliver()
    overview_path = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    for path in ("", "/tickets/1/claim", "/tickets/1/share", "/tickets/1/share/whatsapp", "/download"):
        client.get(overview_path + path)
    with app.app_context():
        ticket = db.session.get(Order, order_id).ticket_at(1)
        assert (ticket.status, ticket.share_version) == ("open", 0)
        assert db.session.query(Ticket).filter(Ticket.status != "open").count() == 0


def test_recipient_page_masks_the_holders_contact_details(app, client, smtp, deliver, make_order):
    """A share link may be forwarded: the personalised ticket shows the name, not the full email or phone."""
    make_order(tickets=1)
    deliver()
    overview_path = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    share_page = client.get(f"{overview_path}/tickets/1/share").get_data(as_text=True)
    client.post(f"{overview_path}/tickets/1/share/email", data={"csrf_token": csrf_token(share_page), "email": "kim@example.org"})
    deliver()
    share_path = path_of(links_in(smtp.take_one("kim@example.org"))[0])
    form_page = client.get(share_path).get_data(as_text=True)
    client.post(share_path, data={"csrf_token": csrf_token(form_page), "first_name": "Kim", "last_name": "Jansen",
                                  "email": "kim.jansen@example.org", "phone": "+31 6 87654321"})
    deliver()
    smtp.take_one("kim.jansen@example.org")
    page = text(client.get(share_path).get_data(as_text=True))
    assert "Kim Jansen" in page
    assert "k•••@example.org" in page and "•••• 321" in page
    assert "kim.jansen@example.org" not in page and "87654321" not in page


def test_words_match_the_state(app, client, smtp, deliver, make_order, login):
    """The resent email of a fully personalised order, a ticket mail without download, the recipient's page."""
    from tests.backoffice_pages import confirm

    order_id = make_order(tickets=1, download_enabled=False, consumer_desk_whatsapp=None,
                          support_contact="Acme support: help@acme.example")
    deliver()
    overview = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    page = client.get(f"{overview}/tickets/1/claim").get_data(as_text=True)
    client.post(f"{overview}/tickets/1/claim", data={"csrf_token": csrf_token(page), "first_name": "Ada",
                                                     "last_name": "Test", "email": "ada@example.com"})
    deliver()
    ready = smtp.take_one("ada@example.com")
    assert ready["Subject"] == "Your ticket for Harbour Jazz Nights is personalised in your name"  # no "ready" to download
    overview_page = text(client.get(overview).get_data(as_text=True))
    assert "contact the organizer: Acme support: help@acme.example" in overview_page
    assert "consumer desk" not in overview_page  # there is none to contact

    confirm(login(), f"/backoffice/orders/{order_id}/resend")
    deliver()
    resent = body(smtp.take_one("booker@example.com"))
    assert "Every ticket of this order is personalised" in resent and "Claim a ticket" not in resent
