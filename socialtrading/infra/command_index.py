"""Two tables beside the event log that the writer keeps in each batch's transaction.

- `exchange_commands`: what every remembered command did, keyed by (actor, command_id). A
  repeated command is answered from here, so the writer keeps no per-command memory and a
  repeat after a restart gets the first outcome without a pass over the log. A market
  command's row points at the market event its outcome is read from (`market_id`,
  `market_version`); any other command's row holds its outcome's few fields.
- `exchange_aggregates`: every account and market, in the order they were created, so a
  start-up loads them (snapshots plus later events) without reading the log to find them.

Both are derived from the log: a store written before they existed gets them filled from
one pass over its log when they are created (`Exchange.open_index`). Rows are written in the
same transaction as the batch's events, so they never disagree with the log.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple
from uuid import UUID

import psycopg
from psycopg import sql

COMMANDS = "exchange_commands"
AGGREGATES = "exchange_aggregates"
ACCOUNT = "account"
MARKET = "market"

# keys per lookup statement: SQLite binds two variables per key (its limit is 32,766)
_LOOKUP_CHUNK = 500


class CommandRow(NamedTuple):
    """One remembered command: what a repeat of (actor, command_id) gets."""

    actor: UUID
    command_id: str
    accepted: bool
    stored: bool  # False: refused before anything was stored
    code: str | None = None
    message: str | None = None
    account_id: UUID | None = None
    market: str | None = None
    market_id: UUID | None = None  # a market command: its outcome is this market event's
    market_version: int | None = None


class Created(NamedTuple):
    """An aggregate the batch created: its id and kind (ACCOUNT or MARKET)."""

    id: UUID
    kind: str


_COLUMNS = CommandRow._fields
_UUID_COLUMNS = frozenset({"actor", "account_id", "market_id"})


# ---------------------------------------------------------------------- SQLite

_SQLITE_TABLES = (
    f"""CREATE TABLE {COMMANDS} (
        actor BLOB NOT NULL,
        command_id TEXT NOT NULL,
        accepted INTEGER NOT NULL,
        stored INTEGER NOT NULL,
        code TEXT,
        message TEXT,
        account_id BLOB,
        market TEXT,
        market_id BLOB,
        market_version INTEGER,
        PRIMARY KEY (actor, command_id)
    ) WITHOUT ROWID""",
    f"""CREATE TABLE {AGGREGATES} (
        seq INTEGER PRIMARY KEY,
        id BLOB NOT NULL UNIQUE,
        kind TEXT NOT NULL
    )""",
)
_SQLITE_INSERT_COMMAND = (
    f"INSERT INTO {COMMANDS} ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
)
_SQLITE_INSERT_AGGREGATE = f"INSERT INTO {AGGREGATES} (id, kind) VALUES (?, ?)"


def _blob(value: UUID | None) -> bytes | None:
    return None if value is None else value.bytes


def sqlite_exists(cursor: sqlite3.Cursor | Any) -> bool:
    """Whether the tables are there."""
    cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (COMMANDS,))
    return cursor.fetchone() is not None


def sqlite_create(cursor: sqlite3.Cursor | Any) -> None:
    """Create the tables (inside the caller's transaction)."""
    for statement in _SQLITE_TABLES:
        cursor.execute(statement)


def sqlite_write(
    cursor: sqlite3.Cursor | Any, commands: Sequence[CommandRow], created: Sequence[Created]
) -> None:
    """Insert a batch's rows (inside the caller's transaction)."""
    if commands:
        cursor.executemany(
            _SQLITE_INSERT_COMMAND,
            [
                (
                    row.actor.bytes,
                    row.command_id,
                    row.accepted,
                    row.stored,
                    row.code,
                    row.message,
                    _blob(row.account_id),
                    row.market,
                    _blob(row.market_id),
                    row.market_version,
                )
                for row in commands
            ],
        )
    if created:
        cursor.executemany(_SQLITE_INSERT_AGGREGATE, [(c.id.bytes, c.kind) for c in created])


def sqlite_find(cursor: sqlite3.Cursor | Any, keys: Sequence[tuple[UUID, str]]) -> list[CommandRow]:
    """The rows of those (actor, command_id) keys that are remembered."""
    found: list[CommandRow] = []
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        chunk = keys[start : start + _LOOKUP_CHUNK]
        values = ", ".join(["(?, ?)"] * len(chunk))
        cursor.execute(
            f"WITH wanted (actor, command_id) AS (VALUES {values}) "
            f"SELECT {', '.join('c.' + c for c in _COLUMNS)} "
            f"FROM wanted JOIN {COMMANDS} AS c USING (actor, command_id)",
            [part for actor, command_id in chunk for part in (actor.bytes, command_id)],
        )
        found.extend(_sqlite_row(row) for row in cursor.fetchall())
    return found


def sqlite_all(cursor: sqlite3.Cursor | Any) -> list[CommandRow]:
    """Every remembered command (audits and tests; the writer never needs them all)."""
    cursor.execute(f"SELECT {', '.join(_COLUMNS)} FROM {COMMANDS}")
    return [_sqlite_row(row) for row in cursor.fetchall()]


def sqlite_aggregates(cursor: sqlite3.Cursor | Any) -> list[Created]:
    """Every account and market, in the order created."""
    cursor.execute(f"SELECT id, kind FROM {AGGREGATES} ORDER BY seq")
    return [Created(UUID(bytes=bytes(id_)), kind) for id_, kind in cursor.fetchall()]


def _sqlite_row(row: Sequence[Any]) -> CommandRow:
    values = dict(zip(_COLUMNS, row, strict=True))
    for name in _UUID_COLUMNS:
        if values[name] is not None:
            values[name] = UUID(bytes=bytes(values[name]))
    values["accepted"] = bool(values["accepted"])
    values["stored"] = bool(values["stored"])
    return CommandRow(**values)


# ---------------------------------------------------------------------- PostgreSQL


def _pg_tables(schema: str) -> list[sql.Composed]:
    commands = sql.Identifier(schema, COMMANDS)
    aggregates = sql.Identifier(schema, AGGREGATES)
    return [
        sql.SQL(
            """CREATE TABLE {} (
            actor uuid NOT NULL,
            command_id text NOT NULL,
            accepted boolean NOT NULL,
            stored boolean NOT NULL,
            code text,
            message text,
            account_id uuid,
            market text,
            market_id uuid,
            market_version bigint,
            PRIMARY KEY (actor, command_id)
        )"""
        ).format(commands),
        sql.SQL(
            """CREATE TABLE {} (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id uuid NOT NULL UNIQUE,
            kind text NOT NULL
        )"""
        ).format(aggregates),
    ]


_PG_TYPES = ["uuid", "text", "bool", "bool", "text", "text", "uuid", "text", "uuid", "int8"]


def pg_exists(cursor: psycopg.Cursor[Any], schema: str) -> bool:
    """Whether the tables are there."""
    name = f"{schema}.{COMMANDS}"
    row = cursor.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (name,)).fetchone()
    return bool(row and row["found"])


def pg_create(cursor: psycopg.Cursor[Any], schema: str) -> None:
    """Create the tables (inside the caller's transaction)."""
    for statement in _pg_tables(schema):
        cursor.execute(statement)


def pg_write(
    cursor: psycopg.Cursor[Any],
    schema: str,
    commands: Sequence[CommandRow],
    created: Sequence[Created],
) -> None:
    """COPY a batch's rows (inside the caller's transaction)."""
    if commands:
        copy_commands = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(schema, COMMANDS), sql.SQL(", ").join(map(sql.Identifier, _COLUMNS))
        )
        with cursor.copy(copy_commands) as copy:
            copy.set_types(_PG_TYPES)
            for row in commands:
                copy.write_row(row)
    if created:
        copy_created = sql.SQL("COPY {} (id, kind) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(schema, AGGREGATES)
        )
        with cursor.copy(copy_created) as copy:
            copy.set_types(["uuid", "text"])
            for aggregate in created:
                copy.write_row(aggregate)


def pg_find(
    cursor: psycopg.Cursor[Any], schema: str, keys: Sequence[tuple[UUID, str]]
) -> list[CommandRow]:
    """The rows of those (actor, command_id) keys that are remembered.

    One index probe per key (LATERAL ... LIMIT 1): a plain join lets the planner hash the
    whole table when it is small next to the batch, a cost that grows with the table. The
    keys go as binary arrays (`%b`): in text, formatting and parsing them cost more than the
    probes.
    """
    if not keys:
        return []
    statement = sql.SQL(
        "SELECT {} FROM unnest(%b::uuid[], %b::text[]) AS wanted (actor, command_id) "
        "CROSS JOIN LATERAL (SELECT * FROM {} AS c WHERE c.actor = wanted.actor "
        "AND c.command_id = wanted.command_id LIMIT 1) AS c"
    ).format(
        sql.SQL(", ").join(sql.Identifier("c", column) for column in _COLUMNS),
        sql.Identifier(schema, COMMANDS),
    )
    actors = [actor for actor, _ in keys]
    command_ids = [command_id for _, command_id in keys]
    rows = cursor.execute(statement, (actors, command_ids)).fetchall()
    return [CommandRow(**row) for row in rows]


def pg_all(cursor: psycopg.Cursor[Any], schema: str) -> list[CommandRow]:
    """Every remembered command (audits and tests)."""
    statement = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)), sql.Identifier(schema, COMMANDS)
    )
    return [CommandRow(**row) for row in cursor.execute(statement).fetchall()]


def pg_aggregates(cursor: psycopg.Cursor[Any], schema: str) -> list[Created]:
    """Every account and market, in the order created."""
    statement = sql.SQL("SELECT id, kind FROM {} ORDER BY seq").format(
        sql.Identifier(schema, AGGREGATES)
    )
    return [Created(row["id"], row["kind"]) for row in cursor.execute(statement).fetchall()]


def keys_of(rows: Iterable[CommandRow]) -> dict[tuple[UUID, str], CommandRow]:
    """The rows by their (actor, command_id)."""
    return {(row.actor, row.command_id): row for row in rows}
