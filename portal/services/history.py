"""The order's history timeline: every action that changes or delivers something."""

from typing import Any

from sqlalchemy import insert

from portal.extensions import db
from portal.models import Order, OrderEvent, Ticket
from portal.models._time import utcnow

# What happened (OrderEvent.kind), as shown on the timeline.
ORDER_CREATED = "order_created"
#: Created by an orders import (CSV upload or `flask orders import`).
ORDER_IMPORTED = "order_imported"
TICKET_CLAIMED = "ticket_claimed"
TICKET_SHARED = "ticket_shared"
TICKET_PERSONALISED = "ticket_personalised"
TICKET_DOWNLOADED = "ticket_downloaded"
TICKETS_DOWNLOADED = "tickets_downloaded"
LINK_REQUESTED = "link_requested"
EMAIL_SENT = "email_sent"
#: A reminder was queued (`flask reminders send`), with its point: days before the deadline or the event.
BOOKER_REMINDED = "booker_reminded"
RECIPIENT_REMINDED = "recipient_reminded"
EMAIL_FAILED = "email_failed"
# Backoffice actions (actor ORGANIZER, actor_label the user's email).
ORDER_RESENT = "order_resent"
PERSONALISATION_REOPENED = "personalisation_reopened"
ORDER_CANCELLED = "order_cancelled"
TICKET_EDITED = "ticket_edited"
CONTACT_EDITED = "contact_edited"
#: `flask privacy purge`: the order's personal data was anonymised (the timeline itself holds none).
PERSONAL_DATA_PURGED = "personal_data_purged"
#: Admitted at the door (actor DOOR, actor_label the door user's name).
TICKET_ADMITTED = "ticket_admitted"

# Who did it (OrderEvent.actor).
BOOKER = "booker"
RECIPIENT = "recipient"
ORGANIZER = "organizer"
#: A backoffice user at the check-in page (door staff, or an organizer admitting).
DOOR = "door"
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


def event_row(
    order_id: int,
    kind: str,
    *,
    actor: str,
    ticket_id: int | None = None,
    actor_label: str | None = None,
    **details: Any,
) -> dict[str, Any]:
    """The columns record() fills, for adding many events at once with record_many()."""
    return {
        "order_id": order_id,
        "ticket_id": ticket_id,
        "kind": kind,
        "actor": actor,
        "actor_label": actor_label,
        "details": details,
    }


def record_many(rows: list[dict[str, Any]]) -> None:
    """Add event_row()s to their orders' timelines in one statement, in the caller's transaction."""
    if rows:
        now = utcnow()  # one moment for them all
        db.session.execute(insert(OrderEvent), [{**row, "created_at": now} for row in rows])
