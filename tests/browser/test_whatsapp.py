"""Tapping WhatsApp opens WhatsApp: through wa.me's real redirect, under the site's CSP, on a phone.

The stand-in for wa.me (tests/browser/conftest.py) answers as the real one does: 302 to
api.whatsapp.com/send/. Chromium holds every redirect after a form submission to the
page's CSP form-action, so a form that leads to wa.me never gets there.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from tests.browser.browsing import PHONE, check_accessibility, screenshot
from tests.browser.test_journeys import emailed_link
from tests.pages import path_of


def csp_violations(page) -> list[str]:
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text) if "Content Security Policy" in message.text else None)
    return messages


def test_tapping_whatsapp_reaches_whatsapp_with_the_share_link_and_coming_back_shows_the_share(
    new_context, make_order, smtp, deliver, whatsapp
):
    make_order(tickets=2)
    overview = emailed_link(smtp, deliver, "booker@example.com")
    booker = new_context(PHONE, bypass_csp=False).new_page()  # the site's CSP applies, as on a phone
    violations = csp_violations(booker)
    booker.goto(f"{overview}/tickets/2/share")

    booker.get_by_role("button", name="WhatsApp").tap()

    booker.wait_for_url("https://api.whatsapp.com/send/**")
    assert [host for host, _ in whatsapp.visits[-2:]] == ["wa.me", "api.whatsapp.com"]
    [message] = parse_qs(urlsplit(booker.url).query)["text"]
    assert "Harbour Jazz Nights" in message
    [link] = re.findall(r"https?://\S+/t/\S+", message)
    assert not violations, violations

    # The friend's link works.
    friend = new_context(PHONE).new_page()
    friend.goto(path_of(link))
    expect(friend.get_by_label("First name")).to_be_visible()

    # Back from WhatsApp (Chromium replaced the WhatsApp page, a client redirect, by the share page):
    # the ticket shows as shared, and when, and tapping WhatsApp again first says what it would do.
    visits = len(whatsapp.visits)
    booker.go_back()
    warning = booker.locator("#shared-before")
    expect(warning).to_contain_text(re.compile(r"You shared this ticket via WhatsApp on \w+ \d+ \w+, \d\d:\d\d\."))
    expect(warning).to_contain_text("Sharing it again makes that link stop working")
    expect(booker.get_by_role("button", name="WhatsApp")).to_have_attribute("aria-describedby", "shared-before")
    booker.wait_for_timeout(500)
    assert len(whatsapp.visits) == visits, "WhatsApp opened again by itself"
    booker.goto(overview)
    expect(booker.locator("#ticket-2 .ticket-detail")).to_contain_text("Shared via WhatsApp")


def test_the_whatsapp_page_works_without_its_script(new_context, make_order, smtp, deliver, whatsapp):
    """Where the script does not run (or the phone was slow), the page's button opens WhatsApp."""
    make_order(tickets=1)
    overview = emailed_link(smtp, deliver, "booker@example.com")
    context = new_context(PHONE)
    context.route("**/static/js/whatsapp.js*", lambda route: route.fulfill(body="", content_type="text/javascript"))
    booker = context.new_page()
    booker.goto(f"{overview}/tickets/1/share")
    booker.get_by_role("button", name="WhatsApp").tap()
    expect(booker.locator(".notice")).to_contain_text(re.compile(r"Ticket 1 is shared via WhatsApp \(\w+ \d+ \w+, \d\d:\d\d\)"))
    check_accessibility(booker, "the WhatsApp page")
    screenshot(booker, "phone-whatsapp")
    booker.go_back()
    expect(booker.locator("#shared-before")).to_be_visible()
    check_accessibility(booker, "the share page of a shared ticket")
    booker.go_forward()
    booker.get_by_role("link", name="Open WhatsApp").tap()
    booker.wait_for_url("https://api.whatsapp.com/send/**")
    [message] = parse_qs(urlsplit(booker.url).query)["text"]
    assert "/t/" in message
