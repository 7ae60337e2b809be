"""Generated order flow for benchmarks and the demo, shaped like exchange-core's benchmark.

The mix (of commands): about 80% amends that move a resting order's price, 9% GTC limits,
3% IOC, 6% cancels, 1% FOK and 1% market orders, around 1,000 resting orders spread over
about 750 price levels, with a few percent of commands trading. The generator keeps a real
`OrderBook` beside it to know which orders are live, so every amend and cancel names a live
order; the commands it returns replay to the same records on a fresh book.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from socialtrading.engine.book import BUY, FOK, GTC, IOC, LIMIT, MARKET, SELL, OrderBook
from socialtrading.engine.records import (
    KIND,
    ORDER_ID,
    RESTED,
    TRADE,
    TRADE_MAKER,
    TRADE_TAKER,
    Record,
)
from socialtrading.engine.spec import MarketSpec

Command = tuple[Any, ...]

DEMO_SPEC = MarketSpec(
    symbol="BTC-USD",
    tick_size=Decimal("0.01"),
    lot_size=Decimal("0.0001"),
    min_qty=Decimal("0.0001"),
    max_qty=Decimal("1000"),
    collar_ticks=100_000,
    reference_price=Decimal("100.00"),
)


def apply(book: OrderBook, command: Command) -> list[Record]:
    """Run one generated command on `book`."""
    op = command[0]
    if op == "amend":
        return book.amend(*command[1:])
    if op == "new":
        return book.submit(*command[1:])
    return book.cancel(*command[1:])


@dataclass
class _Live:
    ids: list[str] = field(default_factory=list)
    where: dict[str, int] = field(default_factory=dict)

    def add(self, order_id: str) -> None:
        if order_id not in self.where:
            self.where[order_id] = len(self.ids)
            self.ids.append(order_id)

    def discard(self, order_id: str) -> None:
        index = self.where.pop(order_id, None)
        if index is None:
            return
        last = self.ids.pop()
        if last != order_id:
            self.ids[index] = last
            self.where[last] = index


def generate(
    count: int, seed: int, spec: MarketSpec = DEMO_SPEC, accounts: int = 100, target: int = 1000
) -> Iterator[Command]:
    """Yield `count` commands; the same seed gives the same commands."""
    rng = random.Random(seed)
    book = OrderBook(spec)
    live = _Live()
    mid = spec.reference_ticks or 10_000
    half_width = 600
    ts = 1_700_000_000_000_000
    next_id = 0
    for _ in range(count):
        ts += rng.randint(1, 50)
        account = f"a{rng.randrange(accounts)}"
        roll = rng.random()
        if len(live.ids) < target * 0.9:
            roll = 0.81  # top the book up with GTC limits
        elif len(live.ids) > target * 1.1 and roll < 0.80:
            roll = 0.94  # thin it with cancels
        command: Command
        if live.ids and roll < 0.80:
            order = book.order(live.ids[rng.randrange(len(live.ids))])
            assert order is not None and order.price is not None
            step = rng.choice((-3, -2, -1, 1, 2, 3))
            # most moves stay on their own side; a few cross the spread and trade
            new_price = max(1, order.price + step)
            if rng.random() < 0.02:
                new_price = mid + (2 if order.side == BUY else -2)
            qty = None if rng.random() < 0.8 else max(1, order.open - rng.randint(0, 5))
            command = ("amend", ts, order.id, order.account, new_price, qty)
        elif roll < 0.89 or not live.ids:
            next_id += 1
            side = BUY if rng.random() < 0.5 else SELL
            offset = rng.randint(1, half_width)
            price = mid - offset if side == BUY else mid + offset
            if rng.random() < 0.03:
                price = mid + (3 if side == BUY else -3)
            qty = rng.randint(1, 100) * 10
            command = ("new", ts, f"o{next_id}", account, side, LIMIT, price, qty, GTC)
        elif roll < 0.92:
            next_id += 1
            side = BUY if rng.random() < 0.5 else SELL
            price = mid + (2 if side == BUY else -2)
            command = (
                "new",
                ts,
                f"o{next_id}",
                account,
                side,
                LIMIT,
                price,
                rng.randint(1, 20) * 10,
                IOC,
            )
        elif roll < 0.98:
            order = book.order(live.ids[rng.randrange(len(live.ids))])
            assert order is not None
            command = ("cancel", ts, order.id, order.account)
        elif roll < 0.99:
            next_id += 1
            side = BUY if rng.random() < 0.5 else SELL
            price = mid + (5 if side == BUY else -5)
            command = (
                "new",
                ts,
                f"o{next_id}",
                account,
                side,
                LIMIT,
                price,
                rng.randint(1, 20) * 10,
                FOK,
            )
        else:
            next_id += 1
            side = BUY if rng.random() < 0.5 else SELL
            command = (
                "new",
                ts,
                f"o{next_id}",
                account,
                side,
                MARKET,
                None,
                rng.randint(1, 10) * 10,
                IOC,
            )
        records = apply(book, command)
        for record in records:
            touched = (
                (record[TRADE_TAKER], record[TRADE_MAKER])
                if record[KIND] == TRADE
                else (record[ORDER_ID],)
            )
            for order_id in touched:
                if book.order(order_id) is None:
                    live.discard(order_id)
                elif record[KIND] == RESTED:
                    live.add(order_id)
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None:
            mid = (bid + ask) // 2
        yield command
