"""The organizer's side of the deadline: setting it, reopening an order after it, watching the names come in."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from portal.extensions import db
from portal.models import Order, Shop
from portal.services import progress
from tests.backoffice_pages import confirm, order_path, page, timeline
from tests.conftest import links_in
from tests.pages import confirmation_fields, csrf_token, field_error, path_of, submit_form, text
from tests.test_backoffice_shops import save_settings
from tests.test_query_counts import counting_statements

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def shop_path(shop_id: int) -> str:
    return f"/backoffice/shops/{shop_id}"


def test_the_organizer_sets_the_deadline_in_the_events_time_zone_and_the_reminder_days(app, login, make_shop):
    shop_id = make_shop(event_starts_at=datetime(2037, 7, 10, 18, 0, tzinfo=UTC), event_ends_at=datetime(2037, 7, 10, 23, 0, tzinfo=UTC))
    staff = login()
    html = page(staff, shop_path(shop_id))
    assert ('<label for="personalisation_deadline">Personalisation deadline '
            '<span class="field-optional">(optional)</span></label>') in html
    assert re.search(r'<input[^>]*id="personalisation_deadline"[^>]*type="datetime-local"', html)
    assert re.search(r'<input[^>]*id="reminder_days"[^>]*value="7,1"', html)

    response = save_settings(staff, shop_id, personalisation_deadline="2037-07-03T18:00", reminder_days=" 1, 14 ,3")
    assert response.status_code == 303
    with app.app_context():
        shop = db.session.get(Shop, shop_id)
        # 18:00 in Amsterdam in summer is 16:00 UTC.
        assert shop.personalisation_deadline == datetime(2037, 7, 3, 16, 0, tzinfo=UTC)
        assert shop.reminder_days == "14,3,1"
    html = page(staff, shop_path(shop_id))
    assert re.search(r'<input[^>]*id="personalisation_deadline"[^>]*value="2037-07-03T18:00"', html)
    assert "Deadline: Friday 3 July 2037, 18:00" in text(html)

    # Emptied: no deadline, no reminders.
    save_settings(staff, shop_id, personalisation_deadline="", reminder_days="")
    with app.app_context():
        shop = db.session.get(Shop, shop_id)
        assert (shop.personalisation_deadline, shop.reminder_days) == (None, "")
    assert "No deadline: tickets can be filled in until the event." in text(page(staff, shop_path(shop_id)))


def test_a_deadline_after_the_event_and_reminder_days_that_are_not_days_are_refused_next_to_the_field(app, login, make_shop):
    shop_id = make_shop(event_starts_at=datetime(2037, 7, 10, 18, 0, tzinfo=UTC), event_ends_at=datetime(2037, 7, 10, 23, 0, tzinfo=UTC))
    staff = login()
    response = save_settings(staff, shop_id, personalisation_deadline="2037-07-11T10:00", reminder_days="a week")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert field_error(html, "personalisation_deadline") == "The deadline must be before the event starts."
    assert "for example 7,1" in field_error(html, "reminder_days")
    with app.app_context():
        shop = db.session.get(Shop, shop_id)
        assert (shop.personalisation_deadline, shop.reminder_days) == (None, "7,1")


def closed_order(app, make_order, smtp, deliver, tickets: int = 2) -> tuple[int, str]:
    """An order whose shop's deadline has just passed; returns its id and the booker's overview path."""
    order_id = make_order(tickets=tickets)
    deliver()
    overview = path_of(links_in(smtp.take_one("booker@example.com"))[0])
    with app.app_context():
        db.session.get(Order, order_id).shop.personalisation_deadline = datetime.now(UTC) - timedelta(hours=1)
        db.session.commit()
    return order_id, overview


def test_the_organizer_can_still_edit_a_ticket_after_the_deadline(app, login, make_order, smtp, deliver):
    order_id, _ = closed_order(app, make_order, smtp, deliver)
    staff = login()
    path = f"/backoffice/orders/{order_id}/tickets/1/edit"
    holder = {"first_name": "Ada", "last_name": "Test", "email": "ada@example.com"}
    assert submit_form(staff, path, **holder).status_code == 200
    assert submit_form(staff, path, action=f"{path}/confirm", **holder).status_code == 303
    deliver()
    smtp.take_one("ada@example.com")
    with app.app_context():
        assert db.session.get(Order, order_id).ticket_at(1).holder_email == "ada@example.com"


def test_reopening_after_the_deadline_gives_the_order_its_own_deadline_48_hours_ahead_by_default(
    app, client, login, make_order, smtp, deliver
):
    order_id, old_overview = closed_order(app, make_order, smtp, deliver)
    staff = login()
    path = f"/backoffice/orders/{order_id}/open-personalisation"
    html = page(staff, path)
    assert "This order's personalisation deadline" in text(html) and "has passed" in text(html)
    suggested = re.search(r'<input[^>]*id="own_deadline"[^>]*value="([^"]+)"', html).group(1)
    expected = (datetime.now(UTC) + timedelta(hours=48)).astimezone(AMSTERDAM)
    assert abs(datetime.fromisoformat(suggested).replace(tzinfo=AMSTERDAM) - expected) < timedelta(minutes=2)

    own = (datetime.now(AMSTERDAM) + timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
    response = staff.post(path, data={**confirmation_fields(html), "own_deadline": own.strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 303
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.own_deadline == own.astimezone(UTC)
        assert order.personalisation_deadline == own.astimezone(UTC)
    deliver()
    mail = smtp.take_one("booker@example.com")
    assert f"Fill in by {own:%A} {own.day} {own:%B}, 12:00" in mail.get_body(("plain",)).get_content()

    # The booker can personalise again until the order's own deadline; the shop's other orders stay closed.
    overview = path_of(next(link for link in links_in(mail) if "/o/" in link))
    assert overview != old_overview
    assert f"Fill in by {own:%A} {own.day} {own:%B}, 12:00" in text(client.get(overview).get_data(as_text=True))
    response = submit_form(client, f"{overview}/tickets/1/claim", first_name="Ada", last_name="Test", email="ada@example.com")
    assert response.status_code == 302
    deliver()
    smtp.take_one("ada@example.com")
    order_page = page(staff, order_path(order_id))
    assert any("the order's own deadline:" in entry for entry in timeline(order_page))
    assert f"Deadline: {own:%A} {own.day} {own:%B} {own.year}, 12:00 (this order's own)" in text(order_page)


def test_reopening_after_the_deadline_refuses_an_own_deadline_in_the_past(app, login, make_order, smtp, deliver):
    order_id, _ = closed_order(app, make_order, smtp, deliver)
    staff = login()
    path = f"/backoffice/orders/{order_id}/open-personalisation"
    past = (datetime.now(AMSTERDAM) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = staff.post(path, data={"csrf_token": csrf_token(page(staff, path)), "own_deadline": past})
    assert response.status_code == 200
    assert field_error(response.get_data(as_text=True), "own_deadline") == "The deadline must be in the future."
    response = staff.post(path, data={"csrf_token": csrf_token(page(staff, path))})
    assert field_error(response.get_data(as_text=True), "own_deadline") == "Enter a date and time."
    with app.app_context():
        assert db.session.get(Order, order_id).personalisation_version == 1


def test_reopening_before_the_deadline_asks_for_no_deadline(app, login, make_order, smtp, deliver):
    order_id = make_order(tickets=1, personalisation_deadline=datetime.now(UTC) + timedelta(days=5))
    staff = login()
    path = f"/backoffice/orders/{order_id}/open-personalisation"
    assert 'id="own_deadline"' not in page(staff, path)
    assert confirm(staff, path).status_code == 303
    with app.app_context():
        assert db.session.get(Order, order_id).own_deadline is None
    deliver()
    assert len(smtp.take("booker@example.com")) == 2  # the confirmation and the new link


# --- The shop page: where personalisation stands -------------------------------------


def personalise(app, order_id: int, positions: list[int], *, on: datetime | None = None) -> None:
    from portal.services import personalisation
    from portal.services.personalisation import HolderDetails

    with app.app_context():
        order = db.session.get(Order, order_id)
        for position in positions:
            personalisation.claim(order, order.ticket_at(position), HolderDetails("Ada", "Test", "ada@example.com"), language="en")
            if on is not None:
                order.ticket_at(position).personalised_at = on
        db.session.commit()


def test_the_shop_page_shows_where_personalisation_stands_as_figures_and_a_chart(app, login, make_shop, make_order):
    deadline = datetime.now(UTC) + timedelta(days=4, hours=1)
    shop_id = make_shop(personalisation_deadline=deadline)
    first = make_order(tickets=4, shop_id=shop_id)
    second = make_order(tickets=2, shop_id=shop_id, booker_email="other@example.com")
    personalise(app, first, [1, 2], on=datetime.now(UTC) - timedelta(days=1))
    personalise(app, second, [1])
    with app.app_context():
        from portal.services import personalisation

        order = db.session.get(Order, first)
        personalisation.share_by_whatsapp(order, order.ticket_at(3))
        db.session.commit()
    html = page(login(), shop_path(shop_id))
    figures = text(re.search(r'<dl class="bo-figures" id="progress-figures">(.*?)</dl>', html, flags=re.S).group(1))
    assert "Personalised 3 of 6 (50%)" in figures
    assert "Shared, waiting 1" in figures and "Open 2" in figures and "Tickets in all 6" in figures
    assert "4 days left" in text(html)

    svg = re.search(r"<svg.*?</svg>", html, flags=re.S).group(0)
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert "style=" not in svg and "<script" not in svg
    assert "3 of 6 tickets personalised so far" in text(svg)
    # The numbers per day are there as text too: 2 yesterday, 1 today.
    rows = [text(row) for row in re.findall(r"<tr><td>(.*?)</tr>", html, flags=re.S)]
    assert [row.split()[-2:] for row in rows[-2:]] == [["2", "2"], ["1", "3"]]

    # The orders still to personalise are one click away.
    link = re.search(r'href="([^"]*pending=1[^"]*)">Orders with tickets still to personalise', html).group(1)
    orders_page = page(login(), link.replace("&amp;", "&"))
    with app.app_context():
        numbers = [db.session.get(Order, order_id).number for order_id in (first, second)]
    assert numbers[0] in orders_page and numbers[1] in orders_page
    personalise(app, second, [2])
    orders_page = page(login(), link.replace("&amp;", "&"))
    assert numbers[0] in orders_page and numbers[1] not in orders_page


def test_each_shops_days_are_cut_in_its_own_time_zone(app, make_shop, make_order):
    # 20:00 UTC is still 1 June in Amsterdam and already 2 June in Tokyo.
    moment = datetime(2026, 6, 1, 20, 0, tzinfo=UTC)
    shop_ids = {zone: make_shop(timezone=zone) for zone in ("Europe/Amsterdam", "Asia/Tokyo")}
    for shop_id in shop_ids.values():
        personalise(app, make_order(tickets=1, shop_id=shop_id), [1], on=moment)
    with app.app_context():
        # Asked one after the other, as two organizers' pages are: the second must not get the first's zone.
        days = {zone: progress.shop_progress(db.session.get(Shop, shop_id)).per_day for zone, shop_id in shop_ids.items()}
    assert days == {"Europe/Amsterdam": {date(2026, 6, 1): 1}, "Asia/Tokyo": {date(2026, 6, 2): 1}}


def test_the_shop_page_says_when_personalisation_has_closed(app, login, make_shop, make_order):
    shop_id = make_shop(personalisation_deadline=datetime.now(UTC) - timedelta(minutes=5))
    make_order(tickets=1, shop_id=shop_id)
    assert "Personalisation has closed" in text(page(login(), shop_path(shop_id)))


def test_all_the_figures_come_from_one_statement_whatever_the_number_of_orders(app, make_shop, make_order):
    shop_id = make_shop()
    make_order(tickets=2, shop_id=shop_id)
    for counted_orders in (1, 40):
        while True:
            with app.app_context():
                count = db.session.query(Order).filter_by(shop_id=shop_id).count()
            if count >= counted_orders:
                break
            order_id = make_order(tickets=3, shop_id=shop_id, booker_email=f"b{count}@example.com")
            personalise(app, order_id, [1], on=datetime.now(UTC) - timedelta(days=count % 5))
        with app.app_context():
            shop = db.session.get(Shop, shop_id)
            with counting_statements(app) as statements:
                figures = progress.shop_progress(shop)
        assert len(statements) == 1, statements
        assert figures.total == 2 + 3 * (counted_orders - 1)
