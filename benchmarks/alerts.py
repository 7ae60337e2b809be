"""Alerts: how soon a raised alert is readable, and what raising and working them costs.

    python benchmarks/alerts.py [--alerts 2000] [--samples 200] [--rate 200] [--quick]

On SQLite, in one process as `serve` runs it: the writer, and every read model following the
log (woken by each commit), while a background trader places and cancels resting orders at
`--rate` orders a second. Prints one JSON object:

- visible_p50_ms, visible_p99_ms: from a `RaiseAlert` submitted (as the surveillance process
  sends it) to every read model, the alerts one included, having applied it: the alert is
  in `alerts` and pushed to the `alerts` subscription (`--samples` alerts, one at a time).
  This is the part of issue 14's "an alert within 5 s of the triggering event" after the
  detector's finding.
- raise_per_sec: `--alerts` new alerts submitted at once, per second until all are stored.
- raise_again_per_sec: the same findings sent again (new command ids): each alert is found
  (in the writer's cache here; after a restart, in the store with one query per batch) and
  nothing is stored (raise_again_stored: the alerts they stored, 0).
- case_steps_per_sec: an analyst acknowledges each of them, submitted at once.
- alerts_projection_events_per_sec: the alerts read model rebuilt alone over the whole log
  (log_events: two thirds of them the alerts' own events, the rest the setup and the
  background's orders, which it skips).
- raw_commit_p50_ms: one-row INSERT and COMMIT in a WAL SQLite file of the same folder (what
  one commit costs on this disk), measured in the same run; raw_rows_per_sec: such rows
  inserted 1,000 per transaction.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from socialtrading.commands.compliance import AcknowledgeAlert, RaiseAlert
from socialtrading.commands.models import (
    CancelOrder,
    Command,
    Deposit,
    GrantRole,
    ListMarket,
    PlaceOrder,
    RegisterTrader,
)
from socialtrading.commands.writer import Ack, Writer
from socialtrading.domain.compliance.alert import KINDS, alert_id
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id, order_id
from socialtrading.infra.bus import Bus
from socialtrading.infra.collector import tune_collector
from socialtrading.infra.readstore import open_read_store
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import open_store
from socialtrading.projections.registry import all_projections
from socialtrading.projections.runner import ProjectionRunner
from socialtrading.projections.surveillance.alerts import AlertsProjection

MARKET = "BTC-USD"
TRADER, ANALYST = account_id("trader"), account_id("analyst")
SUSPECTS = [account_id(f"s{i:03d}") for i in range(100)]


def _setup() -> list[Command]:
    commands: list[Command] = [
        ListMarket(
            command_id="list",
            actor=SYSTEM_ACTOR,
            symbol=MARKET,
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.0001"),
        )
    ]
    handles = ["trader", "analyst", *(f"s{i:03d}" for i in range(len(SUSPECTS)))]
    commands += [RegisterTrader(command_id="register", handle=handle) for handle in handles]
    commands.append(
        Deposit(
            command_id="fund",
            actor=TRADER,
            account=TRADER,
            asset="USD",
            amount=Decimal(10**9),
        )
    )
    commands.append(
        GrantRole(command_id="analyst", actor=SYSTEM_ACTOR, account=ANALYST, role="compliance")
    )
    return commands


def _finding(key: str, n: int, command_id: str) -> RaiseAlert:
    """A finding as a detector sends it: five pieces of evidence, a summary."""
    return RaiseAlert.model_validate(
        {
            "command_id": command_id,
            "kind": KINDS[n % len(KINDS)],
            "key": key,
            "account": SUSPECTS[n % len(SUSPECTS)],
            "market": MARKET,
            "score": n % 101,
            "summary": f"finding {n}: orders placed and cancelled within seconds",
            "evidence": [
                {"kind": "order", "ref": uuid.uuid4().hex, "position": 1 + n + i} for i in range(4)
            ]
            + [{"kind": "account", "ref": str(SUSPECTS[n % len(SUSPECTS)]), "position": 1}],
            "detected_at": time.time_ns() // 1000,
        }
    )


class Background:
    """Resting orders and their cancels at a steady rate."""

    def __init__(self, writer: Writer, rate: float) -> None:
        self.writer = writer
        self.interval = 1 / rate
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(self.interval):
            n += 1
            command_id = f"bg-{n}"
            price = Decimal(20_000 + n % 500)
            self.writer.submit(
                PlaceOrder(
                    command_id=command_id,
                    actor=TRADER,
                    market=MARKET,
                    side="buy",
                    price=price,
                    quantity=Decimal("0.01"),
                )
            )
            self.writer.submit(
                CancelOrder(
                    command_id=f"x{command_id}", actor=TRADER, order_id=order_id(TRADER, command_id)
                )
            )

    def __enter__(self) -> Background:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else 0.0


def _burst(writer: Writer, commands: list[Command]) -> float:
    """Submit all at once; commands per second until the last is acknowledged."""
    started = time.perf_counter()
    acks: list[Ack] = [writer.submit(command) for command in commands]
    for ack in acks:
        ack.result(600)
    return round(len(commands) / (time.perf_counter() - started))


def _raw(path: Path, commits: int) -> tuple[float, int]:
    """(p50 ms of a one-row commit, rows per second 1,000 per transaction) in a scratch file."""
    lite = sqlite3.connect(path, isolation_level=None)
    lite.execute("PRAGMA journal_mode=WAL")
    lite.execute("CREATE TABLE scratch (id INTEGER PRIMARY KEY, state BLOB)")
    payload = b'{"kind":"spoofing","key":"k","score":50,"summary":"finding"}'
    times = []
    for _ in range(commits):
        started = time.perf_counter()
        lite.execute("BEGIN")
        lite.execute("INSERT INTO scratch (state) VALUES (?)", (payload,))
        lite.execute("COMMIT")
        times.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    for _ in range(20):
        lite.execute("BEGIN")
        lite.executemany("INSERT INTO scratch (state) VALUES (?)", [(payload,)] * 1000)
        lite.execute("COMMIT")
    rows_per_sec = round(20_000 / (time.perf_counter() - started))
    lite.close()
    return _percentile(times, 0.5), rows_per_sec


def run(alerts: int, samples: int, rate: float, directory: Path) -> dict[str, Any]:
    """Run the benchmark in `directory`; the JSON result."""
    settings = Settings(
        store=f"sqlite:///{directory}/events.db", read_store=f"sqlite:///{directory}/read.db"
    )
    store = open_store(settings)
    read_engine = open_read_store(settings)
    writer = Writer(store, demo_funding=True, batch_ms=1.0).start()
    for ack in [writer.submit(command) for command in _setup()]:
        assert ack.result(600).accepted
    runner = ProjectionRunner(store, read_engine, all_projections(Bus()))
    runner.setup()
    runner.catch_up()
    runner.start()
    writer.add_listener(runner.wake)
    visible: list[float] = []
    with Background(writer, rate):
        time.sleep(0.2)
        for n in range(samples):
            started = time.perf_counter()
            outcome = writer.execute(_finding(f"sample-{n}", n, f"sample-{n}"), 60)
            if not runner.wait_for(outcome.position, 60):
                raise RuntimeError("the read models did not apply the alert")
            visible.append((time.perf_counter() - started) * 1000)
            time.sleep(0.005)
    keys = [f"burst-{n}" for n in range(alerts)]
    raise_rate = _burst(writer, [_finding(key, n, key) for n, key in enumerate(keys)])
    before_again = store.recorder.max_notification_id() or 0
    again_rate = _burst(writer, [_finding(key, n, f"again-{key}") for n, key in enumerate(keys)])
    # the background's orders are stored meanwhile; the repeats themselves store nothing
    again_alerts = sum(
        1 for row in store.read(before_again, 10**6) if row.topic.endswith("Alert.Raised")
    )
    steps = [
        AcknowledgeAlert(command_id=f"ack-{key}", actor=ANALYST, alert_id=alert_id(key))
        for key in keys
    ]
    case_rate = _burst(writer, list(steps))
    runner.wait_for(store.recorder.max_notification_id() or 0, 120)
    runner.stop()
    writer.stop()
    head = store.recorder.max_notification_id() or 0
    alone = ProjectionRunner(store, read_engine, [AlertsProjection()])
    started = time.perf_counter()
    alone.rebuild()
    rebuild_seconds = time.perf_counter() - started
    read_engine.dispose()
    store.close()
    raw_commit_ms, raw_rows = _raw(directory / "raw.db", 200)
    return {
        "benchmark": "alerts",
        "store": "sqlite",
        "alerts": alerts,
        "samples": samples,
        "background_orders_per_sec": rate,
        "visible_p50_ms": _percentile(visible, 0.5),
        "visible_p99_ms": _percentile(visible, 0.99),
        "raise_per_sec": raise_rate,
        "raise_again_per_sec": again_rate,
        "raise_again_stored": again_alerts,
        "case_steps_per_sec": case_rate,
        "log_events": head,
        "alerts_projection_events_per_sec": round(head / rebuild_seconds),
        "raw_commit_p50_ms": raw_commit_ms,
        "raw_rows_per_sec": raw_rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--alerts", type=int, default=2000, help="alerts raised in the burst")
    parser.add_argument("--samples", type=int, default=200, help="alerts timed one at a time")
    parser.add_argument("--rate", type=float, default=200.0, help="background orders per second")
    parser.add_argument("--quick", action="store_true", help="100 alerts, 20 samples (smoke)")
    args = parser.parse_args()
    if args.quick:
        args.alerts, args.samples = 100, 20
    tune_collector()
    with tempfile.TemporaryDirectory() as directory:
        print(json.dumps(run(args.alerts, args.samples, args.rate, Path(directory))))


if __name__ == "__main__":
    main()
