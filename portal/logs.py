"""Keep link tokens out of every log: a token in a log line is a key anyone reading logs could use."""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

#: The token segment of the booker's (/o/…) and the recipient's (/t/…) URLs.
_TOKEN_IN_PATH = re.compile(r"(/[ot]/)[^/?#\s\"']+")


def redact(text: str) -> str:
    return _TOKEN_IN_PATH.sub(r"\1[token]", text)


class RedactTokens(logging.Filter):
    """Rewrites a record's message with its tokens replaced (used on the dev server's log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def _add_filter(logger: logging.Logger) -> None:
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())


def install_redaction(app: Any = None) -> None:
    """Redact the dev server's request log and, given the app, its own log (e.g. "Exception on /o/…")."""
    _add_filter(logging.getLogger("werkzeug"))
    if app is not None:
        _add_filter(app.logger)


class RedactingGunicornLogger(GunicornLogger):
    """gunicorn's logs with tokens removed: the access log's request line, path and referrer,
    and the error log (at debug level gunicorn writes every request's path there)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        _add_filter(self.error_log)

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "f", "{referer}i"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms
