"""Which language a page is in: the visitor's choice, else their browser's, else the shop's."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from babel import Locale
from babel.support import Translations
from flask import Flask, abort, current_app, g, has_request_context, redirect, request
from flask_babel import get_translations
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from portal.redirects import local_path

#: Each language named in itself, as the switcher shows it (never translated).
LANGUAGE_NAMES = {"en": "English", "nl": "Nederlands"}
#: The chosen language is kept for a year.
COOKIE_MAX_AGE = 365 * 24 * 3600


def select_locale() -> Locale:
    return _locale(_language())


def _language() -> str:
    config = current_app.config
    if not has_request_context():
        return config["BABEL_DEFAULT_LOCALE"]
    languages = config["LANGUAGES"]
    environ = request.environ
    # Someone who follows a link from an email usually has no cookie yet: nothing to parse.
    chosen = request.cookies.get("lang") if "HTTP_COOKIE" in environ else None
    if chosen in languages:
        return chosen
    browser = _browser_language(environ.get("HTTP_ACCEPT_LANGUAGE", ""), tuple(languages))
    if browser:
        return browser
    return g.get("shop_language") or config["BABEL_DEFAULT_LOCALE"]


@functools.lru_cache(maxsize=512)
def _browser_language(accept_language: str, languages: tuple[str, ...]) -> str | None:
    """The best of our languages for an Accept-Language header.

    Remembered per header: browsers send few distinct ones, and parsing and matching
    one cost more than the rest of choosing the language.
    """
    return parse_accept_header(accept_language, LanguageAccept).best_match(languages)


@functools.cache
def _locale(code: str) -> Locale:
    # Parsed once per language: Flask-Babel would parse the code again on every request.
    return Locale.parse(code)


def init_app(app: Flask) -> None:
    """Call after Flask-Babel's init_app: the templates' gettext functions here replace its own."""
    app.add_url_rule("/language/<code>", "choose_language", choose_language, methods=["GET"])
    app.jinja_env.globals["language_names"] = LANGUAGE_NAMES
    # Flask-Babel's template functions look up the language and its catalog for every string
    # (about 10 µs each, dozens per page), and as context functions they copy the template's
    # context for every call made in a loop. A page gets functions bound to its catalog,
    # looked up once per rendering (under force_locale too: mails render in the shop's language).
    app.context_processor(lambda: gettext_functions(get_translations()))
    # Macros imported without context see only the globals: those look the catalog up per call.
    app.jinja_env.globals.update(gettext_functions(None))


def gettext_functions(catalog: Translations | None) -> dict[str, object]:
    """`_`, `gettext` and `ngettext` for templates, as Jinja's i18n extension makes them (newstyle).

    With a catalog they translate with it; with None, with the current one at each call.
    Like Jinja's own: the result is Markup where the template autoescapes, and it is always
    formatted with the keyword arguments (so a literal percent sign is written %%).
    """

    def page_catalog() -> Translations:
        return get_translations() if catalog is None else catalog

    @pass_eval_context
    def gettext(eval_context: EvalContext, string: str, **variables: object) -> str:
        translated = page_catalog().ugettext(string)
        return (Markup(translated) if eval_context.autoescape else translated) % variables

    @pass_eval_context
    def ngettext(eval_context: EvalContext, singular: str, plural: str, count: int, /, **variables: object) -> str:
        # Positional-only, as in Jinja's own: a template may pass num= itself (a formatted number).
        translated = page_catalog().ungettext(singular, plural, count)
        variables.setdefault("num", count)
        return (Markup(translated) if eval_context.autoescape else translated) % variables

    return {"_": gettext, "gettext": gettext, "ngettext": ngettext}


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
