"""Forgetting people: anonymise the personal data of orders whose event is long over (GDPR).

What is kept: the orders, their tickets (types, prices, statuses, barcodes), the
timeline's events and the outbox's record of what was sent when, so counts and
reports still add up. What goes: every name, email address, phone number and
date of birth of bookers and holders, the addresses tickets were shared with,
and the addresses emails about those orders were sent to.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, case, cast, literal, select, update

from portal.extensions import db
from portal.models import MessageStatus, Order, OrderEvent, OutgoingMessage, Shop, Ticket
from portal.services import history

#: What anonymised names read as.
ANONYMISED = "Anonymised"


def _placeholder_email(*parts) -> object:
    """SQL: anonymised-<parts joined by ->@invalid, unique per order (and ticket); .invalid never delivers."""
    expression = literal("anonymised-")
    for index, part in enumerate(parts):
        expression = expression + (literal("-") if index else literal("")) + cast(part, String)
    return expression + literal("@invalid")


def purge_personal_data(*, ended_before: datetime) -> int:
    """Anonymise the orders of shops whose event ended before `ended_before`; returns how many.

    Orders purged before are skipped. Runs in the caller's transaction.
    """
    already_purged = select(OrderEvent.order_id).where(OrderEvent.kind == history.PERSONAL_DATA_PURGED)
    order_ids = list(
        db.session.scalars(
            select(Order.id)
            .join(Order.shop)
            .where(Shop.event_ends_at < ended_before, Order.id.not_in(already_purged))
            .order_by(Order.id)
        )
    )
    if not order_ids:
        return 0
    # In chunks: a database takes a bounded number of bound parameters per statement.
    for start in range(0, len(order_ids), 500):
        _purge(order_ids[start : start + 500])
    return len(order_ids)


def _purge(order_ids: list[int]) -> None:
    sync = {"synchronize_session": False}
    db.session.execute(
        update(Order)
        .where(Order.id.in_(order_ids))
        .values(
            booker_first_name=ANONYMISED,
            booker_last_name=ANONYMISED,
            booker_email=_placeholder_email(Order.id),
            booker_phone=None,
        )
        .execution_options(**sync)
    )
    has_holder = Ticket.holder_email.is_not(None) | Ticket.holder_first_name.is_not(None)
    db.session.execute(
        update(Ticket)
        .where(Ticket.order_id.in_(order_ids))
        .values(
            holder_first_name=case((has_holder, ANONYMISED), else_=None),
            holder_last_name=case((has_holder, ANONYMISED), else_=None),
            holder_email=case(
                (Ticket.holder_email.is_not(None), _placeholder_email(Ticket.order_id, Ticket.position)), else_=None
            ),
            holder_phone=None,
            holder_date_of_birth=None,
            shared_with_email=None,
        )
        .execution_options(**sync)
    )
    # Messages not sent yet would now go to a placeholder: they never leave.
    unsent = OutgoingMessage.status.in_([MessageStatus.QUEUED, MessageStatus.SENDING])
    db.session.execute(
        update(OutgoingMessage)
        .where(OutgoingMessage.order_id.in_(order_ids))
        .values(
            recipient=_placeholder_email(OutgoingMessage.order_id),
            last_error=None,
            status=case((unsent, MessageStatus.FAILED), else_=OutgoingMessage.status),
            claimed_until=None,
        )
        .execution_options(**sync)
    )
    history.record_many(
        [history.event_row(order_id, history.PERSONAL_DATA_PURGED, actor=history.SYSTEM) for order_id in order_ids]
    )
