"""Creating orders; the backoffice's order actions will live here too."""

from __future__ import annotations

from dataclasses import dataclass

from portal.extensions import db
from portal.models import Order, Shop, Ticket
from portal.services import history
from portal.services.personalisation import queue_overview_link


@dataclass(frozen=True)
class OrderLine:
    ticket_type: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class Booker:
    first_name: str
    last_name: str
    email: str
    phone: str | None = None


def create_order(
    shop: Shop,
    *,
    number: str,
    booker: Booker,
    lines: list[OrderLine],
    created_by: str = history.SYSTEM,
) -> Order:
    """Create a completed order with its tickets and queue the booker's personalisation email."""
    order = Order(
        shop=shop,
        number=number,
        booker_first_name=booker.first_name,
        booker_last_name=booker.last_name,
        booker_email=booker.email,
        booker_phone=booker.phone,
    )
    position = 0
    for line in lines:
        for _ in range(line.quantity):
            position += 1
            order.tickets.append(
                Ticket(position=position, ticket_type=line.ticket_type, price_cents=line.unit_price_cents)
            )
    db.session.add(order)
    db.session.flush()  # ids are needed for the link and the timeline
    history.record(order, history.ORDER_CREATED, actor=created_by, tickets=position)
    queue_overview_link(order)
    return order
