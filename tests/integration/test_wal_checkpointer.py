"""The SQLite event store's WAL is checkpointed by a thread of its own, never at the writer's
commit (infra/checkpointer.py); PostgreSQL stores have no such thread."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from socialtrading.commands.models import RegisterTrader
from socialtrading.commands.writer import Writer
from socialtrading.infra import checkpointer
from socialtrading.infra.checkpointer import CheckpointPolicy, read_wal_index
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import EventStore, open_store

NEVER = CheckpointPolicy(threshold_bytes=1 << 40, interval=3600.0, poll=0.01)
EAGER = CheckpointPolicy(threshold_bytes=256 << 10, interval=3600.0, poll=0.01)
STATE = b"x" * 3000  # about one page per event
WRITER_AUTOCHECKPOINT = 16384  # pages: 64 MiB (infra/store.py)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "events.db"


@pytest.fixture
def open_sqlite_store(database: Path) -> Iterator[Callable[[CheckpointPolicy], EventStore]]:
    opened: list[EventStore] = []

    def opener(policy: CheckpointPolicy) -> EventStore:
        store = open_store(Settings(store=f"sqlite:///{database}"))
        store.checkpoint_policy = policy
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


def _append(store: EventStore, batches: int, events: int = 100) -> int:
    last = 0
    for _ in range(batches):
        batch = [
            StoredEvent(originator_id=uuid4(), originator_version=1, topic="t:E", state=STATE)
            for _ in range(events)
        ]
        last = store.append(batch)
    return last


def _eventually(condition: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def _autocheckpoint(store: EventStore) -> int:
    """The pooled connection's automatic checkpoint setting (the one the writer used: the
    pool hands its idle connections out in turn, and the tests use one at a time)."""
    with cast(Any, store.recorder).datastore.transaction(commit=False) as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        return int(cursor.fetchone()[0])


def _backlog(database: Path) -> int:
    wal = read_wal_index(database)
    assert wal is not None
    return wal.backlog_bytes


def _checkpointer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("wal-checkpointer")]


def test_the_writing_connections_checkpoint_only_at_64_mib(
    open_sqlite_store: Callable[[CheckpointPolicy], EventStore], database: Path
) -> None:
    store = open_sqlite_store(NEVER)
    _append(store, batches=20)  # ~6 MiB: past SQLite's default of 1,000 pages, thrice over
    wal = read_wal_index(database)
    assert wal is not None
    assert wal.frames > 1500
    assert wal.copied == 0  # no commit copied anything into the database file
    assert _autocheckpoint(store) == WRITER_AUTOCHECKPOINT
    assert store.checkpoints.runs == 0
    # the header read is SQLite's own account of the WAL
    with sqlite3.connect(database) as other:
        busy, frames, copied = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    other.close()
    assert (busy, frames, copied) == (0, wal.frames, wal.frames)


def test_the_checkpointer_copies_the_wal_past_its_threshold(
    open_sqlite_store: Callable[[CheckpointPolicy], EventStore], database: Path
) -> None:
    store = open_sqlite_store(EAGER)
    before = database.stat().st_size
    last = _append(store, batches=4)  # ~1.2 MiB, past the 256 KiB threshold
    assert _eventually(lambda: store.checkpoints.runs >= 1)
    stats = store.checkpoints
    assert stats.pages > 0
    assert stats.last is not None
    busy, frames, copied = stats.last
    assert busy == 0 and copied > 0 and frames >= copied
    assert database.stat().st_size > before  # the pages are in the database file
    assert _eventually(lambda: _backlog(database) < EAGER.threshold_bytes)
    assert store.recorder.max_notification_id() == last
    assert _append(store, batches=1) == last + 100  # and the writer goes on


def test_a_small_wal_is_checkpointed_after_the_interval(
    open_sqlite_store: Callable[[CheckpointPolicy], EventStore], database: Path
) -> None:
    store = open_sqlite_store(CheckpointPolicy(threshold_bytes=1 << 40, interval=0.05, poll=0.01))
    _append(store, batches=1, events=3)
    assert _eventually(lambda: store.checkpoints.pages > 0)
    wal = read_wal_index(database)
    assert wal is not None and wal.backlog_bytes == 0


def test_the_writer_acknowledges_while_the_checkpointer_copies(
    open_sqlite_store: Callable[[CheckpointPolicy], EventStore], database: Path
) -> None:
    store = open_sqlite_store(CheckpointPolicy(threshold_bytes=64 << 10, poll=0.01))
    with Writer(store, batch_max=50, snapshot_interval=2) as writer:
        acks = [
            writer.submit(RegisterTrader(command_id="register", handle=f"trader{i:04d}"))
            for i in range(600)
        ]
        assert all(ack.result(10).accepted for ack in acks)
        assert _eventually(lambda: store.checkpoints.pages > 0)
        # whichever pooled connection the writer's appends and snapshots used
        assert _autocheckpoint(store) == WRITER_AUTOCHECKPOINT


def test_closing_the_store_stops_its_checkpointer(
    open_sqlite_store: Callable[[CheckpointPolicy], EventStore],
) -> None:
    reader = open_sqlite_store(EAGER)
    reader.recorder.max_notification_id()
    assert reader.checkpoints.runs == 0
    assert not _checkpointer_threads()  # a store that only reads runs none
    store = open_sqlite_store(EAGER)
    _append(store, batches=4)
    assert _eventually(lambda: store.checkpoints.runs >= 1)
    assert len(_checkpointer_threads()) == 1
    store.close()
    reader.close()
    assert not _checkpointer_threads()
    store.close()  # twice is harmless


class _Broken:
    """A connection whose every statement fails."""

    def execute(self, *_: Any) -> Any:
        raise sqlite3.OperationalError("disk I/O error")

    def close(self) -> None:
        pass


def test_a_failing_checkpointer_does_not_stop_the_writer(
    open_sqlite_store: Callable[[CheckpointPolicy], EventStore],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempts: list[Path] = []
    real = checkpointer.connect

    def connect(path: Path) -> Any:
        attempts.append(path)
        if len(attempts) == 1:
            raise sqlite3.OperationalError("unable to open database file")
        if len(attempts) == 2:
            return _Broken()
        return real(path)

    monkeypatch.setattr(checkpointer, "connect", connect)
    store = open_sqlite_store(CheckpointPolicy(threshold_bytes=64 << 10, interval=0.05, poll=0.01))
    with caplog.at_level(logging.WARNING, logger=checkpointer.__name__):
        last = 0
        for _ in range(40):  # appends go on while the checkpointer fails, then recovers
            last = _append(store, batches=1, events=20)
            time.sleep(0.005)
        assert store.recorder.max_notification_id() == last
        assert _eventually(lambda: store.checkpoints.runs >= 1)
    assert store.checkpoints.failures == 2
    assert sum("checkpoint" in record.getMessage() for record in caplog.records) == 2
    store.close()
    assert not _checkpointer_threads()


def test_a_wal_pinned_past_the_hard_limit_is_warned_about(
    open_sqlite_store: Callable[[CheckpointPolicy], EventStore],
    database: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy = CheckpointPolicy(
        threshold_bytes=64 << 10, interval=0.05, poll=0.01, hard_limit_bytes=512 << 10
    )
    store = open_sqlite_store(policy)
    _append(store, batches=1)
    with sqlite3.connect(database, isolation_level=None) as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM stored_events").fetchone()  # an old snapshot
        with caplog.at_level(logging.WARNING, logger=checkpointer.__name__):
            _append(store, batches=6)  # not blocked by the reader nor the checkpointer
            assert _eventually(lambda: any("past" in r.getMessage() for r in caplog.records))
        reader.execute("ROLLBACK")
    reader.close()
    assert _eventually(lambda: _backlog(database) == 0)  # copied once the reader is gone


def test_a_postgresql_store_has_no_checkpointer(
    open_event_store: Callable[[], EventStore], backend: str
) -> None:
    store = open_event_store()
    _append(store, batches=1, events=3)
    running = _checkpointer_threads()
    if backend == "postgresql":
        assert not running
        assert store.checkpoints.runs == 0
    else:
        assert len(running) == 1
    store.close()
    assert not _checkpointer_threads()


def test_under_steady_appends_the_wal_is_started_again_and_the_thread_copies_most(
    open_sqlite_store: Callable[[CheckpointPolicy], EventStore], database: Path
) -> None:
    """Appends without a pause: the writer's own checkpoint at 64 MiB starts the WAL again
    (a checkpoint from another thread never lets it), and finds most of the WAL copied by the
    thread already."""
    store = open_sqlite_store(CheckpointPolicy(threshold_bytes=4 << 20, poll=0.005))
    largest = restarts = previous = written = 0
    for _ in range(900):  # ~100 MiB written
        _append(store, 1, events=25)
        wal = read_wal_index(database)
        assert wal is not None
        largest = max(largest, wal.wal_bytes)
        if wal.frames < previous:
            restarts += 1
            written += previous
        previous = wal.frames
    assert restarts >= 1, (restarts, largest, store.checkpoints)
    assert largest < 72 << 20, largest  # 64 MiB and a batch or so
    assert store.checkpoints.pages > written // 2, (store.checkpoints, written)


def test_the_checkpointer_never_creates_a_missing_database(tmp_path: Path) -> None:
    missing = tmp_path / "gone.db"
    with pytest.raises(sqlite3.OperationalError):
        checkpointer.connect(missing)
    assert not missing.exists()
