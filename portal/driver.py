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

from sqlalchemy import Connection, Dialect, Engine, Executable, Table, bindparam, insert, text


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
    processed = []
    for row in rows:
        values = list(row)
        for index, processor in converted:
            values[index] = processor(values[index])
        processed.append(values)
    return processed


@dataclass(frozen=True)
class _InsertPlan:
    sql: str
    #: On PostgreSQL, the same rows as a COPY: one stream, no statement per row.
    copy_sql: str | None
    #: The columns' names, in the order the statement takes their values.
    order: tuple[str, ...]
    #: The Python-side defaults of the columns the rows leave out: (is a function, the value or function).
    defaults: tuple[tuple[bool, Any], ...]
    #: Where each value of `order` is in a row's values followed by its defaults' values.
    permutation: tuple[int, ...] | None
    #: (index in `order`, the column type's bind processor), for the columns that have one.
    converted: tuple[tuple[int, Callable[[Any], Any]], ...]


@functools.cache
def _insert_plan(dialect: Dialect, table: Table, names: tuple[str, ...]) -> _InsertPlan:
    defaulted = [column for column in table.columns if column.name not in names and column.default is not None]
    for column in defaulted:
        if not (column.default.is_scalar or column.default.is_callable):
            raise TypeError(f"insert_many cannot fill in {column}: its default is neither a value nor a function")
    given = [*names, *(column.name for column in defaulted)]
    compiled = insert(table).values({name: bindparam(name, type_=table.c[name].type) for name in given}).compile(
        dialect=dialect
    )
    order = tuple(compiled.positiontup) if compiled.positional else tuple(given)
    if sorted(order) != sorted(given):
        raise TypeError(f"insert_many: the statement does not take one value per column: {compiled}")
    permutation = tuple(given.index(name) for name in order)
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in order]
    quote = dialect.identifier_preparer.quote
    copy_sql = f"COPY {dialect.identifier_preparer.format_table(table)} ({', '.join(map(quote, order))}) FROM STDIN"
    return _InsertPlan(
        sql=str(compiled),
        copy_sql=copy_sql if dialect.name == "postgresql" else None,
        order=order,
        defaults=tuple((column.default.is_callable, column.default.arg) for column in defaulted),
        permutation=None if permutation == tuple(range(len(order))) else permutation,
        converted=tuple((index, processor) for index, processor in enumerate(processors) if processor is not None),
    )


def insert_many(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """What `connection.execute(insert(table), rows)` writes, in one executemany on the DB-API cursor
    (on PostgreSQL, one COPY).

    For the bulk INSERTs of an import, where SQLAlchemy's work per row (its parameters,
    defaults and type conversions, column by column) cost as much as the database's,
    and on PostgreSQL so did psycopg's for a statement per row.
    The rows are dicts with the same keys. A column they leave out gets its Python-side
    default as Core gives it: a value, or a function called for each row (without an
    execution context). Each value goes through its column type's bind processor, once
    per distinct object: a timestamp that a chunk's rows share is converted once.
    """
    if not rows:
        return
    names = tuple(rows[0])
    plan = _insert_plan(connection.dialect, table, names)
    defaults, permutation, converted = plan.defaults, plan.permutation, plan.converted
    positional = connection.dialect.positional
    last: dict[int, tuple[Any, Any]] = {}
    params = []
    for row in rows:
        values = [row[name] for name in names]
        values.extend(default(None) if is_callable else default for is_callable, default in defaults)
        if permutation is not None:
            values = [values[index] for index in permutation]
        for index, processor in converted:
            raw = values[index]
            previous = last.get(index)
            if previous is None or previous[0] is not raw:
                previous = last[index] = (raw, processor(raw))
            values[index] = previous[1]
        params.append(values if positional or plan.copy_sql else dict(zip(plan.order, values)))
    for observer in _observers:
        observer(plan.copy_sql or plan.sql)
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        if plan.copy_sql:
            with cursor.copy(plan.copy_sql) as copy:
                for values in params:
                    copy.write_row(values)
        else:
            cursor.executemany(plan.sql, params)
    finally:
        cursor.close()


def insert_with_ids(connection: Connection, table: Table, rows: Sequence[dict[str, Any]], *, key: str) -> dict[Any, int]:
    """INSERT rows into a table whose primary key is a generated integer "id"; the new ids by each row's `key`.

    On PostgreSQL the ids are drawn from the column's sequence first and the rows go in by
    COPY (insert_many); elsewhere by one INSERT … RETURNING, whose rows come back in no set
    order (asking SQLite for one costs a statement per row): hence a unique key to match them.
    """
    if not rows:
        return {}
    if connection.dialect.name == "postgresql":
        drawn = connection.execute(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"),
            {"table": connection.dialect.identifier_preparer.format_table(table), "count": len(rows)},
        )
        ids = sorted(drawn.scalars())  # in the rows' order, as a sequence of INSERTs would give them
        insert_many(connection, table, [{**row, "id": new_id} for row, new_id in zip(rows, ids, strict=True)])
        return {row[key]: new_id for row, new_id in zip(rows, ids, strict=True)}
    returned = connection.execute(insert(table).returning(table.c.id, table.c[key]), rows)
    return {row_key: new_id for new_id, row_key in returned}


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
