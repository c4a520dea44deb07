"""What every page shares: error pages, headers, template helpers."""

from __future__ import annotations

import functools

from flask import Flask, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import get_locale, get_translations, gettext
from flask_wtf.csrf import CSRFError
from itsdangerous import URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException

from portal import formatting
from portal.errors import LinkError, PortalError
from portal.extensions import csrf, db
from portal.models import TicketStatus
from portal.tokens import FAST_SHA1


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["status_labels"] = status_labels
    app.jinja_env.filters["event_datetime"] = formatting.event_datetime
    app.jinja_env.filters["price"] = formatting.price
    app.jinja_env.filters["masked_email"] = formatting.masked_email
    app.jinja_env.filters["masked_phone"] = formatting.masked_phone
    app.register_error_handler(PortalError, _portal_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(500, _server_error)
    app.before_request(_refuse_nul_characters)
    # Flask-WTF's own hook works out whether the view is exempt before it looks at the method:
    # 5 % of a GET of the booker's overview. The same check, first asking the method.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.before_request(_check_csrf)
    # Security headers (CSP, Referrer-Policy, X-Content-Type-Options, frames, HSTS) come from
    # portal/headers.py, set up in the factory; Cache-Control: no-store from the blueprints.


def _check_csrf() -> None:
    """Flask-WTF's CSRF check of a request that can change something (POST and the like)."""
    config = current_app.config
    if config["WTF_CSRF_ENABLED"] and request.method in config["WTF_CSRF_METHODS"]:
        csrf.protect(apply_exemptions=True)


def never_cache(response: Response) -> Response:
    """An after_request hook: pages of personal data (and health checks) that no browser or proxy may keep."""
    response.headers["Cache-Control"] = "no-store"
    return response


def N_(message: str) -> str:
    """Mark a message for translation where it is defined; it is translated where it is shown."""
    return message


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the serializer made once per set of keys.

    Flask makes it anew for every request, with or without a session cookie: on a
    page that needs no session that was a fair part of the request. And it signs
    with OpenSSL's HMAC in one call (tokens.FAST_SHA1): the same signatures.
    """

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        return self._serializer((*app.config["SECRET_KEY_FALLBACKS"], app.secret_key))

    @functools.lru_cache(maxsize=4)  # noqa: B019 (one interface per app; keys rarely change)
    def _serializer(self, keys: tuple[str | bytes, ...]) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(
            list(keys),
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={"key_derivation": self.key_derivation, **FAST_SHA1},
        )


#: A ticket's status as people read it.
STATUS_LABELS = {
    TicketStatus.OPEN: N_("Open"),
    TicketStatus.SHARED: N_("Shared"),
    TicketStatus.PERSONALISED: N_("Personalised"),
    TicketStatus.CANCELLED: N_("Cancelled"),
}


def status_labels() -> dict[str, str]:
    """Every status translated, once for a page that lists many tickets (with one catalog look-up)."""
    catalog = get_translations()
    return {status: catalog.ugettext(label) for status, label in STATUS_LABELS.items()}


def _portal_error(error: PortalError) -> tuple[str, int]:
    """A refused action or an unusable link: say what happened and how to go on."""
    from portal.consumer.forms import LostLinkForm

    db.session.rollback()
    context: dict[str, object] = {"error": error}
    if isinstance(error, LinkError):
        context["lost_link_form"] = LostLinkForm(formdata=None)
    elif request.endpoint and request.view_args and "token" in request.view_args:
        page = "consumer.ticket" if request.endpoint.startswith("consumer.ticket") else "consumer.overview"
        context["back_url"] = url_for(page, token=request.view_args["token"])
    return render_template("errors/portal.html", **context), error.status_code


def _csrf_error(error: CSRFError):
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
