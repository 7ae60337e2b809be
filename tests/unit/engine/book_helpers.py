"""Small helpers shared by the engine's unit tests: a market, order entry, record picking.

Prices are integer ticks (the spec's tick is 0.01) and quantities integer lots (0.0001).
Unless told otherwise every order gets its own account (`a-<id>`), so no self-trade
prevention applies by accident, and the book's last timestamp, so time never goes back.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from socialtrading.engine.book import CANCEL_TAKER, GTC, LIMIT, MARKET, OrderBook
from socialtrading.engine.records import ACCEPTED, CANCELLED, REJECTED, TRADE, Record
from socialtrading.engine.spec import MarketSpec

SYMBOL = "BTC-USD"
TICK = Decimal("0.01")
LOT = Decimal("0.0001")


def make_spec(**options: Any) -> MarketSpec:
    """The BTC-USD test market (tick 0.01, lot 0.0001) with optional limits."""
    return MarketSpec(SYMBOL, TICK, LOT, **options)


def make_book(**options: Any) -> OrderBook:
    """An empty book on the test market."""
    return OrderBook(make_spec(**options))


def limit(
    book: OrderBook,
    order_id: str,
    side: str,
    price: int | None,
    qty: int,
    *,
    account: str | None = None,
    ts: int | None = None,
    tif: str = GTC,
    post_only: bool = False,
    stp: str = CANCEL_TAKER,
    group: str | None = None,
    expire_ts: int | None = None,
    stop_price: int | None = None,
) -> list[Record]:
    """Submit a limit order (a stop-limit one with `stop_price`)."""
    return book.submit(
        book.ts if ts is None else ts,
        order_id,
        f"a-{order_id}" if account is None else account,
        side,
        LIMIT,
        price,
        qty,
        tif,
        post_only,
        stp,
        group,
        expire_ts,
        stop_price,
    )


def market(
    book: OrderBook,
    order_id: str,
    side: str,
    qty: int,
    *,
    account: str | None = None,
    ts: int | None = None,
    tif: str = GTC,
    stp: str = CANCEL_TAKER,
    group: str | None = None,
    stop_price: int | None = None,
    protection: int | None = None,
) -> list[Record]:
    """Submit a market order (a stop-market one with `stop_price`; `protection`: its
    protection price)."""
    return book.submit(
        book.ts if ts is None else ts,
        order_id,
        f"a-{order_id}" if account is None else account,
        side,
        MARKET,
        protection,
        qty,
        tif,
        False,
        stp,
        group,
        None,
        stop_price,
    )


def place(book: OrderBook, *args: Any, **kwargs: Any) -> list[Record]:
    """Submit a limit order (as `limit`) that must be accepted: for setting up a book."""
    out = limit(book, *args, **kwargs)
    assert out[0][0] == ACCEPTED, out
    return out


def trade_at(book: OrderBook, price: int, tag: str, qty: int = 1) -> list[Record]:
    """Trade at `price` between two fresh accounts (sets the last trade price; stops may
    trigger after it)."""
    out = place(book, f"{tag}-maker", "sell", price, qty)
    out += place(book, f"{tag}-taker", "buy", price, qty)
    assert trades(out)[:1] == [(price, qty, f"{tag}-taker", f"{tag}-maker")]
    return out


def kinds(records: list[Record]) -> list[str]:
    """The kind of each record, in order."""
    return [record[0] for record in records]


def trades(records: list[Record]) -> list[tuple[int, int, str, str]]:
    """(price, qty, taker, maker) of each trade record."""
    return [(r[3], r[4], r[5], r[6]) for r in records if r[0] == TRADE]


def cancels(records: list[Record]) -> list[tuple[str, int, int, str]]:
    """(id, qty, remaining, reason) of each cancelled record."""
    return [(r[3], r[4], r[5], r[6]) for r in records if r[0] == CANCELLED]


def rejection(records: list[Record]) -> str:
    """The reason of the one rejected record in `records`."""
    rejected = [r for r in records if r[0] == REJECTED]
    assert len(rejected) == 1, records
    reason: str = rejected[0][6]
    return reason


def seqs(records: list[Record]) -> list[int]:
    """The sequence number of each record."""
    return [record[1] for record in records]


Command = tuple[str, tuple[Any, ...]]

# A scripted session touching every record kind: partial fills, a GTD order, stops (one a GTD
# stop-limit), an auction with queued market orders, a halt, expiries, STP and a refusal.
# Market: collar 50 ticks around 100.00 (10000 ticks).
SCENARIO_OPTIONS: dict[str, Any] = {"collar_ticks": 50, "reference_price": Decimal("100.00")}
SCENARIO: list[Command] = [
    ("submit", (1, "s1", "a1", "sell", LIMIT, 10010, 5)),
    ("submit", (2, "s2", "a2", "sell", LIMIT, 10020, 5, "GTD", False, CANCEL_TAKER, None, 50)),
    ("submit", (3, "b1", "a3", "buy", LIMIT, 10010, 2)),
    (
        "submit",
        (4, "st1", "a4", "buy", MARKET, None, 3, GTC, False, CANCEL_TAKER, None, None, 10015),
    ),
    (
        "submit",
        (5, "st2", "a5", "sell", LIMIT, 9990, 2, "GTD", False, CANCEL_TAKER, None, 60, 10000),
    ),
    ("amend", (6, "s1", "a1", None, 2)),
    ("submit", (7, "b2", "a6", "buy", LIMIT, 10020, 3)),
    ("submit", (8, "b3", "a7", "buy", LIMIT, 9995, 4, "GTD", False, CANCEL_TAKER, None, 40)),
    ("cancel", (8, "nope", "a7")),
    ("start_auction", (9,)),
    ("submit", (10, "m1", "a8", "sell", MARKET, None, 6)),
    ("submit", (11, "b4", "a9", "buy", LIMIT, 10000, 2)),
    ("submit", (12, "m2", "a10", "buy", MARKET, None, 1)),
    ("halt", (13,)),
    ("expire", (41,)),
    ("resume", (42,)),
    ("uncross", (43,)),
    ("submit", (44, "b5", "a11", "buy", LIMIT, 9990, 1)),
    ("expire", (61,)),
    ("submit", (62, "b6", "a1", "buy", LIMIT, 10020, 1)),
    ("submit", (63, "s3", "a1", "sell", LIMIT, 10020, 1, GTC, False, "cancel_maker")),
]


def run_commands(book: OrderBook, commands: list[Command]) -> list[Record]:
    """Run (method name, arguments) commands on `book`; return all their records."""
    out: list[Record] = []
    for name, args in commands:
        out.extend(getattr(book, name)(*args))
    return out
