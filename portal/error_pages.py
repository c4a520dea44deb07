"""The pages people see when something goes wrong: a refused action, an expired form, an error."""

from __future__ import annotations

from flask import Flask, abort, flash, redirect, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal.errors import PortalError
from portal.extensions import db


def init_app(app: Flask) -> None:
    app.register_error_handler(PortalError, _refused)
    app.register_error_handler(CSRFError, _form_expired)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(500, _server_error)
    app.before_request(_refuse_nul_characters)


def _refused(error: PortalError) -> tuple[str, int]:
    """A rule refused the action (the blueprints say more where they can): nothing was saved."""
    db.session.rollback()
    return render_template("errors/portal.html", error=error), error.status_code


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
