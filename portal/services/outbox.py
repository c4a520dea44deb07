"""The outbox: emails are queued with the change that causes them and delivered after commit.

A message is queued as what it is (its kind, the order and ticket it is about, its
language) in the caller's transaction; portal.services.emails writes it when it is
sent. Delivery claims a batch (status SENDING with a deadline) and commits before
talking to SMTP, then marks each message SENT, or failed, right after its own
send. A sender that dies in between leaves the claim to run out, after which the
message is sent again: at most the one message in flight can arrive twice, and
none is ever lost. Whatever goes wrong with one message is that message's
failure alone: the rest of its batch goes out.
"""

from __future__ import annotations

import re
import smtplib
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from flask_mail import BadHeaderError, Message
from sqlalchemy import ColumnElement, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, joinedload

from portal.extensions import db, mail
from portal.models import MessageStatus, Order, OrderEvent, OutgoingMessage, Ticket
from portal.models._time import utcnow
from portal.models.outbox import STILL_TO_SEND, status_in_sql
from portal.services import emails, history

#: A claimed message whose sender has not reported back after this long is tried again.
CLAIM_LEASE = timedelta(minutes=5)
#: Temporary failures are retried this many times, with growing pauses, before giving up.
MAX_ATTEMPTS = 8
#: Anything that looks like an email address, in an SMTP error.
_ADDRESS = re.compile(r"[^\s<>()\[\]'\",;:]+@[^\s<>()\[\]'\",;:]+")


# --- Queueing, in the caller's transaction ------------------------------------


def queue(
    kind: str,
    *,
    recipient: str,
    language: str,
    order: Order | None = None,
    ticket: Ticket | None = None,
    attach: Sequence[Ticket] = (),
    **details: Any,
) -> OutgoingMessage:
    """Queue an email of a kind of portal.services.emails.KINDS, written in `language` when it is sent.

    `details` are what the message needs to say what it says now, such as the version
    of the link it carries; `attach` are tickets to send along as one PDF.
    """
    if kind not in emails.KINDS:
        raise ValueError(f"no such kind of email: {kind}")
    message = OutgoingMessage(
        kind=kind,
        recipient=recipient,
        language=language,
        order=order,
        ticket=ticket,
        details=details,
        attach_ticket_ids=[t.id for t in attach] or None,
    )
    db.session.add(message)
    return message


def queue_many(rows: Sequence[dict[str, Any]]) -> None:
    """Queue many emails in one statement (an import's confirmations): rows of kind, recipient, language,
    order_id and details, in the caller's transaction."""
    if rows:
        now = utcnow()
        db.session.execute(
            insert(OutgoingMessage), [{**row, "created_at": now, "next_attempt_at": now} for row in rows]
        )


# --- Delivery --------------------------------------------------------------------


def _claim_lease() -> timedelta:
    """CLAIM_LEASE, unless the config says otherwise (OUTBOX_CLAIM_LEASE_SECONDS)."""
    seconds = current_app.config.get("OUTBOX_CLAIM_LEASE_SECONDS")
    return CLAIM_LEASE if seconds is None else timedelta(seconds=seconds)


def error_text(error: BaseException) -> str:
    """What went wrong, for the outbox row and the worker's log, without anyone's email address."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        # Its text is a dict keyed by address; the server's answers say why.
        answers = "; ".join(
            f"{code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
            for code, reply in error.recipients.values()
        )
        text = f"{type(error).__name__}: {answers}"
    elif isinstance(error, BadHeaderError):
        text = "BadHeaderError: a line break in the subject or an address"
    else:
        text = f"{type(error).__name__}: {error}"
    return _ADDRESS.sub("[address]", text)[:500]


def _is_permanent(error: Exception) -> bool:
    """Whether trying the message again cannot help: the server refused it for good, or it cannot be written.

    Anything but an SMTP answer is the message's own (an address the mail layer cannot
    encode, a line break in a header, a template that fails): it would fail again.
    """
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    if not isinstance(error, smtplib.SMTPException):
        return True
    code = getattr(error, "smtp_code", None)
    return isinstance(code, int) and code >= 500


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(60 * 2 ** (attempts - 1), 3600))


class _KeptMail:
    """With no MAIL_SERVER configured, messages are kept as .eml files to read locally."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder

    def send(self, message: Message) -> None:
        if message.has_bad_headers():  # as Flask-Mail's own connection would refuse it
            raise BadHeaderError()
        name = message.msgId.strip("<>").split("@")[0]
        (self.folder / f"{name}.eml").write_bytes(message.as_bytes())


def kept_mail_folder() -> Path:
    return Path(current_app.config.get("MAIL_KEEP_FOLDER") or Path(current_app.instance_path) / "mail")


@contextmanager
def _mail_connection() -> Iterator[Any]:
    """One connection for a batch: Flask-Mail's to MAIL_SERVER, else the folder of kept mail.

    Flask-Mail opens its SMTP connection without a timeout; the default socket timeout,
    set while the connection is made and used, keeps a stuck server from hanging the sender.
    """
    if not current_app.config.get("MAIL_SERVER"):
        yield _KeptMail(kept_mail_folder())
        return
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(current_app.config["MAIL_TIMEOUT"])
    try:
        with mail.connect() as connection:
            try:
                yield connection
            except OSError:
                # The connection itself failed (smtplib's errors are OSErrors): close it rather than
                # say QUIT on it, which would fail too and hide why.
                if connection.host is not None:
                    connection.host.close()
                    connection.host = None
                raise
    finally:
        socket.setdefaulttimeout(previous)


def _deliverable(now: datetime, *, ignore_backoff: bool) -> ColumnElement[bool]:
    """SQL condition: queued and due (unless back-off is ignored), or claimed by a sender that died.

    It names STILL_TO_SEND outright, so that both databases claim through that index.
    """
    due = OutgoingMessage.status == status_in_sql(MessageStatus.QUEUED)
    if not ignore_backoff:
        due = due & (OutgoingMessage.next_attempt_at <= now)
    abandoned = (OutgoingMessage.status == status_in_sql(MessageStatus.SENDING)) & (OutgoingMessage.claimed_until < now)
    return STILL_TO_SEND & or_(due, abandoned)


def _claim(session: Session, after_id: int, limit: int, *, ignore_backoff: bool) -> tuple[list[OutgoingMessage], int | None]:
    """Claim up to `limit` deliverable messages with ids above `after_id`, commit the claim, and load them.

    Returns the claimed messages (with their orders, shops and tickets) and the last id
    looked at (None when nothing was deliverable), so a caller can move past messages
    that other senders claimed first.
    """
    now = utcnow()
    candidate_ids = session.scalars(
        select(OutgoingMessage.id)
        .where(OutgoingMessage.id > after_id, _deliverable(now, ignore_backoff=ignore_backoff))
        .order_by(OutgoingMessage.id)
        .limit(limit)
        # PostgreSQL: other senders skip these rows instead of waiting; SQLite ignores it
        # and relies on the conditional UPDATE below.
        .with_for_update(skip_locked=True)
    ).all()
    if not candidate_ids:
        session.commit()
        return [], None
    # Claim only what is still deliverable: on SQLite another sender may have claimed some since.
    claimed_ids = session.scalars(
        update(OutgoingMessage)
        .where(OutgoingMessage.id.in_(candidate_ids), _deliverable(now, ignore_backoff=ignore_backoff))
        .values(status=MessageStatus.SENDING, claimed_until=now + _claim_lease())
        .returning(OutgoingMessage.id)
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    messages = session.scalars(
        select(OutgoingMessage)
        .where(OutgoingMessage.id.in_(claimed_ids))
        .order_by(OutgoingMessage.id)
        .options(
            joinedload(OutgoingMessage.order).joinedload(Order.shop),
            # The order's tickets are in many an email (what is still open, what is attached): loaded once for the batch.
            joinedload(OutgoingMessage.order).selectinload(Order.tickets),
            joinedload(OutgoingMessage.ticket),
        )
    ).all()
    return list(messages), candidate_ids[-1]


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.errors.extend(other.errors)


def _on_timeline(session: Session, message: OutgoingMessage, kind: str) -> None:
    if message.order_id is not None:
        row = history.event_row(message.order_id, kind, actor=history.SYSTEM, ticket_id=message.ticket_id, email=message.kind)
        session.add(OrderEvent(**row))


def _mark_sent(session: Session, message: OutgoingMessage) -> None:
    message.status = MessageStatus.SENT
    message.sent_at = utcnow()
    message.claimed_until = None
    message.last_error = None
    _on_timeline(session, message, history.EMAIL_SENT)
    session.commit()


def _mark_failed(session: Session, message: OutgoingMessage, error: Exception, *, permanent: bool) -> str:
    """Record a failed try: back off and retry later, or give up (on the timeline); returns the error as stored."""
    message.attempts += 1
    message.claimed_until = None
    message.last_error = error_text(error)
    if permanent or message.attempts >= MAX_ATTEMPTS:
        message.status = MessageStatus.FAILED
        _on_timeline(session, message, history.EMAIL_FAILED)
    else:
        message.status = MessageStatus.QUEUED
        message.next_attempt_at = utcnow() + _backoff(message.attempts)
    session.commit()
    return message.last_error


def _release(session: Session, messages: Sequence[OutgoingMessage]) -> None:
    """Hand back claimed messages that were not tried (the server went away, or the sender stops)."""
    if messages:
        session.execute(
            update(OutgoingMessage)
            .where(OutgoingMessage.id.in_([m.id for m in messages]), OutgoingMessage.status == MessageStatus.SENDING)
            .values(status=MessageStatus.QUEUED, claimed_until=None)
            .execution_options(synchronize_session=False)
        )


def _send(session: Session, connection: Any, message: OutgoingMessage, report: DeliveryReport) -> None:
    """Write and send one message and record how it went; raise only when the connection failed."""
    try:
        connection.send(emails.compose(message))
    except smtplib.SMTPServerDisconnected:
        raise  # the connection, not this message
    except Exception as error:  # noqa: BLE001 (whatever is wrong with one message is its failure alone)
        if isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException):
            raise  # the connection (smtplib's errors are OSErrors too)
        if not isinstance(error, smtplib.SMTPException | BadHeaderError):
            current_app.logger.exception("outbox: message %s cannot be sent", message.id)
        if isinstance(error, SQLAlchemyError):
            session.rollback()
        report.failed += 1
        report.errors.append(f"message {message.id}: {_mark_failed(session, message, error, permanent=_is_permanent(error))}")
    else:
        _mark_sent(session, message)
        report.sent += 1


def deliver_batch(
    *,
    after_id: int = 0,
    limit: int = 100,
    ignore_backoff: bool = False,
    stop: Callable[[], bool] = lambda: False,
) -> tuple[DeliveryReport, int | None]:
    """Deliver up to `limit` due messages over one connection.

    Each message is marked sent (or failed) and committed right after its own
    send, so a crash can resend at most the message in flight.
    `stop` is asked before each message; once it says yes the rest are handed back.
    Returns the report and the highest message id looked at (None when none was due).
    """
    report = DeliveryReport()
    # Objects stay loaded across the commit after each message: the batch's orders and shops are read once.
    with Session(db.engine, expire_on_commit=False) as session:
        messages, last_id = _claim(session, after_id, limit, ignore_backoff=ignore_backoff)
        if messages:
            _deliver(session, messages, report, stop)
    return report, last_id


def _deliver(session: Session, messages: list[OutgoingMessage], report: DeliveryReport, stop: Callable[[], bool]) -> None:
    """Send claimed messages over one connection, committing each one's outcome right after it."""
    tried = 0
    try:
        with _mail_connection() as connection:
            for message in messages:
                if stop():
                    break
                _send(session, connection, message, report)
                tried += 1
    except (smtplib.SMTPException, OSError) as error:
        # The connection itself failed: nothing more can go out in this batch.
        session.rollback()
        untried = messages[tried:]
        if untried:
            _mark_failed(session, untried[0], error, permanent=False)
            _release(session, untried[1:])
            report.failed += len(untried)
        report.errors.append(f"mail server: {type(error).__name__}: {error}")
    else:
        _release(session, messages[tried:])
    session.commit()


def deliver_queued() -> DeliveryReport:
    """Try every queued message once, ignoring back-off (the `outbox send` command)."""
    report = DeliveryReport()
    after_id = 0
    while True:
        batch_report, last_id = deliver_batch(after_id=after_id, ignore_backoff=True)
        if last_id is None:
            return report
        report.add(batch_report)
        after_id = last_id


@dataclass(frozen=True)
class QueueStatus:
    """How the outbox stands, for whoever watches delivery (`flask outbox status`)."""

    #: Queued and due: a worker sends these next.
    due: int
    #: Queued after a temporary failure, waiting for their next attempt.
    retrying: int
    #: Claimed by a worker right now.
    sending: int
    #: Refused for good; not retried (each shows on its order's timeline).
    failed: int
    sent_last_hour: int
    #: When the oldest message still to send was queued; None when none is.
    oldest_unsent_at: datetime | None


def queue_status(now: datetime | None = None) -> QueueStatus:
    """Counts by state, read in two statements whatever the size of the outbox."""
    now = now or utcnow()
    messages = OutgoingMessage.__table__
    is_due = messages.c.next_attempt_at <= now
    counts: dict[tuple[str, bool], int] = {}
    oldest: datetime | None = None
    grouped = select(messages.c.status, is_due, db.func.count(), db.func.min(messages.c.created_at)).group_by(
        messages.c.status, is_due
    )
    for status, due, count, first_queued in db.session.execute(grouped):
        counts[status, bool(due)] = count
        if status in (MessageStatus.QUEUED, MessageStatus.SENDING) and (oldest is None or first_queued < oldest):
            oldest = first_queued
    sent_last_hour = db.session.scalar(
        select(db.func.count()).where(messages.c.sent_at >= now - timedelta(hours=1))
    )

    def total(status: MessageStatus) -> int:
        return counts.get((status, True), 0) + counts.get((status, False), 0)

    return QueueStatus(
        due=counts.get((MessageStatus.QUEUED, True), 0),
        retrying=counts.get((MessageStatus.QUEUED, False), 0),
        sending=total(MessageStatus.SENDING),
        failed=total(MessageStatus.FAILED),
        sent_last_hour=sent_last_hour,
        oldest_unsent_at=oldest,
    )
