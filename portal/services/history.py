"""The order's history timeline: every action that changes or delivers something."""

from typing import Any

from portal.extensions import db
from portal.models import Order, OrderEvent, Ticket

# What happened (OrderEvent.kind), as shown on the timeline.
ORDER_CREATED = "order_created"
TICKET_CLAIMED = "ticket_claimed"
TICKET_SHARED = "ticket_shared"
TICKET_PERSONALISED = "ticket_personalised"
TICKET_DOWNLOADED = "ticket_downloaded"
TICKETS_DOWNLOADED = "tickets_downloaded"
LINK_REQUESTED = "link_requested"
EMAIL_SENT = "email_sent"
EMAIL_FAILED = "email_failed"

# Who did it (OrderEvent.actor).
BOOKER = "booker"
RECIPIENT = "recipient"
ORGANIZER = "organizer"
SYSTEM = "system"


def record(
    order: Order,
    kind: str,
    *,
    actor: str,
    ticket: Ticket | None = None,
    actor_label: str | None = None,
    **details: Any,
) -> OrderEvent:
    """Add an event to the order's timeline, in the caller's transaction."""
    event = OrderEvent(
        order=order, ticket=ticket, kind=kind, actor=actor, actor_label=actor_label, details=details
    )
    db.session.add(event)
    return event
