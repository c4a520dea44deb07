"""Security headers on every response, the https redirect, and no-store for pages of personal data.

A plain after_request hook, not Flask-Talisman: the headers are five constants that
need no library, and Talisman has had no release since 2023. Each header has a test
(tests/test_headers.py).
"""

from __future__ import annotations

from flask import Flask, Response, redirect, request

#: A year: browsers keep to HTTPS for this long after one HTTPS visit.
HSTS = "max-age=31556926; includeSubDomains"


def init_app(app: Flask) -> None:
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

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)  # a view that needs another policy sets its own
        # HSTS only over HTTPS, as the standard asks; the scheme is the one ProxyFix took from a trusted proxy.
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = HSTS
        return response

    if app.config["FORCE_HTTPS"]:

        @app.before_request
        def _redirect_plain_http():
            # request.is_secure follows X-Forwarded-Proto only from TRUSTED_PROXIES (ProxyFix).
            if not request.is_secure and not app.debug:
                return redirect("https://" + request.url.split("://", 1)[1], code=302)
            return None


def never_cache(response: Response) -> Response:
    """An after_request hook: pages of personal data (and health checks) that no browser or proxy may keep."""
    response.headers["Cache-Control"] = "no-store"
    return response
