"""The order history timeline as sentences: who did what, in the backoffice user's language."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext, lazy_gettext as _l, ngettext

from portal.formatting import event_datetime

from portal.models import OrderEvent
from portal.services import history

ACTORS = {
    history.BOOKER: _l("Booker"),
    history.RECIPIENT: _l("Recipient"),
    history.ORGANIZER: _l("Organizer"),
    history.DOOR: _l("Door"),
    history.SYSTEM: _l("System"),
}

#: Holder and contact fields, as the timeline names them (never their values).
FIELDS = {
    "first_name": _l("first name"),
    "last_name": _l("last name"),
    "email": _l("email"),
    "phone": _l("phone"),
    "date_of_birth": _l("date of birth"),
}

#: OutgoingMessage.kind, as the timeline names the email.
EMAILS = {
    "confirmation": _l("order confirmation"),
    "resend": _l("order email (resent)"),
    "share": _l("shared ticket"),
    "ticket_ready": _l("ticket ready"),
    "link_reminder": _l("new link on request"),
    "personalisation_reopened": _l("new personalisation link"),
    "order_cancelled": _l("order cancelled"),
    "cancellation_resent": _l("order cancelled (resent)"),
    "holder_replaced": _l("notice to the previous holder"),
    "booker_reminder": _l("reminder to the booker"),
    "recipient_reminder": _l("reminder to the recipient"),
    "booker_digest": _l("tickets filled in by recipients"),
    "day_before": _l("the day before the event, with the ticket"),
}

CHANNELS = {"whatsapp": _l("WhatsApp"), "email": _l("email"), "link": _l("a link")}


def actor(event: OrderEvent) -> str:
    """Who did it: the organizer user's email (or the door user's name) when known, else their role."""
    if event.actor in (history.ORGANIZER, history.DOOR) and event.actor_label:
        return event.actor_label
    return str(ACTORS.get(event.actor, event.actor))


def _fields(names: list[str]) -> str:
    return ", ".join(str(FIELDS.get(name, name)) for name in names)


def _reminder(kind: str, position: int | None, days: int, before: str | None) -> str:
    if kind == history.BOOKER_REMINDED:
        if before == "event":
            return ngettext(
                "Booker reminded to fill in the tickets, %(num)d day before the event",
                "Booker reminded to fill in the tickets, %(num)d days before the event",
                days,
            )
        return ngettext(
            "Booker reminded to fill in the tickets, %(num)d day before the deadline",
            "Booker reminded to fill in the tickets, %(num)d days before the deadline",
            days,
        )
    if before == "event":
        return ngettext(
            "Recipient of ticket %(position)s reminded to fill it in, %(num)d day before the event",
            "Recipient of ticket %(position)s reminded to fill it in, %(num)d days before the event",
            days,
            position=position,
        )
    return ngettext(
        "Recipient of ticket %(position)s reminded to fill it in, %(num)d day before the deadline",
        "Recipient of ticket %(position)s reminded to fill it in, %(num)d days before the deadline",
        days,
        position=position,
    )


def describe(event: OrderEvent) -> str:
    """One readable sentence for a timeline event."""
    details = event.details or {}
    position = event.ticket.position if event.ticket is not None else None
    kind = event.kind
    if kind == history.ORDER_CREATED:
        count = details.get("tickets")
        if count is None:
            return gettext("Order created")
        return ngettext("Order created with %(num)d ticket", "Order created with %(num)d tickets", count)
    if kind == "order_imported":
        return gettext("Order imported")
    if kind == history.TICKET_CLAIMED:
        return gettext("Ticket %(position)s claimed by the booker", position=position)
    if kind == history.TICKET_SHARED:
        channel = details.get("channel", "")
        return gettext(
            "Ticket %(position)s shared via %(channel)s", position=position, channel=CHANNELS.get(channel, channel)
        )
    if kind == history.TICKET_PERSONALISED:
        return gettext("Ticket %(position)s personalised by the recipient", position=position)
    if kind == history.TICKET_DOWNLOADED:
        return gettext("Ticket %(position)s downloaded", position=position)
    if kind == history.TICKETS_DOWNLOADED:
        count = details.get("tickets", 0)
        return ngettext("%(num)d ticket downloaded in one file", "%(num)d tickets downloaded in one file", count)
    if kind == history.LINK_REQUESTED:
        return gettext("A new link was requested with the \u201csend me a new link\u201d form")
    if kind in (history.EMAIL_SENT, history.EMAIL_FAILED):
        email = details.get("email", "")
        name = str(EMAILS.get(email, email))
        if kind == history.EMAIL_SENT:
            sentence = gettext("Email sent: %(email)s", email=name)
        else:
            sentence = gettext("Email could not be delivered: %(email)s", email=name)
        if position is not None:
            sentence += " " + gettext("(ticket %(position)s)", position=position)
        return sentence
    if kind == history.ORDER_RESENT:
        count = details.get("tickets_attached", 0)
        if count:
            return ngettext(
                "Order email resent to the contact address, with %(num)d ticket attached",
                "Order email resent to the contact address, with %(num)d tickets attached",
                count,
            )
        return gettext("Order email resent to the contact address")
    if kind == history.PERSONALISATION_REOPENED:
        sentence = gettext(
            "Personalisation reopened: all tickets reset, barcodes replaced, earlier links revoked, new link sent"
        )
        if details.get("own_deadline"):
            own_deadline = event_datetime(datetime.fromisoformat(details["own_deadline"]), event.order.shop)
            sentence += "; " + gettext("the order's own deadline: %(when)s", when=own_deadline)
        return sentence
    if kind in (history.BOOKER_REMINDED, history.RECIPIENT_REMINDED):
        return _reminder(kind, position, details.get("days", 0), details.get("before"))
    if kind == history.ORDER_CANCELLED:
        return gettext("Order cancelled: its tickets are no longer valid")
    if kind == history.TICKET_EDITED:
        return gettext(
            "Ticket %(position)s edited by organizer (changed: %(fields)s); new barcode",
            position=position,
            fields=_fields(details.get("fields", [])) or gettext("nothing"),
        )
    if kind == history.TICKET_ADMITTED:
        return gettext("Ticket %(position)s admitted at the door", position=position)
    if kind == history.CONTACT_EDITED:
        return gettext("Contact details edited (changed: %(fields)s)", fields=_fields(details.get("fields", [])))
    # An event kind this page does not know yet: still say something readable.
    return kind.replace("_", " ").capitalize()
