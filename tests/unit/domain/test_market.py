"""The Market aggregate: listing, one event per book command, and a rebuild without matching.

Prices are integer ticks of 0.01 USD (10000 = 100.00) and quantities lots of 0.01 BTC.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

import pytest

from socialtrading.domain.ids import FEE_ACCOUNT_HANDLE, SYSTEM_ACTOR, account_id, market_id
from socialtrading.domain.market import Market
from socialtrading.domain.settlement import Posting
from socialtrading.domain.time import to_datetime
from socialtrading.engine.book import BUY, LIMIT, SELL, OrderBook
from socialtrading.engine.records import ACCEPTED, CANCELLED, REJECTED, TRADE, Record
from socialtrading.engine.spec import MarketSpec

SYMBOL = "BTC-USD"
SPEC = MarketSpec(
    SYMBOL,
    Decimal("0.01"),
    Decimal("0.01"),
    max_qty=Decimal("10"),
    collar_ticks=1_000,
    reference_price=Decimal("100"),
)


def create_market() -> Market:
    """BTC-USD listed at ts 1 with 10/20 bps maker/taker fees."""
    return Market.create(market_id(SYMBOL), SPEC, "BTC", "USD", 10, 20, SYSTEM_ACTOR, "list", 1)


def store(
    market: Market,
    event: type[Market.BookChanged],
    records: list[Record],
    order_id: str | None = None,
) -> list[Posting]:
    """Record one command's records as `event` (the book has run the command already)."""
    return market.record(event, str(SYSTEM_ACTOR), f"c{market.book.seq}", order_id, records)


def submit(
    market: Market,
    ts: int,
    order_id: str,
    account: str,
    side: str,
    price: int | None,
    lots: int,
    **options: Any,
) -> list[Record]:
    """Run a new order through the book and record it as the writer would."""
    records = market.book.submit(
        ts, order_id, account, side, options.pop("type_", LIMIT), price, lots, **options
    )
    accepted = any(r[0] == ACCEPTED and r[3] == order_id for r in records)
    store(market, Market.OrderAccepted if accepted else Market.OrderRejected, records, order_id)
    return records


def busy_market() -> Market:
    """A market through fills, amends, an expiry, a stop, a halt, an auction and a rejection."""
    market = create_market()
    book = market.book
    submit(market, 2, "s1", "bob", SELL, 10_100, 100)
    submit(market, 3, "s2", "carol", SELL, 10_050, 50)
    submit(market, 4, "b1", "alice", BUY, 10_100, 120)  # takes s2, then 70 of s1
    submit(market, 5, "b2", "alice", BUY, 9_900, 40)
    store(market, Market.OrderAmended, book.amend(6, "b2", "alice", 9_950, 60), "b2")
    submit(market, 7, "b3", "dave", BUY, 9_800, 10, tif="GTD", expire_ts=9)
    submit(market, 8, "s3", "carol", SELL, 9_900, 20, stop_price=10_000)
    store(market, Market.OrderCancelled, book.cancel(9, "s1", "bob"), "s1")  # b3 expires too
    store(market, Market.Halted, book.halt(10))
    submit(market, 11, "x1", "erin", BUY, 9_000, 10)  # refused: halted
    store(market, Market.Resumed, book.resume(12))
    submit(market, 13, "s4", "bob", SELL, 9_950, 100)  # takes b2; the stop s3 triggers
    submit(market, 14, "b4", "carol", BUY, 10_000, 5, stp="decrement")  # against carol's s3
    store(market, Market.AuctionStarted, book.start_auction(15))
    submit(market, 16, "b5", "dave", BUY, 10_000, 50)
    submit(market, 17, "s5", "erin", SELL, None, 10, type_="market")
    store(market, Market.AuctionUncrossed, book.uncross(18))
    submit(market, 19, "s6", "erin", SELL, 10_500, 5)
    submit(market, 19, "b6", "alice", BUY, 9_800, 10)
    store(market, Market.OrderAmended, book.amend(20, "s6", "erin", None, 3), "s6")
    return market


def rebuild(events: Sequence[Any]) -> Market:
    """A market rebuilt from its stored events, as a repository would."""
    market = events[0].mutate(None)
    for event in events[1:]:
        market = event.mutate(market)
    assert isinstance(market, Market)
    return market


def disable_matching(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every matching entry point of the engine fail from now on."""

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("a rebuild must not run matching")

    for name in ("_match", "_execute_auction", "_run_stops", "_enter"):
        monkeypatch.setattr(OrderBook, name, refuse)


def as_stored(events: Sequence[Any]) -> list[Any]:
    """The events with their records as the lists a JSON round trip makes of them."""
    return [
        dataclasses.replace(cast(Any, e), records=[list(r) for r in e.records])
        if isinstance(e, Market.BookChanged)
        else e
        for e in events
    ]


def kinds_of(events: Sequence[Any]) -> set[str]:
    """Every record kind the events carry."""
    return {r[0] for e in events if isinstance(e, Market.BookChanged) for r in e.records}


# ---------------------------------------------------------------------- listing


def test_listing_records_the_spec_fees_and_who_listed() -> None:
    market = create_market()

    assert (market.id, market.symbol, market.base, market.quote) == (
        market_id(SYMBOL),
        SYMBOL,
        "BTC",
        "USD",
    )
    assert market.spec == SPEC
    assert (market.maker_fee_bps, market.taker_fee_bps) == (10, 20)
    assert market.live_orders == {}
    assert market.book.best_bid() is None
    (event,) = market.collect_events()
    assert isinstance(event, Market.Listed)
    assert (event.tick_size, event.lot_size, event.max_qty) == (
        Decimal("0.01"),
        Decimal("0.01"),
        Decimal("10"),
    )
    assert (event.collar_ticks, event.reference_price, event.mode) == (
        1_000,
        Decimal("100"),
        "continuous",
    )
    assert (event.by, event.command_id, event.timestamp) == (
        str(SYSTEM_ACTOR),
        "list",
        to_datetime(1),
    )


def test_the_settlement_rules_of_a_market_use_its_units_and_fees() -> None:
    rules = create_market().settlement

    assert (rules.quote_unit, rules.base_unit) == (Decimal("0.0001"), Decimal("0.01"))
    assert (rules.maker_fee_bps, rules.taker_fee_bps) == (10, 20)
    assert rules.fee_account == str(account_id(FEE_ACCOUNT_HANDLE))
    assert rules.need(BUY, 10_000, 100) == ("USD", Decimal("100.20"))


# ---------------------------------------------------------------------- live recording


def test_recording_stores_one_event_with_the_records_and_leaves_the_book_alone() -> None:
    market = create_market()
    market.collect_events()
    records = market.book.submit(5, "s1", "bob", SELL, LIMIT, 10_100, 100)
    before = market.book.snapshot()

    postings = store(market, Market.OrderAccepted, records, "s1")

    assert market.book.snapshot() == before
    (event,) = market.collect_events()
    assert isinstance(event, Market.OrderAccepted)
    assert (event.order_id, event.actor, event.records) == ("s1", str(SYSTEM_ACTOR), records)
    assert event.timestamp == to_datetime(5)
    assert postings == [("bob", "reserve", "s1", "BTC", Decimal("-1.00"), Decimal("1.00"))]
    assert market.live_orders == {"s1": ("bob", SELL, 10_100)}


def test_terms_follow_exactly_the_live_orders_with_their_current_price() -> None:
    market = busy_market()

    live = {o.id: (o.account, o.side, o.price) for o in market.book.live_orders()}
    assert market.live_orders == live
    assert market.live_orders["s6"] == ("erin", SELL, 10_500)


def test_a_refused_order_is_stored_and_leaves_no_terms() -> None:
    market = create_market()
    market.collect_events()

    records = submit(market, 2, "b1", "alice", BUY, 20_000, 10)  # outside the collar

    assert [r[0] for r in records] == [REJECTED]
    assert records[0][6] == "price_outside_collar"
    (event,) = market.collect_events()
    assert isinstance(event, Market.OrderRejected)
    assert market.live_orders == {}


def test_a_filled_order_leaves_the_terms_in_the_command_that_fills_it() -> None:
    market = create_market()
    submit(market, 2, "s1", "bob", SELL, 10_000, 10)

    records = submit(market, 3, "b1", "alice", BUY, 10_000, 10)

    assert [r[0] for r in records] == [ACCEPTED, TRADE]
    assert market.live_orders == {}


# ---------------------------------------------------------------------- rebuild


def test_the_busy_scenario_covers_every_kind_of_book_change() -> None:
    events = busy_market().collect_events()

    assert kinds_of(events) == {
        "accepted",
        "rejected",
        "trade",
        "rested",
        "cancelled",
        "expired",
        "amended",
        "triggered",
        "uncrossed",
        "halted",
        "resumed",
        "auction_started",
    }
    cancelled = [
        r
        for e in events
        if isinstance(e, Market.BookChanged)
        for r in e.records
        if r[0] == CANCELLED
    ]
    assert {r[6] for r in cancelled} >= {"user", "stp_decrement"}


@pytest.mark.parametrize("stored", [False, True], ids=["tuples", "json-lists"])
def test_a_market_rebuilt_from_its_events_has_the_live_book_and_terms_without_matching(
    monkeypatch: pytest.MonkeyPatch, stored: bool
) -> None:
    market = busy_market()
    events = market.collect_events()
    disable_matching(monkeypatch)

    rebuilt = rebuild(as_stored(events) if stored else events)

    assert rebuilt.book.snapshot() == market.book.snapshot()
    assert rebuilt.live_orders == market.live_orders
    assert (rebuilt.id, rebuilt.version, rebuilt.symbol) == (market.id, market.version, SYMBOL)
    assert (rebuilt.base, rebuilt.quote, rebuilt.spec) == ("BTC", "USD", SPEC)


def test_matching_really_is_disabled_during_the_rebuild_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    market = create_market()
    disable_matching(monkeypatch)

    with pytest.raises(AssertionError, match="must not run matching"):
        market.book.submit(2, "s1", "bob", SELL, LIMIT, 10_100, 100)


def test_a_rebuilt_market_continues_like_the_live_one() -> None:
    market = busy_market()
    rebuilt = rebuild(market.collect_events())

    records = []
    for each in (market, rebuilt):
        bought = submit(each, 30, "b9", "frank", BUY, 10_500, 20)
        store(each, Market.OrderCancelled, each.book.cancel(31, "b6", "alice"), "b6")
        records.append(bought)

    assert records[0] == records[1]
    assert [r[0] for r in records[0]] == ["accepted", "trade", "trade", "rested"]
    assert rebuilt.book.snapshot() == market.book.snapshot()
    assert rebuilt.live_orders == market.live_orders
