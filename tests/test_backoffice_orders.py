"""Ticketing → Orders: the list with search and filter, the order detail view, contact edits, scoping."""

import re

from portal.extensions import db
from portal.models import Order, OrderEvent
from tests.backoffice_pages import confirm, order_path, page, search_orders, timeline
from tests.conftest import links_in
from tests.pages import csrf_token, field_error, flashes, path_of, text


def listed_numbers(html: str) -> list[str]:
    return re.findall(r'<a href="/backoffice/orders/\d+">([^<]+)</a>', html)


def claim(client, overview_path: str, position: int, **holder: str):
    claim_page = client.get(f"{overview_path}/tickets/{position}/claim").get_data(as_text=True)
    response = client.post(f"{overview_path}/tickets/{position}/claim", data={"csrf_token": csrf_token(claim_page), **holder})
    assert response.status_code == 302


def test_orders_list_searches_number_booker_and_holder(app, client, login, smtp, deliver, make_shop, make_order):
    shop_id = make_shop()
    first = make_order(tickets=2, shop_id=shop_id, number="NX-2026-000123", booker_email="sam@example.com")
    make_order(tickets=1, shop_id=shop_id, number="NX-2026-000456", booker_email="kim@example.org")
    deliver()
    overview = path_of(links_in(smtp.take_one("sam@example.com"))[0])
    smtp.take_one("kim@example.org")
    claim(client, overview, 2, first_name="Zoë", last_name="Holder", email="zoe.holder@example.net")
    deliver()
    smtp.take_one("zoe.holder@example.net")
    staff = login()

    def search(q: str) -> list[str]:
        return listed_numbers(search_orders(staff, q))

    html = page(staff, "/backoffice/orders")
    assert re.search(r'<label for="q">Search</label>', html)
    assert sorted(listed_numbers(html)) == ["NX-2026-000123", "NX-2026-000456"]
    assert search("nx-2026-000123") == ["NX-2026-000123"]  # order number, any case
    assert search("000456") == ["NX-2026-000456"]
    assert search("SAM@EXAMPLE") == ["NX-2026-000123"]  # booker email
    assert search("de vries") == ["NX-2026-000456", "NX-2026-000123"]  # booker name, newest first
    assert search("zoë holder") == ["NX-2026-000123"]  # a ticket holder's name
    assert search("zoe.holder@") == ["NX-2026-000123"]  # a ticket holder's email
    assert search("%") == []  # LIKE wildcards are searched for literally
    assert search("  de\tvries\x00 ") == ["NX-2026-000456", "NX-2026-000123"]  # pasted space and NUL left out
    assert search("nobody") == []
    assert "No orders match." in text(search_orders(staff, "nobody"))
    with app.app_context():
        assert db.session.get(Order, first).ticket_at(2).holder_first_name == "Zoë"


def test_orders_list_filters_by_status(login, make_shop, make_order):
    shop_id = make_shop()
    make_order(tickets=1, shop_id=shop_id, number="NX-2026-000001")
    cancelled = make_order(tickets=1, shop_id=shop_id, number="NX-2026-000002")
    staff = login()
    confirm(staff, f"{order_path(cancelled)}/cancel")
    assert listed_numbers(page(staff, "/backoffice/orders?status=cancelled")) == ["NX-2026-000002"]
    assert listed_numbers(page(staff, "/backoffice/orders?status=completed")) == ["NX-2026-000001"]
    assert len(listed_numbers(page(staff, "/backoffice/orders?status=whatever"))) == 2


def test_orders_list_is_paginated(app, login, make_shop, make_order):
    shop_id = make_shop()
    for n in range(27):
        make_order(tickets=1, shop_id=shop_id, number=f"NX-2026-{n:06d}")
    staff = login()
    first_page = page(staff, "/backoffice/orders")
    assert len(listed_numbers(first_page)) == 25
    assert "Page 1 of 2" in text(first_page)
    second_page = page(staff, "/backoffice/orders?page=2")
    assert len(listed_numbers(second_page)) == 2
    assert not set(listed_numbers(first_page)) & set(listed_numbers(second_page))


def test_orders_list_does_not_query_per_order(app, login, make_shop, make_order):
    """25 orders or 2: the same few queries (no query per row for its shop or tickets)."""
    from sqlalchemy import event

    shop_id = make_shop()
    staff = login()

    def count_queries() -> int:
        statements = []
        with app.app_context():
            listener = lambda *args: statements.append(args[2])  # noqa: E731
            event.listen(db.engine, "before_cursor_execute", listener)
            try:
                search_orders(staff, "de")
            finally:
                event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    for n in range(2):
        make_order(tickets=2, shop_id=shop_id)
    few = count_queries()
    for n in range(20):
        make_order(tickets=2, shop_id=shop_id)
    assert count_queries() == few


def test_order_detail_shows_header_contact_contents_and_history(app, client, login, smtp, deliver, make_order):
    order_id = make_order(tickets=3, booker_email="sam@example.com", number="NX-2026-000777")
    deliver()
    overview = path_of(links_in(smtp.take_one("sam@example.com"))[0])
    claim(client, overview, 1, first_name="Ada", last_name="Lovelace", email="ada@example.com", phone="0612345678")
    deliver()
    smtp.take_one("ada@example.com")

    staff = login()
    html = page(staff, order_path(order_id))
    content = text(html)
    assert re.search(r"<h1>Order NX-2026-000777 <span class=\"status[^\"]*\">Completed</span></h1>", html)
    # Contact: email, name, mobile; "More info" with all the booker's data and an Edit.
    assert "Email sam@example.com Name Sam de Vries Mobile +31612345678" in content
    details = re.search(r"<details class=\"bo-details\">(.*?)</details>", html, flags=re.S).group(1)
    assert "<summary>More info</summary>" in details
    assert f'href="/backoffice/orders/{order_id}/contact">Edit</a>' in details
    assert "First name Sam Last name de Vries" in text(details)
    # Contents: position, type, price, status, holder; total.
    row = text(re.search(r'<tr id="ticket-1">(.*?)</tr>', html, flags=re.S).group(1))
    assert row.startswith("1 Day ticket €45.00 Personalised Ada Lovelace ada@example.com · +31612345678")
    assert "Total · 3 tickets €135.00" in content
    # History: newest first, each with time, actor and what happened.
    entries = timeline(html)
    assert "System Email sent: ticket ready (ticket 1)" in entries[0]
    assert "Booker Ticket 1 claimed by the booker" in entries[1]
    assert "System Email sent: order confirmation" in entries[2]
    assert "System Order created with 3 tickets" in entries[3]
    assert re.match(r"\d{1,2} \w{3} \d{4}, \d{2}:\d{2}:\d{2} ", entries[0])


def test_timeline_times_are_in_the_events_time_zone(app, login, make_order):
    from datetime import UTC, datetime

    order_id = make_order(tickets=1, timezone="America/New_York")
    with app.app_context():
        event = db.session.query(OrderEvent).filter_by(order_id=order_id).one()
        event.created_at = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
        db.session.commit()
    html = page(login(), order_path(order_id))
    assert timeline(html)[0].startswith("1 Jul 2026, 08:00:00")
    assert "Times in America/New_York" in text(html)


def test_edit_contact_details_is_validated_and_recorded_without_old_values(app, login, make_order):
    order_id = make_order(tickets=1, booker_email="sam@example.com")
    staff = login()
    path = f"{order_path(order_id)}/contact"
    form = page(staff, path)
    assert 'value="sam@example.com"' in form

    response = staff.post(path, data={"csrf_token": csrf_token(form), "first_name": "Sam", "last_name": "de Vries",
                                      "email": "not-an-email", "phone": "12"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert field_error(html, "email") and field_error(html, "phone")

    response = staff.post(path, data={"csrf_token": csrf_token(form), "first_name": "Samantha", "last_name": "de Vries",
                                      "email": "samantha@example.com", "phone": "06 87654321"})
    assert response.status_code == 303
    html = page(staff, order_path(order_id))
    assert flashes(html) == ["The contact details have been saved."]
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert (order.booker_first_name, order.booker_email, order.booker_phone) == (
            "Samantha", "samantha@example.com", "+31687654321")
        event = db.session.query(OrderEvent).filter_by(order_id=order_id, kind="contact_edited").one()
        assert event.details == {"fields": ["first_name", "email", "phone"]}
        assert event.actor == "organizer" and event.actor_label == staff.user_email
    assert f"{staff.user_email} Contact details edited (changed: first name, email, phone)" in timeline(html)[0]
    # The old values appear nowhere on the page any more.
    assert "sam@example.com" not in html and "+31612345678" not in html


def test_another_organizers_shops_orders_and_tickets_are_not_found(app, login, smtp, make_shop, make_order):
    """Organizer A's user tries every backoffice route with organizer B's ids: 404, and nothing changes."""
    b_shop = make_shop("Bravo Events")
    b_order = make_order(tickets=2, shop_id=b_shop, number="NX-2026-999999")
    a_shop = make_shop("Alpha Events")
    alpha = login("Alpha Events")
    token = csrf_token(page(alpha, "/backoffice/orders"))

    gets = [
        order_path(b_order),
        f"{order_path(b_order)}/contact",
        f"{order_path(b_order)}/resend",
        f"{order_path(b_order)}/open-personalisation",
        f"{order_path(b_order)}/refund",
        f"{order_path(b_order)}/cancel",
        f"{order_path(b_order)}/tickets/1/edit",
        f"/backoffice/shops/{b_shop}",
        f"/backoffice/shops/{b_shop}/import",
    ]
    for path in gets:
        assert alpha.get(path).status_code == 404, path
    holder = {"first_name": "Eve", "last_name": "Mallory", "email": "eve@example.com"}
    posts = {
        f"{order_path(b_order)}/contact": {**holder},
        f"{order_path(b_order)}/resend": {},
        f"{order_path(b_order)}/open-personalisation": {},
        f"{order_path(b_order)}/cancel": {},
        f"{order_path(b_order)}/tickets/1/edit": {**holder},
        f"{order_path(b_order)}/tickets/1/edit/confirm": {**holder},
        f"/backoffice/shops/{b_shop}": {"event_name": "Hijacked", "venue": "Nowhere"},
        f"/backoffice/shops/{b_shop}/import": {},
    }
    for path, data in posts.items():
        assert alpha.post(path, data={"csrf_token": token, **data}).status_code == 404, path

    # Neither listed nor found by search.
    assert listed_numbers(search_orders(alpha, "NX-2026-999999")) == []
    assert listed_numbers(page(alpha, f"/backoffice/orders?shop={b_shop}")) == []
    shops = page(alpha, "/backoffice/shops")
    assert f'href="/backoffice/shops/{a_shop}"' in shops and f'href="/backoffice/shops/{b_shop}"' not in shops

    with app.app_context():
        order = db.session.get(Order, b_order)
        assert order.status == "completed" and order.booker_email == "booker@example.com"
        assert order.ticket_at(1).holder_email is None
        assert order.shop.event_name == "Harbour Jazz Nights"
        assert [e.kind for e in order.events] == ["order_created"]
    assert not smtp.unread()
