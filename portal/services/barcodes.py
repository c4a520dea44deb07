"""A shop's barcodes: the key that signs them, each ticket's barcode, key rotation, the offline list."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import contains_eager

from portal import barcodes
from portal.extensions import db
from portal.models import Order, OrderStatus, Shop, ShopKey, Ticket, TicketStatus
from portal.models._time import utcnow
from portal.models.tickets import next_barcode


class ShopHasNoKey(LookupError):
    """The shop has no signing key: its database was changed by hand (every shop gets one when made)."""


def signing_key(shop: Shop) -> ShopKey:
    """The shop's current key: the newest, which signs every barcode of the shop."""
    if not shop.keys or shop.keys[-1].private_key is None:
        raise ShopHasNoKey(f"shop {shop.id} has no signing key")
    return shop.keys[-1]


def key_numbered(shop_id: int, number: int) -> ShopKey | None:
    return db.session.scalar(select(ShopKey).where(ShopKey.shop_id == shop_id, ShopKey.number == number))


def barcode_of(ticket: Ticket) -> barcodes.Barcode:
    shop = ticket.order.shop
    return barcodes.Barcode(shop.id, signing_key(shop).number, ticket.id, ticket.barcode_version)


def signed_barcode(ticket: Ticket) -> str:
    """What the ticket's QR code holds now: its current version, signed with its shop's current key."""
    key = signing_key(ticket.order.shop)
    return barcodes.sign(barcode_of(ticket), key.private_key)


def public_key_pem(shop: Shop) -> str:
    return barcodes.public_key_pem(signing_key(shop).public_key)


@dataclass(frozen=True)
class Rotation:
    key_number: int
    tickets: int


def rotate_key(shop: Shop) -> Rotation:
    """Give the shop a new key and every ticket of it a new barcode (and short code).

    Every barcode signed so far, and every short code printed so far, is refused at the
    door from now on as replaced: holders need their tickets again. The retired key keeps
    only its public half, to tell those barcodes apart from forged ones.
    """
    current = signing_key(shop)
    current.private_key = None
    current.retired_at = utcnow()
    new_key = ShopKey.generate(current.number + 1)
    shop.keys.append(new_key)
    ticket_ids = db.session.scalars(select(Ticket.id).join(Ticket.order).where(Order.shop_id == shop.id)).all()
    for ticket_id in ticket_ids:
        # One statement per ticket: each gets a short code of its own.
        db.session.execute(
            update(Ticket).where(Ticket.id == ticket_id).values(**next_barcode())
            .execution_options(synchronize_session=False)
        )
    db.session.flush()
    db.session.expire_all()
    return Rotation(key_number=new_key.number, tickets=len(ticket_ids))


def printed_name(ticket: Ticket) -> str:
    """The name printed on the ticket and shown at the door: its holder's only.

    A ticket without holder details (a shop that needs none, or one that stopped needing them
    after a share) carries no name, never the booker's: whoever uses it is someone else.
    """
    return ticket.holder_name if ticket.is_personalised else ""


@dataclass(frozen=True)
class ListedTicket:
    """One line of the offline list: what a scanner needs to admit a ticket, and nothing more."""

    barcode: str
    short_code: str
    ticket_type: str
    holder_name: str
    admitted_at: datetime | None


def admissible(shop: Shop) -> ColumnElement[bool]:
    """SQL: a ticket of this shop the door lets in (if not admitted yet): personalised where the shop
    requires it, else any not cancelled. Its order's state is checked apart."""
    if shop.personalisation_required:
        return Ticket.status == TicketStatus.PERSONALISED
    return Ticket.status != TicketStatus.CANCELLED


def valid_tickets(shop: Shop) -> Iterator[ListedTicket]:
    """Every ticket of the shop whose barcode the door accepts now (admitted ones too, with the time)."""
    query = (
        select(Ticket)
        .join(Ticket.order)
        .where(Order.shop_id == shop.id, Order.status == OrderStatus.COMPLETED, admissible(shop))
        .options(contains_eager(Ticket.order))
        .order_by(Ticket.id)
    )
    for ticket in db.session.scalars(query.execution_options(yield_per=1000)):
        yield ListedTicket(
            barcode=signed_barcode(ticket),
            short_code=ticket.short_code,
            ticket_type=ticket.ticket_type,
            holder_name=printed_name(ticket),
            admitted_at=ticket.admitted_at,
        )
