"""Surveillance: do the detectors keep up with the writer, and how soon is a finding sent?

    python benchmarks/surveillance.py            # 100,000 commands (a minute or two)
    python benchmarks/surveillance.py --quick    # 10,000 commands, 10 plants (seconds)

On SQLite, in one process as `serve` runs it. Prints one JSON object:

- `throughput`: the honest flow (socialtrading/entrypoints/honest_flow.py: market makers,
  takers, resting traders, posters, fans, leaders and copiers, the copy-trading process
  sending the copies) goes through the writer at its full rate (`--in-flight` commands
  waiting): `writer_events_per_sec`, the events stored per second. Then the surveillance
  process's work over that log, alone: `detectors_events_per_sec` (reading the store,
  decoding the events the detectors read, running them), beside the raw baselines of the
  same run: `read_events_per_sec` (reading the rows alone) and `read_decode_events_per_sec`
  (reading and decoding, no detector); `detectors_only_us_per_event` (the detectors' own
  time); `keeps_up` = detectors / writer events per second; `findings` (none expected).
- `latency`: the writer (wall clock) and the surveillance process following it (woken by
  each commit), with the honest flow submitted as fast as the writer takes it in a
  background thread; meanwhile `--plants` spoofers, one every `--gap` seconds, each place a
  large bid, sell a little at market and cancel the bid. From each cancel's
  acknowledgement (its commit) to its finding reaching the sink: `p50_ms`, `p99_ms`,
  `max_ms`; `found` of `planted`; `writer_events_per_sec` while it ran. Target (issue 14):
  an alert within 5 s.
- `unwatched`: the same live run without the surveillance process: `writer_events_per_sec`
  (what surveillance costs the writer when both share one process).

The machine is shared: figures vary from run to run; compare the figures of one run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from socialtrading.commands.models import CancelOrder, Deposit, PlaceOrder, RegisterTrader
from socialtrading.commands.writer import Writer
from socialtrading.domain.ids import account_id
from socialtrading.entrypoints.honest_flow import HonestFlow, clock, drive
from socialtrading.infra.collector import tune_collector
from socialtrading.infra.decoding import EventDecoder
from socialtrading.infra.readstore import open_read_store
from socialtrading.infra.settings import Settings, SurveillanceSettings
from socialtrading.infra.store import EventStore, open_store
from socialtrading.policies.copying import CopyPolicy
from socialtrading.policies.surveillance.findings import SPOOFING, Finding
from socialtrading.policies.surveillance.policy import SurveillancePolicy
from socialtrading.policies.surveillance.scanner import Scanner, wanted

TARGET_SECONDS = 5.0


def _writer(store: EventStore, **options: Any) -> Writer:
    return Writer(
        store,
        batch_max=2_000,
        batch_ms=20.0,
        snapshot_interval=10_000,
        demo_funding=True,
        **options,
    ).start()


def _throughput(folder: Path, commands: int, in_flight: int) -> dict[str, Any]:
    settings = Settings(
        store=f"sqlite:///{folder}/events.db", read_store=f"sqlite:///{folder}/read.db"
    )
    store = open_store(settings)
    read_engine = open_read_store(settings)
    ticks = clock()
    writer = _writer(store, clock=lambda: next(ticks))
    copying = CopyPolicy(store, read_engine, writer.submit)
    copying.setup()
    copying.start()
    writer.add_listener(copying.wake)
    flow = HonestFlow(seed=7)
    drive(writer, flow.setup())
    before = writer.stats.events
    started = time.perf_counter()
    outcomes = drive(writer, flow.stream(commands), in_flight)
    copying.wait_for(store.recorder.max_notification_id() or 0, 600)
    elapsed = time.perf_counter() - started
    written = writer.stats.events - before
    copying.stop()
    writer.stop()
    head = store.recorder.max_notification_id() or 0

    def timed(work: Any) -> float:
        began = time.perf_counter()
        after = 0
        while rows := store.read(after, 5_000):
            work(rows)
            after = rows[-1].id
        return time.perf_counter() - began

    decoder = EventDecoder(store.mapper)
    read_seconds = timed(lambda rows: None)
    decode_seconds = timed(lambda rows: decoder.decode([r for r in rows if wanted(r.topic)]))
    found: list[Finding] = []
    policy = SurveillancePolicy(store, read_engine, found.append, chunk=5_000)
    policy.setup()
    began = time.perf_counter()
    policy.catch_up()
    scan_seconds = time.perf_counter() - began
    scanner = Scanner(SurveillanceSettings())
    items = decoder.decode([r for r in store.read(0, head) if wanted(r.topic)])
    began = time.perf_counter()
    scanner.scan(items)
    detect_seconds = time.perf_counter() - began
    read_engine.dispose()
    store.close()
    writer_rate = written / elapsed
    detectors_rate = head / scan_seconds
    return {
        "commands": commands,
        "outcomes": dict(outcomes),
        "events": head,
        "writer_events_per_sec": round(writer_rate),
        "writer_commands_per_sec": round(commands / elapsed),
        "detectors_events_per_sec": round(detectors_rate),
        "read_events_per_sec": round(head / read_seconds),
        "read_decode_events_per_sec": round(head / decode_seconds),
        "detectors_only_us_per_event": round(detect_seconds / max(1, len(items)) * 1e6, 2),
        "keeps_up": round(detectors_rate / writer_rate, 2),
        "findings": len(found),
    }


def _latency(folder: Path, plants: int, gap: float, watched: bool = True) -> dict[str, Any]:
    """The live run (module text); without the surveillance process when not `watched`."""
    name = "live" if watched else "unwatched"
    settings = Settings(
        store=f"sqlite:///{folder}/{name}.db", read_store=f"sqlite:///{folder}/{name}-read.db"
    )
    store = open_store(settings)
    read_engine = open_read_store(settings)
    writer = _writer(store)
    arrived: dict[UUID, float] = {}
    lock = threading.Lock()

    def sink(found: Finding) -> None:
        if found.kind == SPOOFING:
            with lock:
                arrived.setdefault(found.account, time.perf_counter())

    policy = SurveillancePolicy(store, read_engine, sink)
    if watched:
        policy.setup()
        policy.start()
        writer.add_listener(policy.wake)
    flow = HonestFlow(seed=11)
    drive(writer, flow.setup())
    spoofers = [account_id(f"spoofer{n}") for n in range(plants)]
    for n, spoofer in enumerate(spoofers):
        writer.execute(RegisterTrader(command_id="register", handle=f"spoofer{n}"))
        for asset in ("USD", "BTC"):
            writer.execute(
                Deposit(
                    command_id=f"fund-{asset}",
                    actor=spoofer,
                    account=spoofer,
                    asset=asset,
                    amount=Decimal(1_000_000),
                )
            )
    before = writer.stats.events
    started = time.perf_counter()
    done = threading.Event()
    stream = flow.stream(10**9)

    def load() -> None:  # the honest flow at the writer's full rate, until the plants are in
        while not done.is_set():
            drive(writer, itertools.islice(stream, 2_000), 1_000)

    background = threading.Thread(target=load, daemon=True)
    background.start()
    committed: dict[UUID, float] = {}
    for spoofer in spoofers:
        time.sleep(gap)
        mid = flow.mids["BTC-USD"]
        # far below the touch: the sale (at market) fills before it meets its own bid
        big = writer.execute(_order(spoofer, "buy", mid - 500, "60"))
        writer.execute(_order(spoofer, "sell", None, "1"))
        order = big.order_id
        assert order is not None
        cancel = writer.submit(CancelOrder(command_id="cancel", actor=spoofer, order_id=order))
        cancel.result(60)
        committed[spoofer] = cancel.acknowledged
    done.set()
    background.join()
    elapsed = time.perf_counter() - started
    written = writer.stats.events - before
    deadline = time.monotonic() + 60
    while watched and len(arrived) < len(committed) and time.monotonic() < deadline:
        time.sleep(0.05)
    policy.stop()
    writer.stop()
    read_engine.dispose()
    store.close()
    latencies = sorted(arrived[s] - committed[s] for s in committed if s in arrived)
    if not watched:
        return {"writer_events_per_sec": round(written / elapsed)}
    return {
        "planted": plants,
        "found": len(latencies),
        "p50_ms": _ms(latencies, 0.5),
        "p99_ms": _ms(latencies, 0.99),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
        "writer_events_per_sec": round(written / elapsed),
        "target_seconds": TARGET_SECONDS,
    }


def _order(actor: UUID, side: str, ticks: int | None, quantity: str) -> PlaceOrder:
    """A GTC limit order at `ticks`, or a market order (IOC)."""
    return PlaceOrder(
        command_id=f"{side}-{time.perf_counter_ns()}",
        actor=actor,
        market="BTC-USD",
        side=side,  # type: ignore[arg-type]
        type="limit" if ticks is not None else "market",
        price=None if ticks is None else Decimal(ticks) / 100,
        quantity=Decimal(quantity),
        time_in_force="GTC" if ticks is not None else "IOC",
    )


def _ms(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(len(values) * fraction))] * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--commands", type=int, default=100_000)
    parser.add_argument("--plants", type=int, default=40)
    parser.add_argument("--in-flight", type=int, default=4_000)
    parser.add_argument("--gap", type=float, default=0.25, help="seconds between plants")
    parser.add_argument("--quick", action="store_true", help="10,000 commands, 10 plants")
    args = parser.parse_args()
    if args.quick:
        args.commands, args.plants = 10_000, 10
    tune_collector()  # as the server does
    folder = Path(tempfile.mkdtemp(prefix="surveillance_"))
    result = {
        "throughput": _throughput(folder, args.commands, args.in_flight),
        "latency": _latency(folder, args.plants, args.gap),
        "unwatched": _latency(folder, args.plants, args.gap, watched=False),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
