"""The engine demo: generated order flow through one book, summarised with rich."""

from __future__ import annotations

import time
from collections import Counter

from rich.console import Console
from rich.table import Table

from socialtrading.engine.book import OrderBook
from socialtrading.engine.records import (
    CANCELLED,
    CANCELLED_REASON,
    KIND,
    TRADE,
    TRADE_QTY,
)
from socialtrading.engine.spec import format_decimal
from socialtrading.entrypoints.simulation import DEMO_SPEC, apply, generate


def run_engine_demo(count: int, seed: int) -> None:
    """Generate `count` commands, match them, and print what happened."""
    console = Console()
    spec = DEMO_SPEC
    with console.status(f"generating {count:,} commands (seed {seed})"):
        commands = list(generate(count, seed))
    book = OrderBook(spec)
    kinds: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    volume = 0
    started = time.perf_counter()
    for command in commands:
        for record in apply(book, command):
            kinds[record[KIND]] += 1
            if record[KIND] == TRADE:
                volume += record[TRADE_QTY]
            elif record[KIND] == CANCELLED:
                reasons[record[CANCELLED_REASON]] += 1
    elapsed = time.perf_counter() - started

    console.print(
        f"[bold]{spec.symbol}[/]: {count:,} commands matched in {elapsed:.2f} s "
        f"({count / elapsed:,.0f} commands/s)"
    )
    table = Table("record", "count")
    for kind, number in sorted(kinds.items()):
        table.add_row(kind, f"{number:,}")
    console.print(table)
    if reasons:
        console.print(
            "cancel reasons: " + ", ".join(f"{k} {v:,}" for k, v in sorted(reasons.items()))
        )
    console.print(
        f"traded volume: {format_decimal(spec.qty(volume))}, last price: "
        f"{format_decimal(spec.price(book.last_price)) if book.last_price else '-'}"
    )
    bids, asks = book.depth(5)
    depth = Table("bid qty", "bid", "ask", "ask qty", title="top of book")
    for i in range(max(len(bids), len(asks))):
        bid = bids[i] if i < len(bids) else None
        ask = asks[i] if i < len(asks) else None
        depth.add_row(
            format_decimal(spec.qty(bid[1])) if bid else "",
            format_decimal(spec.price(bid[0])) if bid else "",
            format_decimal(spec.price(ask[0])) if ask else "",
            format_decimal(spec.qty(ask[1])) if ask else "",
        )
    console.print(depth)
