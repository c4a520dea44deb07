"""Security headers and the https redirect, with every header value worked out once at start-up.

These replace Flask-Talisman: for the same headers it rebuilt its options and the
policy strings on every request (about 0.25 ms, more than a whole bare Flask
request), and the settings here never change while the app runs.
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

    if app.config["FORCE_HTTPS"]:

        @app.before_request
        def _redirect_plain_http():
            # request.is_secure follows X-Forwarded-Proto only from TRUSTED_PROXIES (ProxyFix).
            if not request.is_secure and not app.debug:
                return redirect("https://" + request.url.split("://", 1)[1], code=302)
            return None

    @app.after_request
    def _security_headers(response: Response) -> Response:
        # Added, not set: no page sets these itself, and set() looks through every header first.
        response.headers.extend(headers)
        if request.is_secure:
            # Sent only over HTTPS, as the standard asks (a plain-http HSTS header is ignored).
            response.headers["Strict-Transport-Security"] = HSTS
        return response
