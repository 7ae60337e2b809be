"""The write path: commands through the single writer into the event store, acknowledged.

    python benchmarks/write_path.py --store sqlite|postgresql --orders 200000

A realistic order stream (50 traders, two markets, about a third of the orders crossing the
spread and trading, half resting away from the middle, and cancels of resting orders: the books
keep about a third of the orders, ~70,000 by the end of a 200,000 run) goes through the
sequencer with up to --in-flight commands waiting. Commands are built before the clock starts
(building them is the API layer's cost). Prints one JSON object:

- orders_per_sec: order commands (place and cancel) acknowledged per second
- events_per_sec: events stored per second; events_per_order
- ack_p50_ms, ack_p99_ms: submit -> acknowledgement latency
- writer_cpu_us_per_order: the writer thread's CPU time per order (steadier than wall time
  on a shared machine)
- raw_rows_per_sec: plain INSERTs of event-shaped rows, 100 per transaction, into a scratch
  table on the same store, measured in the same run; ratio = events_per_sec / raw_rows_per_sec
- restart_seconds: opening the store again and starting a new writer over what the run
  stored (accounts and markets from snapshots plus later events; the log is not read)
- chain: the hash chain's cost (infra/chain.py), an A/B in the same run: the same commands
  into a fresh store without the chain ("off", the baseline) and with it ("on", what the
  figures above measure), --rounds times, alternating which goes first; the medians of
  orders_per_sec and writer_cpu_us_per_order for each, and on/off ratios (the issue's
  target: the chain costs under 10%); and the share of the writer thread's CPU spent in the
  chain's own code (`chain_cpu_us_per_order`: hashing and the segment's insert, timed with
  the thread's CPU clock), which a busy machine blurs less than the A/B
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

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
from socialtrading.engine.book import Side, TimeInForce
from socialtrading.infra.collector import tune_collector
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import open_store

POSTGRES_URL = os.environ.get(
    "SOCIALTRADING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
MARKETS = {"BTC-USD": 30_000, "ETH-USD": 2_000}  # symbol -> mid price in whole dollars


def _setup_commands(traders: int) -> list[Command]:
    commands: list[Command] = [
        ListMarket(
            command_id=f"list-{symbol}",
            actor=SYSTEM_ACTOR,
            symbol=symbol,
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.0001"),
            collar_ticks=500_000,
            reference_price=Decimal(mid),
            maker_fee_bps=5,
            taker_fee_bps=10,
        )
        for symbol, mid in MARKETS.items()
    ]
    for n in range(traders):
        handle = f"trader{n}"
        actor = account_id(handle)
        commands.append(RegisterTrader(command_id="register", handle=handle))
        for asset, amount in (("USD", "1000000000"), ("BTC", "100000"), ("ETH", "1000000")):
            commands.append(
                Deposit(
                    command_id=f"fund-{asset}",
                    actor=actor,
                    account=actor,
                    asset=asset,
                    amount=Decimal(amount),
                )
            )
    return commands


def _order_commands(count: int, traders: int, seed: int) -> list[Command]:
    """Place and cancel commands: ~1/3 crossing (trading), ~1/2 resting, the rest cancels."""
    rng = random.Random(seed)
    actors = [account_id(f"trader{n}") for n in range(traders)]
    resting: list[tuple[uuid.UUID, str]] = []  # (actor, command id) of resting-minded orders
    commands: list[Command] = []
    symbols = list(MARKETS)
    for n in range(count):
        actor = actors[rng.randrange(traders)]
        roll = rng.random()
        if roll < 0.15 and resting:
            owner, placed = resting.pop(rng.randrange(len(resting)))
            commands.append(
                CancelOrder(command_id=f"c{n}", actor=owner, order_id=order_id(owner, placed))
            )
            continue
        symbol = symbols[rng.randrange(2)]
        mid = MARKETS[symbol] * 100  # in cents
        side: Side = "buy" if rng.random() < 0.5 else "sell"
        tif: TimeInForce
        if roll < 0.5:  # crosses the spread: takes liquidity
            offset = -rng.randint(1, 50) if side == "buy" else rng.randint(1, 50)
            tif = "IOC" if rng.random() < 0.3 else "GTC"
        else:  # rests away from the middle
            offset = rng.randint(60, 2_000) if side == "buy" else -rng.randint(60, 2_000)
            tif = "GTC"
            resting.append((actor, f"p{n}"))
        price = Decimal(mid - offset) / 100
        qty = Decimal(rng.randint(1, 200)) / 10_000
        commands.append(
            PlaceOrder(
                command_id=f"p{n}",
                actor=actor,
                market=symbol,
                side=side,
                price=price,
                quantity=qty,
                time_in_force=tif,
            )
        )
    return commands


def _run(writer: Writer, commands: list[Command], in_flight: int) -> tuple[float, list[float]]:
    """Submit with at most `in_flight` unacknowledged; return elapsed and ack latencies."""
    acks: list[Ack] = []
    began = time.perf_counter()
    for index, command in enumerate(commands):
        if index >= in_flight:
            acks[index - in_flight].result()
        acks.append(writer.submit(command))
    for ack in acks[-in_flight:]:
        ack.result()
    elapsed = time.perf_counter() - began
    return elapsed, [ack.acknowledged - ack.submitted for ack in acks]


def _raw_rows_per_sec(settings: Settings, rows: int, payload: bytes) -> float:
    """Plain INSERTs of event-shaped rows, 100 per transaction, into a scratch table."""
    batches = [
        [
            (uuid.uuid4(), version, "socialtrading.domain.market:Market.OrderAccepted", payload)
            for version in range(100)
        ]
        for _ in range(rows // 100)
    ]
    if settings.store.startswith("sqlite"):
        path = settings.store.removeprefix("sqlite:///")
        lite = sqlite3.connect(path, isolation_level=None)
        lite.execute("PRAGMA journal_mode=WAL")
        lite.execute(
            "CREATE TABLE scratch_events (originator_id TEXT, originator_version INTEGER, "
            "topic TEXT, state BLOB, notification_id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "UNIQUE (originator_id, originator_version))"
        )
        started = time.perf_counter()
        for batch in batches:
            lite.execute("BEGIN")
            lite.executemany(
                "INSERT INTO scratch_events (originator_id, originator_version, topic, state) "
                "VALUES (?, ?, ?, ?)",
                [(str(a), b, c, d) for a, b, c, d in batch],
            )
            lite.execute("COMMIT")
        elapsed = time.perf_counter() - started
        lite.close()
        return rows / elapsed
    schema = settings.postgres_schema
    with psycopg.connect(settings.store) as connection:
        connection.execute(
            f'CREATE TABLE "{schema}".scratch_events (originator_id uuid, '
            "originator_version bigint, topic text, state bytea, notification_id bigserial, "
            "PRIMARY KEY (originator_id, originator_version))"
        )
        connection.commit()
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for batch in batches:
                cursor.executemany(
                    f'INSERT INTO "{schema}".scratch_events (originator_id, originator_version, '
                    "topic, state) VALUES (%s, %s, %s, %s)",
                    batch,
                )
                connection.commit()
        return rows / (time.perf_counter() - started)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000, 2)


def _measure(settings: Settings, args: argparse.Namespace, chained: bool) -> dict[str, Any]:
    """Run the setup and the order stream through a writer over a fresh store; the figures."""
    store = open_store(settings, chained=chained)
    writer = Writer(
        store,
        batch_max=args.batch_max,
        batch_ms=args.batch_ms,
        snapshot_interval=10_000,
        demo_funding=True,
    ).start()
    try:
        for command in _setup_commands(args.traders):
            outcome = writer.execute(command)
            assert outcome.accepted, outcome
        orders = _order_commands(args.orders, args.traders, args.seed)
        events_before = writer.stats.events
        batches_before = writer.stats.batches
        cpu_before = writer.cpu_seconds()
        chain_before = store.chain_cpu_seconds
        elapsed, latencies = _run(writer, orders, args.in_flight)
        writer_cpu = writer.cpu_seconds() - cpu_before
        chain_cpu = store.chain_cpu_seconds - chain_before
        events = writer.stats.events - events_before
        batches = writer.stats.batches - batches_before
        return {
            "orders": len(orders),
            "orders_per_sec": round(len(orders) / elapsed),
            "events": events,
            "events_per_order": round(events / len(orders), 3),
            "events_per_sec": round(events / elapsed),
            "batches": batches,
            "commands_per_batch": round(len(orders) / max(batches, 1), 1),
            "ack_p50_ms": _percentile(latencies, 0.50),
            "ack_p99_ms": _percentile(latencies, 0.99),
            "writer_cpu_us_per_order": round(writer_cpu / len(orders) * 1e6, 1),
            "chain_cpu_us_per_order": round(chain_cpu / len(orders) * 1e6, 2),
            "engine_records": sum(market.book.seq for market in writer.state.markets.values()),
        }
    finally:
        writer.stop()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--traders", type=int, default=50)
    parser.add_argument("--in-flight", type=int, default=4_000)
    parser.add_argument("--batch-max", type=int, default=2_000)
    parser.add_argument("--batch-ms", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1, help="chain off/on pairs to run")
    args = parser.parse_args()

    tune_collector()  # as the server does
    workdir = Path(tempfile.mkdtemp(prefix="write_path_"))
    schemas: list[str] = []

    def fresh(name: str) -> Settings:
        if args.store == "sqlite":
            return Settings(store=f"sqlite:///{workdir}/{name}.db")
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        schemas.append(schema)
        return Settings(store=POSTGRES_URL, postgres_schema=schema)

    try:
        runs: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
        settings = fresh("events")
        for round_ in range(args.rounds):
            for chained in (False, True) if round_ % 2 == 0 else (True, False):
                name = f"{'on' if chained else 'off'}{round_}"
                run_settings = fresh(name)
                runs[chained].append(_measure(run_settings, args, chained))
                if chained:
                    settings = run_settings  # the last chained store: raw rows, restart
        result: dict[str, Any] = {"store": args.store, **runs[True][-1]}
        # a stored OrderAccepted event with one trade is about 420 bytes of JSON
        raw = _raw_rows_per_sec(settings, 100_000, b"x" * 420)
        result["raw_rows_per_sec"] = round(raw)
        result["ratio"] = round(result["events_per_sec"] / raw, 3)
        started = time.perf_counter()
        reopened = open_store(settings)
        try:
            Writer(reopened, snapshot_interval=10_000, demo_funding=True)
            result["restart_seconds"] = round(time.perf_counter() - started, 2)
        finally:
            reopened.close()
        result["chain"] = _chain_cost(runs)
        print(json.dumps(result))
    finally:
        if schemas:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
                for schema in schemas:
                    connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _chain_cost(runs: dict[bool, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians of the runs without the chain and with it, and their ratios."""

    def median(chained: bool, key: str) -> float:
        return float(statistics.median(run[key] for run in runs[chained]))

    off_rate, on_rate = median(False, "orders_per_sec"), median(True, "orders_per_sec")
    off_cpu = median(False, "writer_cpu_us_per_order")
    on_cpu = median(True, "writer_cpu_us_per_order")
    return {
        "rounds": len(runs[True]),
        "off": {
            "orders_per_sec": [run["orders_per_sec"] for run in runs[False]],
            "writer_cpu_us_per_order": [run["writer_cpu_us_per_order"] for run in runs[False]],
        },
        "on": {
            "orders_per_sec": [run["orders_per_sec"] for run in runs[True]],
            "writer_cpu_us_per_order": [run["writer_cpu_us_per_order"] for run in runs[True]],
        },
        "orders_per_sec_ratio": round(on_rate / off_rate, 3),  # on / off: 0.95 = 5% slower
        "writer_cpu_ratio": round(on_cpu / off_cpu, 3),  # on / off: 1.05 = 5% more CPU
        # the writer thread's CPU inside the chain's code (hashing, the segment's insert),
        # measured in the runs with it: steadier on a shared machine than the A/B
        "chain_share_of_writer_cpu": round(median(True, "chain_cpu_us_per_order") / on_cpu, 3),
    }


if __name__ == "__main__":
    main()
