"""Projection catch-up: every read model built from zero over a store of generated events.

    python benchmarks/projections.py --events 1000000 --store sqlite|postgresql

The events come from the real writer: the order stream of `write_path.py` (50 traders, two
markets, about a third of the orders trading, the rest resting, cancels), written with large
group commits into a temporary SQLite file or a fresh PostgreSQL schema. Then a fresh read
store is created and `ProjectionRunner.catch_up()` is timed from position zero. Prints one
JSON object:

- events, seconds, events_per_sec: notifications applied by the catch-up and its wall time
- apply_seconds: time inside each projection's `apply` and `flush`
- read_seconds, decode_seconds: reading the notifications from the store, and decoding them
  into events (the rest of `seconds` is the runner's own work, freeing events and committing)
- sql_seconds: time inside the read store's driver for statements (part of apply_seconds):
  what the read models' writes cost in the database itself, and the part of the figure
  that no change of Python code can reduce
- cpu_seconds: the process's CPU time during the catch-up (the machine may be shared)
- generate_seconds: how long writing the events took (not part of the figure)

`--workdir DIR` keeps the SQLite event store there and reuses it when it already holds
events (handy when profiling and comparing; the read store is always fresh, and deleted
afterwards unless `--read-store FILE` names where to keep it, to compare two builds).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, event

sys.path.insert(0, str(Path(__file__).resolve().parent))

from write_path import POSTGRES_URL, _order_commands, _run, _setup_commands

from socialtrading.commands.writer import Writer
from socialtrading.infra.readstore import open_read_store
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import EventStore, open_store
from socialtrading.projections.base import Delegating, Item, Projection
from socialtrading.projections.registry import all_projections
from socialtrading.projections.runner import ProjectionRunner

EVENTS_PER_ORDER = 1.027  # the stream's measured ratio: one market event per order, plus ledger


class Timed(Delegating):
    """A projection whose `apply` and `flush` time is measured."""

    def __init__(self, inner: Projection) -> None:
        super().__init__(inner)
        self.seconds = 0.0

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        self._timed(self.inner.apply, connection, items)

    def flush(self, connection: Connection) -> None:
        self._timed(self.inner.flush, connection)

    def _timed(self, method: Callable[..., None], *args: Any) -> None:
        started = time.perf_counter()
        try:
            method(*args)
        finally:
            self.seconds += time.perf_counter() - started


class Stopwatch:
    """Seconds spent in the wrapped callables and in the read store's statements."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._started = 0.0

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        self.seconds[name] = 0.0

        def timed(*args: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args)
            finally:
                self.seconds[name] += time.perf_counter() - started

        return timed

    def watch_statements(self, engine: Engine) -> None:
        self.seconds["sql"] = 0.0

        @event.listens_for(engine, "before_cursor_execute")
        def before(*_: Any) -> None:
            self._started = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def after(*_: Any) -> None:
            self.seconds["sql"] += time.perf_counter() - self._started


def _generate(store: EventStore, events: int, traders: int, seed: int) -> None:
    """Write at least about `events` events through the writer."""
    writer = Writer(
        store, batch_max=2_000, batch_ms=20.0, snapshot_interval=10_000, demo_funding=True
    ).start()
    try:
        for command in _setup_commands(traders):
            outcome = writer.execute(command)
            assert outcome.accepted, outcome
        setup = store.recorder.max_notification_id() or 0
        count = max(1, math.ceil((events - setup) / EVENTS_PER_ORDER))
        _run(writer, _order_commands(count, traders, seed), 4_000)
    finally:
        writer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--traders", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--batch-size", type=int, default=200_000, help="notifications per catch-up transaction"
    )
    parser.add_argument(
        "--read-size", type=int, default=20_000, help="notifications read and decoded at a time"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="keep/reuse the SQLite store")
    parser.add_argument("--read-store", type=Path, default=None, help="keep the SQLite read store")
    parser.add_argument(
        "--only",
        default=None,
        help="comma-separated projection names to build (default: all), e.g. to compare "
        "against a version that had fewer read models",
    )
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="projections_"))
    workdir.mkdir(parents=True, exist_ok=True)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    read_path = args.read_store or workdir / f"readmodels-{uuid.uuid4().hex[:8]}.db"
    if args.store == "sqlite":
        _remove_sqlite(read_path)
        settings = Settings(
            store=f"sqlite:///{workdir}/events.db", read_store=f"sqlite:///{read_path}"
        )
    else:
        settings = Settings(store=POSTGRES_URL, postgres_schema=schema)
    store = open_store(settings)
    engine = open_read_store(settings)
    try:
        generate_seconds = 0.0
        if not store.recorder.max_notification_id():
            started = time.perf_counter()
            _generate(store, args.events, args.traders, args.seed)
            generate_seconds = time.perf_counter() - started
        chosen = all_projections()
        if args.only is not None:
            names = args.only.split(",")
            unknown = sorted(set(names) - {projection.name for projection in chosen})
            if unknown:
                parser.error(f"unknown projections: {', '.join(unknown)}")
            chosen = [projection for projection in chosen if projection.name in names]
        timed = [Timed(projection) for projection in chosen]
        runner = ProjectionRunner(
            store,
            engine,
            timed,
            catch_up_batch_size=args.batch_size,
            read_size=args.read_size,
        )
        runner.setup()
        watch = Stopwatch()
        store.read = watch.wrap("read", store.read)  # type: ignore[method-assign]
        decoder = runner._decoder  # measured, not changed
        decoder.decode = watch.wrap("decode", decoder.decode)  # type: ignore[method-assign]
        watch.watch_statements(engine)
        started = time.perf_counter()
        cpu = time.process_time()
        applied = runner.catch_up()
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        result: dict[str, Any] = {
            "store": args.store,
            "events": applied,
            "seconds": round(seconds, 2),
            "events_per_sec": round(applied / seconds),
            "cpu_seconds": round(cpu, 2),
            "batch_size": args.batch_size,
            "read_size": args.read_size,
            "apply_seconds": {p.name: round(p.seconds, 2) for p in timed},
            **{f"{name}_seconds": round(value, 2) for name, value in watch.seconds.items()},
            "generate_seconds": round(generate_seconds, 1),
        }
        print(json.dumps(result))
    finally:
        engine.dispose()
        store.close()
        if args.store == "postgresql":
            with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
                connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        elif args.read_store is None:
            _remove_sqlite(read_path)


def _remove_sqlite(path: Path) -> None:
    """Delete a SQLite database file with its write-ahead log and shared-memory files."""
    for part in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        part.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
