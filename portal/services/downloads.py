"""Who may download which ticket, and the ticket file itself."""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import force_locale, gettext

from portal.barcodes import grouped
from portal.errors import DownloadDisabled, OrderCancelled, PortalError, TicketNotReady
from portal.formatting import event_datetime
from portal.models import Order, Ticket, TicketStatus
from portal.services import history
from portal.services.barcodes import printed_name, signed_barcode
from portal.tickets_pdf import PrintableTicket, render_tickets_pdf


def is_ready(ticket: Ticket) -> bool:
    """A ticket can be printed once it has a holder, or at once when the shop needs no details."""
    return ticket.status == TicketStatus.PERSONALISED or not ticket.order.shop.personalisation_required


def download_refusal(ticket: Ticket) -> PortalError | None:
    """Why this ticket cannot be downloaded now, or None when it can: the one download rule."""
    order = ticket.order
    if order.is_cancelled:
        return OrderCancelled()
    if not order.shop.download_enabled:
        return DownloadDisabled()
    if not is_ready(ticket):
        return TicketNotReady()
    return None


def is_downloadable(ticket: Ticket) -> bool:
    return download_refusal(ticket) is None


def check_downloadable(ticket: Ticket) -> None:
    refusal = download_refusal(ticket)
    if refusal is not None:
        raise refusal


def downloadable_tickets(order: Order) -> list[Ticket]:
    """The tickets "Download all" puts in one file; with none, the reason (as for its first ticket)."""
    ready = [ticket for ticket in order.tickets if is_downloadable(ticket)]
    if not ready:
        raise download_refusal(order.tickets[0]) if order.tickets else TicketNotReady()
    return ready


def _printable(ticket: Ticket) -> PrintableTicket:
    order = ticket.order
    shop = order.shop
    return PrintableTicket(
        event_name=shop.event_name,
        event_date=event_datetime(shop.event_starts_at, shop),
        venue=shop.venue,
        ticket_type=ticket.ticket_type,
        order_number=order.number,
        holder_name=printed_name(ticket),
        barcode=signed_barcode(ticket),
        position=ticket.position,
        count=len(order.tickets),
        short_code=grouped(ticket.short_code),
    )


def tickets_pdf(tickets: Sequence[Ticket], *, language: str) -> bytes:
    """The ticket file, in `language`: that of the person who downloads it, or of the email it goes with."""
    with force_locale(language):
        labels = {
            "event": gettext("Event"),
            "date": gettext("Date"),
            "venue": gettext("Venue"),
            "ticket_type": gettext("Ticket type"),
            "order": gettext("Order"),
            "holder": gettext("Name"),
            "ticket_of": gettext("Ticket {position} of {count}"),
            "footer": gettext("Show this QR code at the entrance. Valid for one admission."),
            "short_code": gettext("Code"),
        }
        return render_tickets_pdf([_printable(ticket) for ticket in tickets], labels=labels)


def record_download(tickets: Sequence[Ticket], *, actor: str) -> None:
    order = tickets[0].order
    if len(tickets) == 1:
        history.record(order, history.TICKET_DOWNLOADED, actor=actor, ticket=tickets[0])
    else:
        history.record(order, history.TICKETS_DOWNLOADED, actor=actor, tickets=len(tickets))
