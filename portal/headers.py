"""Security headers and the https redirect, with every header value worked out once at start-up.

These replace Flask-Talisman: for the same headers it rebuilt its options and the
policy strings on every request (about 0.25 ms, more than a whole bare Flask
request), and the settings here never change while the app runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, redirect, request
from werkzeug.datastructures import Headers

#: A year: browsers keep to HTTPS for this long after one HTTPS visit.
HSTS = "max-age=31556926; includeSubDomains"


def init_app(app: Flask) -> None:
    """Call before any middleware that rewrites the request's scheme (ProxyFix) wraps the app."""
    headers = {
        "Content-Security-Policy": app.config["CONTENT_SECURITY_POLICY"],
        # For browsers without CSP 2's frame-ancestors.
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        # Token URLs never travel to another site; "same-origin" (not "no-referrer") keeps
        # Flask-WTF's HTTPS Referer check working.
        "Referrer-Policy": "same-origin",
        "Permissions-Policy": "browsing-topics=()",
    }

    if app.config["FORCE_HTTPS"]:

        @app.before_request
        def _redirect_plain_http():
            # request.is_secure follows X-Forwarded-Proto only from TRUSTED_PROXIES (ProxyFix).
            if not request.is_secure and not app.debug:
                return redirect("https://" + request.url.split("://", 1)[1], code=302)
            return None

    app.wsgi_app = SecurityHeaders(app.wsgi_app, list(headers.items()))  # type: ignore[method-assign]


class SecurityHeaders:
    """WSGI middleware: the same headers on every response, added as the response starts.

    Added through werkzeug's Headers in an after_request hook, each value was checked for
    line breaks again on every request: about 6 % of the booker's overview. These are
    constants, checked by werkzeug once here. No page sets them itself.
    """

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]], headers: list[tuple[str, str]]) -> None:
        self.wsgi_app = wsgi_app
        self.headers = Headers(headers).to_wsgi_list()  # refuses a value that could split a header
        self.https_headers = [*self.headers, ("Strict-Transport-Security", HSTS)]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start_with_headers(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            # HSTS only over HTTPS, as the standard asks (a plain-http HSTS header is ignored);
            # the scheme is the one ProxyFix took from a trusted proxy, if any.
            secure = environ["wsgi.url_scheme"] == "https"
            response_headers.extend(self.https_headers if secure else self.headers)
            return start_response(status, response_headers, exc_info)

        return self.wsgi_app(environ, start_with_headers)
