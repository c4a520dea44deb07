"""At the door: what a scanned barcode or a typed short code says, and admitting its ticket exactly once.

The door sees a ticket's printed name and type, never an order, an email address or
a phone number. Every answer is worked out from the database as it is now; the
admission itself is a conditional UPDATE, so of many phones admitting one ticket at
once, one admits it and the others are told when and by whom it was.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import contains_eager, joinedload

from portal import barcodes
from portal.extensions import db
from portal.models import BackofficeUser, Order, Shop, Ticket, TicketStatus
from portal.models._time import utcnow
from portal.services import history
from portal.services.barcodes import admissible, key_numbered, printed_name, signing_key


class Verdict(enum.StrEnum):
    #: The ticket may come in: check the ID, then admit.
    VALID = "valid"
    #: Just admitted by this request.
    ADMITTED = "admitted"
    ALREADY_ADMITTED = "already_admitted"
    CANCELLED = "cancelled"
    #: A barcode of an earlier version: the holder changed (or the shop's key was rotated) since.
    REPLACED = "replaced"
    #: A real ticket, of another of the organizer's events (or of another organizer's).
    OTHER_EVENT = "other_event"
    #: The shop requires personal details and this ticket has none yet.
    NOT_PERSONALISED = "not_personalised"
    #: Looks like a barcode, but its signature is not the shop's: forged or damaged.
    FORGED = "forged"
    #: A short code (or an older unsigned barcode) that no ticket of this organizer has.
    UNKNOWN = "unknown"
    #: Neither a barcode nor a short code.
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class DoorAnswer:
    verdict: Verdict
    #: The ticket the code belongs to, when it is one of this shop's (None for a refusal that names none).
    ticket: Ticket | None = None
    #: For OTHER_EVENT: that event, when it is the same organizer's.
    other_shop: Shop | None = None

    @property
    def lets_in(self) -> bool:
        return self.verdict in (Verdict.VALID, Verdict.ADMITTED)

    @property
    def holder_name(self) -> str | None:
        return printed_name(self.ticket) if self.ticket is not None else None

    @property
    def admitted_at(self) -> datetime | None:
        return self.ticket.admitted_at if self.ticket is not None else None

    @property
    def admitted_by(self) -> str | None:
        if self.ticket is None or self.ticket.admitted_by is None:
            return None
        return self.ticket.admitted_by.display_name


def _this_shops_ticket(shop: Shop, *conditions: ColumnElement[bool]) -> Ticket | None:
    return db.session.scalar(
        select(Ticket)
        .join(Ticket.order)
        .where(Order.shop_id == shop.id, *conditions)
        .options(contains_eager(Ticket.order), joinedload(Ticket.admitted_by))
    )


def _other_event(shop: Shop, other_shop_id: int) -> DoorAnswer:
    other = db.session.get(Shop, other_shop_id)
    # Another organizer's event is not named: the door learns nothing about it.
    same_organizer = other is not None and other.organizer_id == shop.organizer_id
    return DoorAnswer(Verdict.OTHER_EVENT, other_shop=other if same_organizer else None)


def _cancelled(ticket: Ticket) -> bool:
    return ticket.status == TicketStatus.CANCELLED or ticket.order.is_cancelled


def _judge(shop: Shop, ticket: Ticket) -> DoorAnswer:
    """The answer for a current barcode of one of this shop's tickets."""
    if _cancelled(ticket):
        return DoorAnswer(Verdict.CANCELLED)
    if shop.personalisation_required and not ticket.is_personalised:
        return DoorAnswer(Verdict.NOT_PERSONALISED, ticket)
    if ticket.admitted_at is not None:
        return DoorAnswer(Verdict.ALREADY_ADMITTED, ticket)
    return DoorAnswer(Verdict.VALID, ticket)


def _check_signed(shop: Shop, text: str) -> DoorAnswer:
    try:
        scanned = barcodes.parse(text)
    except barcodes.BarcodeUnreadable:
        return DoorAnswer(Verdict.FORGED)
    barcode = scanned.barcode
    key = key_numbered(barcode.shop_id, barcode.key_number)
    if key is None or not scanned.is_signed_by(key.public_key):
        return DoorAnswer(Verdict.FORGED)
    if barcode.shop_id != shop.id:
        return _other_event(shop, barcode.shop_id)
    ticket = _this_shops_ticket(shop, Ticket.id == barcode.ticket_id)
    if ticket is None:
        return DoorAnswer(Verdict.FORGED)  # signed for a ticket that no longer exists
    if _cancelled(ticket):
        return DoorAnswer(Verdict.CANCELLED)
    if key.number != signing_key(shop).number or barcode.version != ticket.barcode_version:
        # Not the ticket: whoever shows an earlier barcode is not its holder now.
        return DoorAnswer(Verdict.REPLACED)
    return _judge(shop, ticket)


def _check_stored(shop: Shop, condition: ColumnElement[bool]) -> DoorAnswer:
    """A short code or an unsigned barcode: looked up among this shop's tickets, then the organizer's others."""
    ticket = _this_shops_ticket(shop, condition)
    if ticket is not None:
        return _judge(shop, ticket)
    other_shop_id = db.session.scalar(
        select(Order.shop_id)
        .join(Order.tickets)
        .join(Order.shop)
        .where(condition, Shop.organizer_id == shop.organizer_id)
    )
    if other_shop_id is not None:
        return _other_event(shop, other_shop_id)
    return DoorAnswer(Verdict.UNKNOWN)


def check(shop: Shop, text: str) -> DoorAnswer:
    """What the door should do with this scanned barcode or typed short code. Changes nothing."""
    text = text.strip()
    if barcodes.looks_signed(text):
        return _check_signed(shop, text)
    short_code = barcodes.normalise_short_code(text)
    if short_code is not None:
        return _check_stored(shop, Ticket.short_code == short_code)
    if 20 <= len(text) <= 64 and text.isascii() and text.isprintable():
        # A QR code of a PDF made before barcodes were signed: still its ticket's current unsigned barcode?
        return _check_stored(shop, Ticket.barcode == text)
    return DoorAnswer(Verdict.UNREADABLE)


def admit(shop: Shop, text: str, *, user: BackofficeUser) -> DoorAnswer:
    """Admit the ticket of this barcode or short code, once; in the caller's transaction.

    Checked again here (the holder may have changed since the scan), then admitted by
    an UPDATE that holds only while the ticket is still unadmitted, at the same barcode
    version, and still valid: of simultaneous admissions, exactly one changes the row.
    """
    answer = check(shop, text)
    if answer.verdict != Verdict.VALID:
        return answer
    ticket = answer.ticket
    result = db.session.execute(
        update(Ticket)
        .where(
            Ticket.id == ticket.id,
            Ticket.admitted_at.is_(None),
            Ticket.barcode_version == ticket.barcode_version,
            admissible(shop),
        )
        .values(admitted_at=utcnow(), admitted_by_id=user.id)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(ticket)
    if result.rowcount != 1:
        # Someone else was quicker (or the ticket changed meanwhile): say what it is now.
        db.session.refresh(ticket.order)
        return check(shop, text)
    history.record(ticket.order, history.TICKET_ADMITTED, actor=history.DOOR, actor_label=user.display_name, ticket=ticket)
    return DoorAnswer(Verdict.ADMITTED, ticket)
