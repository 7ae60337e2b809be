"""The event store: one eventsourcing Application, one notification log for everything."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from decimal import Decimal
from functools import cached_property
from pathlib import Path
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
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteApplicationRecorder
from eventsourcing.utils import get_topic
from psycopg import sql

from socialtrading.domain.positions import Positions
from socialtrading.engine.book import OrderBook
from socialtrading.engine.spec import MarketSpec
from socialtrading.infra.chain import (
    ADOPTED,
    EMPTY,
    INTERVAL,
    UPGRADE,
    Anchor,
    ChainBrokenError,
    ChainTables,
    Head,
    PostgresChain,
    Segment,
    SQLiteChain,
    due,
    link_events,
    link_rows,
    segments,
)
from socialtrading.infra.checkpointer import Checkpointer, CheckpointPolicy, CheckpointStats
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
# Events per page when chaining a store's log at start-up.
_CHAIN_PAGE = 10_000
# ...and how often that pass logs its progress.
_CHAIN_LOG_EVERY = 200_000

log = logging.getLogger(__name__)


class LockLostError(RuntimeError):
    """The writer lost the store's writer lock: it must not commit."""


class EventStore(Application[UUID]):
    """The exchange's event store. Its name prefixes the PostgreSQL tables (exchange_events)."""

    name = "exchange"
    is_snapshotting_enabled = True

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        anchor_every: int = 10_000,
        chained: bool = True,
    ) -> None:
        """`anchor_every`: positions between the hash chain's anchors (see `infra/chain.py`).
        `chained=False` stores no links: only for the benchmark's baseline."""
        # A SQLite store's WAL checkpoints: a thread started at the first write, stopped by
        # `close` (see infra/checkpointer.py); set before the library's set-up, which may fail.
        self.checkpoint_policy = CheckpointPolicy()
        self._checkpointer: Checkpointer | None = None
        self._checkpointer_lock = threading.Lock()
        self._closed = False  # no checkpointer starts after `close`
        super().__init__(env)
        self._ids: dict[Any, Any] = {}  # originator ids as stored -> parsed, for `read`
        self._topics: dict[type, tuple[str, int]] = {}  # event class -> topic, class version
        # Checked before each append once a writer lock is held (see infra/lock.py): a writer
        # whose lock connection died stops committing rather than race a new writer.
        self.fence: Callable[[], bool] | None = None
        if anchor_every < 1:
            raise ValueError("anchor_every must be at least 1")
        self.anchor_every = anchor_every
        self.chained = chained
        self._head: Head | None = None  # the hash chain's head: read once, then kept here
        self.chain_cpu_seconds = 0.0  # the appending thread's CPU spent on links (benchmarks)

    @property
    def checkpoints(self) -> CheckpointStats:
        """What the WAL checkpointer has done (all zeros on PostgreSQL, or before a write)."""
        checkpointer = self._checkpointer
        return CheckpointStats() if checkpointer is None else checkpointer.stats

    def close(self) -> None:
        """Stop the WAL checkpointer (closing its connection), then close the store."""
        with self._checkpointer_lock:
            checkpointer, self._checkpointer = self._checkpointer, None
            self._closed = True
        if checkpointer is not None:
            checkpointer.stop()
        super().close()

    def _checkpointing(self, recorder: Any) -> None:
        """Before a write to a SQLite file: start the checkpointer if it is not running."""
        if self._checkpointer is not None:
            return
        datastore = recorder.datastore
        if datastore.pool.is_sqlite_memory_mode or datastore.pool.db_name.startswith("file:"):
            return  # no WAL (or a URI this code does not read): SQLite's own checkpoints
        with self._checkpointer_lock:
            if self._checkpointer is None and not self._closed:
                path = Path(datastore.pool.db_name)
                self._checkpointer = Checkpointer(path, self.checkpoint_policy).start()

    def append(
        self,
        stored_events: Sequence[StoredEvent],
        commands: Sequence[CommandRow] = (),
        created: Sequence[Created] = (),
    ) -> int:
        """Insert events, with the commands they answer and the aggregates they create (see
        `command_index`) and their links in the hash chain (see `chain`), in one transaction;
        return the last event's notification id (0 when there are only command rows).

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

        link: Callable[[Any, Sequence[int]], None] | None = None
        heads: list[Head] = []
        if self.chained and stored_events:
            head = self._head
            if head is None:
                self.open_chain()
                head = self._head
                assert head is not None

            def link_batch(cursor: Any, positions: Sequence[int]) -> None:
                heads.append(self._link(cursor, head, positions, stored_events))

            link = link_batch

        try:
            if isinstance(recorder, PostgresApplicationRecorder):
                known = None if self._head is None else self._head.position
                last = _copy_in(recorder, stored_events, index_rows, link, known) or 0
            elif isinstance(recorder, SQLiteApplicationRecorder):
                self._checkpointing(recorder)
                last = _insert_many(recorder, stored_events, index_rows, link)
            else:
                raise TypeError(
                    f"the writer needs SQLite or PostgreSQL, not {type(recorder).__name__}"
                )
        except BaseException:
            self._head = None  # read again before the next append: the commit may have happened
            raise
        if heads:
            self._head = heads[-1]
        return last

    def _link(
        self, cursor: Any, head: Head, positions: Sequence[int], events: Sequence[StoredEvent]
    ) -> Head:
        """Write the links of a batch's events (stored at `positions`) after `head`, and an
        anchor if the batch reaches another multiple of the interval; return the new head."""
        started = time.thread_time()
        tables = self.chain_tables
        links = link_events(head.link, positions, events)
        tables.write(cursor, segments(head.position, positions, links))
        new = Head(positions[-1], links[-1])
        if due(head.position, new.position, self.anchor_every):
            tables.anchor(cursor, Anchor(new.position, new.link, INTERVAL, head.position))
        self.chain_cpu_seconds += time.thread_time() - started
        return new

    @cached_property
    def chain_tables(self) -> ChainTables:
        """The hash chain's statements for this store's backend (see `chain`)."""
        recorder = self.recorder
        if isinstance(recorder, PostgresApplicationRecorder):
            schema = recorder.datastore.schema
            return PostgresChain(self.name, schema, recorder.events_table_name)
        if isinstance(recorder, SQLiteApplicationRecorder):
            return SQLiteChain(self.name, recorder.events_table_name)
        raise TypeError(f"no hash chain on {type(recorder).__name__}")

    def open_chain(self) -> int:
        """Create the hash chain's tables if they are missing, then link every event past the
        chain's head, in one pass and one transaction (every event, for a store written before
        the chain existed), ending with an anchor; keep the head in memory. Return how many
        events were linked. Only the writer calls this, before it starts.

        Raises ChainBrokenError when the log ends before the chain's head or its last anchor:
        events were removed from its end, and new ones would take their positions.
        """
        if not self.chained:
            return 0
        tables = self.chain_tables
        linked = 0
        with self._transaction(commit=True) as cursor:
            tables.create(cursor)
            head = tables.head(cursor)
            end = tables.max_position(cursor)
            anchors = tables.read_anchors(cursor)
            top = max(head.position, anchors[-1].position if anchors else 0)
            if end < top:
                raise ChainBrokenError(
                    f"the log ends at position {end} but its hash chain reached {top}: "
                    "events were removed from its end (run `socialtrading audit verify`)"
                )
            if end > head.position:
                since = head.position
                reason = UPGRADE if head == EMPTY else ADOPTED
                if reason == ADOPTED:
                    log.warning(
                        "linking events %d to %d into the hash chain: they were stored by "
                        "something other than the writer",
                        since + 1,
                        end,
                    )
                else:
                    log.info("creating the hash chain over the log's %d positions", end)
                while rows := tables.read_events(cursor, head.position, end, _CHAIN_PAGE):
                    positions = [row[0] for row in rows]
                    links = link_rows(head.link, rows)
                    tables.write(cursor, segments(head.position, positions, links))
                    head = Head(positions[-1], links[-1])
                    before, linked = linked, linked + len(rows)
                    if linked // _CHAIN_LOG_EVERY > before // _CHAIN_LOG_EVERY:
                        log.info("hash chain: %d events linked so far", linked)
                tables.anchor(cursor, Anchor(head.position, head.link, reason, since))
                log.info("hash chain: %d events linked, head at position %d", linked, end)
        self._head = head
        return linked

    def chain_exists(self) -> bool:
        """Whether the hash chain's tables are there (the writer creates them)."""
        with self._transaction(commit=False) as cursor:
            return self.chain_tables.exists(cursor)

    def chain_anchors(self) -> list[Anchor]:
        """The hash chain's anchors, by position."""
        with self._transaction(commit=False) as cursor:
            return self.chain_tables.read_anchors(cursor)

    def chain_segments(self, after: int, limit: int) -> list[Segment]:
        """Up to `limit` segments of links starting after position `after`, in order."""
        with self._transaction(commit=False) as cursor:
            return self.chain_tables.read_segments(cursor, after, limit)

    def chain_segment_at(self, position: int) -> Segment | None:
        """The segment of links holding `position`, if one does."""
        with self._transaction(commit=False) as cursor:
            found = self.chain_tables.segment_at(cursor, position)
        return found if found is not None and found.last >= position else None

    def chain_head(self) -> Head:
        """The hash chain's head as stored (EMPTY without links)."""
        with self._transaction(commit=False) as cursor:
            return self.chain_tables.head(cursor)

    def log_rows(self, after: int, upto: int, limit: int) -> list[tuple[int, Any, int, str, bytes]]:
        """Up to `limit` stored events at positions in (after, upto], in order, exactly as
        stored: (position, originator id, version, topic, state). For the chain's verifier,
        which must read rows that no longer decode."""
        with self._transaction(commit=False) as cursor:
            return self.chain_tables.read_events(cursor, after, upto, limit)

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

    @contextmanager
    def _transaction(self, *, commit: bool) -> Iterator[Any]:
        """A transaction on the event store's database, as a cursor (one that writes to a
        SQLite file with the writer's settings, `_PRAGMAS`)."""
        recorder = self.recorder
        datastore: Any = getattr(recorder, "datastore", None)
        if datastore is None:
            raise TypeError(f"no database behind {type(recorder).__name__}")
        sqlite = commit and isinstance(recorder, SQLiteApplicationRecorder)
        if sqlite:
            self._checkpointing(recorder)
        with cast(AbstractContextManager[Any], datastore.transaction(commit=commit)) as cursor:
            if sqlite:
                _tune(cursor)
            yield cursor

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
        elif isinstance(recorder, SQLiteAggregateRecorder):
            # the library's insert, in a transaction with the writer's settings: a pooled
            # connection that has only read so far would checkpoint at this commit
            self._checkpointing(recorder)
            with recorder.datastore.transaction(commit=True) as cursor:
                _tune(cursor)
                cursor.executemany(recorder.insert_events_statement, _rows(stored))
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
    link: Callable[[Any, Sequence[int]], None] | None = None,
    known: int | None = None,
) -> int | None:
    """COPY the rows in one transaction. Into the application's log (an application
    recorder), first take the library's table lock and NOTIFY, and return the batch's last
    notification id (None if it held no events); into the snapshots table, just the rows.
    `link(cursor, positions)` writes the hash chain's links, given the events' notification
    ids (`known`: the newest id the caller knew of before), and `also(cursor)` more rows (the
    command index's), in the same transaction."""
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
        last: int | None = None
        if logged and stored_events:
            # The table is locked until commit: the newest id is this batch's last.
            newest = sql.SQL("SELECT max(notification_id) AS last FROM {}").format(table)
            row = cursor.execute(newest).fetchone()
            assert row is not None and row["last"] is not None
            last = int(row["last"])
            if link is not None:
                count = len(stored_events)
                positions: Sequence[int]
                if known is not None and last - count == known:
                    # n new ids, all above `known` and at most `last`: exactly these
                    positions = range(known + 1, last + 1)
                else:  # a gap in the sequence, or rows stored around the writer
                    ids = sql.SQL(
                        "SELECT notification_id FROM {} ORDER BY notification_id DESC LIMIT %s"
                    ).format(table)
                    rows = cursor.execute(ids, (count,)).fetchall()
                    positions = [int(found["notification_id"]) for found in reversed(rows)]
                link(cursor, positions)
        if also is not None:
            also(cursor)
    return last


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


# Set on every connection that writes the event store, in each writing transaction (so on
# whichever pooled connection it runs). The store's checkpointer thread copies the WAL into
# the database file with its own connection (infra/checkpointer.py), so the writer's own
# automatic checkpoint, every 64 MiB of WAL rather than SQLite's 4 MiB, finds a few MiB at
# most left to copy and sync; it stays because only a checkpoint on the writing connection
# lets its next transaction start the WAL again (the thread's, overtaken by the writer, never
# does). Before the thread, that commit copied the whole WAL and synced it (a batch of a
# thousand likes dirties thousands of index pages: hundreds of milliseconds at 64 MiB). Each
# commit still syncs the WAL (synchronous=FULL, SQLite's default): durability is unchanged.
# A WAL that grew past 64 MiB (readers pinning it) is shrunk back to 64 MiB when started
# again. The page cache is 64 MiB rather than 2 MiB: the log's id index and the command
# index take their keys at random (UUIDs), so with the default cache most inserts read their
# leaf page back from the file (measured: posts through the writer 5,400/s -> 6,900/s).
_PRAGMAS = (
    "PRAGMA wal_autocheckpoint=16384",
    "PRAGMA journal_size_limit=67108864",
    "PRAGMA cache_size=-65536",
)


def _tune(cursor: Any) -> None:
    """Apply `_PRAGMAS` to the connection under `cursor`."""
    for pragma in _PRAGMAS:
        cursor.execute(pragma)


def _rows(stored_events: Sequence[StoredEvent]) -> list[tuple[Any, int, str, bytes]]:
    """Stored events as the SQLite recorders' insert statement takes them."""
    return [
        (
            e.originator_id.hex if isinstance(e.originator_id, UUID) else e.originator_id,
            e.originator_version,
            e.topic,
            e.state,
        )
        for e in stored_events
    ]


def _insert_many(
    recorder: SQLiteApplicationRecorder,
    stored_events: Sequence[StoredEvent],
    also: Callable[[Any], None],
    link: Callable[[Any, Sequence[int]], None] | None = None,
) -> int:
    """Insert the rows in one transaction, their links (`link(cursor, positions)`) and
    `also(cursor)` too; return the last row id."""
    rows = _rows(stored_events)
    last = 0
    with recorder.datastore.transaction(commit=True) as cursor:
        _tune(cursor)  # per connection: so on whichever one the pool gives
        if rows:
            cursor.executemany(recorder.insert_events_statement, rows)
            # the connection's last inserted row id: this batch's last notification id
            cursor.execute("SELECT last_insert_rowid()")
            (last,) = cursor.fetchone()
            if link is not None:
                # One writer holds the file: the batch's row ids are consecutive.
                link(cursor, range(last - len(rows) + 1, last + 1))
        also(cursor)
    return int(last)


def open_store(settings: Settings, *, chained: bool = True) -> EventStore:
    """Open (and create if needed) the event store the settings name (`chained=False`: no
    hash chain, for the write path benchmark's baseline only)."""
    env = persistence_env(settings.store, settings.postgres_schema)
    if settings.postgres_schema:
        _ensure_schema(env, settings.postgres_schema)
    return EventStore(env=env, anchor_every=settings.audit_anchor_every, chained=chained)


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
