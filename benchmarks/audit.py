"""Audit trails and exports over a store of generated events.

    python benchmarks/audit.py --events 1000000 --store sqlite|postgresql
    python benchmarks/audit.py --events 50000             # a quick run (seconds)

The events come from the real writer (the order stream of `write_path.py`, as
`projections.py` writes it). Prints one JSON object:

- `index`: building the `audit_trail` read model from zero (`ProjectionRunner.catch_up` with
  that projection alone): seconds and events/s, its rows per event, beside
  `raw_read_decode_per_sec`, reading and decoding the same log in the same pages (the floor
  of any catch-up). What it adds to a catch-up of every read model: `projections.py`
  prints each projection's own seconds (`apply_seconds.audit_trail`).
- `trail`: p50/p99 ms of one page of 100 events of a trail as `auditTrail` reads it (a pooled
  read-store connection, the index range, the events read by position and described), for
  `orders` (random orders) and `busy_account` (the trader with the most events, pages at
  random depths); `raw_page_p50_ms`: reading and decoding 100 consecutive events at a random
  position (the floor).
- `export`: the whole log to each format: seconds and events/s, beside `raw_per_sec`
  (reading and decoding it in the same pages, nothing written); `peak_mib`: the Python heap's
  peak (tracemalloc) while exporting 10% and 50% of the log as JSON Lines in pages of 1,000
  events: the same for both when memory does not grow with the range.

The machine may be shared: compare a figure with its raw baseline from the same run.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from projections import _generate, _remove_sqlite
from write_path import POSTGRES_URL

from socialtrading.audit import export as exports
from socialtrading.audit.events import Describer
from socialtrading.audit.timeline import LogRange
from socialtrading.infra.decoding import EventDecoder
from socialtrading.infra.readstore import open_read_store
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import EventStore, open_store
from socialtrading.projections import audit_trail as trail
from socialtrading.projections.audit_trail import (
    ACCOUNT,
    ORDER,
    AuditTrailProjection,
    audit_trail,
)
from socialtrading.projections.runner import ProjectionRunner

PAGE = 100
READ_SIZE = 20_000
PEAK_PAGE = 1_000  # events per page while the heap's peak is measured (several pages at 10%)


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
    }


def _read_decode(store: EventStore, size: int = READ_SIZE) -> float:
    """Seconds to read and decode the whole log in pages of `size`."""
    decoder = EventDecoder(store.mapper)
    started = time.perf_counter()
    position = 0
    while rows := store.read(position, size):
        decoder.decode(rows)
        position = rows[-1].id
    return time.perf_counter() - started


def _index(store: EventStore, engine: Engine, head: int) -> dict[str, Any]:
    runner = ProjectionRunner(store, engine, [AuditTrailProjection()], read_size=READ_SIZE)
    runner.setup()
    started = time.perf_counter()
    applied = runner.catch_up()
    seconds = time.perf_counter() - started
    with engine.connect() as connection:
        rows = connection.execute(select(func.count()).select_from(audit_trail)).scalar_one()
    raw = _read_decode(store)
    return {
        "events": applied,
        "seconds": round(seconds, 2),
        "events_per_sec": round(applied / seconds),
        "rows_per_event": round(rows / max(head, 1), 2),
        "raw_read_decode_per_sec": round(head / raw),
    }


def _timed(call: Callable[[], Any], times: int) -> list[float]:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def _trails(store: EventStore, engine: Engine, head: int, reads: int) -> dict[str, Any]:
    rng = random.Random(7)
    with engine.connect() as connection:
        orders = [
            subject
            for (subject,) in connection.execute(
                select(audit_trail.c.subject)
                .where(audit_trail.c.kind == ORDER)
                .order_by(audit_trail.c.position.desc())
                .limit(20_000)
            )
        ]
        busy, count = connection.execute(
            select(audit_trail.c.subject, func.count())
            .where(audit_trail.c.kind == ACCOUNT)
            .group_by(audit_trail.c.subject)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        depths = [
            position
            for (position,) in connection.execute(
                select(audit_trail.c.position)
                .where(audit_trail.c.kind == ACCOUNT, audit_trail.c.subject == busy)
                .order_by(audit_trail.c.position)
            )
        ]

    describer = Describer(store)  # one per store, as `auditTrail` keeps it

    def page(subject: trail.Subject, after: int | None) -> None:
        with engine.connect() as connection:  # as a request: a pooled connection each
            positions = trail.trail_positions(connection, subject, first=PAGE, after=after)
        assert describer.at(positions)

    decoder = EventDecoder(store.mapper)

    def raw() -> None:
        decoder.decode(store.read(rng.randrange(max(head - PAGE, 1)), PAGE))

    return {
        "orders": _ms(_timed(lambda: page(trail.order_subject(rng.choice(orders)), None), reads)),
        "busy_account": {
            "events": count,
            **_ms(
                _timed(
                    lambda: page(
                        trail.Subject(ACCOUNT, busy),
                        rng.choice(depths[: max(1, len(depths) - PAGE)]),
                    ),
                    reads,
                )
            ),
        },
        "raw_page_p50_ms": _ms(_timed(raw, reads))["p50_ms"],
    }


def _exports(store: EventStore, workdir: Path, head: int) -> dict[str, Any]:
    found: dict[str, Any] = {}
    formats = [exports.JSONL, exports.CSV]
    try:
        exports.pyarrow_modules()
        formats.append(exports.PARQUET)
    except exports.ParquetUnavailableError:
        found["parquet"] = "pyarrow not installed"
    for file_format in formats:
        path = workdir / f"export.{file_format}"
        started = time.perf_counter()
        done = exports.export(store, path, file_format=file_format)
        seconds = time.perf_counter() - started
        found[file_format] = {
            "rows": done.rows,
            "seconds": round(seconds, 2),
            "events_per_sec": round(done.rows / seconds),
            "mib": round(path.stat().st_size / 2**20, 1),
        }
        path.unlink()
    found["raw_per_sec"] = round(head / _read_decode(store, exports.PAGE_SIZE))
    peaks = {}
    for share in (10, 50):
        path = workdir / "peak.jsonl"
        tracemalloc.start()
        span = LogRange(0, head * share // 100)
        exports.export_range(store, path, span, file_format=exports.JSONL, page_size=PEAK_PAGE)
        peaks[f"{share}%"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
        path.unlink()
    found["peak_mib"] = peaks
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--traders", type=int, default=50)
    parser.add_argument("--reads", type=int, default=200, help="timed trail reads per case")
    parser.add_argument("--workdir", type=Path, default=None, help="keep/reuse the SQLite store")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="audit_"))
    workdir.mkdir(parents=True, exist_ok=True)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    read_path = workdir / f"readmodels-{uuid.uuid4().hex[:8]}.db"
    if args.store == "sqlite":
        settings = Settings(
            store=f"sqlite:///{workdir}/events.db", read_store=f"sqlite:///{read_path}"
        )
    else:
        settings = Settings(store=POSTGRES_URL, postgres_schema=schema)
    store = open_store(settings)
    engine = open_read_store(settings)
    try:
        started = time.perf_counter()
        if not store.recorder.max_notification_id():
            _generate(store, args.events, args.traders, seed=1)
        generate_seconds = time.perf_counter() - started
        head = store.recorder.max_notification_id() or 0
        result = {
            "store": args.store,
            "events": head,
            "index": _index(store, engine, head),
            "trail": _trails(store, engine, head, args.reads),
            "export": _exports(store, workdir, head),
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
        else:
            _remove_sqlite(read_path)


if __name__ == "__main__":
    main()
