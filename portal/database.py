"""SQLite's settings, applied to every connection the app opens."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event

from portal.extensions import db


def init_app(app: Flask) -> None:
    """Call after db.init_app: on SQLite, every new connection gets the settings below."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """Enforce foreign keys and let readers work while one writer writes."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL never corrupts the database; it skips an fsync per commit.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
