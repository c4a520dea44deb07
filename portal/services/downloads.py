"""Who may download which ticket, and the ticket file itself."""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import force_locale, gettext

from portal.barcodes import grouped
from portal.errors import DownloadDisabled, OrderCancelled, TicketNotReady
from portal.formatting import event_datetime
from portal.models import Order, OrderStatus, Shop, Ticket, TicketStatus
from portal.services import history
from portal.services.barcodes import printed_name, signed_barcode
from portal.tickets_pdf import PrintableTicket, render_tickets_pdf


def is_ready(ticket: Ticket) -> bool:
    """A ticket can be printed once it has a holder, or at once when the shop needs no details."""
    return _is_ready(ticket.status, ticket.order.shop)


def _is_ready(ticket_status: str, shop: Shop) -> bool:
    return ticket_status == TicketStatus.PERSONALISED or not shop.personalisation_required


def may_download(order_status: str, shop: Shop, ticket_status: str) -> bool:
    """The download rule on plain values, for pages that read rows rather than objects."""
    return order_status != OrderStatus.CANCELLED and shop.download_enabled and _is_ready(ticket_status, shop)


def is_downloadable(ticket: Ticket) -> bool:
    return may_download(ticket.order.status, ticket.order.shop, ticket.status)


def check_downloadable(ticket: Ticket) -> None:
    order = ticket.order
    if order.is_cancelled:
        raise OrderCancelled()
    if not order.shop.download_enabled:
        raise DownloadDisabled()
    if not is_ready(ticket):
        raise TicketNotReady()


def downloadable_tickets(order: Order) -> list[Ticket]:
    """The tickets "Download all" puts in one file."""
    if order.is_cancelled:
        raise OrderCancelled()
    if not order.shop.download_enabled:
        raise DownloadDisabled()
    ready = [ticket for ticket in order.tickets if is_ready(ticket)]
    if not ready:
        raise TicketNotReady()
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


def tickets_pdf(tickets: Sequence[Ticket]) -> bytes:
    """The ticket file, in the shop's language."""
    with force_locale(tickets[0].order.shop.default_language):
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
