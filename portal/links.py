"""Absolute links for emails, built from PORTAL_BASE_URL outside any request."""

from flask import current_app

from portal import tokens
from portal.models import Order, Ticket


def external_url(endpoint: str, **values: object) -> str:
    base = current_app.config["PORTAL_BASE_URL"].rstrip("/")
    # Binding to a dummy host gives the path only; the base supplies scheme, host and prefix.
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return base + path


def overview_url(order: Order) -> str:
    token = tokens.make_token(tokens.OVERVIEW, order.id, order.personalisation_version)
    return external_url("consumer.overview", token=token)


def ticket_url(ticket: Ticket) -> str:
    """The link a recipient (or a holder) uses for this one ticket."""
    token = tokens.make_token(tokens.SHARE, ticket.id, ticket.share_version)
    return external_url("consumer.ticket", token=token)
