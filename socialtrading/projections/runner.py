"""The projection runner: read models that follow the notification log, exactly once.

Each projection owns SQLAlchemy tables and applies batches of domain events to them. The
runner reads notifications once, decodes them once, hands every projection the events past
its own position, and records each projection's new position in the SAME transaction as its
read-model changes. A crash at any point therefore leaves every read model at a position it
fully reached: on restart it resumes there, and nothing is applied twice.

A transaction (a batch) may span several chunks of notifications: the runner reads and
decodes `read_size` notifications at a time and applies each chunk before reading the next,
so memory holds one chunk of decoded events however large the batch. A projection may keep
its changes in memory across the chunks (an order placed and filled within the batch is then
written once, as filled) and writes them in `flush`, once per batch, before the positions are
recorded. Following the log, batches hold up to `batch_size` notifications, so a caller
waiting for its write is answered soon; a catch-up uses `catch_up_batch_size`, larger, which
makes fewer and more coalesced writes.

The runner catches up from its positions, then follows: woken by the writer after each commit
(embedded mode) or by polling every `poll_seconds` (another process writes). Callers that need
to read their own writes wait with `wait_for(position)`.

A catch-up far behind the log (`defer_indexes_from` notifications or more) drops the secondary
indexes of the lagging projections' tables (the non-unique ones: they serve queries, not the
projections) and builds them again once caught up: building an index from a full table costs
a fraction of keeping it up to date row by row. Unique indexes stay (upserts and constraints
need them). `setup` creates any index a crash left missing.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    MetaData,
    String,
    Table,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from socialtrading.infra.decoding import EventDecoder
from socialtrading.infra.store import Exchange

log = logging.getLogger(__name__)

metadata = MetaData()

positions = Table(
    "projection_positions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

# (notification id, domain event)
Item = tuple[int, Any]


class Chunk(list[Item]):
    """The items of one chunk of notifications, with what projections derive from them and
    share (`shared`: for example `_common.scan`); it is freed with the chunk."""

    __slots__ = ("shared",)

    def __init__(self, items: Iterable[Item] = ()) -> None:
        super().__init__(items)
        self.shared: dict[str, Any] = {}


class Projection:
    """A read model: its tables, and how a batch of events changes them."""

    name: ClassVar[str]
    tables: ClassVar[tuple[Table, ...]]

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        """Apply events (in log order) inside the runner's transaction: one chunk of the
        batch; the changes may be held in memory until `flush`."""
        raise NotImplementedError

    def flush(self, connection: Connection) -> None:
        """Write the changes `apply` held back: once per batch, before the commit."""

    def reset(self) -> None:
        """Forget any in-memory cache and held-back change (after a rebuild or a failed
        batch)."""

    def after_commit(self) -> None:
        """Publish live updates for the batch now committed (subscriptions)."""


class Delegating(Projection):
    """A projection that hands everything to `inner`: the base of wrappers that observe or
    measure one (they override what they change, and cannot forget to pass `flush` on)."""

    name: ClassVar[str]
    tables: ClassVar[tuple[Table, ...]]

    def __init__(self, inner: Projection) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]
        self.tables = inner.tables  # type: ignore[misc]

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        self.inner.apply(connection, items)

    def flush(self, connection: Connection) -> None:
        self.inner.flush(connection)

    def reset(self) -> None:
        self.inner.reset()

    def after_commit(self) -> None:
        self.inner.after_commit()


@dataclass
class Status:
    """Where a projection stands."""

    name: str
    position: int
    head: int

    @property
    def lag(self) -> int:
        """Notifications not yet applied."""
        return max(0, self.head - self.position)


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


class ProjectionRunner:
    """Runs projections over one event store into one read-model database."""

    def __init__(
        self,
        store: Exchange,
        engine: Engine,
        projections: Sequence[Projection],
        batch_size: int = 20_000,
        poll_seconds: float = 0.5,
        defer_indexes_from: int = 100_000,
        catch_up_batch_size: int = 200_000,
        read_size: int = 20_000,
    ) -> None:
        self.store = store
        self.engine = engine
        self.projections = list(projections)
        self._decoder = EventDecoder(store.mapper)
        self.batch_size = batch_size
        self.catch_up_batch_size = catch_up_batch_size
        self.read_size = read_size
        self.poll_seconds = poll_seconds
        self.defer_indexes_from = defer_indexes_from
        self._positions: dict[str, int] = {}
        self._wake = threading.Event()
        self._progress = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    # ------------------------------------------------------------------ set-up

    def setup(self) -> None:
        """Create missing tables and indexes, and load the positions."""
        metadata.create_all(self.engine)
        with self.engine.begin() as connection:
            for index in _secondary_indexes(self.projections):
                index.create(connection, checkfirst=True)  # dropped by a catch-up that crashed
            stored = dict(connection.execute(select(positions.c.name, positions.c.position)).all())
            for projection in self.projections:
                if projection.name not in stored:
                    connection.execute(positions.insert(), {"name": projection.name, "position": 0})
                    stored[projection.name] = 0
        self._positions = {p.name: int(stored[p.name]) for p in self.projections}

    def head(self) -> int:
        """The newest notification id in the store (0 when empty)."""
        return self.store.recorder.max_notification_id() or 0

    def status(self) -> list[Status]:
        """Each projection's position and the log's head."""
        head = self.head()
        return [Status(p.name, self._positions.get(p.name, 0), head) for p in self.projections]

    @property
    def position(self) -> int:
        """The position every projection has reached."""
        return min(self._positions.values(), default=0)

    # ------------------------------------------------------------------ processing

    def run_once(
        self, limit: int | None = None, progress: Callable[[int], None] | None = None
    ) -> int:
        """Apply one batch of up to `limit` notifications (`batch_size` by default) in one
        transaction; return how many it held (0: caught up). `progress(position)` is told
        after each chunk is applied (not committed yet)."""
        limit = limit or self.batch_size
        start = read = self.position
        count = 0
        applied: dict[str, Projection] = {}
        try:
            with self.engine.begin() as connection:
                while count < limit:
                    rows = self.store.read(read, min(self.read_size, limit - count))
                    if not rows:
                        break
                    count += len(rows)
                    self._apply_chunk(connection, Chunk(self._decoder.decode(rows)), applied)
                    read = rows[-1].id
                    del rows  # the chunk's events are freed before the next is read
                    if progress is not None:
                        progress(read)
                if not count:
                    return 0
                for projection in applied.values():
                    projection.flush(connection)
                    connection.execute(
                        positions.update().where(positions.c.name == projection.name),
                        {"position": read},
                    )
        except BaseException:
            for projection in self.projections:
                projection.reset()  # caches may hold changes the rollback undid
            raise
        assert read > start
        with self._progress:
            for name in applied:
                self._positions[name] = read
            self._progress.notify_all()
        for projection in applied.values():
            try:
                projection.after_commit()
            except Exception:  # a subscriber's failure must not stop the read models
                log.exception("publishing live updates of %s failed", projection.name)
        return count

    def _apply_chunk(
        self, connection: Connection, items: Chunk, applied: dict[str, Projection]
    ) -> None:
        """Hand each projection the chunk's events past its own position."""
        first = items[0][0]
        for projection in self.projections:
            position = self._positions[projection.name]
            mine: Sequence[Item] = (
                items if position < first else [i for i in items if i[0] > position]
            )
            if mine:
                projection.apply(connection, mine)
                applied[projection.name] = projection

    def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Apply batches until no notification is left; return how many were applied."""
        total = 0
        head = self.head()
        lagging = [
            p for p in self.projections if head - self._positions[p.name] >= self.defer_indexes_from
        ]
        deferred = _secondary_indexes(lagging)
        if deferred:
            with self.engine.begin() as connection:
                for index in deferred:
                    index.drop(connection, checkfirst=True)
        try:
            with _fewer_collections():

                def chunk_applied(position: int) -> None:
                    if progress is not None:
                        progress(position, max(head, position))

                while True:
                    count = self.run_once(self.catch_up_batch_size, chunk_applied)
                    if count == 0:
                        return total
                    gc.collect(1)
                    total += count
        finally:
            if deferred:
                with self.engine.begin() as connection:
                    for index in deferred:
                        index.create(connection, checkfirst=True)

    def rebuild(
        self, names: Sequence[str] | None = None, progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Drop and rebuild the named projections (all by default) from the store."""
        chosen = [p for p in self.projections if names is None or p.name in names]
        unknown = set(names or ()) - {p.name for p in self.projections}
        if unknown:
            raise ValueError(f"unknown projection(s): {', '.join(sorted(unknown))}")
        with self.engine.begin() as connection:
            for projection in chosen:
                for table in reversed(projection.tables):
                    table.drop(connection, checkfirst=True)
                connection.execute(
                    positions.update().where(positions.c.name == projection.name),
                    {"position": 0},
                )
        for projection in chosen:
            projection.reset()
            self._positions[projection.name] = 0
        metadata.create_all(self.engine)
        return self.catch_up(progress)

    # ------------------------------------------------------------------ following

    def start(self) -> ProjectionRunner:
        """Follow the log in a background thread."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._follow, name="projections", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop following."""
        if self._thread is not None:
            self._stop.set()
            self._wake.set()
            self._thread.join()
            self._thread = None

    def wake(self, _position: int = 0) -> None:
        """Tell the runner new events were committed (a writer listener)."""
        self._wake.set()

    def wait_for(self, position: int, timeout: float) -> bool:
        """Wait until every projection has applied `position`; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._progress:
            while self.position < position:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.error is not None:
                    return False
                self._progress.wait(remaining)
        return True

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                while self.run_once() and not self._stop.is_set():
                    pass
            except Exception as error:
                self.error = error
                log.exception("projection batch failed; retrying")
                time.sleep(self.poll_seconds)
                continue
            self.error = None
            self._wake.wait(self.poll_seconds)
            self._wake.clear()


def _secondary_indexes(projections: Sequence[Projection]) -> list[Index]:
    """The non-unique indexes of the projections' tables."""
    return [
        index
        for projection in projections
        for table in projection.tables
        for index in sorted(table.indexes, key=lambda index: str(index.name))
        if not index.unique
    ]


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect garbage cycles once per batch, and only among the batch's survivors.

    A batch keeps thousands of decoded events alive until it is applied, so with automatic
    collection nearly every batch triggers collections that walk every live object (the
    projections' caches too): measured, about a third of a catch-up's CPU time. Decoded
    events hold no cycles (reference counting frees them); the few cycles a batch leaves
    (a few hundred objects) are young, so collecting the young generations after each batch
    frees them at a cost proportional to what the batch left alive.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
