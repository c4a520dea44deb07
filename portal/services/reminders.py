"""Time-based mail: reminders before the deadline, the booker's gathered news, and the day-before mail.

`send_due(now)` queues every such email that is due at `now`, each in the transaction
that records it, and can run every few minutes, from cron and from the outbox worker,
on several machines at once: the database decides what is sent, never a read before.

- A reminder (to the booker of an order with tickets still to fill in, to the recipient
  of a ticket shared by email and not yet filled in) is recorded in timed_mail, unique
  per person, round and point: the run whose INSERT adds the row queues the email.
- The booker's gathered mail claims its order with a conditional UPDATE (the last one
  went out over an hour ago) and then marks the completions it tells.
- The day-before mail is recorded in timed_mail like a reminder, once per holder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import contains_eager

from portal.extensions import db
from portal.models import Order, OrderStatus, Shop, Ticket, TicketStatus, TimedMail
from portal.services import history, outbox
from portal.services.personalisation import EMAIL, queue_overview_link

BOOKER_REMINDER = "booker_reminder"
RECIPIENT_REMINDER = "recipient_reminder"
DAY_BEFORE = "day_before"
BOOKER_DIGEST = "booker_digest"

#: The booker's gathered mail waits this long after the first completion it tells of, gathering those after it
#: (so that, run every few minutes, it leaves within the hour)...
DIGEST_GATHERS = timedelta(minutes=50)
#: ...and an order's booker gets at most one such mail in this long.
DIGEST_AT_MOST_EVERY = timedelta(hours=1)
#: The day-before mail goes out from this time, in the event's time zone, on the day before the event.
DAY_BEFORE_FROM = time(10, 0)

#: A reminder counts back from the deadline, or from the event when the shop has none.
BEFORE_DEADLINE = "deadline"
BEFORE_EVENT = "event"


@dataclass
class Report:
    """What one run queued."""

    booker_reminders: int = 0
    recipient_reminders: int = 0
    digests: int = 0
    day_before: int = 0

    def __str__(self) -> str:
        return (
            f"booker reminders: {self.booker_reminders}, recipient reminders: {self.recipient_reminders}, "
            f"booker digests: {self.digests}, day-before mails: {self.day_before}"
        )


def send_due(now: datetime) -> Report:
    """Queue every time-based email due at `now` (aware); commits as it goes, a shop at a time."""
    report = Report()
    shops = db.session.scalars(select(Shop).where(Shop.event_starts_at > now).order_by(Shop.id)).all()
    for shop in shops:
        if shop.personalisation_required and shop.reminder_points:
            _remind(shop, now, report)
        _day_before(shop, now, report)
        db.session.commit()
    _digests(now, report)
    db.session.commit()
    return report


def _queue_once(kind: str, subject_id: int, round_: int, point: int, now: datetime) -> bool:
    """Record a time-based email as queued; False when it was already (by this run or another, at once or before).

    A conditional INSERT: on PostgreSQL a second run's INSERT of the same row waits for the first
    one's transaction, then adds nothing.
    """
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    added = db.session.scalar(
        dialect.insert(TimedMail)
        .values(kind=kind, subject_id=subject_id, round=round_, point=point, queued_at=now)
        .on_conflict_do_nothing(index_elements=["kind", "subject_id", "round", "point"])
        .returning(TimedMail.id)
    )
    return added is not None


def _not_queued(kind: str, subject_id: ColumnElement[int], round_: ColumnElement[int], point: int) -> ColumnElement[bool]:
    """SQL: no such email was queued yet (so a run finds only what is left to do; the INSERT decides)."""
    return ~(
        select(TimedMail.id)
        .where(TimedMail.kind == kind, TimedMail.subject_id == subject_id, TimedMail.round == round_, TimedMail.point == point)
        .exists()
    )


# --- Reminders --------------------------------------------------------------------


@dataclass(frozen=True)
class _Closing:
    """One moment a group of a shop's orders closes, and which orders."""

    at: datetime
    #: SQL: the orders that close then.
    orders: ColumnElement[bool]
    #: BEFORE_DEADLINE or BEFORE_EVENT.
    before: str


def _closings(shop: Shop, now: datetime) -> list[_Closing]:
    """When the shop's orders close: its deadline (else the event), and any later deadlines of their own."""
    deadline = shop.personalisation_deadline
    if deadline is None:
        return [_Closing(shop.event_starts_at, true(), BEFORE_EVENT)]
    own_deadlines = db.session.scalars(
        select(Order.own_deadline)
        .where(Order.shop_id == shop.id, Order.own_deadline > max(deadline, now))
        .distinct()
    ).all()
    return [
        _Closing(deadline, or_(Order.own_deadline.is_(None), Order.own_deadline <= deadline), BEFORE_DEADLINE),
        *(_Closing(own, Order.own_deadline == own, BEFORE_DEADLINE) for own in own_deadlines),
    ]


def latest_point(points: list[int], closes_at: datetime, now: datetime) -> int | None:
    """The point (days before `closes_at`) most recently passed at `now`; None before the first or after closing."""
    if now >= closes_at:
        return None
    passed = [days for days in points if now >= closes_at - timedelta(days=days)]
    return min(passed) if passed else None


def _remind(shop: Shop, now: datetime, report: Report) -> None:
    for closing in _closings(shop, now):
        days = latest_point(shop.reminder_points, closing.at, now)
        if days is None:
            continue
        point_at = closing.at - timedelta(days=days)
        _remind_bookers(shop, closing, days, point_at, now, report)
        _remind_recipients(shop, closing, days, point_at, now, report)


def _remind_bookers(
    shop: Shop, closing: _Closing, days: int, point_at: datetime, now: datetime, report: Report
) -> None:
    """Bookers of orders with a ticket not yet filled in, whose round began before the point."""
    orders = db.session.scalars(
        select(Order)
        .where(
            Order.shop_id == shop.id,
            Order.status == OrderStatus.COMPLETED,
            closing.orders,
            # An order that arrived (or was reopened) after the point gets only the points still ahead.
            Order.personalisation_opened_at < point_at,
            Order.with_tickets_to_fill_in(),
            _not_queued(BOOKER_REMINDER, Order.id, Order.personalisation_version, days),
        )
        .order_by(Order.id)
    ).all()
    for order in orders:
        if not _queue_once(BOOKER_REMINDER, order.id, order.personalisation_version, days, now):
            continue
        queue_overview_link(order, kind=BOOKER_REMINDER)
        history.record(order, history.BOOKER_REMINDED, actor=history.SYSTEM, days=days, before=closing.before)
        report.booker_reminders += 1


def _remind_recipients(
    shop: Shop, closing: _Closing, days: int, point_at: datetime, now: datetime, report: Report
) -> None:
    """Recipients of tickets shared by email (their address is known) before the point and not yet filled in."""
    tickets = _tickets_of(
        shop,
        closing.orders,
        Ticket.status == TicketStatus.SHARED,
        Ticket.shared_via == EMAIL,
        Ticket.shared_at < point_at,
        _not_queued(RECIPIENT_REMINDER, Ticket.id, Ticket.share_version, days),
    )
    for ticket in tickets:
        if _queue_once_for_ticket(RECIPIENT_REMINDER, ticket, days, now, recipient=ticket.shared_with_email):
            history.record(
                ticket.order, history.RECIPIENT_REMINDED, actor=history.SYSTEM, ticket=ticket, days=days, before=closing.before
            )
            report.recipient_reminders += 1


def _tickets_of(shop: Shop, *conditions: ColumnElement[bool]) -> list[Ticket]:
    """The tickets (with their orders) of the shop's completed orders that meet the conditions."""
    return list(
        db.session.scalars(
            select(Ticket)
            .join(Ticket.order)
            .options(contains_eager(Ticket.order))
            .where(Order.shop_id == shop.id, Order.status == OrderStatus.COMPLETED, *conditions)
            .order_by(Ticket.id)
        )
    )


def _queue_once_for_ticket(kind: str, ticket: Ticket, point: int, now: datetime, *, recipient: str, **options) -> bool:
    """Queue a ticket's time-based mail to the person it is for (its share version is theirs), unless it was already."""
    if not _queue_once(kind, ticket.id, ticket.share_version, point, now):
        return False
    outbox.queue(
        kind,
        recipient=recipient,
        language=ticket.holder_mail_language,
        order=ticket.order,
        ticket=ticket,
        share_version=ticket.share_version,
        **options,
    )
    return True


# --- The day before ----------------------------------------------------------------


def day_before_from(shop: Shop) -> datetime:
    """When the day-before mail is due: 10:00 on the day before the event, in the event's time zone."""
    zone = ZoneInfo(shop.timezone)
    event_day = shop.event_starts_at.astimezone(zone).date()
    return datetime.combine(event_day - timedelta(days=1), DAY_BEFORE_FROM, tzinfo=zone)


def _day_before(shop: Shop, now: datetime, report: Report) -> None:
    """Each holder of a personalised ticket: the event's time and place, their ticket and a calendar file."""
    if not day_before_from(shop) <= now < shop.event_starts_at:
        return
    tickets = _tickets_of(
        shop,
        Ticket.status == TicketStatus.PERSONALISED,
        Ticket.holder_email.is_not(None),
        # The share version changes with the holder: a new holder gets the mail too.
        _not_queued(DAY_BEFORE, Ticket.id, Ticket.share_version, 0),
    )
    for ticket in tickets:
        attach = [ticket] if shop.download_enabled else []
        if _queue_once_for_ticket(DAY_BEFORE, ticket, 0, now, recipient=ticket.holder_email, attach=attach):
            report.day_before += 1


# --- The booker kept informed ------------------------------------------------------------


def _untold_completions(gathered_until: datetime) -> ColumnElement[bool]:
    """SQL, for Ticket: filled in by a recipient by `gathered_until`, and the booker not yet told."""
    return and_(
        Ticket.status == TicketStatus.PERSONALISED,
        Ticket.personalised_by == history.RECIPIENT,
        Ticket.booker_told_at.is_(None),
        Ticket.personalised_at <= gathered_until,
    )


def _digests(now: datetime, report: Report) -> None:
    """Tell bookers who filled in their shared tickets: once the first untold completion has waited, gathering the rest."""
    may_tell = or_(Order.booker_digest_at.is_(None), Order.booker_digest_at <= now - DIGEST_AT_MOST_EVERY)
    waited = select(Ticket.id).where(Ticket.order_id == Order.id, _untold_completions(now - DIGEST_GATHERS)).exists()
    order_ids = db.session.scalars(
        select(Order.id)
        .join(Order.shop)
        .where(Order.status == OrderStatus.COMPLETED, Shop.event_starts_at > now, may_tell, waited)
        .order_by(Order.id)
    ).all()
    for order_id in order_ids:
        # Claim the order's mail: of runs at once, the first UPDATE wins and the others match no row.
        claimed = db.session.execute(
            update(Order)
            .where(Order.id == order_id, Order.status == OrderStatus.COMPLETED, may_tell, waited)
            .values(booker_digest_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            continue
        told = db.session.scalars(
            update(Ticket)
            .where(Ticket.order_id == order_id, _untold_completions(now))
            .values(booker_told_at=now)
            .returning(Ticket.id)
            .execution_options(synchronize_session=False)
        ).all()
        queue_overview_link(db.session.get_one(Order, order_id), kind=BOOKER_DIGEST, ticket_ids=sorted(told))
        report.digests += 1
