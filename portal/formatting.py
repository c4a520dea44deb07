"""Dates and prices as people read them: in the event's time zone and the page's language."""

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import format_currency
from flask_babel import get_locale

from portal.models import Shop


#: The portal's own date formats, by name: full_short for the event, day_short for what happens before it.
FORMATS = {"full_short": "EEEE d MMMM y, HH:mm", "day_short": "EEEE d MMMM, HH:mm"}


def event_datetime(moment: datetime, shop: Shop, format: str = "full_short") -> str:
    """Format a UTC moment in the shop's time zone, e.g. 'Saturday 12 June 2027, 20:00' (a name of FORMATS, or a Babel pattern)."""
    return _local_datetime(moment, shop.timezone, get_locale() or "en", format)


@lru_cache(maxsize=4096)
def _local_datetime(moment: datetime, timezone: str, locale: Locale | str, format: str) -> str:
    # Every page of an event shows its start; Babel's formatting costs more than the page's queries.
    local = moment.astimezone(ZoneInfo(timezone))
    pattern = FORMATS.get(format, format)
    return format_datetime(local, pattern, locale=locale)


def price(cents: int, shop: Shop) -> str:
    return format_currency(cents / 100, shop.currency, locale=get_locale() or "en")


def masked_email(address: str) -> str:
    """Enough of an address for its owner to recognise it, too little for whoever got the link."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}"


def masked_phone(number: str) -> str:
    return "•••• " + number[-3:]
