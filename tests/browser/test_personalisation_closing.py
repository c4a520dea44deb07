"""The deadline in Chromium at phone size: the page before and after it, the organizer's chart; English and Dutch."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from portal.extensions import db
from portal.models import Order
from portal.services import personalisation
from portal.services.organizers import create_backoffice_user
from portal.services.personalisation import HolderDetails
from tests.browser.browsing import DESKTOP, PHONE, check_accessibility, screenshot
from tests.browser.test_dutch import assert_dutch
from tests.browser.test_journeys import PASSWORD, emailed_link


def claimed_and_shared(app, order_id: int) -> None:
    """Ticket 1 claimed for Ada yesterday, ticket 2 shared via WhatsApp; ticket 3 open."""
    with app.app_context():
        order = db.session.get(Order, order_id)
        personalisation.claim(order, order.ticket_at(1), HolderDetails("Ada", "Lovelace", "ada@example.com"), language="en")
        order.ticket_at(1).personalised_at = datetime.now(UTC) - timedelta(days=1)
        personalisation.share_by_whatsapp(order, order.ticket_at(2))
        db.session.commit()


def pass_the_deadline(app, order_id: int) -> None:
    with app.app_context():
        db.session.get(Order, order_id).shop.personalisation_deadline = datetime.now(UTC) - timedelta(hours=2)
        db.session.commit()


def test_the_overview_says_by_when_and_after_the_deadline_that_it_has_closed(app, new_context, make_order, smtp, deliver):
    order_id = make_order(tickets=3, personalisation_deadline=datetime.now(UTC) + timedelta(days=5))
    overview = emailed_link(smtp, deliver, "booker@example.com")
    claimed_and_shared(app, order_id)
    deliver()
    smtp.take_one("ada@example.com")

    booker = new_context(PHONE).new_page()
    booker.goto(overview)
    expect(booker.locator(".deadline")).to_contain_text("Fill in by ")
    expect(booker.locator("#ticket-2")).to_contain_text("Shared on ")
    expect(booker.locator("#ticket-1")).to_contain_text("Personalised on ")
    check_accessibility(booker, "the overview with its deadline")
    screenshot(booker, "phone-overview-deadline")

    pass_the_deadline(app, order_id)
    booker.reload()
    expect(booker.locator("#personalisation-closed")).to_contain_text("Personalisation closed on")
    expect(booker.get_by_role("link", name="Claim", exact=True)).to_have_count(0)
    expect(booker.get_by_role("link", name="Share", exact=True)).to_have_count(0)
    expect(booker.locator("#ticket-1").get_by_role("button", name="Download")).to_be_visible()
    expect(booker.locator("#personalisation-closed").get_by_role("link", name="Contact consumer desk")).to_have_attribute(
        "href", re.compile(r"^https://wa\.me/31205550100\?text=")
    )
    # Nothing on the page is wider than the phone.
    assert booker.evaluate("document.documentElement.scrollWidth") <= 390
    check_accessibility(booker, "the closed overview")
    screenshot(booker, "phone-overview-closed")

    dutch = new_context(PHONE, locale="nl-NL").new_page()
    dutch.goto(overview)
    expect(dutch.locator("#personalisation-closed")).to_contain_text("De personalisatie is gesloten sinds")
    assert_dutch(dutch, "the closed overview")
    check_accessibility(dutch, "the closed overview in Dutch")
    screenshot(dutch, "phone-overview-closed-nl")

    # A claim page kept open from before is refused with the clear page.
    booker.goto(f"{overview}/tickets/3/claim")
    expect(booker.get_by_role("heading", name="Personalisation has closed")).to_be_visible()
    check_accessibility(booker, "the refusal after the deadline")
    screenshot(booker, "phone-closed-refusal")


def test_the_organizer_watches_the_names_come_in_on_the_shop_page(app, new_context, make_shop, make_order):
    shop_id = make_shop(personalisation_deadline=datetime.now(UTC) + timedelta(days=6))
    for n in range(3):
        order_id = make_order(tickets=3, shop_id=shop_id, booker_email=f"booker{n}@example.com")
        claimed_and_shared(app, order_id)
    with app.app_context():
        create_backoffice_user(organizer_name="Acme Events", email="staff@acme.example", password=PASSWORD)
        db.session.commit()

    for device, locale, name in ((PHONE, "en-GB", "phone-shop-progress"), (PHONE, "nl-NL", "phone-shop-progress-nl"),
                                 (DESKTOP, "en-GB", "backoffice-shop-progress")):
        organizer = new_context(device, locale=locale).new_page()
        organizer.goto("/backoffice/login")
        organizer.locator("#email").fill("staff@acme.example")
        organizer.locator("#password").fill(PASSWORD)
        organizer.locator("form button[type=submit]").click()
        expect(organizer.locator("h1")).to_be_visible()
        organizer.goto(f"/backoffice/shops/{shop_id}")
        chart = organizer.locator(".bo-chart svg")
        expect(chart).to_be_visible()
        box = chart.bounding_box()
        assert box["width"] > 200 and box["x"] + box["width"] <= device["viewport"]["width"]
        figures = organizer.locator("#progress-figures")
        if locale == "nl-NL":
            expect(figures).to_contain_text("3 van 9")
            assert_dutch(organizer, "the shop page")
        else:
            expect(figures).to_contain_text("3 of 9")
            expect(organizer.locator("#days-left")).to_have_text(re.compile(r"[56] days left"))
        check_accessibility(organizer, f"the shop page ({name})")
        screenshot(organizer, name)
