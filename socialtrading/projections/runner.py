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
projections) and builds them again once caught up. Unique indexes stay (upserts and
constraints need them). `setup` creates any index a crash left missing.

A read model never stops on one event. When a batch fails for any reason but an unreachable
or unusable database (`_environmental`: retried, as before), the runner rolls it back and
applies the batch again one projection at a time, each chunk in its own transaction; a part
that fails is split in two and each half tried again, so the events that apply are committed
and a single event that still fails is set aside: written to `projection_dead_letters`
(projection, position, topic, error, time of the first failure) in the same transaction that
moves that projection's position past it. `status` counts them; `retry` applies them again
(after a fix), in position order, each in its own transaction: a retried event is applied
AFTER the events that followed it in the log, so a read model whose rows depend on the order
of events (an order's fill before its acceptance) may need a `rebuild` instead.
"""

from __future__ import annotations

import gc
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from eventsourcing import persistence
from eventsourcing.utils import get_topic
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    String,
    Table,
    func,
    inspect,
    select,
)
from sqlalchemy import exc as sa
from sqlalchemy.dialects import postgresql, sqlite

from socialtrading.infra.decoding import EventDecoder
from socialtrading.infra.store import EventStore
from socialtrading.projections.base import Chunk, Item, Projection, metadata
from socialtrading.projections.types import BigIntText

log = logging.getLogger(__name__)

positions = Table(
    "projection_positions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

ERROR_CHARS = 500  # of a set-aside event's error, kept

dead_letters = Table(
    "projection_dead_letters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, primary_key=True),
    Column("topic", String(255), nullable=False),
    Column("error", String(ERROR_CHARS), nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False),
)


@dataclass
class Status:
    """Where a projection stands."""

    name: str
    position: int
    head: int
    dead_letters: int = 0

    @property
    def lag(self) -> int:
        """Notifications not yet applied."""
        return max(0, self.head - self.position)


@dataclass(frozen=True)
class DeadLetter:
    """An event a projection set aside because applying it failed."""

    name: str
    position: int
    topic: str
    error: str
    failed_at: datetime


@dataclass(frozen=True)
class Retried:
    """What `ProjectionRunner.retry` did: events now applied, events that still fail."""

    applied: int
    failing: int


class _Undecodable:
    """Stands in for a notification that could not be decoded (it is set aside)."""

    __slots__ = ("error", "topic")

    def __init__(self, topic: str, error: Exception) -> None:
        self.topic = topic
        self.error = error


class ProjectionRunner:
    """Runs projections over one event store into one read-model database."""

    def __init__(
        self,
        store: EventStore,
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
        """Create missing tables and indexes, and load the positions.

        A projection with a position but a table missing (a read store made before the table
        was added or renamed), or whose stored tables predate a column type change
        (`_outdated`), starts again from zero: its tables are emptied (or dropped, to take the
        new column types) and it is rebuilt as the runner catches up.
        """
        existing = set(inspect(self.engine).get_table_names())
        missing = (
            [p for p in self.projections if any(t.name not in existing for t in p.tables)]
            if positions.name in existing
            else []
        )
        with self.engine.begin() as connection:
            retyped = _outdated(connection, self.projections)
            for projection in retyped:
                log.warning("read model %s has outdated tables: rebuilding it", projection.name)
                for table in reversed(projection.tables):
                    table.drop(connection, checkfirst=True)
        outdated = [p for p in self.projections if p in missing or p in retyped]
        metadata.create_all(self.engine)
        with self.engine.begin() as connection:
            for projection in outdated:
                for table in reversed(projection.tables):
                    connection.execute(table.delete())
                self._record_position(connection, projection, 0)
                connection.execute(
                    dead_letters.delete().where(dead_letters.c.name == projection.name)
                )
                projection.reset()
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
        """Each projection's position, the log's head and how many events it set aside."""
        head = self.head()
        with self.engine.connect() as connection:
            counts: dict[str, int] = {
                name: int(count)
                for name, count in connection.execute(
                    select(dead_letters.c.name, func.count()).group_by(dead_letters.c.name)
                ).all()
            }
        return [
            Status(p.name, self._positions.get(p.name, 0), head, counts.get(p.name, 0))
            for p in self.projections
        ]

    def dead_letters(self, names: Sequence[str] | None = None) -> list[DeadLetter]:
        """The events the named projections (all by default) set aside, in position order."""
        statement = select(dead_letters).order_by(dead_letters.c.name, dead_letters.c.position)
        if names is not None:
            statement = statement.where(dead_letters.c.name.in_(list(names)))
        with self.engine.connect() as connection:
            return [DeadLetter(**row) for row in connection.execute(statement).mappings()]

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
        start = read = end = self.position
        count = 0
        applied: dict[str, Projection] = {}
        try:
            with self.engine.begin() as connection:
                while count < limit:
                    rows = self.store.read(read, min(self.read_size, limit - count))
                    if not rows:
                        break
                    count += len(rows)
                    end = rows[-1].id
                    self._apply_chunk(connection, Chunk(self._decoder.decode(rows)), applied)
                    read = end
                    del rows  # the chunk's events are freed before the next is read
                    if progress is not None:
                        progress(read)
                if not count:
                    return 0
                for projection in applied.values():
                    projection.flush(connection)
                    self._record_position(connection, projection, read)
        except Exception as error:
            self._reset_all()
            if end == start or _environmental(error):
                raise
            log.warning(
                "applying notifications %d to %d failed (%s); applying them again one "
                "projection at a time, to set aside the events that fail",
                start + 1,
                end,
                _describe(error),
            )
            self._isolate(start, end)
            return count
        except BaseException:
            self._reset_all()
            raise
        assert read > start
        self._advanced(applied.values(), read)
        return count

    def _reset_all(self) -> None:
        for projection in self.projections:
            projection.reset()  # caches may hold changes the rollback undid

    def _record_position(self, connection: Connection, projection: Projection, at: int) -> None:
        connection.execute(
            positions.update().where(positions.c.name == projection.name), {"position": at}
        )

    def _advanced(self, projections: Iterable[Projection], position: int) -> None:
        """Publish that `projections` committed up to `position`."""
        done = list(projections)
        with self._progress:
            for projection in done:
                self._positions[projection.name] = position
            self._progress.notify_all()
        for projection in done:
            try:
                projection.after_commit()
            except Exception:  # a subscriber's failure must not stop the read models
                log.exception("publishing live updates of %s failed", projection.name)

    # ------------------------------------------------------------------ isolating failures

    def _isolate(self, start: int, end: int) -> None:
        """Apply notifications `start` (excluded) to `end` one projection and one chunk at a
        time, setting aside each event that fails on its own."""
        after = start
        while after < end:
            rows = [row for row in self.store.read(after, self.read_size) if row.id <= end]
            if not rows:
                break
            items = self._decode_each(rows)
            after = rows[-1].id
            del rows
            for projection in self.projections:
                position = self._positions[projection.name]
                mine = [item for item in items if item[0] > position]
                if mine:
                    self._settle(projection, mine)

    def _decode_each(self, rows: Sequence[Any]) -> list[Item]:
        """Decode the rows; one that cannot be decoded becomes an `_Undecodable`."""
        try:
            return self._decoder.decode(rows)
        except Exception as error:
            if _environmental(error):
                raise
        items: list[Item] = []
        for row in rows:
            try:
                items += self._decoder.decode([row])
            except Exception as error:
                if _environmental(error):
                    raise
                items.append((row.id, _Undecodable(row.topic, error)))
        return items

    def _settle(self, projection: Projection, items: list[Item]) -> None:
        """Apply `items` to one projection, halving a part that fails until the events that
        fail alone are found; those are set aside."""
        pending = [items]
        while pending:
            part = pending.pop()
            undecodable = [i for i, item in enumerate(part) if isinstance(item[1], _Undecodable)]
            if undecodable:  # set aside as is; the events around it are tried as usual
                if len(part) == 1:
                    self._set_aside(projection, part[0], part[0][1].error)
                    continue
                at = undecodable[0]
                pending += [p for p in (part[at + 1 :], part[at : at + 1], part[:at]) if p]
                continue
            try:
                with self.engine.begin() as connection:
                    projection.apply(connection, Chunk(part))
                    projection.flush(connection)
                    self._record_position(connection, projection, part[-1][0])
            except Exception as error:
                projection.reset()
                if _environmental(error):
                    raise
                if len(part) > 1:
                    middle = len(part) // 2
                    pending += [part[middle:], part[:middle]]
                    continue
                self._set_aside(projection, part[0], error)
            except BaseException:
                projection.reset()
                raise
            else:
                self._advanced([projection], part[-1][0])

    def _set_aside(self, projection: Projection, item: Item, error: Exception) -> None:
        """Record the event as a dead letter and move the projection past it, together."""
        position, event = item
        topic = event.topic if isinstance(event, _Undecodable) else get_topic(type(event))
        text = _describe(error)
        with self.engine.begin() as connection:
            _write_dead_letter(connection, projection.name, position, topic, text)
            self._record_position(connection, projection, position)
        log.error(
            "read model %s set aside notification %d (%s): %s",
            projection.name,
            position,
            topic,
            text,
        )
        self._advanced([projection], position)

    def retry(self, names: Sequence[str] | None = None) -> Retried:
        """Apply the events the named projections (all by default) set aside, in position
        order, each in its own transaction: one that applies leaves the dead letters, one
        that fails again stays there with its new error.

        Run it while no server follows the same read store: a server's projections keep
        in-memory copies of their tables, which this does not update.
        """
        applied = failing = 0
        for projection in self._chosen(names):
            for letter in self.dead_letters([projection.name]):
                rows = self.store.read(letter.position - 1, 1)
                try:
                    if not rows or rows[0].id != letter.position:
                        raise LookupError(f"notification {letter.position} is not in the store")
                    items = self._decoder.decode(rows)
                    with self.engine.begin() as connection:
                        projection.apply(connection, Chunk(items))
                        projection.flush(connection)
                        connection.execute(_letter(dead_letters.delete(), letter))
                except Exception as error:
                    projection.reset()
                    if _environmental(error):
                        raise
                    failing += 1
                    with self.engine.begin() as connection:
                        connection.execute(
                            _letter(dead_letters.update(), letter), {"error": _describe(error)}
                        )
                    log.error(
                        "read model %s still fails on notification %d: %s",
                        projection.name,
                        letter.position,
                        _describe(error),
                    )
                else:
                    applied += 1
                    self._advanced([projection], self._positions[projection.name])
        return Retried(applied, failing)

    def _chosen(self, names: Sequence[str] | None) -> list[Projection]:
        unknown = set(names or ()) - {p.name for p in self.projections}
        if unknown:
            raise ValueError(f"unknown projection(s): {', '.join(sorted(unknown))}")
        return [p for p in self.projections if names is None or p.name in names]

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
        """Drop and rebuild the named projections (all by default) from the store (their
        dead letters are forgotten: the rebuild sets aside again whatever still fails)."""
        chosen = self._chosen(names)
        with self.engine.begin() as connection:
            for projection in chosen:
                for table in reversed(projection.tables):
                    table.drop(connection, checkfirst=True)
                self._record_position(connection, projection, 0)
                connection.execute(
                    dead_letters.delete().where(dead_letters.c.name == projection.name)
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


def _environmental(error: BaseException) -> bool:
    """Whether the error says the database is unreachable, locked or unusable (retry the
    batch later) rather than that one event cannot be applied (set it aside).

    A database that refuses every statement (no such table, no privilege) is not one
    event's fault either: setting aside every event would empty the read model.
    """
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, _ENVIRONMENTAL):
            return True
        if isinstance(seen, sa.DBAPIError) and seen.orig is not None:
            seen = seen.orig
        else:
            seen = seen.__cause__
    return False


_ENVIRONMENTAL = (
    sa.OperationalError,
    sa.InterfaceError,
    sa.ProgrammingError,
    sa.InternalError,
    sa.DisconnectionError,
    sa.TimeoutError,
    sa.PendingRollbackError,
    sa.ResourceClosedError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    psycopg.ProgrammingError,
    psycopg.InternalError,
    sqlite3.OperationalError,
    sqlite3.InterfaceError,
    persistence.OperationalError,
    persistence.InterfaceError,
    persistence.ProgrammingError,
    persistence.InternalError,
    OSError,
    MemoryError,
)


def _describe(error: BaseException) -> str:
    """The error's type and message, cut to `ERROR_CHARS`."""
    return f"{type(error).__name__}: {error}"[:ERROR_CHARS]


def _write_dead_letter(
    connection: Connection, name: str, position: int, topic: str, error: str
) -> None:
    row = {
        "name": name,
        "position": position,
        "topic": topic[:255],
        "error": error,
        "failed_at": datetime.now(UTC),
    }
    insert = (
        postgresql.insert(dead_letters)
        if connection.dialect.name == "postgresql"
        else sqlite.insert(dead_letters)
    )
    # the first failure's time is kept
    statement = insert.on_conflict_do_update(
        index_elements=["name", "position"], set_={"error": insert.excluded.error}
    )
    connection.execute(statement, row)


def _letter(statement: Any, letter: DeadLetter) -> Any:
    return statement.where(
        dead_letters.c.name == letter.name, dead_letters.c.position == letter.position
    )


def _outdated(connection: Connection, projections: Sequence[Projection]) -> list[Projection]:
    """The projections with a stored table whose columns are not the declared ones (a column
    added, dropped or renamed since), or holding as an integer a column now declared
    `BigIntText` (sums that may pass 2**63: integer columns stop there)."""
    inspector = inspect(connection)
    found = []
    for projection in projections:
        for table in projection.tables:
            if not inspector.has_table(table.name):
                continue
            stored = inspector.get_columns(table.name)
            wide = {c.name for c in table.columns if isinstance(c.type, BigIntText)}
            if {c["name"] for c in stored} != set(table.columns.keys()) or any(
                c["name"] in wide and isinstance(c["type"], Integer) for c in stored
            ):
                found.append(projection)
                break
    return found


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
    """Turn automatic garbage collection off for the duration; `catch_up` collects the
    young generations after each batch instead (decoded events hold no cycles, so what a
    batch leaves to collect is young and small)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
