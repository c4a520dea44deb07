"""Orders imports that run in the background: the uploaded file, where the import stands, and its result."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models._time import UTCDateTime, utcnow

if TYPE_CHECKING:
    from portal.models.organizers import BackofficeUser
    from portal.models.shops import Shop


class ImportStatus(enum.StrEnum):
    #: Stored, waiting for a worker.
    QUEUED = "queued"
    #: A worker reads and checks every row (nothing is written yet).
    CHECKING = "checking"
    #: Every row was good: a worker writes the orders, in one transaction.
    CREATING = "creating"
    DONE = "done"
    #: Refused (errors by line) or given up; nothing was written.
    FAILED = "failed"


#: A worker holds an import in these; when its claim runs out, another worker takes it again from the start.
RUNNING = (ImportStatus.CHECKING, ImportStatus.CREATING)
FINISHED = (ImportStatus.DONE, ImportStatus.FAILED)


class OrderImport(db.Model):
    """One CSV file of orders, uploaded in the backoffice or given to `flask orders import`."""

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"), index=True)
    #: The backoffice user who uploaded it; None for the command line.
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("backoffice_user.id", ondelete="SET NULL"))
    #: The file's name as the organizer's computer called it (shown in the list only).
    filename: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(default=0)
    #: The language of the page it was uploaded on: the problems found are written in it.
    language: Mapped[str] = mapped_column(String(5), default="en")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    status: Mapped[str] = mapped_column(String(20), default=ImportStatus.QUEUED, index=True)
    #: Lines after the header (counted as the file was stored), and how many of them were checked so far.
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_checked: Mapped[int] = mapped_column(default=0)
    #: New orders to write (known once every row is checked), and how many are written so far.
    orders_total: Mapped[int] = mapped_column(default=0)
    orders_created: Mapped[int] = mapped_column(default=0)

    #: Times a worker took it (again after a worker died); after a few it is given up.
    attempts: Mapped[int] = mapped_column(default=0)
    #: While CHECKING or CREATING: when the worker's claim runs out (it renews it as it goes).
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    #: The result once DONE: new orders and existing order numbers skipped (the first few by name).
    created_count: Mapped[int] = mapped_column(default=0)
    skipped_count: Mapped[int] = mapped_column(default=0)
    skipped_numbers: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Once FAILED: [line, message] pairs, line 1 being the header.
    errors: Mapped[list[Any]] = mapped_column(JSON, default=list)

    shop: Mapped[Shop] = relationship()
    uploaded_by: Mapped[BackofficeUser | None] = relationship()

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED


class ImportFilePart(db.Model):
    """A piece of an import's file, kept in the database so that any worker on any machine can read it.

    Deleted when the import is done or failed.
    """

    import_id: Mapped[int] = mapped_column(ForeignKey("order_import.id", ondelete="CASCADE"), primary_key=True)
    #: 0, 1, 2 … in the file's order.
    position: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
