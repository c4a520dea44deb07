"""Claim, share and personalise tickets: the consumer portal's rules.

Every function here runs inside the caller's transaction (the view commits
once) and writes its history event and emails in that same transaction.
"Personalised once" is enforced by conditional UPDATEs, so two requests
racing for one ticket cannot both win, whatever the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import force_locale, gettext
from sqlalchemy import ColumnElement, select, update

from portal import links, tokens
from portal.errors import (
    LinkInvalid,
    LinkRevoked,
    OrderCancelled,
    PersonalisationNotRequired,
    PortalError,
    TicketAlreadyPersonalised,
)
from portal.extensions import db
from portal.models import Order, OrderStatus, Ticket, TicketStatus
from portal.models._time import utcnow
from portal.services import history
from portal.services.outbox import queue_email

WHATSAPP = "whatsapp"
EMAIL = "email"


@dataclass(frozen=True)
class HolderDetails:
    """Validated details of the person who will use a ticket."""

    first_name: str
    last_name: str
    email: str
    phone: str | None = None
    date_of_birth: date | None = None

    def as_ticket_values(self) -> dict[str, object]:
        return {
            "holder_first_name": self.first_name,
            "holder_last_name": self.last_name,
            "holder_email": self.email,
            "holder_phone": self.phone,
            "holder_date_of_birth": self.date_of_birth,
        }


def order_for_overview(token: str) -> Order:
    """The order an overview link opens, or the reason it cannot be opened."""
    order_id, version = tokens.read_token(tokens.OVERVIEW, token)
    order = db.session.get(Order, order_id)
    if order is None:
        raise LinkInvalid()
    if order.is_cancelled:
        raise OrderCancelled()
    if order.personalisation_version != version:
        raise LinkRevoked()
    tokens.check_not_expired(order.shop)
    return order


def ticket_for_link(token: str) -> Ticket:
    """The ticket a share link opens, or the reason it cannot be opened."""
    ticket_id, version = tokens.read_token(tokens.SHARE, token)
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None:
        raise LinkInvalid()
    if ticket.order.is_cancelled:
        raise OrderCancelled()
    if ticket.share_version != version:
        raise LinkRevoked()
    tokens.check_not_expired(ticket.order.shop)
    return ticket


def _order_still_current(order: Order) -> ColumnElement[bool]:
    """SQL condition: the ticket's order is not cancelled and not reopened since it was loaded."""
    return Ticket.order_id.in_(
        select(Order.id).where(
            Order.id == order.id,
            Order.status == OrderStatus.COMPLETED,
            Order.personalisation_version == order.personalisation_version,
        )
    )


def _refusal(ticket: Ticket) -> PortalError:
    """Explain why a conditional update of this ticket matched no row."""
    db.session.refresh(ticket.order)
    db.session.refresh(ticket)
    if ticket.order.is_cancelled:
        return OrderCancelled()
    if ticket.is_personalised:
        return TicketAlreadyPersonalised()
    return LinkRevoked()


def _update_ticket(ticket: Ticket, *conditions: ColumnElement[bool], **values: object) -> None:
    """Apply values to the ticket only if the conditions still hold in the database."""
    result = db.session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise _refusal(ticket)
    db.session.refresh(ticket)


def _require_personalisation(order: Order) -> None:
    if not order.shop.personalisation_required:
        raise PersonalisationNotRequired()


def _queue_ticket_ready(ticket: Ticket) -> None:
    """Tell the holder their ticket is ready (with the link to download it, where allowed)."""
    shop = ticket.order.shop
    with force_locale(shop.default_language):
        queue_email(
            "ticket_ready",
            recipient=ticket.holder_email,
            subject=gettext("Your ticket for %(event)s is ready", event=shop.event_name),
            template="ticket_ready",
            order=ticket.order,
            ticket=ticket,
            ticket_url=links.ticket_url(ticket),
        )


def claim(order: Order, ticket: Ticket, details: HolderDetails) -> Ticket:
    """The booker fills in the holder's details; any earlier share link stops working."""
    _require_personalisation(order)
    _update_ticket(
        ticket,
        Ticket.status.in_([TicketStatus.OPEN, TicketStatus.SHARED]),
        _order_still_current(order),
        status=TicketStatus.PERSONALISED,
        share_version=Ticket.share_version + 1,
        personalised_at=utcnow(),
        personalised_by=history.BOOKER,
        **details.as_ticket_values(),
    )
    history.record(order, history.TICKET_CLAIMED, actor=history.BOOKER, ticket=ticket)
    _queue_ticket_ready(ticket)
    return ticket


def _share(order: Order, ticket: Ticket, channel: str, recipient_email: str | None) -> str:
    """Record a share and return the fresh share link; earlier links of the ticket stop working."""
    _require_personalisation(order)
    _update_ticket(
        ticket,
        Ticket.status.in_([TicketStatus.OPEN, TicketStatus.SHARED]),
        _order_still_current(order),
        status=TicketStatus.SHARED,
        share_version=Ticket.share_version + 1,
        shared_via=channel,
        shared_with_email=recipient_email,
        shared_at=utcnow(),
    )
    history.record(order, history.TICKET_SHARED, actor=history.BOOKER, ticket=ticket, channel=channel)
    return links.ticket_url(ticket)


def share_by_whatsapp(order: Order, ticket: Ticket) -> str:
    """Record a WhatsApp share; returns the new share link to put in the message."""
    return _share(order, ticket, WHATSAPP, None)


def share_by_email(order: Order, ticket: Ticket, recipient_email: str) -> str:
    """Record an email share and queue the email that carries the new link."""
    share_url = _share(order, ticket, EMAIL, recipient_email)
    shop = order.shop
    with force_locale(shop.default_language):
        queue_email(
            "share",
            recipient=recipient_email,
            subject=gettext("A ticket for %(event)s has been shared with you", event=shop.event_name),
            template="share",
            order=order,
            ticket=ticket,
            share_url=share_url,
        )
    return share_url


def submit_holder_details(ticket: Ticket, details: HolderDetails) -> Ticket:
    """The recipient of a share link personalises the ticket; their link keeps working."""
    _update_ticket(
        ticket,
        Ticket.status == TicketStatus.SHARED,
        Ticket.share_version == ticket.share_version,
        _order_still_current(ticket.order),
        status=TicketStatus.PERSONALISED,
        personalised_at=utcnow(),
        personalised_by=history.RECIPIENT,
        **details.as_ticket_values(),
    )
    history.record(ticket.order, history.TICKET_PERSONALISED, actor=history.RECIPIENT, ticket=ticket)
    _queue_ticket_ready(ticket)
    return ticket


def queue_overview_link(order: Order, *, kind: str = "confirmation") -> None:
    """Email the booker the order's current personalisation link."""
    shop = order.shop
    with force_locale(shop.default_language):
        queue_email(
            kind,
            recipient=order.booker_email,
            subject=gettext("Your tickets for %(event)s", event=shop.event_name),
            template="confirmation",
            order=order,
            overview_url=links.overview_url(order),
        )


def send_current_link(order_number: str, email: str) -> None:
    """Email the current link to the order's contact address if the pair matches; silent otherwise.

    The caller answers the same either way, so the form cannot be used to probe orders.
    """
    order = db.session.scalar(select(Order).where(Order.number == order_number.strip().upper()))
    if order is None or order.is_cancelled:
        return
    if order.booker_email.casefold() != email.strip().casefold():
        return
    history.record(order, history.LINK_REQUESTED, actor=history.BOOKER)
    queue_overview_link(order, kind="link_reminder")
