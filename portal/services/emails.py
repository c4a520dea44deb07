"""What each email says, written when it is sent: from what its outbox row names, in its language.

The outbox keeps what a message is (its kind, the order and ticket it is about, the
version of the link it carries, the language of the person it goes to); this module
writes it with Flask-Mail's Message from the templates in templates/mail/, so a
message says what the order and ticket say when it leaves, in its reader's language.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale, gettext, ngettext
from flask_mail import Message

from portal import ics, links
from portal.formatting import event_datetime
from portal.models import OutgoingMessage, Ticket
from portal.models._time import utcnow
from portal.services import downloads


@dataclass(frozen=True)
class Kind:
    """One kind of email: its templates (mail/<template>.txt and .html), subject and links."""

    template: str
    #: The subject, written in the message's language.
    subject: Callable[[OutgoingMessage], str]
    #: What the templates need besides the order and ticket (the links the message carries).
    context: Callable[[OutgoingMessage], dict[str, Any]]
    #: Which of those links an attached calendar file (.ics) leads back to; None: no calendar file.
    calendar_link: str | None = None


def _overview_link(message: OutgoingMessage) -> dict[str, Any]:
    return {"overview_url": links.overview_url(message.order, version=message.details.get("version"))}


def _share_link(message: OutgoingMessage) -> dict[str, Any]:
    return {"share_url": links.ticket_url(message.ticket, share_version=message.details.get("share_version"))}


def _ticket_link(message: OutgoingMessage) -> dict[str, Any]:
    return {"ticket_url": links.ticket_url(message.ticket, share_version=message.details.get("share_version"))}


def _no_link(message: OutgoingMessage) -> dict[str, Any]:
    return {}


def _still_to_fill_in(message: OutgoingMessage) -> list[Ticket]:
    """The order's tickets nobody has filled in yet, as they are when the message is written."""
    return [t for t in message.order.tickets if t.to_fill_in]


def _reminder_context(message: OutgoingMessage) -> dict[str, Any]:
    return {**_overview_link(message), "missing": _still_to_fill_in(message)}


def _told_tickets(message: OutgoingMessage) -> list[Ticket]:
    """The completions a gathered mail tells of (still filled in as it is written)."""
    told = set(message.details.get("ticket_ids", ()))
    return [t for t in message.order.tickets if t.id in told and t.is_personalised]


def _digest_context(message: OutgoingMessage) -> dict[str, Any]:
    return {**_reminder_context(message), "filled_in": _told_tickets(message)}


def _fill_in_by(message: OutgoingMessage) -> str | None:
    """"Friday 6 February, 18:00": by when the order's tickets must be filled in, while that is ahead."""
    order = message.order
    if order is None or not order.shop.personalisation_required:
        return None
    deadline = order.personalisation_deadline
    if deadline is None or deadline <= utcnow():
        return None
    return event_datetime(deadline, order.shop, "day_short")


def _your_tickets(message: OutgoingMessage) -> str:
    return gettext("Your tickets for %(event)s", event=message.order.shop.event_name)


def _cancelled(message: OutgoingMessage) -> str:
    order = message.order
    return gettext(
        "Your order %(number)s for %(event)s has been cancelled", number=order.number, event=order.shop.event_name
    )


_CONFIRMATION = Kind("confirmation", _your_tickets, _overview_link, calendar_link="overview_url")
_CANCELLATION = Kind("order_cancelled", _cancelled, _no_link)

#: Every kind of email the portal sends (OutgoingMessage.kind).
KINDS: dict[str, Kind] = {
    "confirmation": _CONFIRMATION,
    #: The order email again, from the backoffice (with the ready tickets attached).
    "resend": _CONFIRMATION,
    #: The booker asked for their link with the "send me a new link" form.
    "link_reminder": _CONFIRMATION,
    "personalisation_reopened": Kind(
        "personalisation_reopened",
        lambda m: gettext("New personalisation link for your tickets for %(event)s", event=m.order.shop.event_name),
        _overview_link,
    ),
    "order_cancelled": _CANCELLATION,
    "cancellation_resent": _CANCELLATION,
    "share": Kind(
        "share",
        lambda m: gettext(
            "%(name)s shared a ticket for %(event)s with you", name=m.order.booker_first_name, event=m.order.shop.event_name
        ),
        _share_link,
    ),
    "ticket_ready": Kind(
        "ticket_ready",
        # "Ready" promises a download: where there is none, it is personalised, and the organizer sends it.
        lambda m: gettext("Your ticket for %(event)s is ready", event=m.order.shop.event_name)
        if m.order.shop.download_enabled
        else gettext("Your ticket for %(event)s is personalised in your name", event=m.order.shop.event_name),
        _ticket_link,
        calendar_link="ticket_url",
    ),
    "holder_replaced": Kind(
        "holder_replaced",
        lambda m: gettext("Your ticket for %(event)s has been changed", event=m.order.shop.event_name),
        _no_link,
    ),
    #: To a holder (not the booker) of a ticket of an order that was cancelled.
    "ticket_cancelled": Kind(
        "ticket_cancelled",
        lambda m: gettext("Your ticket for %(event)s has been cancelled", event=m.order.shop.event_name),
        _no_link,
    ),
    # Time-based (portal.services.reminders):
    "booker_reminder": Kind(
        "booker_reminder",
        lambda m: gettext("Reminder: fill in the names on your tickets for %(event)s", event=m.order.shop.event_name),
        _reminder_context,
    ),
    "recipient_reminder": Kind(
        "recipient_reminder",
        lambda m: gettext("Reminder: fill in your details for your ticket for %(event)s", event=m.order.shop.event_name),
        _share_link,
    ),
    "booker_digest": Kind(
        "booker_digest",
        lambda m: ngettext(
            "%(num)d ticket for %(event)s has been filled in",
            "%(num)d tickets for %(event)s have been filled in",
            len(m.details.get("ticket_ids", ())),
            event=m.order.shop.event_name,
        ),
        _digest_context,
    ),
    "day_before": Kind(
        "day_before",
        lambda m: gettext("Tomorrow: %(event)s", event=m.order.shop.event_name),
        _ticket_link,
        calendar_link="ticket_url",
    ),
}


def compose(message: OutgoingMessage) -> Message:
    """The message as it goes out now, in its language, with its tickets attached (those that may be, now)."""
    kind = KINDS[message.kind]
    with force_locale(message.language):
        subject = kind.subject(message)
        attachment = _tickets_attachment(message)
        context = {
            "order": message.order,
            "ticket": message.ticket,
            "subject": subject,
            "attached": attachment is not None,
            "message_details": message.details,
            "fill_in_by": _fill_in_by(message),
            **kind.context(message),
        }
        calendar = _calendar_attachment(message, context[kind.calendar_link] if kind.calendar_link else None)
        context["calendar_attached"] = calendar is not None
        email = Message(
            subject=subject,
            # From the event, not a bare "Tickets": a friend recognises it (and it reads less like phishing).
            sender=(message.order.shop.event_name, _default_sender_address()) if message.order else None,
            recipients=[message.recipient],
            body=_short_lines(render_template(f"mail/{kind.template}.txt", **context)),
            html=_short_lines(render_template(f"mail/{kind.template}.html", **context)),
        )
        for attached in (attachment, calendar):
            if attached is not None:
                email.attach(*attached)
    # Stable per outbox row: a receiving system can spot the rare duplicate after a crash.
    email.msgId = f"<outbox-{message.id}@ticket-portal>"
    return email


def _default_sender_address() -> str:
    """The address of MAIL_DEFAULT_SENDER ("Tickets <tickets@example.com>" gives tickets@example.com)."""
    return parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]


#: SMTP refuses a line over 998 bytes (RFC 5321), and Flask-Mail sends UTF-8 bodies as they are (8bit).
_LINE_BYTES_MAX = 900
#: A piece of a too-long line: at most 4 bytes a character in UTF-8, so it stays under the limit.
_PIECE_CHARACTERS = _LINE_BYTES_MAX // 4


def _short_lines(text: str) -> str:
    """The text with any line too long for SMTP broken at spaces (a long support note or venue, say).

    A line break between words reads the same in HTML and nearly so in plain text.
    """
    lines = []
    for line in text.split("\n"):
        if len(line.encode()) > _LINE_BYTES_MAX:
            lines.extend(textwrap.wrap(line, _PIECE_CHARACTERS, break_on_hyphens=False, drop_whitespace=False))
        else:
            lines.append(line)
    return "\n".join(lines)


def _calendar_attachment(message: OutgoingMessage, own_page_url: str | None) -> tuple[str, str, bytes] | None:
    """The event as an .ics linking back to the page the message links to (none for a since-cancelled order)."""
    if own_page_url is None or message.order is None or message.order.is_cancelled:
        return None
    content = ics.event_ics(message.order.shop, own_page_url=own_page_url, language=message.language)
    return ics.FILENAME, ics.MIMETYPE, content


def _tickets_attachment(message: OutgoingMessage) -> tuple[str, str, bytes] | None:
    """The tickets to attach that may still be downloaded now, as one PDF (none of a since-cancelled order)."""
    if not message.attach_ticket_ids:
        return None
    order = message.order
    tickets: list[Ticket] = [t for t in order.tickets if t.id in message.attach_ticket_ids and downloads.is_downloadable(t)]
    if not tickets:
        return None
    return f"tickets-{order.number}.pdf", "application/pdf", downloads.tickets_pdf(tickets, language=message.language)
