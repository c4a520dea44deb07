"""Absolute links for emails and messages, built from PORTAL_BASE_URL outside any request."""

from flask import current_app

from portal import tokens
from portal.models import Order, Ticket


def external_url(endpoint: str, **values: object) -> str:
    base = current_app.config["PORTAL_BASE_URL"].rstrip("/")
    # Binding to a dummy host gives the path only; the base supplies scheme, host and prefix.
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return base + path


def overview_url(order: Order, *, version: int | None = None) -> str:
    """The booker's link; with `version`, the one issued at that personalisation round (revoked once it is over)."""
    version = order.personalisation_version if version is None else version
    return external_url("consumer.overview", token=tokens.make_token(tokens.OVERVIEW, order.id, version))


def ticket_url(ticket: Ticket, *, share_version: int | None = None) -> str:
    """The link a recipient (or a holder) uses for this one ticket; with `share_version`, the one issued then."""
    share_version = ticket.share_version if share_version is None else share_version
    return external_url("consumer.ticket", token=tokens.make_token(tokens.SHARE, ticket.id, share_version))
