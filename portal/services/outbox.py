"""The outbox: emails are queued with the change that causes them and delivered after commit.

Delivery claims a message (status SENDING with a deadline) and commits before
talking to SMTP, then marks it SENT. A sender that dies in between leaves the
claim to run out, after which the message is sent again: at most the one
message in flight can arrive twice, and none is ever lost.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from flask import current_app, render_template
from flask_mail import Connection, Message
from markupsafe import escape
from sqlalchemy import ColumnElement, insert, or_, select, update

from portal.extensions import db
from portal.models import MessageStatus, Order, OutgoingMessage, Ticket
from portal.models._time import utcnow
from portal.services import downloads, history

#: A claimed message whose sender has not reported back after this long is tried again.
CLAIM_LEASE = timedelta(minutes=5)
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
    if messages:
        db.session.execute(insert(OutgoingMessage.__table__), list(messages))


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
    """The server refused this message for good (5xx); trying again will not help."""


class Transport(Protocol):
    def send(self, message: Message) -> None: ...


class _SmtpConnection(Connection):
    """Flask-Mail's connection, with a timeout so a stuck server cannot hang the sender."""

    def configure_host(self) -> smtplib.SMTP:
        timeout = current_app.config["MAIL_TIMEOUT"]
        smtp_class = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = smtp_class(self.mail.server, self.mail.port, timeout=timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


class _FolderTransport:
    """With no MAIL_SERVER configured, messages are kept as .eml files to read locally."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder

    def send(self, message: Message) -> None:
        name = message.msgId.strip("<>").split("@")[0]
        (self.folder / f"{name}.eml").write_bytes(message.as_bytes())


def kept_mail_folder() -> Path:
    return Path(current_app.config.get("MAIL_KEEP_FOLDER") or Path(current_app.instance_path) / "mail")


@contextmanager
def _transport() -> Iterator[Transport]:
    if not current_app.config.get("MAIL_SERVER"):
        yield _FolderTransport(kept_mail_folder())
        return
    connection = _SmtpConnection(current_app.extensions["mail"])
    host = connection.configure_host()
    connection.host = host
    try:
        yield connection
    finally:
        try:
            host.quit()
        except (smtplib.SMTPException, OSError):
            host.close()


def _to_mail_message(message: OutgoingMessage) -> Message:
    mail_message = Message(
        subject=message.subject,
        recipients=[message.recipient],
        body=message.body_text,
        html=message.body_html,
        sender=current_app.config["MAIL_DEFAULT_SENDER"],
    )
    # A stable id lets receiving systems spot the rare duplicate after a crash.
    mail_message.msgId = f"<outbox-{message.id}@ticket-portal>"
    if message.attach_ticket_ids:
        _attach_tickets(mail_message, message.attach_ticket_ids)
    return mail_message


def _attach_tickets(mail_message: Message, ticket_ids: list[int]) -> None:
    """Attach the tickets that may still be downloaded now (none of a since-cancelled order)."""
    tickets = db.session.scalars(select(Ticket).where(Ticket.id.in_(ticket_ids)).order_by(Ticket.position)).all()
    tickets = [t for t in tickets if not t.order.is_cancelled and t.order.shop.download_enabled and downloads.is_ready(t)]
    if tickets:
        filename = f"tickets-{tickets[0].order.number}.pdf"
        mail_message.attach(filename, "application/pdf", downloads.tickets_pdf(tickets))


def _is_permanent(error: smtplib.SMTPException) -> bool:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    code = getattr(error, "smtp_code", None)
    return isinstance(code, int) and code >= 500


def _deliverable(now: datetime, *, ignore_backoff: bool) -> ColumnElement[bool]:
    """SQL condition: queued and due (unless back-off is ignored), or claimed by a sender that died."""
    due = OutgoingMessage.status == MessageStatus.QUEUED
    if not ignore_backoff:
        due = due & (OutgoingMessage.next_attempt_at <= now)
    abandoned = (OutgoingMessage.status == MessageStatus.SENDING) & (OutgoingMessage.claimed_until < now)
    return or_(due, abandoned)


def _claim(message_id: int, *, ignore_backoff: bool) -> bool:
    """Mark one message SENDING, unless another sender got it first."""
    now = utcnow()
    result = db.session.execute(
        update(OutgoingMessage)
        .where(OutgoingMessage.id == message_id, _deliverable(now, ignore_backoff=ignore_backoff))
        .values(status=MessageStatus.SENDING, claimed_until=now + CLAIM_LEASE)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _claim_batch(
    after_id: int, limit: int, *, ignore_backoff: bool
) -> tuple[list[OutgoingMessage], int | None]:
    """Claim up to `limit` deliverable messages with ids above `after_id`.

    Returns the claimed messages and the last id looked at (None when nothing was deliverable),
    so a caller can move past messages that other senders claimed first.
    """
    candidate_ids = db.session.scalars(
        select(OutgoingMessage.id)
        .where(OutgoingMessage.id > after_id, _deliverable(utcnow(), ignore_backoff=ignore_backoff))
        .order_by(OutgoingMessage.id)
        .limit(limit)
        # PostgreSQL: other senders skip these rows instead of waiting; SQLite ignores it
        # and relies on the conditional UPDATE in _claim.
        .with_for_update(skip_locked=True)
    ).all()
    claimed = [mid for mid in candidate_ids if _claim(mid, ignore_backoff=ignore_backoff)]
    db.session.commit()
    if not candidate_ids:
        return [], None
    messages = db.session.scalars(
        select(OutgoingMessage).where(OutgoingMessage.id.in_(claimed)).order_by(OutgoingMessage.id)
    )
    return list(messages), candidate_ids[-1]


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


def _mark_sent(message: OutgoingMessage) -> None:
    message.status = MessageStatus.SENT
    message.sent_at = utcnow()
    message.claimed_until = None
    message.last_error = None
    if message.order_id is not None:
        history.record(
            db.session.get(Order, message.order_id),
            history.EMAIL_SENT,
            actor=history.SYSTEM,
            ticket=db.session.get(Ticket, message.ticket_id) if message.ticket_id else None,
            email=message.kind,
        )


def _mark_failed(message: OutgoingMessage, error: Exception, *, permanent: bool) -> None:
    message.attempts += 1
    message.claimed_until = None
    message.last_error = f"{type(error).__name__}: {error}"[:500]
    if permanent or message.attempts >= MAX_ATTEMPTS:
        message.status = MessageStatus.FAILED
        if message.order_id is not None:
            history.record(
                db.session.get(Order, message.order_id),
                history.EMAIL_FAILED,
                actor=history.SYSTEM,
                ticket=db.session.get(Ticket, message.ticket_id) if message.ticket_id else None,
                email=message.kind,
            )
    else:
        message.status = MessageStatus.QUEUED
        message.next_attempt_at = utcnow() + _backoff(message.attempts)


def _release(messages: list[OutgoingMessage]) -> None:
    """Hand back claimed messages that were not tried (the server went away)."""
    for message in messages:
        message.status = MessageStatus.QUEUED
        message.claimed_until = None


def deliver_batch(
    *,
    after_id: int = 0,
    limit: int = 100,
    ignore_backoff: bool = False,
    stop: Callable[[], bool] = lambda: False,
) -> tuple[DeliveryReport, int | None]:
    """Deliver up to `limit` due messages over one connection.

    `stop` is asked before each message; once it says yes the rest are handed back.
    Returns the report and the highest message id looked at (None when none was due).
    """
    report = DeliveryReport()
    batch, last_id = _claim_batch(after_id, limit, ignore_backoff=ignore_backoff)
    if not batch:
        return report, last_id
    try:
        with _transport() as transport:
            for message in batch:
                if stop():
                    break
                try:
                    transport.send(_to_mail_message(message))
                except smtplib.SMTPServerDisconnected:
                    raise
                except smtplib.SMTPException as error:
                    _mark_failed(message, error, permanent=_is_permanent(error))
                    report.failed += 1
                    report.errors.append(f"message {message.id}: {message.last_error}")
                else:
                    _mark_sent(message)
                    report.sent += 1
                db.session.commit()
    except (smtplib.SMTPException, OSError) as error:
        # The connection itself failed: nothing more can go out in this batch.
        untried = [m for m in batch if m.status == MessageStatus.SENDING]
        if untried:
            _mark_failed(untried[0], error, permanent=False)
            _release(untried[1:])
            report.failed += len(untried)
            report.errors.append(f"mail server: {type(error).__name__}: {error}")
        db.session.commit()
    _release([m for m in batch if m.status == MessageStatus.SENDING])
    db.session.commit()
    return report, last_id


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
