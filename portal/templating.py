"""What every template may use: filters for dates, prices and masked contact data, and status labels."""

from __future__ import annotations

from flask import Flask
from flask_babel import get_locale, lazy_gettext as _l

from portal import formatting
from portal.models import TicketStatus

#: A ticket's status as people read it (translated where it is shown).
STATUS_LABELS = {
    TicketStatus.OPEN: _l("Open"),
    TicketStatus.SHARED: _l("Shared"),
    TicketStatus.PERSONALISED: _l("Personalised"),
    TicketStatus.CANCELLED: _l("Cancelled"),
}


def status_labels() -> dict[str, str]:
    """Every status in the page's language: translated once for a page that lists many tickets."""
    return {status: str(label) for status, label in STATUS_LABELS.items()}


def init_app(app: Flask) -> None:
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["status_labels"] = status_labels
    app.jinja_env.filters["event_datetime"] = formatting.event_datetime
    app.jinja_env.filters["price"] = formatting.price
    app.jinja_env.filters["masked_email"] = formatting.masked_email
    app.jinja_env.filters["masked_phone"] = formatting.masked_phone
