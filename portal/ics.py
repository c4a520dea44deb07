"""The "Add to calendar" file (RFC 5545): the event, and a link back to the person's own page.

It holds no personal data: no name, no address, only the link to the page of the
person it is for (their overview or their ticket), which they hold already.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask_babel import force_locale, gettext
from icalendar import Calendar, Event, Timezone

from portal.models import Shop
from portal.models._time import utcnow

MIMETYPE = "text/calendar"
FILENAME = "event.ics"
#: Written into PRODID: which program made the file.
PRODUCT = "-//Ticket portal//Add to calendar//EN"


def event_ics(shop: Shop, *, own_page_url: str, language: str, now: datetime | None = None) -> bytes:
    """The shop's event as an iCalendar file, its text in `language`, its times in the event's time zone."""
    zone = ZoneInfo(shop.timezone)
    with force_locale(language):
        description = gettext("Your tickets: %(url)s", url=own_page_url)
    event = Event()
    # One UID per event: adding the file again (from another mail or page) updates the same entry.
    event.add("uid", f"event-{shop.id}@ticket-portal")
    event.add("dtstamp", now or utcnow())
    event.add("dtstart", shop.event_starts_at.astimezone(zone))
    event.add("dtend", shop.event_ends_at.astimezone(zone))
    event.add("summary", shop.event_name)
    event.add("location", shop.venue)
    event.add("url", own_page_url)
    event.add("description", description)
    calendar = Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(_zone_around(shop, zone))
    calendar.add_component(event)
    return calendar.to_ical()


def _zone_around(shop: Shop, zone: ZoneInfo) -> Timezone:
    """The VTIMEZONE of the event's zone for the days around the event: every calendar reads its times as that zone's.

    Only those days: a zone's whole history is written as long RDATE lists, which some readers (dateutil's,
    behind vobject) misread, putting a summer event an hour off.
    """
    starts, ends = shop.event_starts_at.astimezone(zone), shop.event_ends_at.astimezone(zone)
    return _zone(shop.timezone, starts.date() - timedelta(days=1), ends.date() + timedelta(days=2))


@lru_cache(maxsize=256)
def _zone(tzid: str, first_date: date, last_date: date) -> Timezone:
    # Working out a zone's transitions costs about a millisecond: more than the rest of a mail. Never changed once made.
    return Timezone.from_tzid(tzid, first_date=first_date, last_date=last_date)
