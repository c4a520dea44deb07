"""Emails waiting to leave: written with the change that causes them, delivered after commit."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ColumnElement, ForeignKey, Index, String, literal
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models._time import UTCDateTime, utcnow

if TYPE_CHECKING:
    from portal.models.orders import Order
    from portal.models.tickets import Ticket


class MessageStatus(enum.StrEnum):
    QUEUED = "queued"
    #: Claimed by a sender; if it crashed, the claim runs out and the message is tried again.
    SENDING = "sending"
    SENT = "sent"
    #: Refused for good (e.g. the recipient does not exist); not retried.
    FAILED = "failed"


class OutgoingMessage(db.Model):
    """An email to send: what it is and whom it is about, written when it is sent (portal.services.emails)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The order whose timeline shows this message's delivery, if any.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("order.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    #: What the message is, e.g. "confirmation", "share", "ticket_ready" (portal.services.emails.KINDS).
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(254))
    #: The language it is written in: the one its recipient used, else the shop's.
    language: Mapped[str] = mapped_column(String(5))
    #: What else the message needs to say what it said when it was queued: the version of the link
    #: it carries ({"version": 3} for an overview link, {"share_version": 2} for a ticket's link).
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Tickets to attach as one PDF, rendered when the message is sent (current holder and barcode).
    attach_ticket_ids: Mapped[list[int] | None] = mapped_column(JSON)

    status: Mapped[str] = mapped_column(String(20), default=MessageStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Not before this time (back-off after a temporary failure).
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: While SENDING: when the claim runs out and another sender may try.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))

    order: Mapped[Order | None] = relationship()
    ticket: Mapped[Ticket | None] = relationship()


def status_in_sql(status: MessageStatus) -> ColumnElement[str]:
    """A status written into the SQL rather than bound, so that the index below can serve a claim.

    SQLite matches an index's condition by its text; PostgreSQL's generic plan for a
    prepared statement cannot see bound values.
    """
    return literal(status, String(), literal_execute=True)


#: Queued, or claimed by a sender: what senders look at.
STILL_TO_SEND = OutgoingMessage.status.in_([status_in_sql(MessageStatus.QUEUED), status_in_sql(MessageStatus.SENDING)])
# What senders claim, in id order: a claim reads the messages still to send, not the history of all
# ever sent, and marking a message sent adds no entry to it.
Index("ix_outgoing_message_pending", OutgoingMessage.id, postgresql_where=STILL_TO_SEND, sqlite_where=STILL_TO_SEND)
