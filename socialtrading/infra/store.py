"""The event store: one eventsourcing Application, one notification log for everything."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from functools import cached_property
from typing import Any, NamedTuple, cast
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import (
    JSONTranscoder,
    StoredEvent,
    Transcoder,
    Transcoding,
)
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import get_topic
from psycopg import sql

from socialtrading.domain.positions import Positions
from socialtrading.engine.book import OrderBook
from socialtrading.engine.spec import MarketSpec
from socialtrading.infra.command_index import (
    CommandIndex,
    CommandRow,
    Created,
    PostgresIndex,
    SQLiteIndex,
)
from socialtrading.infra.settings import Settings, persistence_env
from socialtrading.infra.transcoder import OrjsonTranscoder

_SPEC_DECIMALS = (
    "tick_size",
    "lot_size",
    "min_qty",
    "max_qty",
    "max_notional",
    "reference_price",
    "max_price",
)


class OrderBookAsDict(Transcoding):
    """Snapshots of a Market hold its order book: its spec and `OrderBook.snapshot()`."""

    type = OrderBook
    name = "order_book"

    def encode(self, obj: OrderBook) -> dict[str, Any]:
        spec = obj.spec
        data: dict[str, Any] = {name: _text(getattr(spec, name)) for name in _SPEC_DECIMALS}
        data.update(symbol=spec.symbol, collar_ticks=spec.collar_ticks, mode=spec.mode)
        return {"spec": data, "state": obj.snapshot()}

    def decode(self, data: dict[str, Any]) -> OrderBook:
        fields = dict(data["spec"])
        for name in _SPEC_DECIMALS:
            if fields.get(name) is not None:  # snapshots older than `max_price` lack it
                fields[name] = Decimal(fields[name])
        return OrderBook.restore(MarketSpec(**fields), data["state"])


class PositionsAsDict(Transcoding):
    """Snapshots of a Market hold its positions, with their sums as decimal text (they may
    pass 64 bits)."""

    type = Positions
    name = "positions"

    def encode(self, obj: Positions) -> dict[str, list[str]]:
        return {account: [str(lots), str(cost)] for account, (lots, cost) in obj.held.items()}

    def decode(self, data: dict[str, list[str]]) -> Positions:
        return Positions(
            {account: [int(lots), int(cost)] for account, (lots, cost) in data.items()}
        )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class Row(NamedTuple):
    """A stored event with its position in the log, as `EventStore.read` returns it."""

    id: int  # the notification id
    originator_id: UUID | str
    originator_version: int
    topic: str
    state: bytes


# Originator ids seen by `EventStore.read` (a log names few aggregates, many times each).
_IDS_KEPT = 100_000


class LockLostError(RuntimeError):
    """The writer lost the store's writer lock: it must not commit."""


class EventStore(Application[UUID]):
    """The exchange's event store. Its name prefixes the PostgreSQL tables (exchange_events)."""

    name = "exchange"
    is_snapshotting_enabled = True

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)
        self._ids: dict[Any, Any] = {}  # originator ids as stored -> parsed, for `read`
        self._topics: dict[type, tuple[str, int]] = {}  # event class -> topic, class version
        # Checked before each append once a writer lock is held (see infra/lock.py): a writer
        # whose lock connection died stops committing rather than race a new writer.
        self.fence: Callable[[], bool] | None = None

    def append(
        self,
        stored_events: Sequence[StoredEvent],
        commands: Sequence[CommandRow] = (),
        created: Sequence[Created] = (),
    ) -> int:
        """Insert events, with the commands they answer and the aggregates they create (see
        `command_index`), in one transaction; return the last event's notification id (0 when
        there are only command rows).

        On PostgreSQL the rows go in with a binary COPY under the library's guarantees (the
        table lock that makes commit order the notification order, and the NOTIFY that wakes
        listeners); on SQLite with one `executemany` and the last row id. Why not the
        library's own inserts: docs/decisions.md.
        """
        if not stored_events and not commands:
            raise ValueError("nothing to append")
        if self.fence is not None and not self.fence():
            raise LockLostError("the store's writer lock is lost: not committing")
        recorder = self.recorder
        index = self.index

        def index_rows(cursor: Any) -> None:
            index.write(cursor, commands, created)

        if isinstance(recorder, PostgresApplicationRecorder):
            return _copy_in(recorder, stored_events, index_rows) or 0
        if isinstance(recorder, SQLiteApplicationRecorder):
            return _insert_many(recorder, stored_events, index_rows)
        raise TypeError(f"the writer needs SQLite or PostgreSQL, not {type(recorder).__name__}")

    @cached_property
    def index(self) -> CommandIndex:
        """The command index's statements for this store's backend (see `command_index`)."""
        recorder = self.recorder
        if isinstance(recorder, PostgresApplicationRecorder):
            return PostgresIndex(self.name, recorder.datastore.schema)
        if isinstance(recorder, SQLiteApplicationRecorder):
            return SQLiteIndex(self.name)
        raise TypeError(f"no command index on {type(recorder).__name__}")

    def open_index(self, derive: Callable[[], tuple[list[CommandRow], list[Created]]]) -> bool:
        """Create the command and aggregate tables if they are missing, filled with
        `derive()` (read from the log) in the same transaction; True if they were created.
        Only the writer calls this, before it starts."""
        index = self.index
        if self.index_exists():
            with self._transaction(commit=True) as cursor:
                index.add_indexes(cursor)  # a store from before them
            return False
        commands, created = derive()
        with self._transaction(commit=True) as cursor:
            index.create(cursor)
            index.write(cursor, commands, created)
        return True

    def index_exists(self) -> bool:
        """Whether the command index's tables are there (the writer creates them)."""
        with self._transaction(commit=False) as cursor:
            return self.index.exists(cursor)

    def find_commands(self, keys: Sequence[tuple[UUID, str]]) -> list[CommandRow]:
        """The remembered commands among these (actor, command_id) keys."""
        with self._transaction(commit=False) as cursor:
            return self.index.find(cursor, keys)

    def all_commands(self) -> list[CommandRow]:
        """Every remembered command (audits and tests)."""
        with self._transaction(commit=False) as cursor:
            return self.index.all(cursor)

    def aggregates(self) -> list[Created]:
        """Every aggregate listed (accounts, markets, social kinds), in the order created."""
        with self._transaction(commit=False) as cursor:
            return self.index.created(cursor)

    def listed(self, ids: Sequence[UUID]) -> set[UUID]:
        """Those of `ids` that name a stored aggregate (one query per 500 ids)."""
        with self._transaction(commit=False) as cursor:
            return self.index.listed(cursor, ids)

    def loaded_aggregates(self) -> list[Created]:
        """The accounts, markets and copies a start-up loads, in the order created (read
        through an index: the social kinds listed beside them cost nothing here)."""
        with self._transaction(commit=False) as cursor:
            return self.index.loaded(cursor)

    def _transaction(self, *, commit: bool) -> AbstractContextManager[Any]:
        """A transaction on the event store's database, as a cursor."""
        datastore: Any = getattr(self.recorder, "datastore", None)
        if datastore is None:
            raise TypeError(f"no database behind {type(self.recorder).__name__}")
        return cast(AbstractContextManager[Any], datastore.transaction(commit=commit))

    def to_stored(self, events: Sequence[Any]) -> list[StoredEvent]:
        """`mapper.to_stored_event` of each event, with less work per event.

        The mapper looks the topic up, copies and encodes the state and builds a frozen
        `StoredEvent` through its `__init__`; the writer stores a thousand events per batch.
        Here topics are kept per class and the stored events built as the library's mapper
        builds the events it reads (their `__dict__` set at once). Any mapper with a cipher or
        a compressor is used as it is.
        """
        mapper = self.mapper
        if mapper.cipher is not None or mapper.compressor is not None:
            return [mapper.to_stored_event(event) for event in events]
        encode = mapper.transcoder.encode
        topics = self._topics
        stored = []
        new = object.__new__
        set_dict = object.__setattr__
        for event in events:
            cls = type(event)
            known = topics.get(cls)
            if known is None:
                known = topics[cls] = (get_topic(cls), getattr(cls, "class_version", 1))
            state = dict(event.__dict__)
            originator_id = state.pop("originator_id")
            originator_version = state.pop("originator_version")
            if known[1] > 1:
                state["class_version"] = known[1]
            record = new(StoredEvent)
            set_dict(
                record,
                "__dict__",
                {
                    "originator_id": originator_id,
                    "originator_version": originator_version,
                    "topic": known[0],
                    "state": encode(state),
                },
            )
            stored.append(record)
        return stored

    def read(self, after: int, limit: int) -> list[Row]:
        """Up to `limit` stored events with notification ids above `after`, in log order.

        What `recorder.select_notifications` gives, as plain tuples, with ONE object per
        originator id in the process: on SQLite the library builds a `Notification` and
        parses a `UUID` per row, which costs a catching-up projection more than decoding the
        event; and read models look markets and accounts up by these ids, where the same
        object compares by identity instead of running UUID's Python-level equality.
        """
        recorder = self.recorder
        fetched: Sequence[tuple[int, Any, int, str, bytes]]
        convert: Any
        if isinstance(recorder, SQLiteApplicationRecorder):
            statement = (
                "SELECT rowid, originator_id, originator_version, topic, state "
                f"FROM {recorder.events_table_name} WHERE rowid>? ORDER BY rowid LIMIT ?"
            )
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(statement, (after, limit))
                fetched = cursor.fetchall()
            convert = recorder.convert_originator_id  # text as stored
        else:
            fetched = [
                (n.id, n.originator_id, n.originator_version, n.topic, n.state)
                for n in recorder.select_notifications(after + 1, limit)
            ]
            convert = None  # parsed already
        ids = self._ids
        if len(ids) > _IDS_KEPT:
            ids.clear()
        rows = []
        for notification_id, stored_id, version, topic, state in fetched:
            # keyed by text or by the UUID's integer: UUID's own hash runs Python code
            key = stored_id.int if type(stored_id) is UUID else stored_id
            originator = ids.get(key)
            if originator is None:
                originator = ids[key] = stored_id if convert is None else convert(stored_id)
            rows.append(Row(notification_id, originator, version, topic, state))
        return rows

    def put_snapshots(self, snapshots: Sequence[Any]) -> None:
        """Store snapshots in one transaction (a binary COPY on PostgreSQL, as `append`)."""
        store = self.snapshots
        if store is None or not snapshots:
            return
        stored = self.to_stored(snapshots)  # the snapshot store shares the mapper
        recorder = store.recorder
        if isinstance(recorder, PostgresAggregateRecorder):
            _copy_in(recorder, stored)
        else:
            recorder.insert_events(stored)

    def construct_transcoder(self) -> Transcoder:
        transcoder = OrjsonTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(OrderBookAsDict())
        transcoder.register(PositionsAsDict())


def _copy_in(
    recorder: PostgresAggregateRecorder,
    stored_events: Sequence[StoredEvent],
    also: Callable[[Any], None] | None = None,
) -> int | None:
    """COPY the rows in one transaction. Into the application's log (an application
    recorder), first take the library's table lock and NOTIFY, and return the batch's last
    notification id (None if it held no events); into the snapshots table, just the rows.
    `also(cursor)` writes more in the same transaction (the command index's rows)."""
    datastore = recorder.datastore
    table = sql.Identifier(datastore.schema, recorder.events_table_name)
    logged = isinstance(recorder, PostgresApplicationRecorder)
    with (
        datastore.get_connection() as connection,
        connection.transaction(),
        connection.cursor() as cursor,
    ):
        if stored_events:
            if isinstance(recorder, PostgresApplicationRecorder):
                for statement in recorder.lock_table_statements:
                    cursor.execute(statement)
                channel = sql.Identifier(recorder.channel_name)
                cursor.execute(sql.SQL("NOTIFY {}").format(channel))
            _copy_rows(cursor, table, datastore.originator_id_type, stored_events)
        if also is not None:
            also(cursor)
        if not logged or not stored_events:
            return None
        # The table is locked until commit: the newest id is this batch's last.
        last = sql.SQL("SELECT max(notification_id) AS last FROM {}").format(table)
        row = cursor.execute(last).fetchone()
    assert row is not None and row["last"] is not None
    return int(row["last"])


def _copy_rows(
    cursor: psycopg.Cursor[Any],
    table: sql.Identifier,
    id_type: str,
    stored_events: Sequence[StoredEvent],
) -> None:
    copy_in = sql.SQL(
        "COPY {} (originator_id, originator_version, topic, state) FROM STDIN (FORMAT BINARY)"
    ).format(table)
    with cursor.copy(copy_in) as copy:
        copy.set_types([id_type, "int8", "text", "bytea"])
        for event in stored_events:
            copy.write_row(
                (event.originator_id, event.originator_version, event.topic, event.state)
            )


# The writer's connection checkpoints the WAL every 64 MiB rather than every 4 MiB (SQLite's
# default): a batch of a thousand likes dirties thousands of index pages, so the default
# copied each batch's pages into the database file (and synced it) at its commit. The WAL
# is then shrunk back to 64 MiB (as the read store's: infra/readstore.py). Its page cache is
# 64 MiB rather than 2 MiB: the log's id index and the command index take their keys at
# random (UUIDs), so with the default cache most inserts read their leaf page back from the
# file (measured: posts through the writer 5,400/s -> 6,900/s).
_PRAGMAS = (
    "PRAGMA wal_autocheckpoint=16384",
    "PRAGMA journal_size_limit=67108864",
    "PRAGMA cache_size=-65536",
)


def _insert_many(
    recorder: SQLiteApplicationRecorder,
    stored_events: Sequence[StoredEvent],
    also: Callable[[Any], None],
) -> int:
    """Insert the rows in one transaction, `also(cursor)` too; return the last row id."""
    rows = [
        (
            e.originator_id.hex if isinstance(e.originator_id, UUID) else e.originator_id,
            e.originator_version,
            e.topic,
            e.state,
        )
        for e in stored_events
    ]
    last = 0
    with recorder.datastore.transaction(commit=True) as cursor:
        for pragma in _PRAGMAS:  # per connection: so on whichever one the pool gives
            cursor.execute(pragma)
        if rows:
            cursor.executemany(recorder.insert_events_statement, rows)
            # the connection's last inserted row id: this batch's last notification id
            cursor.execute("SELECT last_insert_rowid()")
            (last,) = cursor.fetchone()
        also(cursor)
    return int(last)


def open_store(settings: Settings) -> EventStore:
    """Open (and create if needed) the event store the settings name."""
    env = persistence_env(settings.store, settings.postgres_schema)
    if settings.postgres_schema:
        _ensure_schema(env, settings.postgres_schema)
    return EventStore(env=env)


def _ensure_schema(env: dict[str, str], schema: str) -> None:
    with psycopg.connect(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=int(env["POSTGRES_PORT"]),
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"] or None,
        autocommit=True,
    ) as connection:
        connection.execute(
            psycopg.sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(psycopg.sql.Identifier(schema))
        )
