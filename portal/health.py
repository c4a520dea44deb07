"""The load balancer's health check: is this app server up, and does it reach its database?

    GET /healthz  ->  200 "ok", or 503 "database unavailable"

A load balancer sends traffic only to app servers that answer 200 (docs/deploy.md).
It asks every few seconds, so the check is one SELECT, sets no cookie and is never cached.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from sqlalchemy import literal_column, select
from sqlalchemy.exc import SQLAlchemyError

from portal.extensions import db
from portal.headers import never_cache

bp = Blueprint("health", __name__)
bp.after_request(never_cache)  # a cached answer would hide a server that lost its database


@bp.get("/healthz")
def healthz() -> Response:
    try:
        db.session.execute(select(literal_column("1")))
    except SQLAlchemyError as error:
        current_app.logger.warning("health check: the database did not answer: %s", error)
        db.session.rollback()
        return _plain("database unavailable\n", 503)
    return _plain("ok\n", 200)


def _plain(text: str, status: int) -> Response:
    return Response(text, status=status, mimetype="text/plain")
