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
from flask_babel import force_locale, gettext
from flask_mail import Message

from portal import links
from portal.models import OutgoingMessage, Ticket
from portal.services import downloads


@dataclass(frozen=True)
class Kind:
    """One kind of email: its templates (mail/<template>.txt and .html), subject and links."""

    template: str
    #: The subject, written in the message's language.
    subject: Callable[[OutgoingMessage], str]
    #: What the templates need besides the order and ticket (the links the message carries).
    context: Callable[[OutgoingMessage], dict[str, Any]]


def _overview_link(message: OutgoingMessage) -> dict[str, Any]:
    return {"overview_url": links.overview_url(message.order, version=message.details.get("version"))}


def _share_link(message: OutgoingMessage) -> dict[str, Any]:
    return {"share_url": links.ticket_url(message.ticket, share_version=message.details.get("share_version"))}


def _ticket_link(message: OutgoingMessage) -> dict[str, Any]:
    return {"ticket_url": links.ticket_url(message.ticket, share_version=message.details.get("share_version"))}


def _no_link(message: OutgoingMessage) -> dict[str, Any]:
    return {}


def _your_tickets(message: OutgoingMessage) -> str:
    return gettext("Your tickets for %(event)s", event=message.order.shop.event_name)


def _cancelled(message: OutgoingMessage) -> str:
    order = message.order
    return gettext(
        "Your order %(number)s for %(event)s has been cancelled", number=order.number, event=order.shop.event_name
    )


_CONFIRMATION = Kind("confirmation", _your_tickets, _overview_link)
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
            **kind.context(message),
        }
        email = Message(
            subject=subject,
            # From the event, not a bare "Tickets": a friend recognises it (and it reads less like phishing).
            sender=(message.order.shop.event_name, _default_sender_address()) if message.order else None,
            recipients=[message.recipient],
            body=_short_lines(render_template(f"mail/{kind.template}.txt", **context)),
            html=_short_lines(render_template(f"mail/{kind.template}.html", **context)),
        )
        if attachment is not None:
            email.attach(*attachment)
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


def _tickets_attachment(message: OutgoingMessage) -> tuple[str, str, bytes] | None:
    """The tickets to attach that may still be downloaded now, as one PDF (none of a since-cancelled order)."""
    if not message.attach_ticket_ids:
        return None
    order = message.order
    tickets: list[Ticket] = [t for t in order.tickets if t.id in message.attach_ticket_ids and downloads.is_downloadable(t)]
    if not tickets:
        return None
    return f"tickets-{order.number}.pdf", "application/pdf", downloads.tickets_pdf(tickets, language=message.language)
