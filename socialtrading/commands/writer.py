"""The single writer (sequencer): commands in arrival order, group commit, ack after commit.

One thread owns every account and market in memory. Commands wait in a queue; the writer
takes them in arrival order (that order is the sequence), except background commands (a
copied fill and its parts: long, and nobody waits on them): at most one of them goes in a
batch, after the others, and not in two batches in a row while other commands wait, so no
command waits behind more than one. It stamps each command with the sequencer time
(microseconds, never going backwards), applies it, and collects every aggregate it touched. A
batch closes when it holds `batch_max` commands, when `batch_ms` have passed since it opened,
or when the queue is empty: then ONE `EventStore.append` stores every touched aggregate's events
in one transaction, and only then are the batch's commands acknowledged. So a lightly loaded writer
commits each command at once, and a busy one commits many per transaction.

If the commit fails, every command of the batch gets CommitFailed and the writer rebuilds its
state from the store (snapshots plus later events): nothing half-applied survives. If a
command breaks the batch BEFORE the commit (a handler's bug, an event that cannot be
encoded), the writer rebuilds its state and runs the batch's commands one at a time: the one
that still fails is refused with the code `command_failed` (nothing of it stored), the others
are stored as usual. One bad command never costs other users their orders.

The writer thread computes in the exact decimal context of `domain/money.py`: a balance that
would need rounding raises (and is a failed command) instead of creating money.

`submit` answers with an `Ack`: a plain object that the writer resolves a whole batch at a
time, waking every waiting thread with one notification per batch (why not a
`concurrent.futures.Future`: docs/decisions.md).

A repeated (actor, command_id) gets the first outcome back and changes nothing, also after a
restart (the rule: `commands/dedup.py`). Each batch looks its commands up in the command index
with one query, and its transaction writes one row per new command beside its events. The
index also lists every account and market, so a start-up loads them from their snapshots and
later events without reading the whole log: its time and memory depend on the aggregates, not
on the log's length.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from socialtrading.commands import dedup
from socialtrading.commands.models import Command
from socialtrading.commands.registry import HANDLERS, wanted
from socialtrading.commands.social_store import SocialCache, repository_loader, trade_finder
from socialtrading.commands.state import Outcome, State
from socialtrading.domain import money
from socialtrading.domain.account import Account
from socialtrading.domain.compliance.alert import Alert
from socialtrading.domain.copy.copy import Copy
from socialtrading.domain.errors import InvalidCommand, Refused
from socialtrading.domain.market import Market
from socialtrading.domain.social.comment import Comment
from socialtrading.domain.social.like import Like
from socialtrading.domain.social.post import Post
from socialtrading.domain.social.report import Report
from socialtrading.infra.command_index import (
    ACCOUNT,
    ALERT,
    COMMENT,
    COPY,
    LIKE,
    MARKET,
    POST,
    REPORT,
    CommandRow,
    Created,
)
from socialtrading.infra.load_many import load_many
from socialtrading.infra.store import EventStore

log = logging.getLogger(__name__)


# The kind each aggregate class is listed under in the store's aggregates table.
_KINDS: dict[type[Aggregate], str] = {
    Account: ACCOUNT,
    Market: MARKET,
    Copy: COPY,
    Post: POST,
    Comment: COMMENT,
    Like: LIKE,
    Report: REPORT,
    Alert: ALERT,
}


class CommitFailed(Exception):  # noqa: N818 (what callers see: the batch did not commit)
    """The batch holding this command could not be stored; nothing of it was kept."""


# The code of a command refused because processing it failed (see `Writer._poisoned`).
COMMAND_FAILED = "command_failed"


class WriterStopped(Exception):  # noqa: N818
    """The writer is not running."""


def wall_clock_us() -> int:
    """Microseconds since the epoch from the system clock (the sequencer's time source)."""
    return time.time_ns() // 1000


@dataclass
class WriterStats:
    """Counters for metrics and benchmarks."""

    batches: int = 0
    commands: int = 0
    events: int = 0
    commit_seconds: float = 0.0
    failed_batches: int = 0
    last_batch_size: int = 0
    # seconds from a batch taken to its commit, of the batches that held a background command
    background_seconds: float = 0.0


class Ack:
    """The acknowledgement of one submitted command: its outcome once its batch committed.

    The part of `concurrent.futures.Future` callers use (`result`, `exception`, `done`,
    `add_done_callback`), plus `wait_async` for asyncio, and the times it was submitted and
    acknowledged (`time.perf_counter`, for latency figures).
    """

    __slots__ = (
        "_callbacks",
        "_done",
        "_error",
        "_outcome",
        "_signal",
        "acknowledged",
        "command",
        "submitted",
    )

    def __init__(self, command: Command, signal: threading.Condition) -> None:
        self.command = command
        self.submitted = time.perf_counter()
        self.acknowledged = 0.0
        self._signal = signal  # the writer's: notified once per acknowledged batch
        self._done = False
        self._outcome: Outcome | None = None
        self._error: Exception | None = None
        self._callbacks: list[Callable[[Ack], None]] | None = None

    def done(self) -> bool:
        """True once the command's batch has committed (or failed)."""
        return self._done

    def result(self, timeout: float | None = None) -> Outcome:
        """The outcome; raises the command's error, or TimeoutError after `timeout` seconds."""
        error = self.exception(timeout)
        if error is not None:
            raise error
        assert self._outcome is not None
        return self._outcome

    def exception(self, timeout: float | None = None) -> Exception | None:
        """The command's error (None if it has an outcome), after waiting as `result` does."""
        if not self._done:
            deadline = None if timeout is None else time.monotonic() + timeout
            with self._signal:
                while not self._done:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise TimeoutError("the command was not acknowledged in time")
                    self._signal.wait(remaining)
        return self._error

    def add_done_callback(self, callback: Callable[[Ack], None]) -> None:
        """Call `callback(ack)` when acknowledged (at once if it is): from the writer thread."""
        with self._signal:
            if not self._done:
                if self._callbacks is None:
                    self._callbacks = []
                self._callbacks.append(callback)
                return
        callback(self)

    async def wait_async(self) -> Outcome:
        """The outcome, awaited on the running event loop without blocking it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()

        def settle(ack: Ack) -> None:
            if not future.done():  # the awaiting task may have been cancelled (a timeout)
                if ack._error is not None:
                    future.set_exception(ack._error)
                else:
                    future.set_result(ack._outcome)  # type: ignore[arg-type]

        def wake(ack: Ack) -> None:  # from the writer thread
            loop.call_soon_threadsafe(settle, ack)

        self.add_done_callback(wake)
        return await future

    def _resolve(self, result: Outcome | Exception, at: float) -> bool:
        """Record the result (the writer holds the signal); True if callbacks are waiting."""
        if isinstance(result, Exception):
            self._error = result
        else:
            self._outcome = result
        self.acknowledged = at
        self._done = True
        return self._callbacks is not None

    def _run_callbacks(self) -> None:
        for callback in self._callbacks or ():
            try:
                callback(self)
            except Exception:  # a caller's callback must never stop the writer
                log.exception("an acknowledgement callback failed")


# Told after each batch: every command with its outcome (or error), and the commit's seconds.
BatchObserver = Callable[[list[tuple[Command, "Outcome | Exception"]], float], None]


class Writer:
    """The single writer over one event store."""

    def __init__(
        self,
        store: EventStore,
        *,
        batch_max: int = 1000,
        batch_ms: float = 5.0,
        snapshot_interval: int = 500,
        demo_funding: bool = False,
        copy_part_size: int | None = None,
        clock: Callable[[], int] = wall_clock_us,
    ) -> None:
        self.store = store
        self.copy_part_size = copy_part_size  # State.copy_part_size
        self.batch_max = batch_max
        self.batch_ms = batch_ms
        self.snapshot_interval = snapshot_interval
        self.demo_funding = demo_funding
        self.stats = WriterStats()
        self._clock = clock
        self._queue: queue.SimpleQueue[Ack | None] = queue.SimpleQueue()
        self._acked = threading.Condition()
        self._thread: threading.Thread | None = None
        self._listeners: list[Callable[[int], None]] = []
        self._observers: list[BatchObserver] = []
        self._last_ts = 0
        self._head = 0  # the newest notification id stored
        self._snapshot_at: dict[UUID, int] = {}
        self.state = self._load()

    # ------------------------------------------------------------------ running

    def start(self) -> Writer:
        """Start the writer thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="writer", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Finish the commands already queued, then stop."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Writer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def cpu_seconds(self) -> float:
        """CPU time the writer thread has used so far (0.0 when it is not running)."""
        thread = self._thread
        if thread is None or thread.ident is None:
            return 0.0
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))

    def add_listener(self, listener: Callable[[int], None]) -> None:
        """Call `listener(max_notification_id)` after each commit (from the writer thread)."""
        self._listeners.append(listener)

    def add_batch_observer(self, observer: BatchObserver) -> None:
        """Call `observer(results, commit_seconds)` after each batch (metrics)."""
        self._observers.append(observer)

    def submit(self, command: Command) -> Ack:
        """Queue a command; its Ack resolves after its batch commits."""
        ack = Ack(command, self._acked)
        if self._thread is None:
            with self._acked:
                ack._resolve(WriterStopped("the writer is not running"), ack.submitted)
            return ack
        self._queue.put(ack)
        return ack

    def execute(self, command: Command, timeout: float | None = 30.0) -> Outcome:
        """Submit a command and wait for its outcome."""
        return self.submit(command).result(timeout)

    # ------------------------------------------------------------------ the loop

    def _run(self) -> None:
        money.install()  # balances in this thread are exact, or raise (domain/money.py)
        waiting: deque[Ack] = deque()  # background commands, in arrival order
        stopping = False
        background_last = False  # whether the previous batch ended with a background command
        while True:
            batch: list[Ack] = []
            if not stopping and not waiting:
                item = self._queue.get()  # nothing to do: wait for a command
                if item is None:
                    stopping = True
                else:
                    (waiting if item.command.background else batch).append(item)
            deadline = time.monotonic() + self.batch_ms / 1000
            while not stopping and len(batch) < self.batch_max:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                (waiting if item.command.background else batch).append(item)
                if time.monotonic() >= deadline:
                    break
            # One background command closes a batch, unless the previous batch ended with one
            # and other commands are waiting: those then go alone, so a command never waits
            # behind more than one background command.
            background_last = bool(waiting) and not (batch and background_last)
            if background_last:
                batch.append(waiting.popleft())
            if batch:
                self._process(batch)
            elif stopping:
                return

    def _now(self) -> int:
        ts = self._clock()
        ts = max(ts, self._last_ts)  # the sequencer's time never goes backwards
        self._last_ts = ts
        return ts

    def _process(self, batch: list[Ack]) -> None:
        taken = time.perf_counter()
        state = self.state
        state.touched = {}
        keys = [(ack.command.actor, ack.command.command_id) for ack in batch]
        try:
            # One query for the whole batch: which of its commands are repeats.
            recalled = dedup.recall_all(self.store, keys, self.state.markets.values(), self._head)
            # And one for the social aggregates and alerts its commands will look for that do
            # not exist.
            state.social.prefetch([id_ for ack in batch for id_ in wanted(ack.command)])
        except Exception as error:
            self._fail(batch, error)
            return
        try:
            results, fresh, touched, stored, rows, created = self._apply(batch, keys, recalled)
        except Exception:
            self._poisoned(batch)
            return
        try:
            started = time.perf_counter()
            last = self.store.append(stored, rows, created) if stored or rows else 0
            commit_seconds = time.perf_counter() - started
            self.stats.commit_seconds += commit_seconds
        except Exception as error:
            self._fail(batch, error)
            return
        if last:
            self._head = last
            for outcome in fresh.values():
                if outcome.stored:
                    outcome.position = last
        self.stats.batches += 1
        self.stats.commands += len(batch)
        self.stats.events += len(stored)
        self.stats.last_batch_size = len(batch)
        if batch[-1].command.background:  # (a batch's background command comes last)
            self.stats.background_seconds += time.perf_counter() - taken
        self._acknowledge(batch, results)
        self._snapshot(touched)
        if last:
            for listener in self._listeners:
                listener(last)
        if self._observers:
            self._observe(
                [(ack.command, result) for ack, result in zip(batch, results, strict=True)],
                commit_seconds,
            )

    def _apply(
        self,
        batch: list[Ack],
        keys: list[tuple[UUID, str]],
        recalled: dict[tuple[UUID, str], Outcome],
    ) -> tuple[
        list[Outcome | Exception],
        dict[tuple[UUID, str], Outcome],
        list[Aggregate],
        list[Any],
        list[CommandRow],
        list[Created],
    ]:
        """Apply a batch's commands to the state and encode what they changed, up to (not
        including) the append: its results, new outcomes, touched aggregates, stored events,
        command rows and created aggregates."""
        state = self.state
        results: list[Outcome | Exception] = []
        fresh: dict[tuple[UUID, str], Outcome] = {}
        ts = self._now()
        for ack, key in zip(batch, keys, strict=True):
            command = ack.command
            ts = self._now()
            first = fresh.get(key) or recalled.get(key)
            if first is not None:
                results.append(first)
                continue
            try:
                outcome = HANDLERS[type(command)](state, command, ts)
            except InvalidCommand as error:
                results.append(error)
                continue
            except Refused as error:
                outcome = Outcome(
                    command.command_id, False, error.code, error.message, stored=False
                )
            fresh[key] = outcome
            results.append(outcome)
        touched = list(state.touched.values())
        for aggregate in touched:
            if isinstance(aggregate, Account):
                aggregate.flush(ts)
        # What Application.save does, less the Recording and Notification objects per
        # event it builds and we never read: one insert, one transaction, which also
        # holds the batch's command rows and the aggregates it created.
        events: list[Any] = []
        created: list[Created] = []
        for aggregate in touched:
            pending = aggregate.collect_events()
            if pending and pending[0].originator_version == 1:
                created.append(Created(aggregate.id, _KINDS[type(aggregate)]))
            events.extend(pending)
        rows = [dedup.row_of(key[0], outcome) for key, outcome in fresh.items()]
        return results, fresh, touched, self.store.to_stored(events), rows, created

    def _fail(self, batch: list[Ack], error: Exception) -> None:
        """The store failed (read or append): nothing of the batch is kept, every command of
        it gets CommitFailed, and the state is rebuilt from the store."""
        log.exception("batch of %d commands failed; reloading state from the store", len(batch))
        self.stats.failed_batches += 1
        failure = CommitFailed(f"the batch could not be stored: {error}")
        self._acknowledge(batch, [failure] * len(batch))
        self._observe([(ack.command, failure) for ack in batch], 0.0)
        self.state = self._reload()

    def _poisoned(self, batch: list[Ack]) -> None:
        """A command broke the batch before anything was stored (a handler's bug, an event
        that cannot be encoded). Rebuild the state, then run the commands one at a time: the
        one that fails alone is refused (`command_failed`), the others are stored."""
        self.state = self._reload()
        if len(batch) > 1:
            log.warning(
                "a batch of %d commands failed before storing; retrying one by one", len(batch)
            )
            for ack in batch:
                self._process([ack])
            return
        ack = batch[0]
        command = ack.command
        log.exception("command %r of %s failed and is refused", command.command_id, command.actor)
        self.stats.failed_batches += 1
        outcome = Outcome(
            command.command_id,
            False,
            COMMAND_FAILED,
            "the command could not be processed; nothing of it was stored",
            stored=False,
        )
        self._acknowledge(batch, [outcome])
        self._observe([(command, outcome)], 0.0)

    def _acknowledge(self, batch: list[Ack], results: list[Outcome | Exception]) -> None:
        """Resolve a batch's acks, wake their waiters once, then run their callbacks."""
        at = time.perf_counter()
        with self._acked:
            called = [
                ack for ack, result in zip(batch, results, strict=True) if ack._resolve(result, at)
            ]
            self._acked.notify_all()
        for ack in called:
            ack._run_callbacks()

    def _observe(self, results: list[tuple[Command, Outcome | Exception]], seconds: float) -> None:
        for observer in self._observers:
            try:
                observer(results, seconds)
            except Exception:  # metrics must never stop the writer
                log.exception("a batch observer failed")

    # ------------------------------------------------------------------ state

    def _snapshot(self, aggregates: Iterable[Aggregate]) -> None:
        snapshot_class = type(self.store).snapshot_class or Aggregate.Snapshot
        if self.store.snapshots is None:
            return
        taken = []
        for aggregate in aggregates:
            due = self.snapshot_interval
            if isinstance(aggregate, Market):
                # A market's snapshot holds its whole book, so it costs O(live orders). Taken
                # after at least half as many events as the book has live orders, it costs
                # each event O(1) (two orders' worth) however big the book grows, and a
                # restart replays no more events than half the orders the snapshot holds.
                due = max(due, aggregate.book.live_count() // 2)
            if aggregate.version - self._snapshot_at.get(aggregate.id, 0) >= due:
                taken.append(snapshot_class.take(aggregate))
                self._snapshot_at[aggregate.id] = aggregate.version
        if taken:
            self.store.put_snapshots(taken)

    def _reload(self) -> State:
        """Rebuild the state after a failed commit, retrying while the store is unreachable.

        A commit usually fails because the database is down, and then so does the first
        reload; giving up would end the writer thread and leave every later command waiting.
        """
        delay = 0.05
        while True:
            try:
                return self._load()
            except Exception:
                log.exception("reloading the state failed; retrying in %.2f s", delay)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _load(self) -> State:
        """Rebuild the in-memory state from the store: every account, market and copy from
        its snapshot plus later events. A store written before the command index existed gets
        it first, from one pass over its log."""
        with money.exact():
            return self._load_exactly()

    def _load_exactly(self) -> State:
        store = self.store
        if store.open_index(lambda: dedup.derive(store)):
            log.info("created the command index from the log")
        if store.open_chain():  # reads the hash chain's head (and links a store made before it)
            log.info("linked the log's unchained events into the hash chain")
        state = State(
            demo_funding=self.demo_funding,
            copy_part_size=self.copy_part_size,
            social=SocialCache(
                repository_loader(store),
                trade_finder(store),
                listed=store.listed,
                load_many=lambda ids: load_many(store, ids),
            ),
        )
        repository = store.repository
        self._snapshot_at = {}
        # accounts, markets and copies (social aggregates and alerts are loaded when needed)
        for aggregate_id, _ in store.loaded_aggregates():
            aggregate: Aggregate = repository.get(aggregate_id)
            if isinstance(aggregate, Copy):
                state.copies.add(aggregate)
            elif isinstance(aggregate, Market):
                if not aggregate.knows_positions():  # snapshotted before positions
                    aggregate.recover_positions(store.events.get(aggregate_id))
                state.add_market(aggregate)
            else:
                assert isinstance(aggregate, Account), aggregate
                if not aggregate.knows_tokens():  # snapshotted before tokens were tracked
                    aggregate.recover_tokens(store.events.get(aggregate_id))
                state.add_account(aggregate)
            self._snapshot_at[aggregate_id] = aggregate.version
        self._head = store.recorder.max_notification_id() or 0
        self._last_ts = max((m.book.ts for m in state.markets.values()), default=0)
        return state

    def outcome(self, actor: UUID, command_id: str) -> Outcome | None:
        """The outcome a repeat of (actor, command_id) would get, None for a new command.
        Only while the writer thread is stopped (it reads the state that thread owns)."""
        key = (actor, command_id)
        found = dedup.recall_all(self.store, [key], self.state.markets.values(), self._head)
        return found.get(key)
