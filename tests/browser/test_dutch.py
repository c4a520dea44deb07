"""In Dutch, the pages show no English: every message a page can show has its Dutch translation."""

from __future__ import annotations

import re
from functools import cache

from babel.messages.pofile import read_po
from playwright.sync_api import expect

from portal.extensions import db
from portal.services.organizers import create_backoffice_user
from tests.browser.browsing import DESKTOP, PHONE, check_accessibility, screenshot
from tests.browser.test_journeys import PASSWORD, emailed_link
from tests.conftest import links_in
from tests.pages import path_of
from tests.test_languages import DUTCH


@cache
def english_phrases() -> frozenset[str]:
    """Pieces of the English messages that no Dutch translation contains (so seeing one means English)."""
    with DUTCH.open("rb") as stream:
        catalog = read_po(stream, locale="nl")
    messages = [message for message in catalog if message.id]
    dutch = " ".join(
        string for message in messages for string in (message.string if isinstance(message.string, tuple) else [message.string])
    )
    phrases = set()
    for message in messages:
        for english in message.id if isinstance(message.id, tuple) else [message.id]:
            for piece in re.split(r"%\(\w+\)[sd]|\{\w+\}|[“”\"():;,.!?…·→]", english):
                piece = piece.strip()
                in_dutch = re.search(rf"(?<![\w-]){re.escape(piece)}(?![\w-])", dutch)
                if len(piece) >= 4 and re.search(r"[A-Za-z]{3}", piece) and not in_dutch:
                    phrases.add(piece)
    return frozenset(phrases)


def english_on(page) -> list[str]:
    """English messages (or pieces of them) in the page's text, title and labels."""
    page.wait_for_load_state()
    shown = page.evaluate(
        """() => {
            const copy = document.body.cloneNode(true);
            copy.querySelectorAll('[lang]:not([lang="nl"])').forEach(el => el.remove());  // "English" in the switcher
            const labels = [...document.querySelectorAll('[aria-label]')].map(el => el.getAttribute('aria-label'));
            return [document.title, copy.innerText, ...labels].join('\\n');
        }"""
    )
    return sorted(
        phrase for phrase in english_phrases() if re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", shown)
    )


def assert_dutch(page, what: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    assert not english_on(page), f"English on {what} ({page.url}): {english_on(page)}"


def test_dutch_journey_shows_no_english(app, new_context, make_order, smtp, deliver):
    order_id = make_order(tickets=2, default_language="nl")
    deliver()
    confirmation = smtp.take_one("booker@example.com")
    assert confirmation["Subject"] == "Je tickets voor Harbour Jazz Nights"
    overview = path_of(links_in(confirmation)[0])

    booker = new_context(PHONE, locale="nl-NL").new_page()
    booker.goto(overview)
    assert_dutch(booker, "the overview")
    expect(booker.locator(".event-meta time")).to_contain_text(re.compile(r"^(maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag) "))

    booker.locator("#ticket-1").get_by_role("link", name="Claimen", exact=True).tap()
    booker.get_by_label("Voornaam").fill("")
    booker.get_by_role("button", name="Versturen").tap()
    expect(booker.locator("#first_name-error")).to_have_text("Dit veld is verplicht.")
    assert_dutch(booker, "the claim form with an error")
    check_accessibility(booker, "the Dutch claim form with an error")
    booker.get_by_label("Voornaam").fill("Sam")
    booker.get_by_role("button", name="Versturen").tap()
    expect(booker.locator("#ticket-1 .status")).to_have_text("Gepersonaliseerd")
    assert_dutch(booker, "the overview after a claim")
    deliver()
    assert smtp.take_one("booker@example.com")["Subject"] == "Je ticket voor Harbour Jazz Nights is klaar"

    booker.locator("#ticket-2").get_by_role("link", name="Delen", exact=True).tap()
    expect(booker.get_by_role("heading", name="Ticket 2 delen")).to_be_visible()
    assert_dutch(booker, "the share page")
    booker.get_by_label("E-mail", exact=True).fill("vriend@example.org")
    booker.get_by_role("button", name="Verzenden").tap()
    expect(booker.locator("#ticket-2 .ticket-detail")).to_have_text("Per e-mail gedeeld met vriend@example.org")
    screenshot(booker, "phone-overview-nl")
    share_link = emailed_link(smtp, deliver, "vriend@example.org", "/t/")

    recipient = new_context(PHONE, locale="nl-NL").new_page()
    recipient.goto(share_link)
    assert_dutch(recipient, "the recipient's form")
    recipient.get_by_role("button", name="Versturen").tap()
    expect(recipient.locator("#first_name-error")).to_have_text("Dit veld is verplicht.")
    assert_dutch(recipient, "the recipient's form with errors")
    recipient.get_by_label("Voornaam").fill("Noor")
    recipient.get_by_label("Achternaam").fill("Bakker")
    recipient.get_by_label("E-mail", exact=True).fill("noor@example.org")
    recipient.get_by_role("button", name="Versturen").tap()
    expect(recipient.locator(".status")).to_have_text("Gepersonaliseerd")
    assert_dutch(recipient, "the personalised ticket")
    expect(recipient.get_by_role("button", name="Downloaden", exact=True)).to_be_visible()
    deliver()
    smtp.take_one("noor@example.org")

    with app.app_context():
        create_backoffice_user(organizer_name="Acme Events", email="staff@acme.example", password=PASSWORD)
        db.session.commit()
    organizer = new_context(DESKTOP, locale="nl-NL").new_page()
    organizer.goto("/backoffice/login")
    assert_dutch(organizer, "the login page")
    organizer.get_by_label("E-mail", exact=True).fill("staff@acme.example")
    organizer.get_by_label("Wachtwoord").fill(PASSWORD)
    organizer.get_by_role("button", name="Inloggen").click()
    expect(organizer.get_by_role("heading", level=1)).to_have_text("Bestellingen")
    assert_dutch(organizer, "the orders list")
    organizer.goto(f"/backoffice/orders/{order_id}")
    expect(organizer.get_by_role("heading", level=1)).to_contain_text("Bestelling")
    assert_dutch(organizer, "the order page")
    expect(organizer.locator("#ticket-1")).to_contain_text("€ 45,00")
    check_accessibility(organizer, "the Dutch order page")

    # An old link after Open Personalisation: the expired-link page in Dutch too.
    organizer.get_by_role("button", name="Bestelacties").click()
    organizer.get_by_role("link", name="Personalisatie openen").click()
    expect(organizer.get_by_role("heading", level=1)).to_have_text("Personalisatie openen")
    assert_dutch(organizer, "the Open Personalisation confirmation")
    organizer.get_by_role("button", name="Personalisatie openen").click()
    emailed_link(smtp, deliver, "booker@example.com")
    assert smtp.take_one("noor@example.org")["Subject"] == "Je ticket voor Harbour Jazz Nights is gewijzigd"
    booker.goto(overview)
    expect(booker.get_by_role("heading", level=1)).to_have_text("Deze link werkt niet")
    assert_dutch(booker, "the expired-link page")


def test_switcher_turns_the_page_dutch_and_back(new_context, make_order, smtp, deliver):
    make_order(tickets=1)
    overview = emailed_link(smtp, deliver, "booker@example.com")
    page = new_context(PHONE).new_page()
    page.goto(overview)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("navigation", name="Language").get_by_role("link", name="Nederlands").tap()
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page).to_have_url(re.compile(re.escape(overview) + "$"))
    assert_dutch(page, "the overview after switching")
    page.get_by_role("navigation", name="Taal").get_by_role("link", name="English").tap()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#ticket-1").get_by_role("link", name="Claim", exact=True)).to_be_visible()


def test_the_switcher_on_a_page_whose_path_reads_as_another_site_stays_on_the_portal(phone, live_server):
    """``//evil.example/phish`` is the portal's own 404 page; its Referer must not send the switcher elsewhere."""
    phone.goto(live_server + "//evil.example/phish")
    phone.get_by_role("link", name="Nederlands").click()
    phone.wait_for_load_state()
    assert phone.url == live_server + "/"
    expect(phone.locator("html")).to_have_attribute("lang", "nl")
