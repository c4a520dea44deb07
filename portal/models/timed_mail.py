"""Time-based emails that have been queued: the record that makes each one go out once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models._time import UTCDateTime, utcnow


class TimedMail(db.Model):
    """A reminder or day-before mail that was queued: one row per person, round and point, never two.

    `flask reminders send` inserts the row in the transaction that queues the email, and
    queues it only when its INSERT added the row: however many runs go at once, on
    however many machines, the unique key lets one of them win.
    """

    __table_args__ = (UniqueConstraint("kind", "subject_id", "round", "point"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: booker_reminder, recipient_reminder or day_before (portal.services.reminders).
    kind: Mapped[str] = mapped_column(String(40))
    #: What the mail is about: the order (booker_reminder) or the ticket (the others).
    subject_id: Mapped[int]
    #: Whose it is: the order's personalisation version (a reopened order is a new round for its
    #: booker) or the ticket's share version (a new share, or a new holder, is another person).
    round: Mapped[int]
    #: Days before the deadline (or the event) for a reminder; 0 for the day-before mail.
    point: Mapped[int]
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
