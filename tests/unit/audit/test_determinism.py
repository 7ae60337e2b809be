"""Re-running a market's events: a random stream of every kind of decision re-runs to the
same records; a tampered record is named once, at its event; old refusals re-run as
recorded."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from socialtrading.audit.determinism import Determinism
from socialtrading.audit.findings import DETERMINISM, RECORDS, REORDERED
from socialtrading.domain.errors import DomainError
from socialtrading.domain.ids import SYSTEM_ACTOR, market_id, order_id
from socialtrading.domain.market import Market
from socialtrading.engine.book import Side, StpMode, TimeInForce
from socialtrading.engine.records import KIND, TRADE, TRADE_PRICE
from socialtrading.engine.spec import MarketSpec

SPEC = MarketSpec(
    "BTC-USD",
    Decimal("0.01"),
    Decimal("0.01"),
    max_qty=Decimal("10"),
    collar_ticks=1_000,
    reference_price=Decimal("100"),
)
OWNERS = ("alice", "bob", "carol", "dave")
SIDES: tuple[Side, ...] = ("buy", "sell")
STPS: tuple[StpMode, ...] = ("cancel_taker", "cancel_maker", "decrement")


def market_events(seed: int, commands: int) -> list[Any]:
    """A market's events after `commands` random decisions of every kind."""
    rng = random.Random(seed)
    market = Market.create(market_id("BTC-USD"), SPEC, "BTC", "USD", 10, 20, SYSTEM_ACTOR, "l", 1)
    placed: list[tuple[str, str]] = []
    ts = 10
    for n in range(commands):
        ts += rng.choice((0, 1, 5, 50))
        owner = rng.choice(OWNERS)
        roll = rng.random()
        try:
            if roll < 0.6:
                tif: TimeInForce = rng.choice(("GTC", "GTC", "IOC", "FOK", "GTD"))
                market.place(
                    owner,
                    f"c{n}",
                    rng.choice(SIDES),
                    "market" if rng.random() < 0.1 else "limit",
                    Decimal(rng.randint(9_900, 10_100)) / 100,
                    Decimal(rng.randint(1, 300)) / 100,
                    lambda asset: Decimal(rng.choice(("5", "100000"))),  # sometimes short
                    ts,
                    time_in_force=tif,
                    post_only=rng.random() < 0.1,
                    stp=rng.choice(STPS),
                    group=None,
                    # sometimes past, so that the engine refuses it (a refusal to re-run)
                    expire_ts=ts + rng.randint(-5, 200) if tif == "GTD" else None,
                    stop_price=Decimal(rng.randint(9_950, 10_050)) / 100
                    if rng.random() < 0.05
                    else None,
                )
                placed.append((owner, f"c{n}"))
            elif roll < 0.75 and placed:
                who, command = rng.choice(placed)
                market.cancel(who, f"c{n}", order_id(who, command), ts)
            elif roll < 0.88 and placed:
                who, command = rng.choice(placed)
                market.amend(
                    who,
                    f"c{n}",
                    order_id(who, command),
                    Decimal(rng.randint(9_900, 10_100)) / 100 if rng.random() < 0.7 else None,
                    Decimal(rng.randint(1, 300)) / 100 if rng.random() < 0.7 else None,
                    lambda asset: Decimal(rng.choice(("1", "100000"))),
                    ts,
                )
            else:
                action = rng.choice(("halt", "resume", "start_auction", "uncross", "expire"))
                getattr(market, action)(str(SYSTEM_ACTOR), f"c{n}", ts)
        except DomainError:
            pass  # refused before the book: nothing stored
    return list(market.collect_events())


def loader(events: list[Any]) -> Any:
    """The market at a version, rebuilt from its events (as the store would)."""

    def load(market: UUID, version: int) -> Market:
        aggregate = None
        for event in sorted(events, key=lambda e: e.originator_version)[:version]:
            aggregate = event.mutate(aggregate)
        assert isinstance(aggregate, Market)
        return aggregate

    return load


def rerun(events: list[Any]) -> tuple[Determinism, list[Any]]:
    check = Determinism(loader(events))
    found = [f for n, event in enumerate(events, start=1) for f in check.apply(n, event)]
    return check, found


def replaced(event: Any, **fields: Any) -> Any:
    """A copy of a (frozen) event with some fields changed, as an edit in the store."""
    copy = object.__new__(type(event))
    object.__setattr__(copy, "__dict__", {**event.__dict__, **fields})
    return copy


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32))
def test_every_kind_of_decision_re_runs_to_its_records(seed: int) -> None:
    events = market_events(seed, 300)
    check, findings = rerun(events)
    assert findings == []
    assert check.markets == 1 and check.commands == len(events) - 1


def test_the_stream_holds_every_kind_of_event() -> None:
    kinds = {type(event).__name__ for seed in range(3) for event in market_events(seed, 300)}
    assert {
        "Listed",
        "OrderAccepted",
        "OrderRejected",
        "OrderCancelled",
        "OrderAmended",
        "RequestRejected",
        "Halted",
        "Resumed",
        "AuctionStarted",
        "AuctionUncrossed",
    } <= kinds


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32), st.data())
def test_a_trade_price_changed_is_named_once_at_its_event(seed: int, data: st.DataObject) -> None:
    events = market_events(seed, 200)
    trading = [
        n for n, e in enumerate(events) if any(r[KIND] == TRADE for r in getattr(e, "records", ()))
    ]
    if not trading:
        return
    index = data.draw(st.sampled_from(trading))
    records = [list(record) for record in events[index].records]
    trade = next(record for record in records if record[KIND] == TRADE)
    trade[TRADE_PRICE] += 1
    events[index] = replaced(events[index], records=records)
    _, findings = rerun(events)
    assert [(f.position, f.check, f.kind) for f in findings] == [(index + 1, DETERMINISM, RECORDS)]
    assert "trade" in findings[0].message


def test_refusals_stored_without_their_full_terms_re_run_as_recorded() -> None:
    events = market_events(7, 300)
    refused = [
        n
        for n, e in enumerate(events)
        if isinstance(e, Market.OrderRejected | Market.RequestRejected) and e.terms
    ]
    assert refused
    for n in refused:  # as events stored before the STP mode, group and expiry were kept
        events[n] = replaced(events[n], terms={"side": "buy"})
    _, findings = rerun(events)
    assert findings == []


def test_a_market_listed_before_the_start_is_loaded_at_its_first_event() -> None:
    events = market_events(11, 200)
    check = Determinism(loader(events))
    found = [f for n, e in enumerate(events) if n >= 120 for f in check.apply(n, e)]
    assert found == []
    assert check.commands == len(events) - 120


def test_a_market_s_events_out_of_order_are_named_without_a_cascade() -> None:
    events = market_events(13, 200)
    events[50], events[60] = events[60], events[50]
    _, findings = rerun(events)
    assert {f.kind for f in findings} == {REORDERED}
    assert [f.position for f in findings] == [51, 52, 61, 62]  # each place the order breaks
