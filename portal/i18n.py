"""Which language a page is in: the visitor's choice, else their browser's, else the shop's."""

from flask import current_app, g, has_request_context, request


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
