"""Static files with fingerprinted URLs: cached for a year, yet never stale after a deploy."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from flask import Flask, Response, current_app, request, url_for

#: A fingerprinted file may be kept this long (it gets another URL when it changes).
FINGERPRINTED_MAX_AGE = 365 * 24 * 3600


def init_app(app: Flask) -> None:
    app.jinja_env.globals["static_url"] = static_url
    serve_static = app.view_functions["static"]

    # On the static files' own view rather than after every request of every page.
    @functools.wraps(serve_static)
    def serve_fingerprinted(**kwargs: str) -> Response:
        return _cache_fingerprinted(app.make_response(serve_static(**kwargs)))

    app.view_functions["static"] = serve_fingerprinted


def static_url(filename: str) -> str:
    """/static/<filename>?v=<hash of its content>, for templates.

    Worked out once per file and mount point: every page links the same few files,
    and building the URL cost as much as rendering a short page.
    """
    if current_app.debug:  # files change while developing
        return url_for("static", filename=filename, v=fingerprint(filename, _debug=True))
    known = current_app.extensions.setdefault("static_urls", {})
    key = (request.script_root, filename)
    url = known.get(key)
    if url is None:
        url = known[key] = url_for("static", filename=filename, v=fingerprint(filename))
    return url


def fingerprint(filename: str, *, _debug: bool = False) -> str:
    if _debug:  # files change while developing
        _fingerprint.cache_clear()
    return _fingerprint(str(Path(current_app.static_folder or "static") / filename))


@functools.cache
def _fingerprint(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def _cache_fingerprinted(response: Response) -> Response:
    """Let browsers keep a static file for a year when it was asked for by its current fingerprint."""
    if response.status_code != 200:
        return response
    version = request.args.get("v")
    filename = (request.view_args or {}).get("filename", "")
    try:
        current = fingerprint(filename)
    except OSError:
        return response
    if version == current:
        response.cache_control.public = True
        response.cache_control.max_age = FINGERPRINTED_MAX_AGE
        response.cache_control.immutable = True
        response.cache_control.no_cache = None
    return response
