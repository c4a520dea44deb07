"""The consumer portal: the booker's overview and the recipient's ticket page."""

from flask import Blueprint

bp = Blueprint("consumer", __name__)

from portal.consumer import views  # noqa: E402,F401  (registers the routes)
