"""Copy trading: a leader with many copiers trades; how fast do the copies follow?

    python benchmarks/copy_trading.py [--copiers 1000] [--trades 100] [--quick]

(Not `copy.py`: a script of that name would shadow the standard library's `copy` for every
script in this folder.)

On SQLite, in one process as `serve` runs it (writer, copy policy woken by each commit).
A market maker rests deep bids and asks; `--copiers` copiers copy the leader (PROPORTIONAL);
the leader trades `--trades` times, alternately buying and selling, one trade at a time.
Meanwhile a background trader places and cancels ordinary resting orders at a steady rate.
Before that, a second leader without copiers trades as many times under the same background
load (the baseline). Prints one JSON object:

- fanout_p50_ms, fanout_p99_ms: from the leader's order acknowledged to the acknowledgement
  of the last `ApplyCopyPlan` of its fill (the commit holding the last copy's allocation
  event); with `--part-size 0`, of its `CopyLeaderFill`, which then settles the fill itself
- allocations_per_sec: copies allocated per second of fan-out, from each `CopyLeaderFill`
  submitted to its last part acknowledged (the policy's read of the plan between included,
  and the other commands the writer took between the parts)
- allocations_per_writer_sec: copies allocated per second the writer spent on the batches
  that held a copy command (`WriterStats.background_seconds`: through the writer)
- events_per_fill: events stored per copied fill
- ordinary_ack_p99_ms_copying / ordinary_ack_p99_ms_baseline: the background orders'
  acknowledgement p99 while the leader is copied / while the uncopied leader trades
- raw_rows_per_sec: plain INSERTs of event-shaped rows (1,000 per transaction) into a
  scratch table of the same SQLite file, measured in the same run
Targets (issue 13): fanout p99 <= 250 ms, allocations >= 10,000/s, ordinary p99 not doubled.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from socialtrading.commands.copying import (
    ApplyCopyPlan,
    CopyLeaderFill,
    SetCopySettings,
    StartCopying,
)
from socialtrading.commands.models import (
    CancelOrder,
    Command,
    Deposit,
    ListMarket,
    PlaceOrder,
    RegisterTrader,
)
from socialtrading.commands.writer import Ack, Writer
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id, order_id
from socialtrading.engine.book import Side
from socialtrading.infra.collector import tune_collector
from socialtrading.infra.readstore import open_read_store
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import open_store
from socialtrading.policies.copying import CopyPolicy

MARKET = "BTC-USD"
LEADER, BASELINE, MAKER, BACKGROUND = (
    account_id(h) for h in ("leader", "solo", "maker", "background")
)


def _setup(copiers: int) -> list[Command]:
    commands: list[Command] = [
        ListMarket(
            command_id="list",
            actor=SYSTEM_ACTOR,
            symbol=MARKET,
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.0001"),
            collar_ticks=100_000,
            reference_price=Decimal(30_000),
            taker_fee_bps=10,
        )
    ]
    cast = [("leader", 1_000_000, 0), ("solo", 1_000_000, 0), ("maker", 10**10, 10**6)]
    cast += [("background", 10**9, 0)] + [(f"c{i:05d}", 10_000, 0) for i in range(copiers)]
    for handle, usd, btc in cast:
        trader = account_id(handle)
        commands.append(RegisterTrader(command_id="register", handle=handle))
        for asset, amount in (("USD", usd), ("BTC", btc)):
            if amount:
                commands.append(
                    Deposit(
                        command_id=f"fund-{asset}",
                        actor=trader,
                        account=trader,
                        asset=asset,
                        amount=Decimal(amount),
                    )
                )
    commands.append(SetCopySettings(command_id="lead", actor=LEADER, max_copiers=10_000))
    commands += [
        StartCopying(
            command_id="copy",
            actor=account_id(f"c{i:05d}"),
            leader="leader",
            amount=Decimal(5_000),
        )
        for i in range(copiers)
    ]
    rests: tuple[tuple[Side, str], ...] = (("sell", "30000"), ("buy", "29990"))
    commands += [
        PlaceOrder(
            command_id=f"rest-{side}",
            actor=MAKER,
            market=MARKET,
            side=side,
            price=Decimal(price),
            quantity=Decimal(100_000),
        )
        for side, price in rests
    ]
    return commands


def _trade(leader: Any, i: int) -> PlaceOrder:
    """The leader's i-th order: buy 1 BTC (a 3% of its equity), or sell it back."""
    buy = i % 2 == 0
    return PlaceOrder(
        command_id=f"trade-{i}",
        actor=leader,
        market=MARKET,
        side="buy" if buy else "sell",
        price=Decimal(30_000 if buy else 29_990),
        quantity=Decimal(1),
    )


class Background:
    """Ordinary resting orders (and their cancels) at a steady rate, acks timed."""

    def __init__(self, writer: Writer, rate: float) -> None:
        self.writer = writer
        self.interval = 1 / rate
        self.acks: list[Ack] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._n = 0

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._n += 1
            command_id = f"bg-{uuid.uuid4().hex}"
            self.acks.append(
                self.writer.submit(
                    PlaceOrder(
                        command_id=command_id,
                        actor=BACKGROUND,
                        market=MARKET,
                        side="buy",
                        price=Decimal(20_000 + self._n % 500),
                        quantity=Decimal("0.01"),
                    )
                )
            )
            self.acks.append(
                self.writer.submit(
                    CancelOrder(
                        command_id=f"x{command_id}",
                        actor=BACKGROUND,
                        order_id=order_id(BACKGROUND, command_id),
                    )
                )
            )

    def __enter__(self) -> Background:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def p99_ms(self) -> float:
        latencies = sorted(
            (ack.acknowledged - ack.submitted) * 1000 for ack in self.acks if ack.done()
        )
        return _percentile(latencies, 0.99)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def _raw_rows_per_sec(path: Path, rows: int) -> float:
    payload = b'{"leader_trade_id":"BTC-USD:1","market":"BTC-USD","side":"buy","quantity":"0.1"}'
    lite = sqlite3.connect(path, isolation_level=None)
    lite.execute("PRAGMA journal_mode=WAL")
    lite.execute(
        "CREATE TABLE scratch_events (originator_id TEXT, originator_version INTEGER, "
        "topic TEXT, state BLOB, notification_id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "UNIQUE (originator_id, originator_version))"
    )
    batches = [
        [
            (str(uuid.uuid4()), 1, "socialtrading.domain.copy.copy:Copy.OrderPlaced", payload)
            for _ in range(1000)
        ]
        for _ in range(max(1, rows // 1000))
    ]
    started = time.perf_counter()
    for batch in batches:
        lite.execute("BEGIN")
        lite.executemany(
            "INSERT INTO scratch_events (originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?)",
            batch,
        )
        lite.execute("COMMIT")
    elapsed = time.perf_counter() - started
    lite.close()
    return round(len(batches) * 1000 / elapsed)


def run(
    copiers: int, trades: int, rate: float, part_size: int | None, directory: Path
) -> dict[str, Any]:
    """Run the benchmark in `directory`; the JSON result."""
    settings = Settings(
        store=f"sqlite:///{directory}/events.db", read_store=f"sqlite:///{directory}/read.db"
    )
    store = open_store(settings)
    read_engine = open_read_store(settings)
    writer = Writer(store, demo_funding=True, batch_ms=1.0, copy_part_size=part_size).start()
    for ack in [writer.submit(command) for command in _setup(copiers)]:
        ack.result(600)
    fills: list[Ack] = []
    parts: dict[str, list[Ack]] = defaultdict(list)  # trade id -> its parts' acks
    per_fill = 0 if part_size is None else -(-copiers // part_size)

    def submit(command: Command) -> Ack:
        ack = writer.submit(command)
        if isinstance(command, CopyLeaderFill):
            fills.append(ack)
        elif isinstance(command, ApplyCopyPlan):
            parts[command.trade_id].append(ack)
        return ack

    def last_ack(fill: Ack) -> Ack:
        """The fill's last acknowledgement: its own, or its last part's."""
        assert isinstance(fill.command, CopyLeaderFill)
        if not per_fill:
            return fill
        deadline = time.monotonic() + 60
        while len(parts[fill.command.trade_id]) < per_fill:
            if time.monotonic() > deadline:
                raise RuntimeError("the policy sent too few parts")
            time.sleep(0.0005)
        for part in parts[fill.command.trade_id]:
            part.result(60)
        return max(parts[fill.command.trade_id], key=lambda part: part.acknowledged)

    policy = CopyPolicy(store, read_engine, submit)
    policy.setup()
    policy.catch_up()
    writer.add_listener(policy.wake)
    policy.start()
    with Background(writer, rate) as background:
        for i in range(trades):
            writer.execute(_trade(BASELINE, i), 60)
            time.sleep(0.02)
    baseline_p99 = background.p99_ms()
    fanout: list[float] = []
    busy = 0.0
    writer_before = writer.stats.background_seconds
    events_before = store.recorder.max_notification_id() or 0
    with Background(writer, rate) as background:
        for i in range(trades):
            ack = writer.submit(_trade(LEADER, i))
            ack.result(60)
            deadline = time.monotonic() + 60
            while len(fills) <= i:
                if time.monotonic() > deadline:
                    raise RuntimeError("the policy sent no CopyLeaderFill")
                time.sleep(0.0005)
            fill = fills[i]
            fill.result(60)
            done = last_ack(fill)
            fanout.append((done.acknowledged - ack.acknowledged) * 1000)
            busy += done.acknowledged - fill.submitted
    copying_p99 = background.p99_ms()
    writer_busy = writer.stats.background_seconds - writer_before
    stored = (store.recorder.max_notification_id() or 0) - events_before
    policy.stop()
    writer.stop()
    read_engine.dispose()
    store.close()
    return {
        "benchmark": "copy",
        "store": "sqlite",
        "copiers": copiers,
        "trades": trades,
        "part_size": part_size or 0,
        "fanout_p50_ms": _percentile(fanout, 0.5),
        "fanout_p99_ms": _percentile(fanout, 0.99),
        "allocations_per_sec": round(copiers * trades / busy) if busy else 0,
        "allocations_per_writer_sec": round(copiers * trades / writer_busy) if writer_busy else 0,
        "events_per_fill": round(stored / trades, 1),
        "ordinary_ack_p99_ms_baseline": baseline_p99,
        "ordinary_ack_p99_ms_copying": copying_p99,
        "raw_rows_per_sec": _raw_rows_per_sec(directory / "raw.db", 20 * 1000),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--copiers", type=int, default=1000)
    parser.add_argument("--trades", type=int, default=100)
    parser.add_argument("--rate", type=float, default=100.0, help="background orders per second")
    parser.add_argument(
        "--part-size",
        type=int,
        default=Settings().copy_part_size,
        help="copies per part of a fill (0: each fill settled by its own command)",
    )
    parser.add_argument("--quick", action="store_true", help="50 copiers, 6 trades (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.copiers, args.trades = 50, 6
    tune_collector()
    with tempfile.TemporaryDirectory() as directory:
        part_size = args.part_size or None
        print(json.dumps(run(args.copiers, args.trades, args.rate, part_size, Path(directory))))


if __name__ == "__main__":
    main()
