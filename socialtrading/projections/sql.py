"""Statements the read models share: upserts, bulk executemany from tuples, chunked `IN`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Executable, Row, Select, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement
from sqlalchemy.types import TypeDecorator

__all__ = ["IN_CHUNK", "Bulk", "bulk_insert", "bulk_upsert", "chunks", "rows_in", "upsert"]

T = TypeVar("T")

# Most values in one `IN (...)`: below SQLite's and PostgreSQL's parameter limits.
IN_CHUNK = 5_000


def upsert(
    connection: Connection, table: Table, rows: list[dict[str, Any]], keys: Sequence[str]
) -> None:
    """Insert rows, replacing the non-key columns of rows whose keys exist."""
    if not rows:
        return
    dialect = connection.dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    columns = [c for c in rows[0] if c not in keys]
    statement = insert.on_conflict_do_update(
        index_elements=list(keys), set_={c: insert.excluded[c] for c in columns}
    )
    connection.execute(statement, rows)


def rows_in(
    connection: Connection,
    statement: Select[Any],
    column: ColumnElement[Any],
    values: Iterable[str],
) -> Iterator[Row[Any]]:
    """The rows of `statement` whose `column` is one of `values`: one `IN (...)` per chunk of
    the sorted values (an ORDER BY in `statement` orders within each chunk)."""
    for part in chunks(sorted(set(values))):
        yield from connection.execute(statement.where(column.in_(part)))


def chunks(values: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """`values` in slices of at most `size`."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


_POSITIONAL: dict[str, Dialect] = {
    "sqlite": sqlite.dialect(paramstyle="qmark"),
    "postgresql": postgresql.psycopg.dialect(paramstyle="format"),  # type: ignore[no-untyped-call]
}


class Bulk:
    """A statement run for many rows given as plain tuples, straight to the driver.

    Compiled once per dialect with positional parameters, in the order `names` gives
    (checked), it takes tuples. Values go to the driver as they are (integers, strings,
    booleans, None), but those of the project's own column types (`TypeDecorator`s such as
    `BigIntText`), which their bind processor converts.
    """

    def __init__(
        self, statement: Executable | Callable[[str], Executable], names: Sequence[str]
    ) -> None:
        self.statement = statement  # or a function of the dialect's name making it
        self.names = tuple(names)
        self._sql: dict[str, str] = {}
        # per dialect: (position, bind processor) of the parameters to convert
        self._convert: dict[str, list[tuple[int, Callable[[Any], Any]]]] = {}

    def sql(self, dialect: str) -> str:
        """The statement's SQL for `dialect` (sqlite or postgresql)."""
        text = self._sql.get(dialect)
        if text is None:
            statement = self.statement(dialect) if callable(self.statement) else self.statement
            assert isinstance(statement, ClauseElement)
            compiled = statement.compile(dialect=_POSITIONAL[dialect])
            assert isinstance(compiled, SQLCompiler)
            if tuple(compiled.positiontup or ()) != self.names:
                raise ValueError(f"parameters are {compiled.positiontup}, not {self.names}")
            convert: list[tuple[int, Callable[[Any], Any]]] = []
            for at, name in enumerate(self.names):
                kind = compiled.binds[name].type
                if isinstance(kind, TypeDecorator):
                    processor = kind.bind_processor(compiled.dialect)
                    if processor is not None:
                        convert.append((at, processor))
            self._convert[dialect] = convert
            text = self._sql[dialect] = str(compiled)
        return text

    def run(self, connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Execute the statement once per row (one executemany)."""
        if rows:
            dialect = connection.dialect.name
            sql = self.sql(dialect)
            convert = self._convert[dialect]
            if convert:
                rows = [_converted(row, convert) for row in rows]
            connection.exec_driver_sql(sql, list(rows))


def _converted(
    row: tuple[Any, ...], convert: list[tuple[int, Callable[[Any], Any]]]
) -> tuple[Any, ...]:
    values = list(row)
    for at, processor in convert:
        values[at] = processor(values[at])
    return tuple(values)


def bulk_insert(table: Table) -> Bulk:
    """A `Bulk` insert of every column of `table`, rows given in column order."""
    return Bulk(table.insert(), [column.name for column in table.columns])


def bulk_upsert(table: Table, keys: Sequence[str]) -> Bulk:
    """A `Bulk` insert of every column of `table` that replaces the rows whose keys exist."""
    names = [column.name for column in table.columns]

    def statement(dialect: str) -> Executable:
        insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        return insert.on_conflict_do_update(
            index_elements=list(keys),
            set_={name: insert.excluded[name] for name in names if name not in keys},
        )

    return Bulk(statement, names)
