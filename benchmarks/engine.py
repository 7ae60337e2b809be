"""Engine throughput and latency over an exchange-core-shaped command stream.

    python benchmarks/engine.py --orders 1000000 --seed 1

Prints one JSON object: orders_per_sec (commands per second, one pass without per-command
timers), p50_us/p99_us/p999_us (per-command latency, a second pass), trades, records, and
digest (SHA-256 over every record; equal across runs with the same seed).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import time

from socialtrading.engine.book import OrderBook
from socialtrading.engine.records import TRADE, Record
from socialtrading.entrypoints.simulation import DEMO_SPEC, apply, generate


def _digest(records: list[Record]) -> str:
    hasher = hashlib.sha256()
    for record in records:
        hasher.update(repr(record).encode())
    return hasher.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    commands = list(generate(args.orders, args.seed))
    gc.collect()
    gc.freeze()  # the command list is long-lived: keep it out of the collector's way

    book = OrderBook(DEMO_SPEC)
    records: list[Record] = []
    extend = records.extend
    started = time.perf_counter()
    for command in commands:
        extend(apply(book, command))
    elapsed = time.perf_counter() - started

    book = OrderBook(DEMO_SPEC)
    latencies = []
    clock = time.perf_counter_ns
    for command in commands:
        before = clock()
        apply(book, command)
        latencies.append(clock() - before)
    latencies.sort()

    def percentile(fraction: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * fraction))] / 1000, 2)

    kinds = [command[0] for command in commands]
    print(
        json.dumps(
            {
                "commands": len(commands),
                "orders_per_sec": round(len(commands) / elapsed),
                "p50_us": percentile(0.50),
                "p99_us": percentile(0.99),
                "p999_us": percentile(0.999),
                "trades": sum(1 for record in records if record[0] == TRADE),
                "records": len(records),
                "mix": {kind: kinds.count(kind) for kind in ("new", "amend", "cancel")},
                "resting_at_end": sum(1 for _ in book.resting_orders()),
                "levels_at_end": len(book.depth(10**9)[0]) + len(book.depth(10**9)[1]),
                "digest": _digest(records),
            }
        )
    )


if __name__ == "__main__":
    main()
