"""A shop sells the tickets of one event and holds the organizer's settings for it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models._time import UTCDateTime

if TYPE_CHECKING:
    from portal.models.orders import Order
    from portal.models.organizers import Organizer
    from portal.models.shop_keys import ShopKey


#: Reminders a week and a day before the deadline, unless the organizer says otherwise.
DEFAULT_REMINDER_DAYS = "7,1"


def reminder_points(days: str) -> list[int]:
    """The reminder points of a setting such as "7,1", earliest first (most days before): [7, 1]."""
    return sorted({int(part) for part in days.split(",") if part.strip()}, reverse=True)


class Shop(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    organizer_id: Mapped[int] = mapped_column(ForeignKey("organizer.id"), index=True)

    event_name: Mapped[str] = mapped_column(String(200))
    #: When doors open, in UTC; shown in the event's own time zone.
    event_starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: When the event is over; links expire a set number of days after it.
    event_ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    venue: Mapped[str] = mapped_column(String(200))
    #: IANA zone name, e.g. Europe/Amsterdam.
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Amsterdam")
    #: ISO 3166 country code; phone numbers without a + are read as this country's.
    country: Mapped[str] = mapped_column(String(2), default="NL")
    #: Language of pages and emails unless the visitor's browser asks for another.
    default_language: Mapped[str] = mapped_column(String(5), default="en")
    #: ISO 4217 code prices are shown in.
    currency: Mapped[str] = mapped_column(String(3), default="EUR")

    #: "Download order enabled": a personalised ticket can be downloaded from the portal.
    download_enabled: Mapped[bool] = mapped_column(default=True)
    #: When off, tickets need no personal data: no claim or share, download at once.
    personalisation_required: Mapped[bool] = mapped_column(default=True)
    #: First name, last name and email are always required; these two are the shop's choice.
    phone_required: Mapped[bool] = mapped_column(default=False)
    date_of_birth_required: Mapped[bool] = mapped_column(default=False)

    #: E.164 number of the consumer desk on WhatsApp ("Contact consumer desk").
    consumer_desk_whatsapp: Mapped[str | None] = mapped_column(String(20))
    #: Who handles refunds (refunds are processed by support, not in the backoffice).
    support_contact: Mapped[str | None] = mapped_column(Text)

    #: After this moment (UTC; set in the shop's time zone) consumers can no longer claim, share or
    #: fill in tickets; None: until the event. An order reopened after it may have a later one of its own.
    personalisation_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: When bookers and recipients are reminded: days before the deadline (else the event), e.g. "7,1"; "" for never.
    reminder_days: Mapped[str] = mapped_column(String(40), default=DEFAULT_REMINDER_DAYS)

    organizer: Mapped[Organizer] = relationship(back_populates="shops")
    orders: Mapped[list[Order]] = relationship(back_populates="shop")
    #: Its barcode signing keys, oldest first: the last one signs (portal.services.barcodes).
    keys: Mapped[list[ShopKey]] = relationship(
        back_populates="shop", order_by="ShopKey.number", cascade="all, delete-orphan"
    )

    @property
    def reminder_points(self) -> list[int]:
        """Days before the deadline (or the event) at which people are reminded, earliest first."""
        return reminder_points(self.reminder_days)
