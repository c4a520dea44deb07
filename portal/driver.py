"""Core statements run straight on the DB-API cursor, for the hottest paths only.

Executing through SQLAlchemy (cache key, execution context, result objects) cost
more CPU on the booker's overview and the outbox sender than the database spent
on their statements. Here a statement is still written with SQLAlchemy Core, but
compiled once per dialect; its parameters go to the driver as they are (plain
ints and strings that need no conversion) and its rows come back through the
selected columns' own result processors, so they hold what Core would return.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Engine, Executable


@dataclass(frozen=True)
class _Compiled:
    sql: str
    #: The parameters' order for a positional paramstyle (SQLite's "?"), else None (named).
    positions: tuple[str, ...] | None
    #: (column index, the function that makes the driver's value Core's), for the columns that need one.
    converted: tuple[tuple[int, Callable[[Any], Any]], ...]


@functools.cache
def _compile(dialect: Dialect, statement: Executable) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    columns = getattr(statement, "selected_columns", ())
    processors = [column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns]
    return _Compiled(
        sql=str(compiled),
        positions=tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None,
        converted=tuple((index, processor) for index, processor in enumerate(processors) if processor is not None),
    )


#: Called with each statement's SQL: SQLAlchemy's engine events do not see these statements.
_observers: list[Callable[[str], None]] = []


@contextmanager
def observed(callback: Callable[[str], None]) -> Iterator[None]:
    """Call `callback(sql)` for every statement run on the driver while the block runs (to count them)."""
    _observers.append(callback)
    try:
        yield
    finally:
        _observers.remove(callback)


def _run(cursor: Any, compiled: _Compiled, params: dict[str, Any]) -> None:
    for observer in _observers:
        observer(compiled.sql)
    if compiled.positions is None:
        cursor.execute(compiled.sql, params)
    else:
        cursor.execute(compiled.sql, tuple(params[name] for name in compiled.positions))


def execute(dbapi_connection: Any, dialect: Dialect, statement: Executable, params: dict[str, Any]) -> None:
    """Run a statement that returns no rows."""
    cursor = dbapi_connection.cursor()
    try:
        _run(cursor, _compile(dialect, statement), params)
    finally:
        cursor.close()


def fetch_all(
    dbapi_connection: Any, dialect: Dialect, statement: Executable, params: dict[str, Any]
) -> list[Sequence[Any]]:
    """Run a SELECT; its rows (sequences in the order of its selected columns) with Core's values."""
    compiled = _compile(dialect, statement)
    cursor = dbapi_connection.cursor()
    try:
        _run(cursor, compiled, params)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    converted = compiled.converted
    if not converted:
        return rows
    # A joined parent's columns repeat one value on every row: each is converted again only when it changes.
    last: dict[int, tuple[Any, Any]] = {}
    processed = []
    for row in rows:
        values = list(row)
        for index, processor in converted:
            raw = values[index]
            previous = last.get(index)
            if previous is None or previous[0] != raw:
                previous = last[index] = (raw, processor(raw))
            values[index] = previous[1]
        processed.append(values)
    return processed


def read(engine: Engine, statement: Executable, params: dict[str, Any]) -> list[Sequence[Any]]:
    """fetch_all on a connection of the engine's pool (see database.read_engine).

    A read can safely run again: if the connection turns out dead (the database restarted
    or failed over since it was last used), the pool's connections are dropped and the
    read runs once more on a new one, so that costs no request an error.
    """
    retries = 1
    while True:
        connection = engine.raw_connection()
        try:
            return fetch_all(connection, engine.dialect, statement, params)
        except engine.dialect.loaded_dbapi.Error as error:
            if not retries or not engine.dialect.is_disconnect(error, connection.dbapi_connection, None):
                raise
            connection.invalidate(error)
        finally:
            connection.close()
        retries -= 1
        engine.dispose()  # the pool's other connections went with the same restart
