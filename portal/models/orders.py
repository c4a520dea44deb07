"""Orders and their history timeline."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ColumnElement, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models._time import UTCDateTime, utcnow
from portal.models.tickets import Ticket, full_name

if TYPE_CHECKING:
    from portal.models.shops import Shop


class OrderStatus(enum.StrEnum):
    COMPLETED = "completed"
    CANCELLED = "cancelled"


#: An order's personalisation_version when it is created.
FIRST_PERSONALISATION_VERSION = 1


class Order(db.Model):
    # Each organizer numbers its own orders: one organizer's numbers never block or reveal another's.
    __table_args__ = (UniqueConstraint("organizer_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"), index=True)
    #: The shop's organizer, kept on the order so that the database holds numbers unique per organizer.
    organizer_id: Mapped[int] = mapped_column(ForeignKey("organizer.id"))
    #: The number people quote to support, e.g. NX-2026-000123; unique within the organizer.
    number: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default=OrderStatus.COMPLETED)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    # The main booker: who bought the order and receives its emails.
    booker_first_name: Mapped[str] = mapped_column(String(100))
    booker_last_name: Mapped[str] = mapped_column(String(100))
    booker_email: Mapped[str] = mapped_column(String(254), index=True)
    #: E.164, or None when the shop did not ask for it.
    booker_phone: Mapped[str | None] = mapped_column(String(20))
    #: The language of the page the booker last acted on; their emails are written in it.
    #: None until then: the shop's default language.
    booker_language: Mapped[str | None] = mapped_column(String(5))

    #: Carried in every overview link; bumping it (reopen, cancel) revokes them all.
    personalisation_version: Mapped[int] = mapped_column(default=FIRST_PERSONALISATION_VERSION)
    #: When the current personalisation round began: the order's arrival, or the organizer's latest
    #: Open Personalisation. Reminder points that passed before it are not sent.
    personalisation_opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The order's own deadline, given when the organizer reopened it after the shop's had passed.
    own_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: When the booker was last sent the mail that tells them who filled in a shared ticket.
    booker_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    shop: Mapped[Shop] = relationship(back_populates="orders")
    tickets: Mapped[list[Ticket]] = relationship(
        back_populates="order", order_by="Ticket.position", cascade="all, delete-orphan"
    )
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", order_by="OrderEvent.id", cascade="all, delete-orphan"
    )

    @property
    def booker_name(self) -> str:
        return full_name(self.booker_first_name, self.booker_last_name)

    @property
    def booker_mail_language(self) -> str:
        return self.booker_language or self.shop.default_language

    @property
    def is_cancelled(self) -> bool:
        return self.status == OrderStatus.CANCELLED

    @classmethod
    def with_tickets_to_fill_in(cls) -> ColumnElement[bool]:
        """SQL: the order has a ticket nobody has filled in yet."""
        return select(Ticket.id).where(Ticket.order_id == cls.id, Ticket.to_fill_in).exists()

    @property
    def personalisation_deadline(self) -> datetime | None:
        """When consumers stop personalising this order: the shop's deadline, or the order's own when later.

        None when the shop has no deadline (then an own deadline no longer applies either).
        """
        shop_deadline = self.shop.personalisation_deadline
        if shop_deadline is None or self.own_deadline is None:
            return shop_deadline
        return max(shop_deadline, self.own_deadline)

    def personalisation_closed(self, now: datetime) -> bool:
        """Whether consumers can no longer claim, share or fill in this order's tickets at `now`."""
        deadline = self.personalisation_deadline
        return deadline is not None and now >= deadline

    @property
    def total_cents(self) -> int:
        return sum(ticket.price_cents for ticket in self.tickets)

    def ticket_at(self, position: int) -> Ticket | None:
        return next((t for t in self.tickets if t.position == position), None)


class OrderEvent(db.Model):
    """One line of an order's history timeline: who did what, when, to which ticket."""

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: What happened, e.g. "ticket_shared" (see portal.services.history for the list).
    kind: Mapped[str] = mapped_column(String(40))
    #: booker, recipient, organizer or system.
    actor: Mapped[str] = mapped_column(String(20))
    #: Who exactly, when known: the organizer user's email for backoffice actions.
    actor_label: Mapped[str | None] = mapped_column(String(254))
    #: Facts about the event (channel, changed field names); never old personal data.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    order: Mapped[Order] = relationship(back_populates="events")
    ticket: Mapped[Ticket | None] = relationship()
