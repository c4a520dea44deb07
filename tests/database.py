"""Watching what the app asks the database: to count statements (no query per ticket, the same work either way)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from portal.extensions import db


@contextmanager
def counting_statements(app) -> Iterator[list[str]]:
    """The SQL statements the app sends while the block runs, in order."""
    statements: list[str] = []

    def note(connection, cursor, statement, *args) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", note)
