"""Claim, share and personalise tickets: the consumer portal's rules.

Every function here runs inside the caller's transaction (the view commits
once) and writes its history event and emails in that same transaction.
"Personalised once" is enforced by conditional UPDATEs, so two requests
racing for one ticket cannot both win, whatever the database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import joinedload

from portal import links, tokens
from portal.errors import (
    LinkInvalid,
    LinkRevoked,
    OrderCancelled,
    PersonalisationClosed,
    PersonalisationNotRequired,
    PortalError,
    ShareLinkReplaced,
    TicketAlreadyPersonalised,
    TicketChangedMeanwhile,
    TicketTakenByBooker,
)
from portal.extensions import db
from portal.models import LinkRequest, Order, OrderStatus, Ticket, TicketStatus
from portal.models._time import utcnow
from portal.services import history, outbox

WHATSAPP = "whatsapp"
EMAIL = "email"
#: Shared from the phone's share sheet or copied: the booker sends the link however they like.
LINK = "link"


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
    """The order an overview link opens, with its shop and tickets (one statement), or the reason it cannot be opened."""
    order_id, version = tokens.read_token(tokens.OVERVIEW, token)
    order = db.session.get(Order, order_id, options=[joinedload(Order.shop), joinedload(Order.tickets)])
    if order is None:
        raise LinkInvalid()
    if order.is_cancelled:
        raise OrderCancelled()
    if order.personalisation_version != version:
        raise LinkRevoked()
    tokens.check_not_expired(order.shop)
    return order


def ticket_for_link(token: str) -> Ticket:
    """The ticket a share link opens, with its order and shop, or the reason it cannot be opened."""
    ticket_id, version = tokens.read_token(tokens.SHARE, token)
    ticket = db.session.get(Ticket, ticket_id, options=[joinedload(Ticket.order).joinedload(Order.shop)])
    if ticket is None:
        raise LinkInvalid()
    if ticket.order.is_cancelled:
        raise OrderCancelled()
    if ticket.share_version != version:
        raise _why_share_link_revoked(ticket)
    tokens.check_not_expired(ticket.order.shop)
    return ticket


def _why_share_link_revoked(ticket: Ticket) -> LinkRevoked:
    """Say it as the person with the link understands it: the booker took the ticket, or shared it again."""
    if ticket.is_personalised and ticket.personalised_by == history.BOOKER:
        return TicketTakenByBooker()
    if ticket.status == TicketStatus.SHARED:
        return ShareLinkReplaced()
    return LinkRevoked()


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
    version_loaded = ticket.order.personalisation_version
    db.session.refresh(ticket.order)
    db.session.refresh(ticket)
    if ticket.order.is_cancelled:
        return OrderCancelled()
    if ticket.is_personalised:
        return TicketAlreadyPersonalised()
    if ticket.order.personalisation_version != version_loaded:
        return LinkRevoked()
    return TicketChangedMeanwhile()


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


def check_open(order: Order, ticket: Ticket | None = None) -> None:
    """Refuse once the order's personalisation deadline has passed (the organizer can still edit and reopen).

    `ticket` is the one a recipient's page is about: the refusal's page shows that ticket only.
    """
    if order.personalisation_closed(utcnow()):
        raise PersonalisationClosed(order, ticket)


def queue_ticket_ready(ticket: Ticket) -> None:
    """Tell the holder their ticket is ready (with the link to download it, where allowed), in their language."""
    outbox.queue(
        "ticket_ready",
        recipient=ticket.holder_email,
        language=ticket.holder_mail_language,
        order=ticket.order,
        ticket=ticket,
        share_version=ticket.share_version,
    )


def _booker_update(order: Order, ticket: Ticket, *conditions: ColumnElement[bool], **values: object) -> None:
    """A booker's change (claim or share) of a ticket nobody personalised yet, in an order still current.

    It always issues a new share version, so any earlier share link stops working.
    """
    _require_personalisation(order)
    check_open(order)
    _update_ticket(
        ticket,
        Ticket.to_fill_in,
        _order_still_current(order),
        *conditions,
        share_version=Ticket.share_version + 1,
        **values,
    )


def claim(order: Order, ticket: Ticket, details: HolderDetails, *, language: str) -> Ticket:
    """The booker fills in the holder's details; any earlier share link stops working.

    `language` is the page's: the booker's and (as far as is known) the holder's.
    """
    order.booker_language = language
    _booker_update(
        order,
        ticket,
        status=TicketStatus.PERSONALISED,
        personalised_at=utcnow(),
        personalised_by=history.BOOKER,
        holder_language=language,
        **details.as_ticket_values(),
    )
    history.record(order, history.TICKET_CLAIMED, actor=history.BOOKER, ticket=ticket)
    queue_ticket_ready(ticket)
    return ticket


def _is_the_same_share(ticket: Ticket, seen_share_version: int, channel: str, recipient_email: str | None) -> bool:
    """Whether the ticket's latest share is the one a form showing `seen_share_version` asked for.

    A person taps twice when the app is slow: the second submission of the same form
    finds its share made already, and must not revoke the link the first one sent.
    """
    return (
        ticket.status == TicketStatus.SHARED
        and ticket.share_version == seen_share_version + 1
        and ticket.shared_via == channel
        and ticket.shared_with_email == recipient_email
    )


def _share(
    order: Order, ticket: Ticket, channel: str, recipient_email: str | None, seen_share_version: int | None
) -> bool:
    """Record a share (earlier links of the ticket stop working); False when it was made already.

    `seen_share_version` is the share version the booker's page showed: the share is made
    only from that version, so a repeated submission of one form shares once.
    """
    if seen_share_version is None:
        conditions = ()
    elif _is_the_same_share(ticket, seen_share_version, channel, recipient_email):
        return False
    else:
        conditions = (Ticket.share_version == seen_share_version,)
    try:
        _booker_update(
            order,
            ticket,
            *conditions,
            status=TicketStatus.SHARED,
            shared_via=channel,
            shared_with_email=recipient_email,
            shared_at=utcnow(),
        )
    except TicketChangedMeanwhile:
        # Two submissions of one form at once: the other one made this share.
        if seen_share_version is not None and _is_the_same_share(ticket, seen_share_version, channel, recipient_email):
            return False
        raise
    history.record(order, history.TICKET_SHARED, actor=history.BOOKER, ticket=ticket, channel=channel)
    return True


def share_by_whatsapp(order: Order, ticket: Ticket, *, seen_share_version: int | None = None) -> str:
    """Record a WhatsApp share (once per form); returns the share link to put in the message."""
    _share(order, ticket, WHATSAPP, None, seen_share_version)
    return links.ticket_url(ticket)


def share_as_link(order: Order, ticket: Ticket) -> str:
    """Record a share by the bare link (share sheet, copy); returns the new share link."""
    _share(order, ticket, LINK, None, None)
    return links.ticket_url(ticket)


def share_by_email(
    order: Order, ticket: Ticket, recipient_email: str, *, language: str, seen_share_version: int | None = None
) -> str:
    """Record an email share and queue the email that carries the new link (once per form).

    The email is in the booker's language (`language`, the page's): the friend's is not known yet.
    """
    if _share(order, ticket, EMAIL, recipient_email, seen_share_version):
        order.booker_language = language
        outbox.queue(
            "share",
            recipient=recipient_email,
            language=language,
            order=order,
            ticket=ticket,
            share_version=ticket.share_version,
        )
    return links.ticket_url(ticket)


def submit_holder_details(ticket: Ticket, details: HolderDetails, *, language: str) -> Ticket:
    """The recipient of a share link personalises the ticket; their link keeps working.

    `language` is the page's: the holder's emails and ticket are written in it.
    """
    check_open(ticket.order, ticket)
    _update_ticket(
        ticket,
        Ticket.status == TicketStatus.SHARED,
        Ticket.share_version == ticket.share_version,
        _order_still_current(ticket.order),
        status=TicketStatus.PERSONALISED,
        personalised_at=utcnow(),
        personalised_by=history.RECIPIENT,
        holder_language=language,
        **details.as_ticket_values(),
    )
    history.record(ticket.order, history.TICKET_PERSONALISED, actor=history.RECIPIENT, ticket=ticket)
    queue_ticket_ready(ticket)
    return ticket


def queue_overview_link(
    order: Order,
    *,
    kind: str = "confirmation",
    language: str | None = None,
    attach: Sequence[Ticket] = (),
    **details: object,
) -> None:
    """Email the booker the order's current personalisation link (in their language, unless given).

    `attach` are tickets to send along; `details` what else the kind of email needs (see outbox.queue).
    """
    outbox.queue(
        kind,
        recipient=order.booker_email,
        language=language or order.booker_mail_language,
        order=order,
        attach=attach,
        version=order.personalisation_version,
        **details,
    )


def request_current_link(order_number: str, email: str, *, language: str) -> None:
    """Keep a "send me a new link" request for the worker (answer_link_requests), in the caller's transaction.

    The same one write whether or not an order matches, so the page answers alike and as fast.
    """
    db.session.add(LinkRequest(order_number=order_number.strip().upper(), email=email.strip(), language=language))


def answer_link_requests(stopping: Callable[[], bool], *, limit: int = 100) -> bool:
    """The worker's job: email each waiting request the current link of every order it matches; True if it did any.

    A request matches an order by number and booker's address (numbers are unique per
    organizer only, so one request may match orders of several). It is answered once:
    it is deleted in the same transaction that queues the emails; other workers skip it.
    Nothing is sent for a cancelled order, or one whose links have expired.
    """
    requests = db.session.scalars(
        select(LinkRequest).order_by(LinkRequest.id).limit(limit).with_for_update(skip_locked=True)
    ).all()
    for request in requests:
        orders = db.session.scalars(
            select(Order).where(Order.number == request.order_number).options(joinedload(Order.shop))
        )
        for order in orders:
            if order.booker_email.casefold() != request.email.casefold() or order.is_cancelled:
                continue
            if tokens.links_expired(order.shop):
                continue
            history.record(order, history.LINK_REQUESTED, actor=history.BOOKER)
            queue_overview_link(order, kind="link_reminder", language=request.language)
        db.session.delete(request)
    db.session.commit()
    return bool(requests)
