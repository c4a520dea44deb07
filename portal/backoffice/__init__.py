"""The organizer backoffice: shops, orders, order actions, ticket edits, orders import, and the door."""

from flask import Blueprint

bp = Blueprint("backoffice", __name__, url_prefix="/backoffice")

from portal.backoffice import auth, door, views  # noqa: E402,F401  (registers the routes)
