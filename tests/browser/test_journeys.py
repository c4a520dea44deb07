"""The main journeys in Chromium, clicked as people do: booker and recipient on a phone, organizer at a desk.

axe-core checks every page on the way, form errors included.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from portal.extensions import db
from portal.services.organizers import create_backoffice_user
from tests.browser.browsing import DESKTOP, PHONE, check_accessibility, screenshot
from tests.conftest import links_in
from tests.pages import path_of

PASSWORD = "correct horse battery staple"


def emailed_link(smtp, deliver, to: str, kind: str = "/o/") -> str:
    """Deliver the outbox; the path of the one /o/ or /t/ link in the one email to `to`."""
    deliver()
    return path_of(next(link for link in links_in(smtp.take_one(to)) if kind in link))


def test_booker_claims_and_shares_and_the_recipient_downloads_the_ticket(new_context, make_order, smtp, deliver):
    make_order(tickets=3)
    overview = emailed_link(smtp, deliver, "booker@example.com")

    booker = new_context(PHONE).new_page()
    booker.goto(overview)
    expect(booker.get_by_role("heading", level=1)).to_have_text("Harbour Jazz Nights")
    check_accessibility(booker, "the booker's overview")
    screenshot(booker, "phone-overview")

    # Claim ticket 1: the form starts with the booker's own details; an emptied name is refused first.
    booker.locator("#ticket-1").get_by_role("link", name="Claim", exact=True).tap()
    expect(booker.get_by_label("First name")).to_have_value("Sam")
    booker.get_by_label("First name").fill("")
    booker.get_by_role("button", name="Submit").tap()
    expect(booker.locator("#first_name-error")).to_have_text("This field is required.")
    check_accessibility(booker, "the claim form with an error")
    booker.get_by_label("First name").fill("Sam")
    booker.get_by_role("button", name="Submit").tap()
    expect(booker.locator("#ticket-1 .status")).to_have_text("Personalised")
    check_accessibility(booker, "the overview after a claim")
    deliver()
    assert "is ready" in smtp.take_one("booker@example.com")["Subject"]

    # Share ticket 2 by email; a mistyped address is refused first.
    booker.locator("#ticket-2").get_by_role("link", name="Share", exact=True).tap()
    expect(booker.get_by_role("heading", name="Share ticket 2")).to_be_visible()
    check_accessibility(booker, "the share page")
    screenshot(booker, "phone-share")
    booker.get_by_label("Email", exact=True).fill("friend@example")
    booker.get_by_role("button", name="Send", exact=True).tap()
    expect(booker.locator("#email-error")).to_contain_text("valid email address")
    check_accessibility(booker, "the share page with an error")
    booker.get_by_label("Email", exact=True).fill("friend@example.org")
    booker.get_by_role("button", name="Send", exact=True).tap()
    expect(booker.locator("#ticket-2 .ticket-detail")).to_have_text("Shared by email with friend@example.org")
    share_link = emailed_link(smtp, deliver, "friend@example.org", "/t/")

    # The recipient, on their own phone, opens the emailed link and fills in the form.
    recipient = new_context(PHONE).new_page()
    recipient.goto(share_link)
    expect(recipient.get_by_role("heading", name="Your ticket")).to_be_visible()
    check_accessibility(recipient, "the recipient's form")
    screenshot(recipient, "phone-recipient-form")
    recipient.get_by_role("button", name="Submit").tap()
    expect(recipient.locator("#first_name-error")).to_be_visible()
    check_accessibility(recipient, "the recipient's form with errors")
    recipient.get_by_label("First name").fill("Noor")
    recipient.get_by_label("Last name").fill("Bakker")
    recipient.get_by_label("Email", exact=True).fill("noor@example.org")
    recipient.get_by_label("Phone").fill("06 23456789")
    recipient.get_by_role("button", name="Submit").tap()
    expect(recipient.locator(".flash")).to_have_text("Thank you! Your ticket is personalised.")
    expect(recipient.locator(".status")).to_have_text("Personalised")
    check_accessibility(recipient, "the personalised ticket")
    screenshot(recipient, "phone-personalised-ticket")
    with recipient.expect_download() as download_info:
        recipient.get_by_role("button", name="Download", exact=True).tap()
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf")
    assert Path(download.path()).read_bytes().startswith(b"%PDF-")
    deliver()
    assert "is ready" in smtp.take_one("noor@example.org")["Subject"]

    # Ticket 3 goes by WhatsApp: through wa.me's redirect to WhatsApp, with the new link in the message.
    booker.goto(overview)
    booker.locator("#ticket-3").get_by_role("link", name="Share", exact=True).tap()
    booker.get_by_role("button", name="WhatsApp").tap()
    booker.wait_for_url("https://api.whatsapp.com/send/**")
    [message] = parse_qs(urlsplit(booker.url).query)["text"]
    [link] = re.findall(r"https?://\S+/t/\S+", message)
    recipient.goto(path_of(link))
    expect(recipient.get_by_label("First name")).to_be_empty()


def test_share_sheet_and_copy_link_with_script(new_context, make_order, smtp, deliver):
    make_order(tickets=2)
    overview = emailed_link(smtp, deliver, "booker@example.com")
    context = new_context(PHONE, permissions=["clipboard-read", "clipboard-write"])
    # Desktop Chromium on Linux has no share sheet: stand in for the phone's, remembering what it was given.
    context.add_init_script("navigator.share = (data) => { window.sharedWith = data; return Promise.resolve(); };")
    booker = context.new_page()
    booker.goto(f"{overview}/tickets/1/share")

    booker.get_by_role("button", name="Share…").tap()
    booker.wait_for_function("window.sharedWith !== undefined")
    shared = booker.evaluate("window.sharedWith")
    assert shared["title"] == "Harbour Jazz Nights" and "/t/" in shared["url"]
    assert "Fill in your details" in shared["text"]

    booker.get_by_role("button", name="Copy link").tap()
    expect(booker.locator(".share-link-status")).to_have_text("Link copied")
    check_accessibility(booker, "the share page with the script's buttons")
    copied = booker.evaluate("navigator.clipboard.readText()")
    assert "/t/" in copied and copied != shared["url"], "each button makes a fresh link"

    recipient = new_context(PHONE).new_page()
    recipient.goto(path_of(shared["url"]))
    expect(recipient.get_by_role("heading", level=1)).to_have_text("This link does not work")
    recipient.goto(path_of(copied))
    expect(recipient.get_by_label("First name")).to_be_visible()
    booker.goto(overview)
    expect(booker.locator("#ticket-1 .ticket-detail")).to_have_text("Shared as a link")


def test_without_javascript_the_share_page_offers_whatsapp_and_email(new_context, make_order, smtp, deliver):
    make_order(tickets=1)
    overview = emailed_link(smtp, deliver, "booker@example.com")
    booker = new_context(PHONE, java_script_enabled=False).new_page()
    booker.goto(f"{overview}/tickets/1/share")
    expect(booker.get_by_role("button", name="WhatsApp")).to_be_visible()
    expect(booker.get_by_role("button", name="Send", exact=True)).to_be_visible()
    expect(booker.get_by_role("button", name="Copy link")).to_have_count(0)
    expect(booker.get_by_role("heading", name="Or share a link")).to_be_hidden()


def test_organizer_edits_a_ticket_switches_downloads_off_and_reopens_personalisation(
    app, new_context, make_order, smtp, deliver
):
    order_id = make_order(tickets=2, booker_email="anna@example.com")
    old_overview = emailed_link(smtp, deliver, "anna@example.com")
    with app.app_context():
        create_backoffice_user(organizer_name="Acme Events", email="staff@acme.example", password=PASSWORD)
        db.session.commit()
        from portal.models import Order

        number = db.session.get(Order, order_id).number

    organizer = new_context(DESKTOP).new_page()
    organizer.goto("/backoffice/login")
    check_accessibility(organizer, "the login page")
    organizer.get_by_label("Email", exact=True).fill("staff@acme.example")
    organizer.get_by_label("Password").fill("not the password")
    organizer.get_by_role("button", name="Log in").click()
    expect(organizer.locator(".flash-error")).to_be_visible()
    check_accessibility(organizer, "the login page with an error")
    organizer.get_by_label("Password").fill(PASSWORD)
    organizer.get_by_role("button", name="Log in").click()

    # Find the order by the booker's email.
    organizer.get_by_label("Search").fill("anna@example.com")
    organizer.get_by_role("button", name="Filter").click()
    expect(organizer.get_by_label("Search")).to_have_value("anna@example.com")
    assert "anna" not in organizer.url  # posted: what is searched for stays out of addresses and logs
    check_accessibility(organizer, "the orders list")
    organizer.get_by_role("link", name=number).click()
    expect(organizer.get_by_role("heading", level=1)).to_contain_text(f"Order {number}")
    check_accessibility(organizer, "the order page")
    organizer.get_by_role("button", name="Order actions").click()
    expect(organizer.get_by_role("link", name="Open Personalisation")).to_be_visible()
    check_accessibility(organizer, "the order page with its menu open")
    organizer.keyboard.press("Escape")

    # ⋯ Ticket actions → Edit → Save → Confirm.
    organizer.locator("#ticket-1").get_by_role("button", name="Ticket actions").click()
    organizer.locator("#ticket-actions-1").get_by_role("link", name="Edit").click()
    expect(organizer.get_by_role("heading", level=1)).to_have_text("Edit ticket 1")
    check_accessibility(organizer, "the ticket edit form")
    organizer.get_by_role("button", name="Save").click()
    expect(organizer.locator("#first_name-error")).to_be_visible()
    check_accessibility(organizer, "the ticket edit form with errors")
    organizer.get_by_label("First name").fill("Noor")
    organizer.get_by_label("Last name").fill("Bakker")
    organizer.get_by_label("Email", exact=True).fill("noor@example.org")
    organizer.get_by_role("button", name="Save").click()
    expect(organizer.get_by_role("heading", level=1)).to_have_text("Confirm the change of ticket 1")
    check_accessibility(organizer, "the ticket edit confirmation")
    organizer.get_by_role("button", name="Confirm").click()
    expect(organizer.locator(".flash")).to_have_text("Ticket 1 has been saved with its new holder.")
    screenshot(organizer, "backoffice-order")
    holder_link = emailed_link(smtp, deliver, "noor@example.org", "/t/")

    # The holder can download their ticket until the organizer switches downloads off.
    holder = new_context(PHONE).new_page()
    holder.goto(holder_link)
    expect(holder.get_by_role("button", name="Download", exact=True)).to_be_visible()
    organizer.get_by_role("navigation", name="Backoffice").get_by_role("link", name="Shops").click()
    organizer.get_by_role("link", name="Harbour Jazz Nights").click()
    expect(organizer.get_by_label("Download order enabled")).to_be_visible()
    check_accessibility(organizer, "the shop settings")
    organizer.get_by_label("Download order enabled").uncheck()
    organizer.get_by_role("button", name="Save").click()
    expect(organizer.locator(".flash")).to_contain_text("The settings have been saved.")
    holder.reload()
    expect(holder.get_by_role("button", name="Download", exact=True)).to_have_count(0)
    expect(holder.get_by_text("The organizer will send you your ticket; it cannot be downloaded here.")).to_be_visible()
    check_accessibility(holder, "the ticket page without download")

    # Order actions → Open Personalisation → confirm: a new link for the booker, the old one expires.
    organizer.get_by_role("navigation", name="Backoffice").get_by_role("link", name="Orders").click()
    organizer.get_by_role("link", name=number).click()
    organizer.get_by_role("button", name="Order actions").click()
    organizer.get_by_role("link", name="Open Personalisation").click()
    expect(organizer.get_by_role("heading", level=1)).to_have_text("Open Personalisation")
    check_accessibility(organizer, "the Open Personalisation confirmation")
    organizer.get_by_role("button", name="Open Personalisation").click()
    expect(organizer.locator(".flash")).to_contain_text("Personalisation reopened")
    new_overview = emailed_link(smtp, deliver, "anna@example.com")
    assert new_overview != old_overview
    assert "has been changed" in smtp.take_one("noor@example.org")["Subject"]  # the previous holder is told

    booker = new_context(PHONE).new_page()
    booker.goto(new_overview)
    expect(booker.locator("#ticket-1 .status")).to_have_text("Open")
    booker.goto(old_overview)
    expect(booker.get_by_role("heading", level=1)).to_have_text("This link does not work")
    expect(booker.get_by_role("alert")).to_contain_text("replaced by a newer one")
    check_accessibility(booker, "the expired-link page")
    holder.reload()
    expect(holder.get_by_role("heading", level=1)).to_have_text("This link does not work")
