"""The database connections: SQLite's settings, a check of pooled connections that sat idle,
and the engine for reads outside a transaction."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError

from portal.extensions import db

#: A pooled connection unused for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 1.0


def init_app(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    read_engine = engine
    if engine.dialect.name != "sqlite":
        read_engine = create_engine(
            engine.url,
            **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
            isolation_level="AUTOCOMMIT",
            # Nothing to roll back on a connection that is never in a transaction.
            pool_reset_on_return=None,
        )
        _ping_after_idle(read_engine)
    _ping_after_idle(engine)
    app.extensions["read_engine"] = read_engine


def dispose_engines() -> None:
    """Close every pooled connection of the current app (its engine and its read engine)."""
    db.engine.dispose()
    if read_engine() is not db.engine:
        read_engine().dispose()


def read_engine() -> Engine:
    """The engine for single SELECTs on the hottest pages: outside a transaction, one round trip each.

    On PostgreSQL a SELECT in a transaction of its own costs three (BEGIN, the SELECT, and
    the ROLLBACK when the pool takes the connection back), and the ROLLBACK makes psycopg
    forget the statements it had prepared on the server; this engine's connections are in
    autocommit. SQLite's driver opens no transaction for a SELECT: there it is the app's engine.
    A read that must see the request's own uncommitted changes goes through db.session.
    """
    return current_app.extensions["read_engine"]


def _ping_after_idle(engine: Engine) -> None:
    """SQLAlchemy's pool_pre_ping, for connections that sat idle in the pool only.

    A connection can go stale while idle (a database restart or fail-over, a proxy's
    idle timeout); one in steady use is known good. Pinging on every checkout cost
    PostgreSQL a round trip per request, as much as the booker's overview itself.
    A failed ping makes the pool connect anew (DisconnectionError).
    """

    @event.listens_for(engine.pool, "checkin")
    def note_idle_since(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # whatever the driver raises, the connection is unusable
            raise DisconnectionError("a pooled connection failed its ping") from error


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """Enforce foreign keys and let readers work while one writer writes (SQLite only)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL never corrupts the database; it skips an fsync per commit.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
