"""Where a shop's personalisation stands: the organizer's figures and chart, from one SQL statement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Date, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction

from portal.extensions import db
from portal.models import Order, OrderStatus, Shop, Ticket, TicketStatus


class local_date(GenericFunction[date]):  # noqa: N801 (an SQL function, named as SQL names them)
    """SQL: the calendar day of a UTC timestamp in a time zone: local_date(column, zone)."""

    type = Date()
    # The zone is written into the SQL text (a literal, or a fixed offset on SQLite), but SQLAlchemy
    # keys its cache of compiled statements by shape, not by values: cached, every shop would get
    # the zone of the first one compiled. Statements with local_date are compiled each time.
    inherit_cache = False


@compiles(local_date, "postgresql")
def _local_date_postgresql(element, compiler, **kw) -> str:
    column, zone = list(element.clauses)
    return f"CAST(({compiler.process(column, **kw)} AT TIME ZONE {compiler.process(zone, literal_binds=True)}) AS DATE)"


@compiles(local_date, "sqlite")
def _local_date_sqlite(element, compiler, **kw) -> str:
    # SQLite knows no time zones: the day is cut at the zone's offset of today (an hour off around a DST change).
    column, zone = list(element.clauses)
    offset = datetime.now(ZoneInfo(zone.value)).utcoffset() or timedelta()
    minutes = int(offset.total_seconds() // 60)
    return f"date({compiler.process(column, **kw)}, '{minutes:+d} minutes')"


@dataclass(frozen=True)
class Progress:
    """A shop's tickets by personalisation state, and personalised tickets per day."""

    total: int
    personalised: int
    #: Shared, and waiting for the recipient to fill them in.
    shared: int
    open: int
    #: The day of the shop's first order (the chart starts there); None without orders.
    first_day: date | None
    #: Tickets personalised (and still so) on each day, in the event's time zone.
    per_day: dict[date, int]

    def cumulative(self, until: date) -> list[tuple[date, int]]:
        """Each day from the first order's to `until`, with the tickets personalised by its end."""
        if self.first_day is None:
            return []
        start = min([self.first_day, *self.per_day])
        days, count = [], 0
        for offset in range((until - start).days + 1):
            day = start + timedelta(days=offset)
            count += self.per_day.get(day, 0)
            days.append((day, count))
        return days


def shop_progress(shop: Shop) -> Progress:
    """The figures of the shop page, in one statement whatever the number of orders (cancelled ones left out)."""
    day = local_date(Ticket.personalised_at, literal(shop.timezone))
    rows = db.session.execute(
        select(Ticket.status, day, func.count(), func.min(Order.created_at))
        .join(Ticket.order)
        .where(Order.shop_id == shop.id, Order.status == OrderStatus.COMPLETED)
        .group_by(Ticket.status, day)
    ).all()
    by_status: dict[str, int] = {}
    per_day: dict[date, int] = {}
    first_ordered: datetime | None = None
    for status, personalised_on, count, ordered in rows:
        by_status[status] = by_status.get(status, 0) + count
        if status == TicketStatus.PERSONALISED and personalised_on is not None:
            per_day[personalised_on] = count
        if first_ordered is None or ordered < first_ordered:
            first_ordered = ordered
    first_day = first_ordered.astimezone(ZoneInfo(shop.timezone)).date() if first_ordered else None
    return Progress(
        total=sum(by_status.values()),
        personalised=by_status.get(TicketStatus.PERSONALISED, 0),
        shared=by_status.get(TicketStatus.SHARED, 0),
        open=by_status.get(TicketStatus.OPEN, 0),
        first_day=first_day,
        per_day=per_day,
    )
