"""Which language a page is in: the visitor's choice, else their browser's, else the shop's."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, has_request_context, redirect, request

from portal.redirects import local_path

#: Each language named in itself, as the switcher shows it (never translated).
LANGUAGE_NAMES = {"en": "English", "nl": "Nederlands"}
#: The chosen language is kept for a year.
COOKIE_MAX_AGE = 365 * 24 * 3600


def select_locale() -> str | None:
    """Flask-Babel's locale selector: the switcher's cookie, else the browser's language, else the shop's.

    None (Flask-Babel's default language) outside a request: the command line.
    """
    if not has_request_context():
        return None
    languages = current_app.config["LANGUAGES"]
    chosen = request.cookies.get("lang")
    if chosen in languages:
        return chosen
    return (
        request.accept_languages.best_match(languages)
        or g.get("shop_language")
        or current_app.config["BABEL_DEFAULT_LOCALE"]
    )


def init_app(app: Flask) -> None:
    app.add_url_rule("/language/<code>", "choose_language", choose_language, methods=["GET"])
    app.jinja_env.globals["language_names"] = LANGUAGE_NAMES


def choose_language(code: str):
    """The switcher's links: keep the choice in a cookie and go back to the page. Changes no data."""
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    response = redirect(_page_before(), code=303)
    response.set_cookie(
        "lang", code, max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=True, secure=request.is_secure
    )
    return response


def _page_before() -> str:
    """The same-site page the switcher was clicked on (from the Referer), else the home page.

    The Referer, not a ?next= parameter: the page's address may hold a link token, and a token
    must not be copied into another URL.
    """
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.scheme in {"http", "https"}:
        return local_path(referrer.path + (f"?{referrer.query}" if referrer.query else "")) or "/"
    return "/"
