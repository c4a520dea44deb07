"""A ticket is one admission in an order, and who holds it."""

from __future__ import annotations

import enum
import secrets
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.barcodes import new_short_code
from portal.extensions import db
from portal.models._time import UTCDateTime

if TYPE_CHECKING:
    from portal.models.orders import Order
    from portal.models.organizers import BackofficeUser


class TicketStatus(enum.StrEnum):
    OPEN = "open"
    SHARED = "shared"
    PERSONALISED = "personalised"
    CANCELLED = "cancelled"


#: A ticket nobody has filled in yet: open, or shared and waiting for its recipient.
TO_FILL_IN = (TicketStatus.OPEN, TicketStatus.SHARED)


def full_name(first_name: str | None, last_name: str | None) -> str:
    """How a person's name is shown: first and last name, either of which may be missing."""
    return f"{first_name or ''} {last_name or ''}".strip()


def new_barcode() -> str:
    """A fresh unguessable unsigned barcode (what QR codes held before barcodes were signed)."""
    return secrets.token_urlsafe(24)


#: A ticket's barcode_version when it is created.
FIRST_BARCODE_VERSION = 1


def next_barcode() -> dict[str, object]:
    """The values of a ticket's next barcode, for the UPDATE that changes its holder (or its shop's key).

    A new version (so the signed barcode of the previous one is refused as replaced), a
    new short code, and a new unsigned barcode (which the door still accepts from PDFs
    made before barcodes were signed).
    """
    return {
        "barcode_version": Ticket.barcode_version + 1,
        "short_code": new_short_code(),
        "barcode": new_barcode(),
    }


class Ticket(db.Model):
    # Its index also finds an order's tickets (order_id leads): the one index on order_id.
    # No other column is indexed: nothing looks tickets up by status or holder, and every
    # index costs each of an import's hundreds of thousands of INSERTs.
    __table_args__ = (UniqueConstraint("order_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id"))
    #: 1-based number of the ticket within its order; used in the booker's URLs.
    position: Mapped[int]
    ticket_type: Mapped[str] = mapped_column(String(100))
    price_cents: Mapped[int]
    #: The unsigned barcode QR codes held before barcodes were signed; the door still accepts it
    #: (PDFs of that time). Replaced whenever the holder changes, like the signed barcode.
    barcode: Mapped[str] = mapped_column(String(64), unique=True, default=new_barcode)
    #: Named in the signed barcode (portal.barcodes); one more whenever the holder changes or the
    #: shop's key is rotated, so the barcode of an earlier PDF is refused at the door as replaced.
    barcode_version: Mapped[int] = mapped_column(default=FIRST_BARCODE_VERSION, server_default="1")
    #: Printed under the QR code for typing in at the door; a new one with every barcode version.
    #: Unique in the whole database, so within each shop.
    short_code: Mapped[str] = mapped_column(String(12), unique=True, default=new_short_code)
    status: Mapped[str] = mapped_column(String(20), default=TicketStatus.OPEN)

    #: Carried in the ticket's share link; bumping it revokes the link.
    share_version: Mapped[int] = mapped_column(default=0)
    #: "whatsapp" or "email" for the latest share.
    shared_via: Mapped[str | None] = mapped_column(String(20))
    #: Address the ticket was last shared with by email.
    shared_with_email: Mapped[str | None] = mapped_column(String(254))
    shared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    holder_first_name: Mapped[str | None] = mapped_column(String(100))
    holder_last_name: Mapped[str | None] = mapped_column(String(100))
    holder_email: Mapped[str | None] = mapped_column(String(254))
    #: E.164.
    holder_phone: Mapped[str | None] = mapped_column(String(20))
    holder_date_of_birth: Mapped[date | None] = mapped_column(Date)
    #: The language of the page the holder's details were filled in on; their emails and tickets are in it.
    holder_language: Mapped[str | None] = mapped_column(String(5))
    personalised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: booker, recipient or organizer.
    personalised_by: Mapped[str | None] = mapped_column(String(20))
    #: When the booker was told that the recipient filled this ticket in (the gathered mail); None: not yet.
    booker_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    #: When the ticket was admitted at the door (once; see portal.services.door).
    admitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The door (or organizer) user who admitted it.
    admitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("backoffice_user.id"))

    order: Mapped[Order] = relationship(back_populates="tickets")
    admitted_by: Mapped[BackofficeUser | None] = relationship()

    @property
    def holder_name(self) -> str:
        return full_name(self.holder_first_name, self.holder_last_name)

    @property
    def holder_mail_language(self) -> str:
        return self.holder_language or self.order.booker_mail_language

    @property
    def is_personalised(self) -> bool:
        return self.status == TicketStatus.PERSONALISED

    @hybrid_property
    def to_fill_in(self) -> bool:
        """Nobody has filled this ticket in yet (in a query too: Ticket.to_fill_in)."""
        return self.status in TO_FILL_IN

    @to_fill_in.inplace.expression
    @classmethod
    def _to_fill_in_expression(cls) -> ColumnElement[bool]:
        return cls.status.in_(TO_FILL_IN)
