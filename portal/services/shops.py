"""A shop's settings, as the organizer changes them in the backoffice."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from portal.models import Shop


@dataclass(frozen=True)
class ShopSettings:
    """What the shop settings page edits; the portal reads these on every request."""

    event_name: str
    venue: str
    #: The language of pages and emails until a person's own is known.
    default_language: str
    download_enabled: bool
    personalisation_required: bool
    phone_required: bool
    date_of_birth_required: bool
    #: E.164, or None for no "Contact consumer desk" link.
    consumer_desk_whatsapp: str | None
    support_contact: str | None
    #: UTC; None: consumers may personalise until the event.
    personalisation_deadline: datetime | None
    #: Days before the deadline people are reminded, e.g. "7,1"; "" for never.
    reminder_days: str


def settings_of(shop: Shop) -> ShopSettings:
    return ShopSettings(**{name: getattr(shop, name) for name in ShopSettings.__dataclass_fields__})


def update_settings(shop: Shop, settings: ShopSettings) -> None:
    """Apply the settings in the caller's transaction; they take effect on the portal at once."""
    for name, value in asdict(settings).items():
        setattr(shop, name, value)
