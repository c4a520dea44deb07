"""Orders imports in the background: the file kept for any worker, taken by one, its progress committed as it goes.

An upload (or `flask orders import`) stores the file in the database in pieces and
queues an import; a worker (`flask outbox worker`) claims it as the outbox claims
messages (a conditional UPDATE, with SKIP LOCKED on PostgreSQL, and a lease in
`claimed_until`), then runs portal.services.imports on it. The orders are written
in the worker's one transaction, with the import's result, so a worker that dies
leaves nothing behind; its claim runs out and another worker (or the same one,
restarted) takes the import again from the start.

Progress is committed on a connection of its own, in short transactions, each of
which also renews the claim. While the orders are written, SQLite lets no other
connection write: there the count of orders written goes to a small file next to
the database (read by `progress`) until the import's transaction commits.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from io import BufferedReader, RawIOBase, TextIOWrapper
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import force_locale, gettext
from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.models import BackofficeUser, ImportFilePart, ImportStatus, OrderImport, Shop
from portal.models._time import utcnow
from portal.models.imports import RUNNING
from portal.services import imports

#: The file is kept in pieces of this size: one piece in memory at a time, however large the file.
PART_BYTES = 1 << 20
#: A worker that has not reported progress for this long is taken to have died (IMPORT_CLAIM_LEASE_SECONDS).
CLAIM_LEASE = timedelta(minutes=2)
#: After this many workers took an import and died (or failed) with it, it is given up rather than tried for ever.
MAX_ATTEMPTS = 3
#: Seconds between two progress commits (and claim renewals).
PROGRESS_EVERY = 0.25


class ClaimLost(Exception):
    """Another worker has taken the import (this one was too slow to renew its claim): this one stops."""


class Stopped(Exception):
    """The worker is stopping (SIGTERM): the import is handed back, to be taken again from the start."""


def _lease() -> timedelta:
    seconds = current_app.config.get("IMPORT_CLAIM_LEASE_SECONDS")
    return CLAIM_LEASE if seconds is None else timedelta(seconds=seconds)


# --- Storing the file and queueing the import, in the caller's transaction ----------------


def store(
    shop: Shop,
    stream: BinaryIO,
    *,
    filename: str,
    uploaded_by: BackofficeUser | None = None,
    language: str = "en",
    claimed: bool = False,
) -> OrderImport:
    """Keep the file in the database a piece at a time and queue its import; the caller commits.

    `claimed`: the caller runs the import itself at once (the command line), so no
    worker takes it unless the caller dies.
    """
    order_import = OrderImport(
        shop=shop, uploaded_by=uploaded_by, filename=filename[-255:] or "orders.csv", language=language
    )
    db.session.add(order_import)
    db.session.flush()
    size = lines = position = 0
    last = b"\n"
    while data := stream.read(PART_BYTES):
        db.session.execute(insert(ImportFilePart), {"import_id": order_import.id, "position": position, "data": data})
        size += len(data)
        lines += data.count(b"\n")
        last = data[-1:]
        position += 1
    if last != b"\n":
        lines += 1  # the last line has no line break
    order_import.size_bytes = size
    order_import.rows_total = max(lines - 1, 0)  # the header is not a row
    if claimed:
        now = utcnow()
        order_import.status, order_import.attempts = ImportStatus.CHECKING, 1
        order_import.started_at, order_import.claimed_until = now, now + _lease()
    return order_import


class _StoredFile(RawIOBase):
    """The import's file read back from the database, one piece at a time."""

    def __init__(self, import_id: int) -> None:
        self.import_id, self.position = import_id, 0
        self.piece, self.offset = b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.offset >= len(self.piece):
            piece = db.session.scalar(
                select(ImportFilePart.data).where(
                    ImportFilePart.import_id == self.import_id, ImportFilePart.position == self.position
                )
            )
            if piece is None:
                return 0
            self.piece, self.offset, self.position = bytes(piece), 0, self.position + 1
        count = min(len(buffer), len(self.piece) - self.offset)
        buffer[:count] = self.piece[self.offset : self.offset + count]
        self.offset += count
        return count


# --- Claiming ---------------------------------------------------------------------------


def _claimable():
    """Queued, or held by a worker whose claim ran out (it died)."""
    return or_(
        OrderImport.status == ImportStatus.QUEUED,
        and_(OrderImport.status.in_(RUNNING), OrderImport.claimed_until < utcnow()),
    )


def claim_next() -> tuple[int, int] | None:
    """Claim the oldest import waiting (or left by a worker that died) and commit: (its id, this attempt), or None.

    As the outbox claims messages: PostgreSQL's SKIP LOCKED keeps workers off each
    other's row; the conditional UPDATE makes sure of it on SQLite too.
    """
    candidate = db.session.scalar(
        select(OrderImport.id).where(_claimable()).order_by(OrderImport.id).limit(1).with_for_update(skip_locked=True)
    )
    if candidate is None:
        db.session.commit()
        return None
    now = utcnow()
    claimed = db.session.execute(
        update(OrderImport)
        .where(OrderImport.id == candidate, _claimable())
        .values(
            status=ImportStatus.CHECKING,
            attempts=OrderImport.attempts + 1,
            claimed_until=now + _lease(),
            started_at=now,
            rows_checked=0,
            orders_total=0,
            orders_created=0,
        )
        .returning(OrderImport.id, OrderImport.attempts)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    db.session.commit()
    return (claimed.id, claimed.attempts) if claimed is not None else None


def _held(import_id: int, attempt: int):
    """SQL condition: the import is still this attempt's (no other worker took it since)."""
    return and_(OrderImport.id == import_id, OrderImport.attempts == attempt, OrderImport.status.in_(RUNNING))


# --- Progress -----------------------------------------------------------------------------


def _progress_file(import_id: int) -> Path | None:
    """Where a worker writing orders on SQLite keeps their count (None on PostgreSQL)."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).with_name(f"{Path(url.database).name}-import-{import_id}.progress")


@dataclass(frozen=True)
class Standing:
    """Where an import stands, for its page: the phase's count so far, of its total."""

    status: str
    done: int
    total: int

    @property
    def percent(self) -> int:
        if self.status == ImportStatus.DONE:
            return 100
        return min(100, self.done * 100 // self.total) if self.total else 0


def standing(order_import: OrderImport) -> Standing:
    """Rows checked of the file's, then orders written of the new ones; on SQLite, while written, from the file."""
    status = order_import.status
    if status in (ImportStatus.QUEUED, ImportStatus.CHECKING):
        return Standing(status, order_import.rows_checked, order_import.rows_total)
    if status == ImportStatus.CREATING:
        created = order_import.orders_created
        path = _progress_file(order_import.id)
        if path is not None:
            try:
                attempt, count = map(int, path.read_text().split())
            except (OSError, ValueError):
                pass
            else:
                if attempt == order_import.attempts:
                    created = max(created, count)
        return Standing(status, created, order_import.orders_total)
    if status == ImportStatus.DONE:
        return Standing(status, order_import.created_count, order_import.created_count)
    return Standing(status, 0, 0)


class _CommittedProgress(imports.Progress):
    """Commits how far the import got, on a connection of its own, renewing the claim each time."""

    def __init__(
        self,
        import_id: int,
        attempt: int,
        *,
        rows_total: int,
        stopping: Callable[[], bool],
        echo: Callable[[Standing], None] | None,
    ) -> None:
        self.import_id, self.attempt, self.stopping, self.echo = import_id, attempt, stopping, echo
        self.rows_total, self.orders_total = rows_total, 0
        self.session = Session(db.engine)
        self.last = 0.0
        #: While orders are written on SQLite, their count goes to this file instead.
        self.file: Path | None = None

    def _commit(self, standing: Standing, *, now: bool = False, **values: object) -> None:
        if self.stopping():
            raise Stopped()
        moment = time.monotonic()
        if not now and moment - self.last < PROGRESS_EVERY:
            return
        self.last = moment
        if self.file is not None:
            partial = self.file.with_name(self.file.name + ".partial")
            partial.write_text(f"{self.attempt} {standing.done}")
            os.replace(partial, self.file)
        else:
            result = self.session.execute(
                update(OrderImport)
                .where(_held(self.import_id, self.attempt))
                .values(claimed_until=utcnow() + _lease(), **values)
                .execution_options(synchronize_session=False)
            )
            self.session.commit()
            if result.rowcount != 1:
                raise ClaimLost()
        if self.echo is not None:
            self.echo(standing)

    def checked(self, rows: int) -> None:
        self._commit(Standing(ImportStatus.CHECKING, rows, self.rows_total), rows_checked=rows)

    def all_checked(self, rows: int) -> None:
        self.rows_total = rows
        self._commit(Standing(ImportStatus.CHECKING, rows, rows), now=True, rows_checked=rows, rows_total=rows)

    def creating(self, orders: int) -> None:
        self.orders_total = orders
        self._commit(
            Standing(ImportStatus.CREATING, 0, orders),
            now=True, status=ImportStatus.CREATING, orders_total=orders, orders_created=0,
        )
        # From here on the import's own transaction writes; on SQLite it holds the database until it commits.
        self.file = _progress_file(self.import_id)

    def created(self, orders: int) -> None:
        self._commit(
            Standing(ImportStatus.CREATING, orders, self.orders_total), now=orders == self.orders_total,
            orders_created=orders,
        )

    def close(self) -> None:
        self.session.close()
        if self.file is not None:
            self.file.unlink(missing_ok=True)


# --- Running an import ---------------------------------------------------------------------


def _finish(import_id: int, attempt: int, **values: object) -> bool:
    """Record the outcome and drop the file, in the current transaction, if the import is still this attempt's."""
    result = db.session.execute(
        update(OrderImport)
        .where(_held(import_id, attempt))
        .values(claimed_until=None, finished_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    db.session.execute(delete(ImportFilePart).where(ImportFilePart.import_id == import_id))
    return True


def _failed(import_id: int, attempt: int, errors: list[tuple[int, str]]) -> None:
    db.session.rollback()
    _finish(import_id, attempt, status=ImportStatus.FAILED, errors=[list(error) for error in errors])
    db.session.commit()


def give_up(import_id: int, attempt: int) -> None:
    """The one running the import stopped it for good (Ctrl-C on the command line): failed, nothing imported."""
    _failed(import_id, attempt, [(1, gettext("The import was stopped before it finished. Nothing was imported."))])


def _hand_back(import_id: int, attempt: int) -> None:
    """Queue the import again for any worker, this attempt not counted (the worker stops; it did not fail)."""
    db.session.rollback()
    db.session.execute(
        update(OrderImport)
        .where(_held(import_id, attempt))
        .values(status=ImportStatus.QUEUED, claimed_until=None, attempts=attempt - 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def run(
    import_id: int,
    attempt: int,
    *,
    stopping: Callable[[], bool] = lambda: False,
    echo: Callable[[Standing], None] | None = None,
    on_skipped: Callable[[str], None] | None = None,
) -> OrderImport:
    """Run a claimed import to its end: done (the orders and the result in one transaction) or failed.

    `echo` hears the progress as it is committed; `on_skipped` each existing order
    number (the command line prints them). Returns the import as it ended; if
    another worker took it meanwhile, or the worker stops, as it is then.
    """
    order_import = db.session.get_one(OrderImport, import_id)
    language = order_import.language
    with force_locale(language):
        if attempt > MAX_ATTEMPTS:
            _failed(import_id, attempt, [(1, gettext(
                "The import could not be finished: it was started %(count)d times. Nothing was imported. "
                "Upload the file again; if this happens again, ask for help.", count=MAX_ATTEMPTS))])
            return db.session.get_one(OrderImport, import_id)
        progress = _CommittedProgress(
            import_id, attempt, rows_total=order_import.rows_total, stopping=stopping, echo=echo
        )
        uploader = order_import.uploaded_by
        try:
            stream = TextIOWrapper(BufferedReader(_StoredFile(import_id)), encoding="utf-8-sig", newline="")
            report = imports.import_orders(
                order_import.shop,
                stream,
                actor_label=uploader.email if uploader else None,
                progress=progress,
                on_skipped=on_skipped,
            )
            if not _finish(
                import_id,
                attempt,
                status=ImportStatus.DONE,
                orders_created=report.created,
                created_count=report.created,
                skipped_count=report.skipped,
                skipped_numbers=report.skipped_numbers,
            ):
                raise ClaimLost()
            db.session.commit()
        except imports.ImportFailed as failure:
            _failed(import_id, attempt, failure.errors)
        except Stopped:
            _hand_back(import_id, attempt)
        except ClaimLost:
            db.session.rollback()
            current_app.logger.warning("import %s: another worker took it over; this one stopped", import_id)
        except BaseException:
            db.session.rollback()  # the claim runs out and another worker tries again
            raise
        finally:
            progress.close()
    db.session.expire_all()
    return db.session.get_one(OrderImport, import_id)


def run_next(stopping: Callable[[], bool]) -> bool:
    """The worker's job: run the oldest import waiting, if any; True when it ran one (there may be more)."""
    claimed = claim_next()
    if claimed is None:
        return False
    run(*claimed, stopping=stopping)
    return True
