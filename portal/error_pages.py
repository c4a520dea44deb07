"""The pages people see when something goes wrong: a refused action, an expired form, an error."""

from __future__ import annotations

import sys
import time
from datetime import timedelta

from flask import Flask, abort, current_app, flash, redirect, render_template, request
from flask_babel import format_timedelta, gettext
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, TooManyRequests

from portal.errors import PortalError
from portal.extensions import db, limiter


#: Seconds a busy answer asks the browser to wait (Retry-After).
BUSY_RETRY_AFTER = 10


def init_app(app: Flask) -> None:
    app.register_error_handler(OperationalError, _database_error)
    app.register_error_handler(PortalError, _refused)
    app.register_error_handler(CSRFError, _form_expired)
    app.register_error_handler(TooManyRequests, too_many_requests)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(500, _server_error)
    app.before_request(_refuse_nul_characters)


def _refused(error: PortalError) -> tuple[str, int]:
    """A rule refused the action (the blueprints say more where they can): nothing was saved."""
    db.session.rollback()
    return render_template("errors/portal.html", error=error), error.status_code


def _is_busy(error: OperationalError) -> bool:
    """Whether the database was too busy to answer in time: SQLite locked, or a PostgreSQL lock not granted."""
    return "database is locked" in str(error.orig) or getattr(error.orig, "sqlstate", None) == "55P03"


def _database_error(error: OperationalError):
    """A busy database: "try again" (503) with what was typed kept, never a bare 500. Anything else is a 500."""
    db.session.rollback()
    if not _is_busy(error):
        current_app.log_exception(sys.exc_info())
        return _server_error(error)
    # The form as it was sent, to send again with one tap (a file cannot be: it is asked for again).
    fields = [(name, value) for name, value in request.form.items(multi=True)] if request.method == "POST" else []
    page = render_template("errors/busy.html", fields=fields, had_files=bool(request.files))
    return page, 503, {"Retry-After": str(BUSY_RETRY_AFTER)}


def wait_until_limit_lifts() -> str:
    """How long until the rate limit this request met lets it through, as the page's language writes it."""
    limit = limiter.current_limit
    seconds = max(1, int(limit.reset_at - time.time())) if limit is not None else 60
    return format_timedelta(timedelta(seconds=seconds), threshold=1, add_direction=False)


def too_many_requests(error: TooManyRequests) -> tuple[str, int]:
    """A rate limit: what happened, and the true wait (the same as the Retry-After header)."""
    return render_template("errors/too_many.html", wait=wait_until_limit_lifts()), 429


def _form_expired(error: CSRFError):
    """An expired or missing form token: show the form again rather than a bare 400."""
    flash(gettext("Your session had expired, so nothing was saved. Please try again."), "error")
    if request.url_rule is not None and "GET" in (request.url_rule.methods or ()):
        return redirect(request.path)
    return render_template("errors/http.html", code=400, error=error), 400


def _refuse_nul_characters() -> None:
    """A NUL in the address is never real input, and PostgreSQL refuses it in text: 400, not 500.

    (Form fields refuse control characters with a message next to the field.) Looked for in
    the raw query string, where it can only be written %00, rather than by parsing it.
    """
    if "\x00" in request.path or b"%00" in request.query_string:
        abort(400)


def _http_error(error: HTTPException) -> tuple[str, int]:
    return render_template("errors/http.html", code=error.code, error=error), error.code or 500


def _server_error(error: Exception) -> tuple[str, int]:
    return render_template("errors/http.html", code=500, error=None), 500
