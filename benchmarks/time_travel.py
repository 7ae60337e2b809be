"""Time travel: a market's order book as of random times in a 1,000,000-event log.

    python benchmarks/time_travel.py                        # 1,000,000 events on SQLite
    python benchmarks/time_travel.py --store postgresql
    python benchmarks/time_travel.py --quick                # a small smoke run (seconds)

The log is written by the real writer (snapshots as in production: every 500 events, a market
at least every half its live orders; group commits of up to 2,000 commands): 50 traders on
two markets, 45% of the orders crossing the spread as IOC (they trade), the rest resting
within 100 ticks of the middle, each market's resting orders kept near `--book` by cancelling
the oldest. Then, in the same run, timed one at a time:

- `as_of_time`: `orderBook(depth 20)` of a random market as of a random time (uniform over
  the log's time span): the version search, the newest snapshot at or before it, the events
  after it, the depth. `as_of_position`: the same at a random log position. Each: p50, p99,
  max in ms, and `replayed_p50` / `replayed_max`, the events replayed after the snapshot.
- `baseline_latest`: loading the latest state of the same markets through the library's
  repository (newest snapshot plus later events: what a restart does), p50/p99 ms: the raw
  floor beside which the as-of figures are read.
- `full_replay`: rebuilding one market from its first event at the median version, without
  snapshots (what reading the past would cost without them), seconds and events.
- `account_as_of`: an account's balances, open orders (with their times) and positions as
  of a random time, p50/p99 ms.
- `checked`: as-of books (every level) found equal to a full replay from the first event.
- `snapshots`: market snapshots stored (every one is kept) and their bytes, beside the log's.
- `target_p99_ms`: the issue's 100.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from write_path import MARKETS, POSTGRES_URL, _setup_commands

from socialtrading.audit.timetravel import Cut, TimeTravel
from socialtrading.commands.models import CancelOrder, Command, PlaceOrder
from socialtrading.commands.writer import Ack, Writer
from socialtrading.domain.errors import InvalidCommand
from socialtrading.domain.ids import account_id, market_id, order_id
from socialtrading.domain.market import Market
from socialtrading.engine.book import Side
from socialtrading.graphql.asof import book_levels
from socialtrading.infra.collector import tune_collector
from socialtrading.infra.decoding import EventDecoder
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import EventStore, open_store

TARGET_P99_MS = 100
CHUNK = 20_000  # commands generated and submitted at a time


def _flow(
    start: int, count: int, traders: int, book: int, rng: random.Random, resting: Any
) -> list[Command]:
    """`count` orders and cancels: crossing IOCs, resting GTCs, and cancels of the oldest."""
    actors = [account_id(f"trader{n}") for n in range(traders)]
    symbols = list(MARKETS)
    commands: list[Command] = []
    for n in range(start, start + count):
        symbol = symbols[rng.randrange(2)]
        waiting = resting[symbol]
        if len(waiting) > book:
            owner, placed = waiting.popleft()
            commands.append(
                CancelOrder(command_id=f"c{n}", actor=owner, order_id=order_id(owner, placed))
            )
            continue
        actor = actors[rng.randrange(traders)]
        mid = MARKETS[symbol] * 100  # in cents
        side: Side = "buy" if rng.random() < 0.5 else "sell"
        crossing = rng.random() < 0.45
        if crossing:
            offset = -rng.randint(0, 30) if side == "buy" else rng.randint(0, 30)
        else:
            offset = rng.randint(1, 100) if side == "buy" else -rng.randint(1, 100)
            waiting.append((actor, f"p{n}"))
        commands.append(
            PlaceOrder(
                command_id=f"p{n}",
                actor=actor,
                market=symbol,
                side=side,
                price=Decimal(mid - offset) / 100,
                quantity=Decimal(rng.randint(1, 200)) / 10_000,
                time_in_force="IOC" if crossing else "GTC",
            )
        )
    return commands


def _submit(writer: Writer, commands: list[Command], in_flight: int) -> None:
    """Submit with at most `in_flight` unacknowledged; a cancel of an order filled meanwhile
    is refused (nothing stored), anything else must go through."""
    acks: list[Ack] = []
    for index, command in enumerate(commands):
        if index >= in_flight:
            _settled(acks[index - in_flight])
        acks.append(writer.submit(command))
    for ack in acks[-in_flight:]:
        _settled(ack)


def _settled(ack: Ack) -> None:
    error = ack.exception()
    if error is not None and not isinstance(error, InvalidCommand):
        raise error


def _generate(store: EventStore, events: int, traders: int, book: int, seed: int) -> None:
    writer = Writer(store, batch_max=2_000, batch_ms=20.0, demo_funding=True).start()
    try:
        for command in _setup_commands(traders):
            assert writer.execute(command).accepted
        rng = random.Random(seed)
        resting: dict[str, deque[tuple[uuid.UUID, str]]] = {s: deque() for s in MARKETS}
        made = 0
        while (store.recorder.max_notification_id() or 0) < events:
            _submit(writer, _flow(made, CHUNK, traders, book, rng, resting), 4_000)
            made += CHUNK
    finally:
        writer.stop()


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)

    def at(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000, 2)

    return {"p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": round(ordered[-1] * 1000, 2)}


def _full_replay(store: EventStore, travel: TimeTravel, market: uuid.UUID, version: int) -> Market:
    """The market at `version` from its first event, without snapshots."""
    decoder = EventDecoder(store.mapper)
    aggregate: Any = None
    done = 0
    while done < version:
        rows = travel.stream.events(market, done, min(version, done + 50_000))
        for _, event in decoder.decode(rows):
            aggregate = event.mutate(aggregate)
        done = rows[-1].originator_version
    assert isinstance(aggregate, Market)
    return aggregate


def _sizes(store: EventStore, postgres: bool) -> dict[str, int]:
    """How many snapshots (of every aggregate: every one is kept) and events are stored, and
    their bytes."""
    snapshots = store.snapshots
    assert snapshots is not None
    found: dict[str, int] = {}
    recorders: tuple[tuple[str, Any], ...] = (
        ("snapshots", snapshots.recorder),
        ("log", store.recorder),
    )
    for name, recorder in recorders:
        if postgres:
            table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
            length = "octet_length(state)"
        else:
            table, length = recorder.events_table_name, "length(state)"
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT count(*) AS n, coalesce(sum({length}), 0) AS b FROM {table}")
            row = cursor.fetchone()
        found[f"{name}_count"] = int(row["n"])
        found[f"{name}_bytes"] = int(row["b"])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--traders", type=int, default=50)
    parser.add_argument("--book", type=int, default=2_000, help="resting orders a market keeps")
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--account-queries", type=int, default=100)
    parser.add_argument("--checks", type=int, default=3, help="books checked by a full replay")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None, help="keep/reuse the SQLite store")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args()
    if args.quick:
        args.events, args.book, args.queries, args.account_queries = 20_000, 300, 100, 20
        args.checks = 10

    tune_collector()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="time_travel_"))
    workdir.mkdir(parents=True, exist_ok=True)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    if args.store == "sqlite":
        settings = Settings(store=f"sqlite:///{workdir}/events.db")
    else:
        settings = Settings(store=POSTGRES_URL, postgres_schema=schema)
    store = open_store(settings)
    try:
        result: dict[str, Any] = {"store": args.store, "quick": args.quick}
        started = time.perf_counter()
        if not store.recorder.max_notification_id():
            _generate(store, args.events, args.traders, args.book, args.seed)
        result["generate_seconds"] = round(time.perf_counter() - started, 1)
        travel = TimeTravel(store)
        head = travel.head()
        first, last = travel.time_at(1), travel.time_at(head)
        assert first is not None and last is not None
        result["events"] = head
        result["log_seconds"] = round((last - first) / 1e6, 1)
        rng = random.Random(args.seed + 1)
        symbols = list(MARKETS)
        draws: list[tuple[str, Callable[[], Cut]]] = [
            ("as_of_time", lambda: Cut(time=rng.randint(first, last))),
            ("as_of_position", lambda: Cut(position=rng.randint(1, head))),
        ]
        for name, draw in draws:
            seconds: list[float] = []
            replayed: list[int] = []
            for _ in range(args.queries):
                cut, symbol = draw(), symbols[rng.randrange(len(symbols))]
                began = time.perf_counter()
                past = travel.past_market(market_id(symbol), cut, watch=False)
                assert past is not None
                book_levels(past.market, 20)
                seconds.append(time.perf_counter() - began)
                replayed.append(past.version - past.since)
            replayed.sort()
            result[name] = {
                **_percentiles(seconds),
                "replayed_p50": replayed[len(replayed) // 2],
                "replayed_max": replayed[-1],
            }
        seconds = []
        for _ in range(args.queries):
            symbol = symbols[rng.randrange(len(symbols))]
            began = time.perf_counter()
            latest: Any = store.repository.get(market_id(symbol))
            assert isinstance(latest, Market)
            latest.book.depth_with_counts(20)
            seconds.append(time.perf_counter() - began)
        result["baseline_latest"] = _percentiles(seconds)
        live: dict[str, Any] = {s: store.repository.get(market_id(s)) for s in symbols}
        result["book_orders"] = {s: m.book.live_count() for s, m in live.items()}
        seconds = []
        traders = [account_id(f"trader{n}") for n in range(args.traders)]
        for _ in range(args.account_queries):
            cut = Cut(time=rng.randint(first, last))
            trader = traders[rng.randrange(len(traders))]
            began = time.perf_counter()
            travel.account(trader, cut)  # None before the trader signed up
            markets = travel.markets(cut, watch=True)
            travel.open_orders(str(trader), markets, 100)
            for past in markets:
                past.market.position_book().of(str(trader))
            seconds.append(time.perf_counter() - began)
        result["account_as_of"] = _percentiles(seconds)
        checked = 0
        replay_seconds, replay_events = [], []
        for n in range(args.checks):
            symbol = symbols[n % len(symbols)]
            market = market_id(symbol)
            newest = travel.stream.last_version(market)
            version = newest // 2 if n == 0 else rng.randint(1, newest)
            began = time.perf_counter()
            full = _full_replay(store, travel, market, version)
            replay_seconds.append(time.perf_counter() - began)
            replay_events.append(version)
            found = travel.load(market, version)
            assert found is not None and isinstance(found[0], Market)
            depth = 1_000_000
            assert book_levels(found[0], depth) == book_levels(full, depth), (symbol, version)
            assert found[0].position_book() == full.position_book()
            checked += 1
        result["full_replay"] = {
            "seconds": round(replay_seconds[0], 2),
            "events": replay_events[0],
        }
        result["checked"] = checked
        result["stored"] = _sizes(store, args.store == "postgresql")
        result["target_p99_ms"] = TARGET_P99_MS
        print(json.dumps(result))
    finally:
        store.close()
        if args.store == "postgresql":
            with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
                connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        elif args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
