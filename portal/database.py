"""The database connections: SQLite's settings, and the engine for the booker's overview read."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Engine, create_engine, event

from portal import driver
from portal.extensions import db


def init_app(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        # An in-memory database lives on its one connection: reads must share the app's engine.
        app.extensions["read_engine"] = engine
        return
    # No ping on checkout (a round trip per request on PostgreSQL): driver.read tries again on
    # a new connection when the one it was given turns out dead.
    # Nothing to roll back when the pool takes a connection back: it only ever ran a SELECT
    # outside a transaction (SQLite's driver opens none for a SELECT; PostgreSQL's is in autocommit).
    options: dict[str, Any] = {
        **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
        "pool_pre_ping": False,
        "pool_reset_on_return": None,
    }
    if engine.dialect.name != "sqlite":
        options["isolation_level"] = "AUTOCOMMIT"
    app.extensions["read_engine"] = create_engine(engine.url, **options)


def read_engine() -> Engine:
    """The engine for the single SELECT of the hottest page: outside a transaction, one round trip.

    On PostgreSQL a SELECT in a transaction of its own costs four (the pool's ping, BEGIN,
    the SELECT, and the ROLLBACK when the pool takes the connection back), and the ROLLBACK
    makes psycopg forget the statements it had prepared on the server. This engine's
    connections are in autocommit and are not pinged; it has its own pool, so the app's
    engine keeps pinging its connections before every use. A read that must see the
    request's own uncommitted changes goes through db.session instead.
    """
    return current_app.extensions["read_engine"]


def dispose_engines() -> None:
    """Close every pooled connection of the current app (its engine and its read engine)."""
    db.engine.dispose()
    if read_engine() is not db.engine:
        read_engine().dispose()


@contextmanager
def observed_statements(app: Flask, callback: Callable[[str], None]) -> Iterator[None]:
    """Call `callback(sql)` for every statement the app sends while the block runs (to count them).

    Through SQLAlchemy on both engines, and on the DB-API cursor (portal.driver), which
    SQLAlchemy's events do not see.
    """

    def before_cursor_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        callback(statement)

    with app.app_context():
        engines = {db.engine, read_engine()}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        with driver.observed(callback):
            yield
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", before_cursor_execute)


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
