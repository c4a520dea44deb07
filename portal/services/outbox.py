"""The outbox: emails are queued with the change that causes them and delivered after commit.

Delivery claims a message (status SENDING with a deadline) and commits before
talking to SMTP, then marks it SENT. A sender that dies in between leaves the
claim to run out, after which the message is sent again: at most the one
message in flight can arrive twice, and none is ever lost.
"""

from __future__ import annotations

import binascii
import email.policy
import functools
import json
import re
import secrets
import smtplib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.generator import BytesGenerator
from email.utils import formatdate
from io import BytesIO
from pathlib import Path
from typing import Any, Protocol

from flask import current_app, render_template
from flask_mail import Message, sanitize_address, sanitize_subject
from markupsafe import escape
from sqlalchemy import ColumnElement, Connection, Row, bindparam, insert, or_, select, update

from portal import driver
from portal.extensions import db
from portal.models import MessageStatus, Order, OrderEvent, OutgoingMessage, Ticket
from portal.models._time import utcnow
from portal.models.outbox import STILL_TO_SEND, status_in_sql
from portal.services import downloads, history

#: A claimed message whose sender has not reported back after this long is tried again.
CLAIM_LEASE = timedelta(minutes=5)


def _claim_lease() -> timedelta:
    """CLAIM_LEASE, unless the config says otherwise (OUTBOX_CLAIM_LEASE_SECONDS)."""
    seconds = current_app.config.get("OUTBOX_CLAIM_LEASE_SECONDS")
    return CLAIM_LEASE if seconds is None else timedelta(seconds=seconds)


#: Anything that looks like an email address, in an SMTP error.
_ADDRESS = re.compile(r"[^\s<>()\[\]'\",;:]+@[^\s<>()\[\]'\",;:]+")


def error_text(error: BaseException) -> str:
    """What went wrong, for the outbox row and the worker's log, without anyone's email address."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        # Its text is a dict keyed by address; the server's answers say why.
        answers = "; ".join(f"{code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
                            for code, reply in error.recipients.values())
        text = f"{type(error).__name__}: {answers}"
    else:
        text = f"{type(error).__name__}: {error}"
    return _ADDRESS.sub("[address]", text)[:500]
#: Temporary failures are retried this many times, with growing pauses, before giving up.
MAX_ATTEMPTS = 8


def render_email(
    kind: str,
    *,
    recipient: str,
    subject: str,
    template: str,
    order: Order | None = None,
    ticket: Ticket | None = None,
    attach_tickets: Sequence[Ticket] = (),
    **context: Any,
) -> dict[str, Any]:
    """Render mail/<template>.txt and .html into the outbox row of one message (not yet queued).

    `attach_tickets` go along as one PDF, rendered at delivery so it shows the current barcodes.
    """
    context = {"order": order, "ticket": ticket, "subject": subject, "attached": bool(attach_tickets), **context}
    return {
        "kind": kind,
        "recipient": recipient,
        "subject": subject,
        "body_text": render_template(f"mail/{template}.txt", **context),
        "body_html": render_template(f"mail/{template}.html", **context),
        "order_id": order.id if order is not None else None,
        "ticket_id": ticket.id if ticket is not None else None,
        "attach_ticket_ids": [t.id for t in attach_tickets] or None,
    }


def queue_email(
    kind: str,
    *,
    recipient: str,
    subject: str,
    template: str,
    order: Order | None = None,
    ticket: Ticket | None = None,
    attach_tickets: Sequence[Ticket] = (),
    **context: Any,
) -> OutgoingMessage:
    """Render an email (see render_email) and queue it in the caller's transaction."""
    message = OutgoingMessage(
        **render_email(
            kind,
            recipient=recipient,
            subject=subject,
            template=template,
            order=order,
            ticket=ticket,
            attach_tickets=attach_tickets,
            **context,
        )
    )
    db.session.add(message)
    return message


def queue_rendered(messages: Sequence[dict[str, Any]]) -> None:
    """Queue rendered emails (render_email's rows) in one statement, in the caller's transaction."""
    now = utcnow()  # one moment for them all, converted for the database once
    driver.insert_many(
        db.session.connection(),
        OutgoingMessage.__table__,
        [{**message, "created_at": now, "next_attempt_at": now} for message in messages],
    )


class Stencil:
    """One rendered email with placeholders, filled in per recipient instead of rendered again.

    For the same email to thousands of people (an import's confirmations), where
    rendering two templates per message would cost more than everything else.
    Placeholders are unique strings that stood in for the per-recipient values
    while rendering; values are HTML-escaped in the HTML body, as the template does.
    The caller checks a filled-in message against a real rendering of it.
    """

    _TEXT_COLUMNS = ("recipient", "subject", "body_text", "body_html")

    def __init__(self, message: dict[str, Any], placeholders: dict[str, str]) -> None:
        """`placeholders` maps each placeholder string to the name of the value that replaces it."""
        self._columns = {k: v for k, v in message.items() if k not in self._TEXT_COLUMNS}
        pattern = re.compile("(" + "|".join(map(re.escape, placeholders)) + ")")
        # Each text column as pieces: literal text, or (value name,) for a placeholder.
        self._pieces = {
            column: [
                (placeholders[piece],) if index % 2 else piece
                for index, piece in enumerate(pattern.split(message[column]))
                if piece
            ]
            for column in self._TEXT_COLUMNS
        }

    def fill(self, values: dict[str, str], **columns: Any) -> dict[str, Any]:
        """The message for one recipient; `columns` override the other columns (e.g. order_id)."""
        escaped = {name: str(escape(value)) for name, value in values.items()}
        message = {**self._columns, **columns}
        for column, pieces in self._pieces.items():
            chosen = escaped if column == "body_html" else values
            message[column] = "".join([piece if type(piece) is str else chosen[piece[0]] for piece in pieces])
        return message


class PermanentFailure(Exception):
    """This message can never be sent as it is (e.g. a line break in its subject); trying again will not help."""


@dataclass(frozen=True)
class _Email:
    """One message as it goes on the wire."""

    #: The address, encoded for SMTP (an international domain as IDNA), for the envelope and the To header.
    recipient: str
    #: Stable per outbox row: receiving systems can spot the rare duplicate after a crash.
    message_id: str
    content: bytes


class Transport(Protocol):
    def send(self, email: _Email) -> None: ...


class _SmtpTransport:
    """One SMTP connection; each message goes out as its finished bytes (smtplib's sendmail).

    With a timeout, so a stuck server cannot hang the sender.
    """

    def __init__(self, mail: Any, timeout: float, sender: str) -> None:
        smtp_class = smtplib.SMTP_SSL if mail.use_ssl else smtplib.SMTP
        self.host = smtp_class(mail.server, mail.port, timeout=timeout)
        self.envelope_from = _sanitized_sender(sender)
        if mail.use_tls:
            self.host.starttls()
        if mail.username and mail.password:
            self.host.login(mail.username, mail.password)

    def send(self, email: _Email) -> None:
        self.host.sendmail(self.envelope_from, [email.recipient], email.content)

    def close(self) -> None:
        try:
            self.host.quit()
        except (smtplib.SMTPException, OSError):
            self.host.close()


class _FolderTransport:
    """With no MAIL_SERVER configured, messages are kept as .eml files to read locally."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder

    def send(self, email: _Email) -> None:
        name = email.message_id.strip("<>").split("@")[0]
        (self.folder / f"{name}.eml").write_bytes(email.content)


def kept_mail_folder() -> Path:
    return Path(current_app.config.get("MAIL_KEEP_FOLDER") or Path(current_app.instance_path) / "mail")


@contextmanager
def _transport() -> Iterator[Transport]:
    if not current_app.config.get("MAIL_SERVER"):
        yield _FolderTransport(kept_mail_folder())
        return
    config = current_app.config
    smtp = _SmtpTransport(current_app.extensions["mail"], config["MAIL_TIMEOUT"], config["MAIL_DEFAULT_SENDER"])
    try:
        yield smtp
    finally:
        smtp.close()


def _to_email(message: Row[Any]) -> _Email:
    """The outbox row as an email: its SMTP recipient and its bytes.

    The usual shape is written here, for a fraction of what Flask-Mail's Message and
    Connection cost: they flatten a MIME tree under policy.SMTP (which parses and
    refolds every header just encoded), look up the host name for a Message-ID we
    replace, and parse sender and recipient again for the envelope. With tickets
    attached (rare), Flask-Mail builds the message and the stdlib generator writes
    it under compat32, which writes the headers as they are.
    """
    # Header injection: Flask-Mail refuses these too (BadHeaderError).
    if any("\r" in value or "\n" in value for value in (message.subject, message.recipient)):
        raise PermanentFailure("line break in the subject or recipient")
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    recipient = sanitize_address(message.recipient)
    message_id = f"<outbox-{message.id}@ticket-portal>"
    tickets = _tickets_attachment(message.attach_ticket_ids) if message.attach_ticket_ids else None
    if tickets is None:
        content = _text_and_html(message, sender, recipient, message_id)
    else:
        mail_message = Message(
            subject=message.subject, recipients=[message.recipient], body=message.body_text, html=message.body_html,
            sender=sender,
        )
        mail_message.msgId = message_id
        mail_message.attach(*tickets)
        out = BytesIO()
        BytesGenerator(out, mangle_from_=False, policy=_SMTP_COMPAT32).flatten(mail_message._message())
        content = out.getvalue()
    return _Email(recipient, message_id, content)


def _text_and_html(message: Row[Any], sender: str, recipient: str, message_id: str) -> bytes:
    """The usual shape, text and HTML alternatives, written directly.

    Flask-Mail's own encoding of subject and addresses, each body quoted-printable
    (binascii's C encoder), CRLF line ends.
    """
    headers = [
        ("Subject", sanitize_subject(message.subject)) if message.subject else None,
        ("From", _sanitized_sender(sender)),
        ("To", recipient),
        ("Date", _date_header(int(time.time()))),
        ("Message-ID", message_id),
        ("MIME-Version", "1.0"),
    ]
    head = "".join(f"{name}: {value}\r\n" for name, value in filter(None, headers))
    # RFC 2047 encoded words come folded with bare LF.
    head = re.sub(r"\r?\n(?=[ \t])", "\r\n", head).encode("ascii")
    # "=_" never occurs in quoted-printable text ("=" is always written =3D), so it cannot clash.
    boundary = "=_" + secrets.token_hex(16)
    return b"".join(
        [
            head,
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n--{boundary}\r\n'.encode(),
            _text_part("plain", message.body_text),
            f"\r\n--{boundary}\r\n".encode(),
            _text_part("html", message.body_html),
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )


@functools.lru_cache(maxsize=1)
def _date_header(second: int) -> str:
    # The Date header counts whole seconds: written once a second rather than for every message.
    return formatdate(second, localtime=True)


@functools.lru_cache(maxsize=8)
def _sanitized_sender(sender: str) -> str:
    # The same address on every message; encoding it is not free.
    return sanitize_address(sender)


def _text_part(subtype: str, text: str) -> bytes:
    body = binascii.b2a_qp(text.replace("\r\n", "\n").encode("utf-8"), istext=True).replace(b"\n", b"\r\n")
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'.encode()
        + body
    )


_SMTP_COMPAT32 = email.policy.compat32.clone(linesep="\r\n")


def _tickets_attachment(ticket_ids: list[int]) -> tuple[str, str, bytes] | None:
    """The tickets that may still be downloaded now as one PDF (none of a since-cancelled order)."""
    tickets = db.session.scalars(select(Ticket).where(Ticket.id.in_(ticket_ids)).order_by(Ticket.position)).all()
    tickets = [t for t in tickets if not t.order.is_cancelled and t.order.shop.download_enabled and downloads.is_ready(t)]
    if not tickets:
        return None
    return f"tickets-{tickets[0].order.number}.pdf", "application/pdf", downloads.tickets_pdf(tickets)


def _is_permanent(error: Exception) -> bool:
    """Whether trying the message again cannot help: the server refused it for good, or it cannot be written.

    Anything but an SMTP answer is the message's own (an address the mail layer cannot
    encode, a template that fails): the same message would fail the same way again.
    """
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    if not isinstance(error, smtplib.SMTPException):
        return True
    code = getattr(error, "smtp_code", None)
    return isinstance(code, int) and code >= 500


def _deliverable(now: datetime, *, ignore_backoff: bool) -> ColumnElement[bool]:
    """SQL condition: queued and due (unless back-off is ignored), or claimed by a sender that died.

    It names STILL_TO_SEND outright, so that both databases claim through that index.
    """
    due = OutgoingMessage.status == status_in_sql(MessageStatus.QUEUED)
    if not ignore_backoff:
        due = due & (OutgoingMessage.next_attempt_at <= now)
    abandoned = (OutgoingMessage.status == status_in_sql(MessageStatus.SENDING)) & (OutgoingMessage.claimed_until < now)
    return STILL_TO_SEND & or_(due, abandoned)


def _claim_batch(
    connection: Connection, after_id: int, limit: int, *, ignore_backoff: bool
) -> tuple[list[Row[Any]], int | None]:
    """Claim up to `limit` deliverable messages with ids above `after_id`, and commit the claim.

    Returns the claimed messages as rows (plain values: nothing for a commit to expire
    and reload) and the last id looked at (None when nothing was deliverable), so a
    caller can move past messages that other senders claimed first.
    """
    now = utcnow()
    candidate_ids = connection.scalars(
        select(OutgoingMessage.id)
        .where(OutgoingMessage.id > after_id, _deliverable(now, ignore_backoff=ignore_backoff))
        .order_by(OutgoingMessage.id)
        .limit(limit)
        # PostgreSQL: other senders skip these rows instead of waiting; SQLite ignores it
        # and relies on the conditional UPDATE below.
        .with_for_update(skip_locked=True)
    ).all()
    if not candidate_ids:
        connection.commit()
        return [], None
    # Claim only what is still deliverable: on SQLite another sender may have claimed some since.
    claimed = connection.execute(
        update(_MESSAGES)
        .where(_MESSAGES.c.id.in_(candidate_ids), _deliverable(now, ignore_backoff=ignore_backoff))
        .values(status=MessageStatus.SENDING, claimed_until=now + _claim_lease())
        .returning(*_MESSAGES.c)
    ).all()
    connection.commit()
    return sorted(claimed, key=lambda message: message.id), candidate_ids[-1]


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(60 * 2 ** (attempts - 1), 3600))


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.errors.extend(other.errors)


# Delivery reads and writes plain rows by id (no ORM objects to load, expire and load again),
# on one connection for the batch (a session hands it back to the pool at every commit).
_MESSAGES = OutgoingMessage.__table__
_EVENTS = OrderEvent.__table__


def _update_message(connection: Connection, message: Row[Any], values: dict[str, Any], event: str | None = None) -> None:
    """Set a message's delivery columns and, if `event` is given, add it to its order's timeline.

    Both in one transaction. On PostgreSQL, where delivery runs in autocommit, as
    one statement (the UPDATE in a CTE): one round trip instead of four (BEGIN,
    UPDATE, INSERT, COMMIT), and a single statement is atomic; it runs on the
    driver's own cursor (portal.driver): through SQLAlchemy it cost the sender
    more CPU than the database spends on it.
    """
    with_event = event is not None and message.order_id is not None
    statements = _delivery_statements(connection.dialect.name, tuple(values), with_event)
    params = {"m_id": message.id, **{f"m_{name}": value for name, value in values.items()}}
    event_params: dict[str, Any] = {}
    if with_event:
        row = history.event_row(
            message.order_id, event, actor=history.SYSTEM, ticket_id=message.ticket_id, email=message.kind
        )
        row["created_at"] = utcnow()
        event_params = {f"e_{name}": row[name] for name in _EVENT_COLUMNS}
    if connection.dialect.name == "postgresql":
        if with_event:
            # As text for the driver; the statement casts it to json.
            event_params["e_details"] = json.dumps(event_params["e_details"])
        [statement] = statements
        driver.execute(connection.connection, connection.dialect, statement, params | event_params)
        return
    for statement, statement_params in zip(statements, (params, event_params)):
        connection.execute(statement, statement_params)
    connection.commit()


_EVENT_COLUMNS = ("order_id", "ticket_id", "created_at", "kind", "actor", "actor_label", "details")


@functools.cache
def _delivery_statements(dialect: str, columns: tuple[str, ...], with_event: bool) -> tuple[Any, ...]:
    """The statement(s) for _update_message, built once with bound parameters (building one costs more than running it).

    PostgreSQL: one statement; elsewhere the UPDATE, then the timeline INSERT if there is one.
    """
    change = (
        update(_MESSAGES)
        .where(_MESSAGES.c.id == bindparam("m_id"))
        .values({name: bindparam(f"m_{name}", type_=_MESSAGES.c[name].type) for name in columns})
    )
    if not with_event:
        return (change,)
    event_values = [bindparam(f"e_{name}", type_=_EVENTS.c[name].type) for name in _EVENT_COLUMNS]
    if dialect == "postgresql":
        changed = change.returning(_MESSAGES.c.id).cte("changed")
        return (insert(_EVENTS).from_select(_EVENT_COLUMNS, select(*event_values).select_from(changed)),)
    return change, insert(_EVENTS).values(dict(zip(_EVENT_COLUMNS, event_values, strict=True)))


def _mark_sent(connection: Connection, message: Row[Any]) -> None:
    values = {"status": MessageStatus.SENT, "sent_at": utcnow(), "claimed_until": None, "last_error": None}
    _update_message(connection, message, values, history.EMAIL_SENT)


def _mark_failed(connection: Connection, message: Row[Any], error: Exception, *, permanent: bool) -> str:
    """Record a failed try: back off and retry later, or give up; returns the error as stored."""
    attempts = message.attempts + 1
    last_error = error_text(error)
    if permanent or attempts >= MAX_ATTEMPTS:
        values = {"status": MessageStatus.FAILED, "attempts": attempts, "claimed_until": None, "last_error": last_error}
        _update_message(connection, message, values, history.EMAIL_FAILED)
    else:
        values = {
            "status": MessageStatus.QUEUED,
            "attempts": attempts,
            "claimed_until": None,
            "last_error": last_error,
            "next_attempt_at": utcnow() + _backoff(attempts),
        }
        _update_message(connection, message, values)
    return last_error


def _release(connection: Connection, messages: list[Row[Any]]) -> None:
    """Hand back claimed messages that were not tried (the server went away, or the sender stops)."""
    if messages:
        connection.execute(
            update(_MESSAGES)
            .where(_MESSAGES.c.id.in_([m.id for m in messages]), _MESSAGES.c.status == MessageStatus.SENDING)
            .values(status=MessageStatus.QUEUED, claimed_until=None)
        )


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
    with db.engine.connect() as connection:
        batch, last_id = _claim_batch(connection, after_id, limit, ignore_backoff=ignore_backoff)
        if batch:
            if connection.dialect.name == "postgresql":
                # Every write from here on is one statement (see _update_message): no BEGIN/COMMIT trips.
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            _deliver(connection, batch, report, stop)
    # End the session's read of attached tickets, if any.
    db.session.commit()
    return report, last_id


def _deliver(connection: Connection, batch: list[Row[Any]], report: DeliveryReport, stop: Callable[[], bool]) -> None:
    """Send claimed messages over one SMTP connection, committing each one's outcome right after it."""
    tried = 0
    try:
        with _transport() as transport:
            for message in batch:
                if stop():
                    break
                try:
                    transport.send(_to_email(message))
                except smtplib.SMTPServerDisconnected:
                    raise  # the connection, not this message
                except Exception as error:  # noqa: BLE001 (whatever is wrong with one message is its failure alone)
                    if isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException):
                        raise  # the connection (smtplib's errors are OSErrors too)
                    if not isinstance(error, smtplib.SMTPException | PermanentFailure):
                        current_app.logger.exception("outbox: message %s cannot be sent", message.id)
                    last_error = _mark_failed(connection, message, error, permanent=_is_permanent(error))
                    report.failed += 1
                    report.errors.append(f"message {message.id}: {last_error}")
                else:
                    _mark_sent(connection, message)
                    report.sent += 1
                tried += 1
    except (smtplib.SMTPException, OSError) as error:
        # The connection itself failed: nothing more can go out in this batch.
        connection.rollback()
        untried = batch[tried:]
        _mark_failed(connection, untried[0], error, permanent=False)
        _release(connection, untried[1:])
        report.failed += len(untried)
        report.errors.append(f"mail server: {type(error).__name__}: {error}")
    else:
        _release(connection, batch[tried:])
    connection.commit()


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
