"""Which language a page is in: the visitor's choice, else their browser's, else the shop's."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, has_request_context, redirect, request
from flask_babel import get_translations
from jinja2 import pass_context
from jinja2.runtime import Context

#: Each language named in itself, as the switcher shows it (never translated).
LANGUAGE_NAMES = {"en": "English", "nl": "Nederlands"}
#: The chosen language is kept for a year.
COOKIE_MAX_AGE = 365 * 24 * 3600


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = request.cookies.get("lang")
    if chosen in languages:
        return chosen
    browser = request.accept_languages.best_match(languages)
    if browser:
        return browser
    return g.get("shop_language") or current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app: Flask) -> None:
    """Call after Flask-Babel's init_app: the templates' gettext functions here replace its own."""
    app.add_url_rule("/language/<code>", "choose_language", choose_language, methods=["GET"])
    app.jinja_env.globals["language_names"] = LANGUAGE_NAMES
    # Flask-Babel's template functions look up the language and its catalog for every
    # string (about 10 µs each, dozens per page); these look them up once per rendering.
    app.context_processor(lambda: {PAGE_CATALOG: get_translations()})
    app.jinja_env.install_gettext_callables(
        gettext=_template_gettext, ngettext=_template_ngettext, newstyle=True
    )


#: The template context's name for the catalog of the language a template is rendered in.
PAGE_CATALOG = "_page_catalog"


def _catalog(context: Context):
    # Macros imported without context have no catalog of their own: they look it up.
    catalog = context.get(PAGE_CATALOG)
    return get_translations() if catalog is None else catalog


@pass_context
def _template_gettext(context: Context, string: str) -> str:
    return _catalog(context).ugettext(string)


@pass_context
def _template_ngettext(context: Context, singular: str, plural: str, number: int) -> str:
    return _catalog(context).ungettext(singular, plural, number)


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
    if referrer.netloc == request.host and referrer.scheme in {"http", "https"} and referrer.path.startswith("/"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return "/"
