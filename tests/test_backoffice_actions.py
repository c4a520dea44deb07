"""The order-level ⋯ menu: Resend, Open Personalisation, Refund, Cancel, and when they are off."""

import io
import re

import pypdfium2
import zxingcpp

from portal.extensions import db
from portal.models import Order, OutgoingMessage
from portal.services.barcodes import signed_barcode
from tests.backoffice_pages import confirm, is_disabled, menu_entry, order_path, page, timeline
from tests.conftest import body, links_in
from tests.pages import csrf_token, flashes, path_of, share_via_whatsapp, text


def qr_codes(pdf: bytes) -> list[list[str]]:
    """The QR codes a door scanner reads on each page of a PDF."""
    document = pypdfium2.PdfDocument(io.BytesIO(pdf))
    return [[code.text for code in zxingcpp.read_barcodes(p.render(scale=200 / 72).to_pil())] for p in document]


def pdf_attachments(message) -> list[bytes]:
    return [part.get_content() for part in message.iter_attachments() if part.get_content_type() == "application/pdf"]


def overview_link(message) -> str:
    return path_of(next(link for link in links_in(message) if "/o/" in link))


def claim(client, overview: str, position: int, name: str) -> None:
    claim_page = client.get(f"{overview}/tickets/{position}/claim").get_data(as_text=True)
    response = client.post(f"{overview}/tickets/{position}/claim", data={
        "csrf_token": csrf_token(claim_page), "first_name": name, "last_name": "Test", "email": f"{name.lower()}@example.com"})
    assert response.status_code == 302


def snapshot(app, order_id: int) -> tuple:
    """Everything about an order that an action could change."""
    with app.app_context():
        order = db.session.get(Order, order_id)
        return (
            order.status, order.personalisation_version, order.booker_email,
            [(t.id, t.status, t.barcode, t.share_version, t.holder_email) for t in order.tickets],
        )


def test_order_actions_menu_is_a_real_button_with_four_actions(login, make_order):
    order_id = make_order(tickets=2)
    html = page(login(), order_path(order_id))
    button = re.search(r"<button[^>]*data-menu-button[^>]*>.*?</button>", html, flags=re.S).group(0)
    assert 'aria-label="Order actions"' in button and "⋯" in button and 'type="button"' in button
    assert 'aria-controls="order-actions"' in button
    for label in ("Resend", "Open Personalisation", "Refund", "Cancel"):
        assert not is_disabled(menu_entry(html, label)), label
    # The script that folds the menu away is a file of our own (fingerprinted, in the head so the
    # menus are folded before the first paint); no inline script or style.
    assert re.search(r'<script src="/static/js/backoffice.js\?v=[0-9a-f]{12}"></script>', html)
    assert not re.search(r"<script>|<script [^>]*>[^<]", html) and " style=" not in html and "<style" not in html


def test_resend_goes_to_the_contact_email_with_the_current_link_and_tickets(app, client, login, smtp, deliver, make_order):
    order_id = make_order(tickets=3, booker_email="sam@example.com")
    deliver()
    overview = overview_link(smtp.take_one("sam@example.com"))
    claim(client, overview, 1, "Ada")
    claim(client, overview, 3, "Grace")
    deliver()
    smtp.take_one("ada@example.com")
    smtp.take_one("grace@example.com")
    staff = login()
    # The booker asks for the email at a new address: the organizer corrects the contact first.
    contact = page(staff, f"{order_path(order_id)}/contact")
    staff.post(f"{order_path(order_id)}/contact", data={"csrf_token": csrf_token(contact), "first_name": "Sam",
               "last_name": "de Vries", "email": "sam.new@example.com", "phone": "+31612345678"})
    before = snapshot(app, order_id)

    confirmation = page(staff, f"{order_path(order_id)}/resend")
    assert "sam.new@example.com" in text(confirmation)  # the recipient, shown before sending
    assert "2 personalised tickets are attached as one PDF." in text(confirmation)
    response = confirm(staff, f"{order_path(order_id)}/resend")
    assert response.status_code == 303
    assert snapshot(app, order_id) == before  # no status change, no new tickets, same barcodes
    deliver()
    mail = smtp.take_one("sam.new@example.com")
    assert overview_link(mail) == overview  # the same, still valid link
    assert client.get(overview_link(mail)).status_code == 200
    [pdf] = pdf_attachments(mail)
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert qr_codes(pdf) == [[signed_barcode(order.ticket_at(1))], [signed_barcode(order.ticket_at(3))]]
        assert db.session.query(Order).count() == 1
        assert [m.kind for m in db.session.query(OutgoingMessage).order_by(OutgoingMessage.id)][-1] == "resend"
    html = page(staff, order_path(order_id))
    assert flashes(html) == ["The order email is on its way to sam.new@example.com."]
    assert f"{staff.user_email} Order email resent to the contact address, with 2 tickets attached" in timeline(html)[1]
    assert "Email sent: order email (resent)" in timeline(html)[0]


def test_resend_attaches_no_tickets_when_download_is_disabled(app, login, smtp, deliver, make_order):
    order_id = make_order(tickets=2, booker_email="sam@example.com", personalisation_required=False, download_enabled=False)
    staff = login()
    assert "No tickets are attached" in text(page(staff, f"{order_path(order_id)}/resend"))
    confirm(staff, f"{order_path(order_id)}/resend")
    deliver()
    original, resent = smtp.take("sam@example.com")
    assert pdf_attachments(original) == pdf_attachments(resent) == []
    # (Only the calendar file is attached, and said to be.)
    assert "tickets are attached" not in resent.get_body(("plain",)).get_content()


def test_open_personalisation_resets_tickets_and_revokes_every_earlier_link(app, client, login, smtp, deliver, make_order):
    order_id = make_order(tickets=3, booker_email="sam@example.com")
    deliver()
    old_overview = overview_link(smtp.take_one("sam@example.com"))
    claim(client, old_overview, 1, "Ada")
    old_share = share_via_whatsapp(client, old_overview, 2)
    deliver()
    smtp.take_one("ada@example.com")
    with app.app_context():
        old_barcodes = [t.barcode for t in db.session.get(Order, order_id).tickets]

    staff = login()
    confirmation = text(page(staff, f"{order_path(order_id)}/open-personalisation"))
    assert "The personalisation of all 3 tickets will be reset." in confirmation
    assert "sam@example.com" in confirmation
    assert confirm(staff, f"{order_path(order_id)}/open-personalisation").status_code == 303

    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.status == "completed" and order.personalisation_version == 2
        for ticket, old_barcode in zip(order.tickets, old_barcodes, strict=True):
            assert ticket.status == "open"
            assert ticket.barcode != old_barcode
            assert (ticket.holder_first_name, ticket.holder_email, ticket.shared_via, ticket.personalised_by) == (None,) * 4
    # Every earlier link fails: the booker's overview and the recipient's share link.
    for path in (old_overview, f"{old_overview}/tickets/1/claim", old_share):
        response = client.get(path)
        assert response.status_code == 410, path
        assert "replaced by a newer one" in text(response.get_data(as_text=True))
    # The booker is emailed a new link, which works and shows open tickets again.
    deliver()
    mail = smtp.take_one("sam@example.com")
    assert "New personalisation link" in mail["Subject"]
    # The previous holder learns that the ticket is no longer in their name.
    told = smtp.take_one("ada@example.com")
    assert told["Subject"] == "Your ticket for Harbour Jazz Nights has been changed"
    assert "reopened the personalisation" in body(told) and "no longer in your name" in body(told)
    new_overview = overview_link(mail)
    assert new_overview != old_overview
    html = client.get(new_overview).get_data(as_text=True)
    assert text(html).count("Open") >= 3 and "Personalised by" not in html
    token = csrf_token(client.get(f"{new_overview}/tickets/2/claim").get_data(as_text=True))
    assert client.post(f"{old_overview}/tickets/1/download", data={"csrf_token": token}).status_code == 410
    assert client.post(f"{new_overview}/tickets/1/download", data={"csrf_token": token}).status_code == 403  # open again
    claim(client, new_overview, 1, "Grace")  # the new link can be used
    response = client.post(f"{new_overview}/tickets/1/download", data={"csrf_token": token})
    assert response.status_code == 200
    with app.app_context():
        ticket = db.session.get(Order, order_id).ticket_at(1)
        new_barcode, printed = ticket.barcode, signed_barcode(ticket)
    assert qr_codes(response.data) == [[printed]] and new_barcode != old_barcodes[0]
    deliver()
    smtp.take_one("grace@example.com")
    entries = timeline(page(staff, order_path(order_id)))
    assert any(f"{staff.user_email} Personalisation reopened" in entry for entry in entries)


def test_open_personalisation_is_off_when_the_shop_needs_no_personal_data(app, login, make_order):
    order_id = make_order(tickets=2, personalisation_required=False)
    staff = login()
    entry = menu_entry(page(staff, order_path(order_id)), "Open Personalisation")
    assert is_disabled(entry)
    assert "Tickets of this event need no personal details." in text(entry)
    html = page(staff, f"{order_path(order_id)}/open-personalisation")
    assert "need no personal details" in text(html) and 'type="submit"' not in html.split("<main")[1]
    before = snapshot(app, order_id)
    response = staff.post(f"{order_path(order_id)}/open-personalisation",
                          data={"csrf_token": csrf_token(html), "personalisation_version": "1"})
    assert response.status_code == 303
    assert flashes(page(staff, order_path(order_id))) == ["Tickets of this event need no personal details."]
    assert snapshot(app, order_id) == before


def test_refund_explains_support_handles_it_and_changes_nothing(app, login, smtp, deliver, make_order):
    order_id = make_order(tickets=2, support_contact="Support desk: refunds@acme.example, +31 20 555 0199")
    staff = login()
    before = snapshot(app, order_id)
    html = text(page(staff, f"{order_path(order_id)}/refund"))
    assert "Refunds are processed by support" in html
    assert "refunds@acme.example, +31 20 555 0199" in html
    assert "€90.00" in html
    assert staff.post(f"{order_path(order_id)}/refund").status_code == 405  # there is nothing to do
    assert snapshot(app, order_id) == before
    with app.app_context():
        assert [e.kind for e in db.session.get(Order, order_id).events] == ["order_created"]
        assert db.session.query(OutgoingMessage).count() == 1  # only the original confirmation


def test_cancel_invalidates_the_order_everywhere(app, client, login, smtp, deliver, make_order):
    order_id = make_order(tickets=3, booker_email="sam@example.com")
    deliver()
    overview = overview_link(smtp.take_one("sam@example.com"))
    claim(client, overview, 1, "Ada")
    share = share_via_whatsapp(client, overview, 2)
    deliver()
    smtp.take_one("ada@example.com")
    overview_html = client.get(overview).get_data(as_text=True)
    download = f"{overview}/tickets/1/download"
    assert client.post(download, data={"csrf_token": csrf_token(overview_html)}).status_code == 200

    staff = login()
    confirmation = text(page(staff, f"{order_path(order_id)}/cancel"))
    assert "all its 3 tickets will be cancelled" in confirmation
    assert confirm(staff, f"{order_path(order_id)}/cancel").status_code == 303

    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.status == "cancelled"
        assert [t.status for t in order.tickets] == ["cancelled"] * 3
    # Portal, share link and downloads all refuse.
    for path in (overview, share):
        response = client.get(path)
        assert response.status_code == 410
        assert "cancelled" in text(response.get_data(as_text=True))
    assert client.post(download, data={"csrf_token": csrf_token(overview_html)}).status_code == 410
    assert client.post(f"{overview}/download", data={"csrf_token": csrf_token(overview_html)}).status_code == 410
    # The booker is told, with no link to anything.
    deliver()
    mail = smtp.take_one("sam@example.com")
    assert "cancelled" in mail["Subject"]
    assert links_in(mail) == []
    # And so is every holder of a ticket: it is no longer valid.
    holder = smtp.take_one("ada@example.com")
    assert holder["Subject"] == "Your ticket for Harbour Jazz Nights has been cancelled"
    assert "no longer valid" in body(holder) and links_in(holder) == []
    html = page(staff, order_path(order_id))
    assert re.search(r"<h1>Order [^<]+ <span class=\"status[^\"]*\">Cancelled</span></h1>", html)
    assert any(f"{staff.user_email} Order cancelled" in entry for entry in timeline(html))


def test_a_cancelled_order_offers_only_resend(app, login, smtp, deliver, make_order):
    order_id = make_order(tickets=2, booker_email="sam@example.com")
    staff = login()
    confirm(staff, f"{order_path(order_id)}/cancel")
    html = page(staff, order_path(order_id))
    assert not is_disabled(menu_entry(html, "Resend"))
    for label in ("Open Personalisation", "Refund", "Cancel"):
        entry = menu_entry(html, label)
        assert is_disabled(entry), label
        assert "This order has been cancelled." in text(entry)
    assert is_disabled(menu_entry(html, "Edit", "ticket-actions-1"))

    before = snapshot(app, order_id)
    token = csrf_token(html)
    holder = {"first_name": "Eve", "last_name": "Late", "email": "eve@example.com"}
    reopen = {"personalisation_version": "2"}  # what the page showed before the cancel
    for path, data in ((f"{order_path(order_id)}/cancel", {}), (f"{order_path(order_id)}/open-personalisation", reopen),
                       (f"{order_path(order_id)}/tickets/1/edit", holder),
                       (f"{order_path(order_id)}/tickets/1/edit/confirm", holder)):
        response = staff.post(path, data={"csrf_token": token, **data})
        assert response.status_code == 303, path
        assert flashes(page(staff, order_path(order_id))) == ["This order has been cancelled. Its tickets are no longer valid."]
    assert snapshot(app, order_id) == before

    # Resend sends the cancellation notice again.
    confirm(staff, f"{order_path(order_id)}/resend")
    deliver()
    original, notice, again = smtp.take("sam@example.com")
    assert "cancelled" in notice["Subject"] and again["Subject"] == notice["Subject"]
    assert links_in(again) == []


def test_a_double_cancel_cancels_once(app, login, smtp, deliver, make_order):
    order_id = make_order(tickets=1, booker_email="sam@example.com")
    staff = login()
    html = page(staff, f"{order_path(order_id)}/cancel")
    for _ in range(2):
        staff.post(f"{order_path(order_id)}/cancel", data={"csrf_token": csrf_token(html)})
    with app.app_context():
        assert [e.kind for e in db.session.get(Order, order_id).events].count("order_cancelled") == 1
        assert db.session.get(Order, order_id).personalisation_version == 2
    deliver()
    assert len(smtp.take("sam@example.com")) == 2  # the confirmation and one cancellation


def test_an_action_post_without_the_csrf_token_changes_nothing(app, login, make_order):
    order_id = make_order(tickets=2)
    staff = login()
    before = snapshot(app, order_id)
    for action in ("resend", "open-personalisation", "cancel"):
        response = staff.post(f"{order_path(order_id)}/{action}")
        assert response.status_code == 302 and response.headers["Location"] == f"{order_path(order_id)}/{action}"
    assert snapshot(app, order_id) == before
    with app.app_context():
        assert db.session.query(OutgoingMessage).count() == 1
