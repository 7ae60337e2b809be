"""The Market aggregate: listing, one event per book command, and a rebuild without matching.

Prices are integer ticks of 0.01 USD (10000 = 100.00) and quantities lots of 0.01 BTC.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, cast

import pytest

from socialtrading.domain.errors import InvalidCommand, Refused
from socialtrading.domain.ids import (
    FEE_ACCOUNT_HANDLE,
    SYSTEM_ACTOR,
    account_id,
    market_id,
    order_id,
)
from socialtrading.domain.market import FEE_ACCOUNT, Decision, Market
from socialtrading.domain.settlement import Posting
from socialtrading.domain.time import to_datetime
from socialtrading.engine.book import BUY, LIMIT, SELL, OrderBook, Side
from socialtrading.engine.records import ACCEPTED, CANCELLED, EXPIRED, REJECTED, TRADE, Record
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


def test_live_orders_follow_exactly_the_book_with_their_current_price() -> None:
    market = busy_market()

    live = {o.id: (o.account, o.side, o.price) for o in market.book.live_orders()}
    assert market.live_orders == live
    assert market.live_orders["s6"] == ("erin", SELL, 10_500)


def test_a_refused_order_is_stored_and_leaves_no_live_order() -> None:
    market = create_market()
    market.collect_events()

    records = submit(market, 2, "b1", "alice", BUY, 20_000, 10)  # outside the collar

    assert [r[0] for r in records] == [REJECTED]
    assert records[0][6] == "price_outside_collar"
    (event,) = market.collect_events()
    assert isinstance(event, Market.OrderRejected)
    assert market.live_orders == {}


def test_a_filled_order_leaves_the_live_orders_in_the_command_that_fills_it() -> None:
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
def test_a_market_rebuilt_from_its_events_has_the_live_book_and_orders_without_matching(
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


# ---------------------------------------------------------------------- decisions


def _funds(amount: str) -> Callable[[str], Decimal]:
    """An owner with `amount` of every asset available."""
    return lambda asset: Decimal(amount)


def _place(
    market: Market,
    owner: str,
    command_id: str,
    side: Side,
    price: str,
    qty: str,
    ts: int,
    funds: str = "1000000",
    **options: Any,
) -> Decision:
    return market.place(
        owner,
        command_id,
        side,
        options.pop("order_type", LIMIT),
        Decimal(price) if price else None,
        Decimal(qty),
        _funds(funds),
        ts,
        time_in_force=options.pop("time_in_force", "GTC"),
        post_only=False,
        stp="cancel_taker",
        group=None,
        expire_ts=options.pop("expire_ts", None),
        stop_price=None,
    )


def test_place_matches_stores_one_event_and_says_what_the_ledger_posts() -> None:
    market = create_market()
    _place(market, "bob", "c1", SELL, "101", "1", 2)

    decision = _place(market, "alice", "c2", BUY, "101", "0.4", 3)

    assert decision.refusal is None
    assert [r[0] for r in decision.records] == [ACCEPTED, TRADE]
    assert decision.event == (market.id, market.version) == (market.id, 3)
    assert decision.order_id == order_id("alice", "c2")
    event = market.collect_events()[-1]
    assert isinstance(event, Market.OrderAccepted) and event.records == decision.records
    kinds = [(p[0], p[1]) for p in decision.postings]
    assert kinds[0] == ("alice", "reserve") and ("bob", "settle") in kinds
    assert ("fees", "fee") not in kinds and kinds[-1] == (FEE_ACCOUNT, "fee")


def test_place_refuses_for_funds_as_a_stored_rejection_with_the_request() -> None:
    market = create_market()

    decision = _place(market, "alice", "c1", BUY, "100", "1", 2, funds="100.19")

    assert decision.refusal == "insufficient_funds" and decision.postings == []
    event = market.collect_events()[-1]
    assert isinstance(event, Market.OrderRejected)
    assert event.terms is not None and (event.terms["price"], event.terms["qty"]) == (10_000, 100)
    assert market.live_orders == {}


@pytest.mark.parametrize(
    ("price", "qty", "code"),
    [("100.001", "1", "price_not_on_tick"), ("100", "0.001", "qty_not_on_lot")],
)
def test_place_refuses_off_grid_values_and_stores_nothing(price: str, qty: str, code: str) -> None:
    market = create_market()
    market.collect_events()

    with pytest.raises(InvalidCommand) as refused:
        _place(market, "alice", "c1", BUY, price, qty, 2)

    assert refused.value.code == code
    assert market.collect_events() == [] and market.book.seq == 0


def test_a_market_buy_without_a_reference_price_is_refused() -> None:
    market = Market.create(
        market_id("ETH-USD"),
        MarketSpec("ETH-USD", Decimal("0.01"), Decimal("0.01")),
        "ETH",
        "USD",
        0,
        0,
        SYSTEM_ACTOR,
        "list",
        1,
    )

    with pytest.raises(Refused) as refused:
        _place(market, "alice", "c1", BUY, "", "1", 2, order_type="market")

    assert refused.value.code == "no_reference_price"


def test_cancel_of_someone_elses_order_is_answered_as_an_unknown_one() -> None:
    market = create_market()
    placed = _place(market, "bob", "c1", SELL, "101", "1", 2)
    assert placed.order_id is not None

    with pytest.raises(InvalidCommand) as refused:
        market.cancel("alice", "c2", placed.order_id, 3)
    decision = market.cancel("bob", "c3", placed.order_id, 4)

    assert refused.value.code == "unknown_order"
    assert [r[0] for r in decision.records] == [CANCELLED] and market.live_orders == {}
    assert decision.postings[0][:2] == ("bob", "release")


def test_expire_stores_due_expiries_as_orders_expired_and_nothing_when_none_is_due() -> None:
    market = create_market()
    placed = _place(market, "bob", "c1", SELL, "101", "1", 2, time_in_force="GTD", expire_ts=9)
    market.collect_events()

    assert market.expire(str(SYSTEM_ACTOR), "x1", 5) is None
    decision = market.expire(str(SYSTEM_ACTOR), "x2", 9)

    assert decision is not None and decision.refusal is None
    assert [r[0] for r in decision.records] == [EXPIRED]
    assert decision.postings[0][:3] == ("bob", "release", placed.order_id)
    (event,) = market.collect_events()
    assert isinstance(event, Market.OrdersExpired) and market.live_orders == {}


def test_market_control_decisions_store_their_event_or_a_refusal() -> None:
    market = create_market()
    actor = str(SYSTEM_ACTOR)

    decisions = [
        market.halt(actor, "h1", 2),
        market.halt(actor, "h2", 3),
        market.resume(actor, "r1", 4),
        market.start_auction(actor, "a1", 5),
        market.uncross(actor, "u1", 6),
    ]

    events = market.collect_events()[1:]
    assert [type(e) for e in events] == [
        Market.Halted,
        Market.RequestRejected,
        Market.Resumed,
        Market.AuctionStarted,
        Market.AuctionUncrossed,
    ]
    assert [d.postings for d in decisions] == [[]] * 5


def test_a_snapshot_holds_the_live_orders_and_not_the_settlement_rules() -> None:
    market = busy_market()
    market.settlement  # noqa: B018 (built and kept in its slot)

    snapshot = Market.Snapshot.take(market)
    restored = snapshot.mutate(None)

    assert "live_orders" in snapshot.state and "_settlement" not in snapshot.state
    assert isinstance(restored, Market) and restored.live_orders == market.live_orders
    assert restored.settlement.fee_account == FEE_ACCOUNT


def test_a_snapshot_taken_when_live_orders_were_called_terms_is_read() -> None:
    market = busy_market()
    snapshot = Market.Snapshot.take(market)
    state = dict(snapshot.state)
    state["terms"] = state.pop("live_orders")
    del state["class_version"]
    old = Market.Snapshot(
        originator_id=snapshot.originator_id,
        originator_version=snapshot.originator_version,
        timestamp=snapshot.timestamp,
        topic=snapshot.topic,
        state=state,
    )

    restored = old.mutate(None)

    assert isinstance(restored, Market) and restored.live_orders == market.live_orders
    assert not hasattr(restored, "terms")
