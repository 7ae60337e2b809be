"""Checkpoints of a SQLite event store's WAL, in a thread of their own.

The connections that write the event store never checkpoint (`PRAGMA wal_autocheckpoint=0`,
`infra/store.py`): with SQLite's automatic checkpoint, the commit that takes the WAL past
its limit copies the whole WAL into the database file and syncs it before it returns, on
the writer's thread, so that batch's acknowledgement waits hundreds of milliseconds.
Instead, a `Checkpointer` thread with its own connection runs
`PRAGMA wal_checkpoint(PASSIVE)`, which copies the frames no reader still needs and never
blocks the writer (nor waits for readers); the sqlite3 module releases the GIL meanwhile.

**When.** Every `poll` seconds the thread reads the WAL-index header (the first 136 bytes
of the `-shm` file, whose layout SQLite documents and keeps stable across versions:
https://www.sqlite.org/walformat.html): how many frames the WAL holds (`mxFrame`) and how
many of them are already in the database (`nBackfill`). It checkpoints when the frames not
yet copied reach `threshold_bytes`, or when there are some and `interval` seconds have
passed since its last checkpoint. The size of the `-wal` file cannot tell this: after a
complete checkpoint the writer starts the WAL again from its beginning, overwriting the file
in place, whose size then stays the largest it has been (up to `journal_size_limit`).

**Starting the WAL again** is the writer's own: SQLite starts the WAL from its beginning
only at a write transaction that begins with every frame copied, which a checkpoint from
another thread almost never leaves under steady writes (the writer appends while it
copies). So the writing connections keep an automatic checkpoint, every 64 MiB of WAL
(`infra/store.py`), after which their next transaction starts the WAL again. This thread
keeps what that checkpoint finds to do small: it copies at `threshold_bytes`, and syncs
the database file after each checkpoint that did not (PASSIVE syncs only when it copied
every frame), so the writer's checkpoint copies at most a few MiB and syncs little.

**Bounds.** A reader that keeps an old snapshot open pins the frames after it: the WAL
grows. Past `hard_limit_bytes` the thread logs a warning (once a minute while it lasts) and
goes on; it never blocks the writer. A checkpoint that copied nothing while frames were left
(readers pin them all) is retried after `interval` rather than every poll.

**Failures** (the connection cannot be opened, the checkpoint raises, the header cannot be
read) are logged and counted; the connection is closed and the next attempt comes
`interval` seconds later. Nothing of it reaches the writer.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import struct
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from socialtrading.infra import metrics

log = logging.getLogger(__name__)

# The WAL-index header: two copies of 48 bytes, then the checkpoint information, whose first
# field is nBackfill. In the host's byte order (the -shm file is never moved between hosts).
# Of the header: iVersion, unused, iChange, isInit, bigEndCksum, szPage, mxFrame.
_HEADER = struct.Struct("=IIIBBHI")
_HEADER_BYTES = 48
_BACKFILL = struct.Struct("=I")
_BACKFILL_AT = 2 * _HEADER_BYTES
_WAL_INDEX_VERSION = 3007000
_WARN_EVERY = 60.0  # seconds between warnings about a WAL past the hard limit


@dataclass(frozen=True)
class CheckpointPolicy:
    """When the checkpointer copies the WAL into the database."""

    threshold_bytes: int = 4 << 20  # frames not yet copied that start a checkpoint
    interval: float = 5.0  # ...or seconds since the last one, if any frame is left to copy
    poll: float = 0.1  # seconds between reads of the WAL-index header
    hard_limit_bytes: int = 256 << 20  # a WAL this long is warned about


@dataclass
class CheckpointStats:
    """What a checkpointer did (read from other threads; written by its own only)."""

    runs: int = 0  # checkpoints run
    pages: int = 0  # pages they copied into the database file
    failures: int = 0  # attempts that raised
    last: tuple[int, int, int] | None = None  # the last (busy, log, checkpointed)


class WalIndex(NamedTuple):
    """The WAL-index header's figures."""

    frames: int  # frames in the WAL (mxFrame)
    copied: int  # of which are in the database file (nBackfill)
    page_size: int

    @property
    def backlog_bytes(self) -> int:
        return (self.frames - self.copied) * self.page_size

    @property
    def wal_bytes(self) -> int:
        return self.frames * self.page_size


def read_wal_index(database: Path) -> WalIndex | None:
    """The WAL-index header of `database` (its `-shm` file), or None when there is none yet or
    it is being written (the two copies differ) or not one this code knows."""
    try:
        with open(f"{database}-shm", "rb") as file:
            data = file.read(_BACKFILL_AT + _BACKFILL.size)
    except FileNotFoundError:
        return None
    if len(data) < _BACKFILL_AT + _BACKFILL.size:
        return None
    if data[:_HEADER_BYTES] != data[_HEADER_BYTES:_BACKFILL_AT]:
        return None  # a writer is between its two copies: read it at the next poll
    version, _, _, initialised, _, size, frames = _HEADER.unpack_from(data)
    if version != _WAL_INDEX_VERSION or not initialised:
        return None
    (copied,) = _BACKFILL.unpack_from(data, _BACKFILL_AT)
    page_size = 65536 if size == 1 else size  # 64 KiB pages are stored as 1
    return WalIndex(frames, min(copied, frames), page_size)


def _sync(database: Path) -> None:
    """Flush the database file's pages to the disk (what a checkpoint copied)."""
    descriptor = os.open(database, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def connect(database: Path) -> sqlite3.Connection:
    """The checkpointer's own connection (a seam for the tests' failures)."""
    # read-write, never create: a database removed meanwhile is a failure, not a new file
    uri = f"{database.resolve().as_uri()}?mode=rw"
    return sqlite3.connect(uri, uri=True, timeout=1.0, isolation_level=None)


class Checkpointer:
    """A daemon thread checkpointing `database`'s WAL (see the module's docstring)."""

    def __init__(self, database: Path, policy: CheckpointPolicy | None = None) -> None:
        self.database = database
        self.policy = policy or CheckpointPolicy()
        self.stats = CheckpointStats()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"wal-checkpointer {database.name}", daemon=True
        )

    def start(self) -> Checkpointer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread (after the checkpoint it may be running) and close its connection."""
        self._stop.set()
        # not while the interpreter exits: a daemon thread may no longer run then (a store
        # closed by its finaliser), and its connection goes with the process anyway
        if self._thread.is_alive() and not sys.is_finalizing():
            self._thread.join()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        last_run = time.monotonic()
        warned_at = -_WARN_EVERY
        delay = self.policy.poll
        try:
            while not self._stop.wait(delay):
                delay = self.policy.poll
                try:
                    wal = read_wal_index(self.database)
                    now = time.monotonic()
                    if wal is not None:
                        metrics.WAL_BACKLOG_PAGES.set(wal.frames - wal.copied)
                        over = wal.wal_bytes > self.policy.hard_limit_bytes
                        if over and now - warned_at >= _WARN_EVERY:
                            warned_at = now
                            self._warn(wal)
                    if not self._due(wal, now - last_run):
                        continue
                    if connection is None:
                        connection = connect(self.database)
                    last_run = now
                    pages = self._checkpoint(connection, wal)
                    if pages == 0 and wal is not None and wal.backlog_bytes > 0:
                        delay = self.policy.interval  # readers pin every frame left
                    else:
                        behind = read_wal_index(self.database)
                        if (
                            behind is not None
                            and behind.backlog_bytes >= self.policy.threshold_bytes
                        ):
                            delay = 0.0  # the writer outran it: at once again, not a poll later
                except Exception:
                    self.stats.failures += 1
                    log.warning(
                        "WAL checkpoint of %s failed; trying again in %.1f s",
                        self.database,
                        self.policy.interval,
                        exc_info=True,
                    )
                    if connection is not None:
                        with contextlib.suppress(Exception):
                            connection.close()
                        connection = None
                    last_run = time.monotonic()
                    delay = self.policy.interval
        finally:
            if connection is not None:
                connection.close()

    def _due(self, wal: WalIndex | None, since: float) -> bool:
        if wal is None:  # no header to read (yet): by time alone
            return since >= self.policy.interval
        backlog = wal.backlog_bytes
        if backlog >= self.policy.threshold_bytes:
            return True
        return backlog > 0 and since >= self.policy.interval

    def _checkpoint(self, connection: sqlite3.Connection, wal: WalIndex | None) -> int:
        """Run one PASSIVE checkpoint; return how many pages it copied."""
        row = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        busy, frames, checkpointed = (int(value) for value in row)
        if checkpointed < frames:  # SQLite synced the database file only if it copied all
            _sync(self.database)
        before = 0 if wal is None else wal.copied
        # The same WAL: what it copied beyond what was copied before; a WAL started again
        # since the header was read: everything it copied (a counter, not an audit).
        pages = max(0, checkpointed - before if checkpointed >= before else checkpointed)
        self.stats.runs += 1
        self.stats.pages += pages
        self.stats.last = (busy, frames, checkpointed)
        metrics.WAL_CHECKPOINTS.inc()
        metrics.WAL_CHECKPOINTED_PAGES.inc(pages)
        return pages

    def _warn(self, wal: WalIndex) -> None:
        log.warning(
            "the WAL of %s holds %d MiB (%d MiB not yet copied), past %d MiB: a reader is "
            "keeping an old snapshot open; the writer goes on",
            self.database,
            wal.wal_bytes >> 20,
            wal.backlog_bytes >> 20,
            self.policy.hard_limit_bytes >> 20,
        )
