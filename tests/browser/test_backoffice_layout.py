"""The backoffice holds long names: nothing widens a page past the window or pushes its ⋯ buttons off their card."""

from __future__ import annotations

from portal.extensions import db
from portal.models import Shop
from portal.services.orders import Booker, OrderLine, create_order
from portal.services.organizers import create_backoffice_user
from tests.browser.browsing import DESKTOP, check_accessibility
from tests.browser.test_journeys import PASSWORD

# As long as the columns take (100 characters), with no place to break a line.
LONG_FIRST, LONG_LAST = ("Wolfeschlegelsteinhausenbergerdorff" * 3)[:100], "Maximiliana-Alexandrina" * 4
LONG_EMAIL = ("a" * 60) + "." + ("b" * 3) + "@" + ("very-long-subdomain-name-" * 6) + "example.org"


def overflowing(page) -> list[str]:
    """What sticks out: the page past the window, or a ⋯ button past its card."""
    return page.evaluate(
        """() => {
            const problems = [];
            if (document.documentElement.scrollWidth > window.innerWidth)
                problems.push(`page ${document.documentElement.scrollWidth}px wide in a ${window.innerWidth}px window`);
            for (const button of document.querySelectorAll('.bo-menu button, .bo-menu summary')) {
                const card = button.closest('.bo-card') || document.body;
                const b = button.getBoundingClientRect(), c = card.getBoundingClientRect();
                if (b.right > c.right + 1 || b.left < c.left - 1) problems.push(`a ⋯ button outside its card`);
            }
            return problems;
        }"""
    )


def test_long_names_emails_and_order_numbers_wrap_on_the_order_page_and_the_list(app, new_context, make_shop):
    shop_id = make_shop()
    with app.app_context():
        order = create_order(
            db.session.get(Shop, shop_id),
            number="NX-" + "9" * 37,
            booker=Booker(LONG_FIRST, LONG_LAST, LONG_EMAIL, "+31612345678"),
            lines=[OrderLine("A ticket type with a rather long name " * 2, 2, 4500)],
        )
        for ticket in order.tickets:
            ticket.holder_first_name, ticket.holder_last_name, ticket.holder_email = LONG_FIRST, LONG_LAST, LONG_EMAIL
            ticket.status = "personalised"
        create_backoffice_user(organizer_name="Acme Events", email="staff@acme.example", password=PASSWORD)
        db.session.commit()
        order_id = order.id
    organizer = new_context(DESKTOP).new_page()
    organizer.goto("/backoffice/login")
    organizer.get_by_label("Email").fill("staff@acme.example")
    organizer.get_by_label("Password").fill(PASSWORD)
    organizer.get_by_role("button", name="Log in").click()

    for path in (f"/backoffice/orders/{order_id}", "/backoffice/orders"):
        organizer.goto(path)
        assert organizer.viewport_size["width"] == 1280
        assert overflowing(organizer) == [], path
        check_accessibility(organizer, path)
