"""Dates and prices as people read them: in the event's time zone and the page's language."""

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_currency
from flask_babel import get_locale

from portal.models import Shop


def event_datetime(moment: datetime, shop: Shop, format: str = "full_short") -> str:
    """Format a UTC moment in the shop's time zone, e.g. 'Saturday 12 June 2027, 20:00'."""
    local = moment.astimezone(ZoneInfo(shop.timezone))
    locale = get_locale() or "en"
    if format == "full_short":
        return format_datetime(local, "EEEE d MMMM y, HH:mm", locale=locale)
    return format_datetime(local, format, locale=locale)


def price(cents: int, shop: Shop) -> str:
    return format_currency(cents / 100, shop.currency, locale=get_locale() or "en")


def masked_email(address: str) -> str:
    """Enough of an address for its owner to recognise it, too little for whoever got the link."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}"


def masked_phone(number: str) -> str:
    return "•••• " + number[-3:]
