"""Two tables beside the event log that the writer keeps in each batch's transaction.

- `<app>_commands`: what every remembered command did, keyed by (actor, command_id). A
  repeated command is answered from here, so the writer keeps no per-command memory and a
  repeat after a restart gets the first outcome without a pass over the log. A market
  command's row points at the market event its outcome is read from (`market_id`,
  `market_version`); any other command's row holds its outcome's few fields.
- `<app>_aggregates`: every aggregate (accounts, markets, copies, the social kinds and
  alerts), in the order they were created, so a start-up loads the accounts, markets and
  copies (snapshots plus later events) without reading the log to find them; a partial
  index over those kinds keeps that read as short as they are, however many posts and
  likes the table lists.

`<app>` is the application's name, which also names its event table on PostgreSQL: each
application (each shard, later) has its own. Both tables are derived from the log: a store
written before they existed gets them filled from one pass over its log when they are
created (`EventStore.open_index`). Rows are written in the same transaction as the batch's
events, so they never disagree with the log.

`SQLiteIndex` and `PostgresIndex` run the statements on a cursor of the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from psycopg import sql

ACCOUNT = "account"
MARKET = "market"
# social aggregates: listed, but loaded when a command needs one, never at start-up
POST = "post"
COMMENT = "comment"
LIKE = "like"
REPORT = "report"
# copy trading: loaded at start-up with the accounts and markets
COPY = "copy"
# surveillance alerts: listed, loaded when a command needs one (as the social kinds)
ALERT = "alert"
# the kinds a start-up loads; a partial index lists them alone, so reading them costs the same
# however many social aggregates the table holds
LOADED = (ACCOUNT, MARKET, COPY)
_LOADED_SQL = f"kind IN ({', '.join(repr(kind) for kind in LOADED)})"


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
    """An aggregate the batch created: its id and kind (ACCOUNT, MARKET, COPY, POST, COMMENT,
    LIKE, REPORT or ALERT)."""

    id: UUID
    kind: str


_COLUMNS = CommandRow._fields
_UUID_COLUMNS = ("actor", "account_id", "market_id")


class CommandIndex(Protocol):
    """The statements of one backend; each runs on a cursor of the caller's transaction."""

    commands: str  # the tables' names
    aggregates: str

    def exists(self, cursor: Any) -> bool:
        """Whether the tables are there."""

    def create(self, cursor: Any) -> None:
        """Create the tables."""

    def write(
        self, cursor: Any, commands: Sequence[CommandRow], created: Sequence[Created]
    ) -> None:
        """Insert a batch's rows."""

    def find(self, cursor: Any, keys: Sequence[tuple[UUID, str]]) -> list[CommandRow]:
        """The rows of those (actor, command_id) keys that are remembered."""

    def all(self, cursor: Any) -> list[CommandRow]:
        """Every remembered command (audits and tests; the writer never needs them all)."""

    def created(self, cursor: Any) -> list[Created]:
        """Every aggregate listed, in the order created."""

    def loaded(self, cursor: Any) -> list[Created]:
        """The accounts, markets and copies (the LOADED kinds), in the order created."""

    def add_indexes(self, cursor: Any) -> None:
        """Create the indexes a store made before them lacks (a no-op once they are there)."""

    def listed(self, cursor: Any, ids: Sequence[UUID]) -> set[UUID]:
        """Those of `ids` that name a listed aggregate."""


# ---------------------------------------------------------------------- SQLite

# keys per lookup statement: SQLite binds two variables per key (its limit is 32,766)
_LOOKUP_CHUNK = 500


class SQLiteIndex:
    """The index in the event store's SQLite file (UUIDs as 16-byte blobs)."""

    def __init__(self, application: str) -> None:
        self.commands = f"{application}_commands"
        self.aggregates = f"{application}_aggregates"
        self._insert_command = (
            f"INSERT INTO {self.commands} ({', '.join(_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(_COLUMNS))})"
        )
        self._insert_created = f"INSERT INTO {self.aggregates} (id, kind) VALUES (?, ?)"
        self._loaded_index = (
            f"CREATE INDEX IF NOT EXISTS {self.aggregates}_loaded "
            f"ON {self.aggregates} (seq) WHERE {_LOADED_SQL}"
        )
        # `find`'s statement, but for its VALUES list (as long as each chunk of keys)
        self._find = (
            "WITH wanted (actor, command_id) AS (VALUES {}) "
            f"SELECT {', '.join('c.' + c for c in _COLUMNS)} "
            f"FROM wanted JOIN {self.commands} AS c USING (actor, command_id)"
        )

    def exists(self, cursor: Any) -> bool:
        statement = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        cursor.execute(statement, (self.commands,))
        return cursor.fetchone() is not None

    def create(self, cursor: Any) -> None:
        cursor.execute(
            f"""CREATE TABLE {self.commands} (
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
            ) WITHOUT ROWID"""
        )
        cursor.execute(
            f"""CREATE TABLE {self.aggregates} (
                seq INTEGER PRIMARY KEY,
                id BLOB NOT NULL UNIQUE,
                kind TEXT NOT NULL
            )"""
        )
        self.add_indexes(cursor)

    def add_indexes(self, cursor: Any) -> None:
        cursor.execute(self._loaded_index)

    def write(
        self, cursor: Any, commands: Sequence[CommandRow], created: Sequence[Created]
    ) -> None:
        if commands:
            cursor.executemany(
                self._insert_command,
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
            cursor.executemany(self._insert_created, [(c.id.bytes, c.kind) for c in created])

    def find(self, cursor: Any, keys: Sequence[tuple[UUID, str]]) -> list[CommandRow]:
        found: list[CommandRow] = []
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            values = ", ".join(["(?, ?)"] * len(chunk))
            cursor.execute(
                self._find.format(values),
                [part for actor, command_id in chunk for part in (actor.bytes, command_id)],
            )
            found.extend(_from_sqlite(row) for row in cursor.fetchall())
        return found

    def all(self, cursor: Any) -> list[CommandRow]:
        cursor.execute(f"SELECT {', '.join(_COLUMNS)} FROM {self.commands}")
        return [_from_sqlite(row) for row in cursor.fetchall()]

    def created(self, cursor: Any) -> list[Created]:
        cursor.execute(f"SELECT id, kind FROM {self.aggregates} ORDER BY seq")
        return [Created(UUID(bytes=bytes(id_)), kind) for id_, kind in cursor.fetchall()]

    def listed(self, cursor: Any, ids: Sequence[UUID]) -> set[UUID]:
        found: set[UUID] = set()
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            chunk = ids[start : start + _LOOKUP_CHUNK]
            cursor.execute(
                f"SELECT id FROM {self.aggregates} WHERE id IN ({', '.join('?' * len(chunk))})",
                [id_.bytes for id_ in chunk],
            )
            found.update(UUID(bytes=bytes(id_)) for (id_,) in cursor.fetchall())
        return found

    def loaded(self, cursor: Any) -> list[Created]:
        # the WHERE clause is the partial index's, so that the planner uses it
        cursor.execute(f"SELECT id, kind FROM {self.aggregates} WHERE {_LOADED_SQL} ORDER BY seq")
        return [Created(UUID(bytes=bytes(id_)), kind) for id_, kind in cursor.fetchall()]


def _blob(value: UUID | None) -> bytes | None:
    return None if value is None else value.bytes


def _from_sqlite(row: Sequence[Any]) -> CommandRow:
    values = dict(zip(_COLUMNS, row, strict=True))
    for name in _UUID_COLUMNS:
        if values[name] is not None:
            values[name] = UUID(bytes=bytes(values[name]))
    values["accepted"] = bool(values["accepted"])
    values["stored"] = bool(values["stored"])
    return CommandRow(**values)


# ---------------------------------------------------------------------- PostgreSQL

_PG_TYPES = ["uuid", "text", "bool", "bool", "text", "text", "uuid", "text", "uuid", "int8"]


class PostgresIndex:
    """The index in the event store's PostgreSQL schema (rows as dicts, as the library's
    connections return them)."""

    def __init__(self, application: str, schema: str) -> None:
        self.commands = f"{application}_commands"
        self.aggregates = f"{application}_aggregates"
        self._schema = schema
        self._commands = sql.Identifier(schema, self.commands)
        self._aggregates = sql.Identifier(schema, self.aggregates)
        self._columns = sql.SQL(", ").join(map(sql.Identifier, _COLUMNS))
        self._find = sql.SQL(
            "SELECT {} FROM unnest(%b::uuid[], %b::text[]) AS wanted (actor, command_id) "
            "CROSS JOIN LATERAL (SELECT * FROM {} AS c WHERE c.actor = wanted.actor "
            "AND c.command_id = wanted.command_id LIMIT 1) AS c"
        ).format(
            sql.SQL(", ").join(sql.Identifier("c", column) for column in _COLUMNS),
            self._commands,
        )

    def exists(self, cursor: Any) -> bool:
        name = f"{self._schema}.{self.commands}"
        row = cursor.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (name,)).fetchone()
        return bool(row and row["found"])

    def create(self, cursor: Any) -> None:
        cursor.execute(
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
            ).format(self._commands)
        )
        cursor.execute(
            sql.SQL(
                """CREATE TABLE {} (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                id uuid NOT NULL UNIQUE,
                kind text NOT NULL
            )"""
            ).format(self._aggregates)
        )
        self.add_indexes(cursor)

    def add_indexes(self, cursor: Any) -> None:
        statement = sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (seq) WHERE {}").format(
            sql.Identifier(f"{self.aggregates}_loaded"), self._aggregates, sql.SQL(_LOADED_SQL)
        )
        cursor.execute(statement)

    def write(
        self, cursor: Any, commands: Sequence[CommandRow], created: Sequence[Created]
    ) -> None:
        """COPY the rows (binary, built by psycopg's C extension)."""
        if commands:
            statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)")
            with cursor.copy(statement.format(self._commands, self._columns)) as copy:
                copy.set_types(_PG_TYPES)
                for row in commands:
                    copy.write_row(row)
        if created:
            statement = sql.SQL("COPY {} (id, kind) FROM STDIN (FORMAT BINARY)")
            with cursor.copy(statement.format(self._aggregates)) as copy:
                copy.set_types(["uuid", "text"])
                for aggregate in created:
                    copy.write_row(aggregate)

    def find(self, cursor: Any, keys: Sequence[tuple[UUID, str]]) -> list[CommandRow]:
        """One index probe per key (LATERAL ... LIMIT 1): a plain join lets the planner hash
        the whole table when it is small next to the batch, a cost that grows with the table.
        The keys go as binary arrays (`%b`): in text, formatting and parsing them cost more
        than the probes."""
        if not keys:
            return []
        actors = [actor for actor, _ in keys]
        command_ids = [command_id for _, command_id in keys]
        rows = cursor.execute(self._find, (actors, command_ids)).fetchall()
        return [CommandRow(**row) for row in rows]

    def all(self, cursor: Any) -> list[CommandRow]:
        statement = sql.SQL("SELECT {} FROM {}").format(self._columns, self._commands)
        return [CommandRow(**row) for row in cursor.execute(statement).fetchall()]

    def created(self, cursor: Any) -> list[Created]:
        statement = sql.SQL("SELECT id, kind FROM {} ORDER BY seq").format(self._aggregates)
        return [Created(row["id"], row["kind"]) for row in cursor.execute(statement).fetchall()]

    def listed(self, cursor: Any, ids: Sequence[UUID]) -> set[UUID]:
        if not ids:
            return set()
        statement = sql.SQL("SELECT id FROM {} WHERE id = ANY(%b::uuid[])").format(self._aggregates)
        return {row["id"] for row in cursor.execute(statement, (list(ids),)).fetchall()}

    def loaded(self, cursor: Any) -> list[Created]:
        statement = sql.SQL("SELECT id, kind FROM {} WHERE {} ORDER BY seq").format(
            self._aggregates, sql.SQL(_LOADED_SQL)
        )
        return [Created(row["id"], row["kind"]) for row in cursor.execute(statement).fetchall()]
