"""Creating orders, and the backoffice's order actions: resend, reopen, cancel, edit.

Every action runs in the caller's transaction (the view commits once) and writes
its history event and its emails in that same transaction. `actor_label` is the
organizer user's email, shown on the timeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, insert, update

from portal.errors import OrderCancelled, OwnDeadlineNeeded, PersonalisationNotRequired, PortalError
from portal.extensions import db
from portal.models import Order, OrderStatus, Shop, Ticket, TicketStatus
from portal.models.orders import FIRST_PERSONALISATION_VERSION
from portal.models._time import utcnow
from portal.models.tickets import next_barcode
from portal.services import downloads, history, outbox
from portal.services.personalisation import HolderDetails, queue_overview_link, queue_ticket_ready


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


@dataclass(frozen=True)
class NewOrder:
    """An order to create: its number, its main booker and what was bought."""

    number: str
    booker: Booker
    lines: Sequence[OrderLine]


def create_order(
    shop: Shop,
    *,
    number: str,
    booker: Booker,
    lines: Sequence[OrderLine],
    created_by: str = history.SYSTEM,
    actor_label: str | None = None,
    kind: str = history.ORDER_CREATED,
) -> Order:
    """Create a completed order with its tickets and queue the booker's personalisation email."""
    [order_id] = create_orders(
        shop, [NewOrder(number, booker, tuple(lines))], created_by=created_by, actor_label=actor_label, kind=kind
    )
    return db.session.get_one(Order, order_id)


def create_orders(
    shop: Shop,
    new_orders: Sequence[NewOrder],
    *,
    created_by: str = history.SYSTEM,
    actor_label: str | None = None,
    kind: str = history.ORDER_CREATED,
) -> list[int]:
    """Create completed orders, each with its tickets, timeline event and booker's email; return their ids.

    The one definition of what a new order writes, for one order (create_order)
    and for thousands (an import): a few INSERTs per call whatever the count,
    and no objects left in the session.
    """
    if not new_orders:
        return []
    db.session.flush()  # the shop needs its id
    rows = [
        {
            "shop_id": shop.id,
            "organizer_id": shop.organizer_id,
            "number": new.number,
            "booker_first_name": new.booker.first_name,
            "booker_last_name": new.booker.last_name,
            "booker_email": new.booker.email,
            "booker_phone": new.booker.phone,
            "personalisation_version": FIRST_PERSONALISATION_VERSION,
        }
        for new in new_orders
    ]
    # Core's INSERT … RETURNING for many rows (not the ORM, which splits a bulk INSERT wherever
    # a value is None, as booker_phone often is); the ids come back in the rows' order.
    ids = db.session.scalars(
        insert(Order).returning(Order.id, sort_by_parameter_order=True), rows
    ).all()

    tickets: list[dict[str, object]] = []
    events = []
    for order_id, new in zip(ids, new_orders, strict=True):
        position = 0
        for line in new.lines:
            for _ in range(line.quantity):
                position += 1
                tickets.append(
                    {
                        "order_id": order_id,
                        "position": position,
                        "ticket_type": line.ticket_type,
                        "price_cents": line.unit_price_cents,
                    }
                )
        events.append(history.event_row(order_id, kind, actor=created_by, actor_label=actor_label, tickets=position))
    # The column defaults (barcode, status, share version) apply per row, as for ORM objects.
    db.session.execute(insert(Ticket), tickets)
    history.record_many(events)
    outbox.queue_many(
        [
            {
                "kind": "confirmation",
                "recipient": new.booker.email,
                "language": shop.default_language,
                "order_id": order_id,
                "details": {"version": FIRST_PERSONALISATION_VERSION},
            }
            for order_id, new in zip(ids, new_orders, strict=True)
        ]
    )
    return list(ids)


# --- The backoffice's order actions (the order-level ⋯ menu) -----------------

RESEND = "resend"
OPEN_PERSONALISATION = "open_personalisation"
REFUND = "refund"
CANCEL = "cancel"


def action_refusal(order: Order, action: str) -> PortalError | None:
    """Why an order action does not apply to this order now, or None when it does."""
    if action == RESEND:
        return None  # a cancelled order's booker can be sent the cancellation again
    if order.is_cancelled:
        return OrderCancelled()
    if action == OPEN_PERSONALISATION and not order.shop.personalisation_required:
        return PersonalisationNotRequired()
    return None


def _check_action(order: Order, action: str) -> None:
    refusal = action_refusal(order, action)
    if refusal is not None:
        raise refusal


def _update_completed_order(order: Order, *conditions: ColumnElement[bool], **values: object) -> bool:
    """Change the order only if it is still completed (a double click cancels once) and the conditions hold.

    False when only the conditions did not hold.
    """
    result = db.session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == OrderStatus.COMPLETED, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(order)
    if result.rowcount != 1:
        if order.is_cancelled:
            raise OrderCancelled()
        return False
    return True


def _queue_cancellation_notice(order: Order, *, kind: str = "order_cancelled") -> None:
    outbox.queue(kind, recipient=order.booker_email, language=order.booker_mail_language, order=order)


def resend_attachments(order: Order) -> list[Ticket]:
    """The tickets Resend attaches: the ready ones, where the shop allows downloading."""
    if order.is_cancelled or not order.shop.download_enabled:
        return []
    return [ticket for ticket in order.tickets if downloads.is_ready(ticket)]


def resend(order: Order, *, actor_label: str) -> None:
    """Send the order email again to the contact address; the order, tickets and barcodes stay as they are.

    A cancelled order's booker is sent the cancellation notice again (there is no link to give).
    """
    if order.is_cancelled:
        _queue_cancellation_notice(order, kind="cancellation_resent")
        attached = 0
    else:
        attach = resend_attachments(order)
        queue_overview_link(order, kind="resend", attach=attach)
        attached = len(attach)
    history.record(
        order, history.ORDER_RESENT, actor=history.ORGANIZER, actor_label=actor_label, tickets_attached=attached
    )


#: What a ticket's personalisation consists of; Open Personalisation clears all of it.
_PERSONALISATION_COLUMNS = (
    "shared_via",
    "shared_with_email",
    "shared_at",
    "holder_first_name",
    "holder_last_name",
    "holder_email",
    "holder_phone",
    "holder_date_of_birth",
    "holder_language",
    "personalised_at",
    "personalised_by",
    "booker_told_at",
)

#: Reopened after its deadline, an order gets one of its own: this long ahead, unless the organizer says otherwise.
OWN_DEADLINE_AHEAD = timedelta(hours=48)


def needs_own_deadline(order: Order, *, now: datetime) -> bool:
    """Whether reopening the order now must give it a deadline of its own (its deadline has passed)."""
    return order.personalisation_closed(now)


def reopen_personalisation(
    order: Order,
    *,
    actor_label: str,
    seen_version: int,
    own_deadline: datetime | None = None,
    now: datetime | None = None,
) -> bool:
    """Reset every ticket of the order and send the booker a new link; all earlier links stop working.

    `seen_version` is the personalisation version the confirmation page showed: a repeated
    submission of it (a double click, or three in parallel) resets once and sends one link.
    Returns False when it had been reset from that version already. After the order's
    deadline, `own_deadline` (in the future) gives the order a deadline of its own.
    """
    _check_action(order, OPEN_PERSONALISATION)
    now = now or utcnow()
    if (own_deadline is None and needs_own_deadline(order, now=now)) or (own_deadline is not None and own_deadline <= now):
        raise OwnDeadlineNeeded()
    if not _update_completed_order(
        order,
        Order.personalisation_version == seen_version,
        personalisation_version=Order.personalisation_version + 1,
        personalisation_opened_at=now,
        own_deadline=own_deadline or order.own_deadline,
    ):
        return False
    _tell_holders(order, "holder_replaced", reason="reopened")
    for ticket in order.tickets:
        # Every column written, whatever was loaded: a recipient's details committed since the
        # tickets were read must be wiped too (the ORM would only write the values it saw change).
        db.session.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id)
            .values(
                status=TicketStatus.OPEN,
                **next_barcode(),  # a PDF of the previous holder is refused at the door as replaced
                share_version=Ticket.share_version + 1,
                **dict.fromkeys(_PERSONALISATION_COLUMNS),
            )
            .execution_options(synchronize_session=False)
        )
        db.session.refresh(ticket)
    history.record(
        order,
        history.PERSONALISATION_REOPENED,
        actor=history.ORGANIZER,
        actor_label=actor_label,
        tickets=len(order.tickets),
        **({"own_deadline": own_deadline.isoformat()} if own_deadline else {}),
    )
    queue_overview_link(order, kind="personalisation_reopened")
    return True


def cancel(order: Order, *, actor_label: str) -> None:
    """Cancel the order: its tickets become invalid and every overview and share link stops working."""
    _check_action(order, CANCEL)
    _update_completed_order(
        order, status=OrderStatus.CANCELLED, personalisation_version=Order.personalisation_version + 1
    )
    _tell_holders(order, "ticket_cancelled")
    for ticket in order.tickets:
        ticket.status = TicketStatus.CANCELLED
        ticket.share_version = Ticket.share_version + 1
    db.session.flush()
    history.record(
        order, history.ORDER_CANCELLED, actor=history.ORGANIZER, actor_label=actor_label, tickets=len(order.tickets)
    )
    _queue_cancellation_notice(order)


#: Contact fields as the timeline names them, and the order's columns behind them.
CONTACT_FIELDS = {
    "first_name": "booker_first_name",
    "last_name": "booker_last_name",
    "email": "booker_email",
    "phone": "booker_phone",
}


def edit_contact(order: Order, booker: Booker, *, actor_label: str) -> list[str]:
    """Overwrite the main booker's contact details; returns the names of the fields that changed."""
    values = {"first_name": booker.first_name, "last_name": booker.last_name, "email": booker.email, "phone": booker.phone}
    changed = [name for name, value in values.items() if getattr(order, CONTACT_FIELDS[name]) != value]
    if not changed:
        return []
    for name in changed:
        setattr(order, CONTACT_FIELDS[name], values[name])
    # Only the names: the timeline never keeps the old personal data.
    history.record(order, history.CONTACT_EDITED, actor=history.ORGANIZER, actor_label=actor_label, fields=changed)
    return changed


def _ticket_still_valid() -> ColumnElement[bool]:
    # A ticket is cancelled exactly when its order is; checked in the UPDATE, not by reading first.
    return Ticket.status != TicketStatus.CANCELLED


def _holder_values(ticket: Ticket, details: HolderDetails) -> dict[str, object]:
    values = details.as_ticket_values()
    if not ticket.order.shop.date_of_birth_required:
        values.pop("holder_date_of_birth")  # not asked for, so not overwritten
    return values


def holder_changes(ticket: Ticket, details: HolderDetails) -> list[str]:
    """Names of the holder fields (first_name, email…) these details would change."""
    return [
        name.removeprefix("holder_")
        for name, value in _holder_values(ticket, details).items()
        if getattr(ticket, name) != value
    ]


def edit_ticket_holder(ticket: Ticket, details: HolderDetails, *, actor_label: str) -> list[str]:
    """Overwrite one ticket's holder (the organizer's "unclaim"); returns the names of the fields that changed.

    A changed holder gets a new barcode, the ticket's share link stops working and the
    ticket counts as personalised. The holder is sent the ticket; when the email address
    changed, the previous holder is told their details were replaced.
    """
    order = ticket.order
    if order.is_cancelled:
        raise OrderCancelled()
    values = _holder_values(ticket, details)
    changed = holder_changes(ticket, details)
    if not changed and ticket.is_personalised:
        return []
    previous_email, previous_language = ticket.holder_email, ticket.holder_mail_language
    if "email" in changed:
        values["holder_language"] = None  # someone else's, not known yet
    result = db.session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, _ticket_still_valid())
        .values(
            status=TicketStatus.PERSONALISED,
            **next_barcode(),
            share_version=Ticket.share_version + 1,
            personalised_at=utcnow(),
            personalised_by=history.ORGANIZER,
            **values,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise OrderCancelled()
    db.session.refresh(ticket)
    history.record(
        order, history.TICKET_EDITED, actor=history.ORGANIZER, actor_label=actor_label, ticket=ticket, fields=changed
    )
    if previous_email and previous_email.casefold() != ticket.holder_email.casefold():
        _queue_holder_replaced(ticket, previous_email, previous_language)
    # The holder's earlier PDF no longer scans: whoever holds the ticket now gets it afresh.
    queue_ticket_ready(ticket)
    return changed


def _tell_holders(order: Order, kind: str, **details: object) -> None:
    """Email each holder of a ticket of the order (but the booker, who is told anyway) once, in their language."""
    told = {order.booker_email.casefold()}
    for ticket in order.tickets:
        if ticket.holder_email and ticket.holder_email.casefold() not in told:
            told.add(ticket.holder_email.casefold())
            outbox.queue(
                kind,
                recipient=ticket.holder_email,
                language=ticket.holder_mail_language,
                order=order,
                ticket=ticket,
                **details,
            )


def _queue_holder_replaced(ticket: Ticket, previous_email: str, previous_language: str) -> None:
    """Tell the previous holder that the ticket is no longer in their name (no link: it is not theirs)."""
    outbox.queue(
        "holder_replaced", recipient=previous_email, language=previous_language, order=ticket.order, ticket=ticket
    )
