"""Pages cost the same number of SQL statements for 1 ticket as for 500: no query per ticket (N+1)."""

import pytest

from portal import links
from portal.extensions import db
from portal.models import Order
from tests.database import counting_statements


@pytest.fixture
def order_links(app, make_order):
    """Factory: an order of `tickets` tickets, its overview path and the first ticket's link path."""

    def order_links(tickets: int) -> tuple[int, str, str]:
        order_id = make_order(tickets=tickets)
        with app.app_context():
            order = db.session.get(Order, order_id)
            base = app.config["PORTAL_BASE_URL"]
            return (
                order_id,
                links.overview_url(order).removeprefix(base),
                links.ticket_url(order.tickets[0]).removeprefix(base),
            )

    return order_links


def statements_for(app, client, path: str) -> list[str]:
    client.get(path)  # warm up: the first request loads translations, compiles templates
    with counting_statements(app) as statements:
        response = client.get(path)
    assert response.status_code == 200, path
    return statements


def test_pages_cost_the_same_statements_for_1_and_500_tickets(app, client, login, order_links):
    staff = login()
    small_id, small_overview, small_ticket = order_links(1)
    large_id, large_overview, large_ticket = order_links(500)

    for small, large, who in [
        (small_overview, large_overview, client),
        (small_ticket, large_ticket, client),
        (f"/backoffice/orders/{small_id}", f"/backoffice/orders/{large_id}", staff),
    ]:
        few = statements_for(app, who, small)
        many = statements_for(app, who, large)
        assert len(many) == len(few), f"{large}: {len(many)} statements for 500 tickets, {len(few)} for 1:\n" + "\n".join(
            many
        )
        assert 1 <= len(few) <= 10, "\n".join(few)
