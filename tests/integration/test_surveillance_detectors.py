"""Each detector over a planted scenario, submitted as commands through the real writer (both
backends): the scenario raises exactly the expected finding with its evidence; its near miss
raises nothing.

The market (tests/unit/commands/copy_world.py): BTC-USD, tick 0.01, lot 0.01, prices within
1,000 ticks of 100. `mmm` (MM) makes the market.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from uuid import UUID

import pytest

from socialtrading.commands.copying import StopCopying
from socialtrading.commands.state import Outcome
from socialtrading.commands.writer import Writer
from socialtrading.engine.records import KIND, SEQ, TRADE
from socialtrading.policies.surveillance.findings import (
    ACCOUNT,
    AGAINST_OWN_RECOMMENDATION,
    FRONT_RUNNING_COPIERS,
    MARKING_THE_CLOSE,
    ORDER,
    ORDER_TO_TRADE,
    POST,
    PUMP_AND_DUMP,
    SPOOFING,
    WASH_TRADING,
    Finding,
)
from tests.integration.surveillance_world import Watched, kinds
from tests.unit.commands.copy_world import CAT, LEA, MM, SYMBOL, Clock

D = Decimal
HOUR = 3600


@pytest.fixture
def world(make_writer: Callable[..., Writer]) -> Watched:
    return Watched(make_writer, Clock())


def _refs(found: Finding, kind: str) -> list[str]:
    return [evidence.ref for evidence in found.evidence if evidence.kind == kind]


def _trade_ids(*outcomes: Outcome) -> list[str]:
    return [f"{SYMBOL}:{r[SEQ]}" for o in outcomes for r in o.records if r[KIND] == TRADE]


# ---------------------------------------------------------------------- wash trading


def _back_and_forth(world: Watched, legs: list[tuple[UUID, UUID]]) -> list[str]:
    """Each (seller, buyer) leg: the seller rests 1 BTC at 100, the buyer takes it."""
    trades = []
    for seller, buyer in legs:
        world.place(seller, "sell", "100", "1")
        trades += _trade_ids(world.order(buyer, "buy", "100", "1"))
    return trades


def test_two_accounts_trading_back_and_forth_at_no_net_change_are_wash_trading(
    world: Watched,
) -> None:
    ana, bob = world.trader("ana"), world.trader("bob")
    trades = _back_and_forth(world, [(ana, bob), (bob, ana), (ana, bob), (bob, ana)])
    found = world.findings()
    assert sorted(kinds(found)) == sorted([(WASH_TRADING, ana), (WASH_TRADING, bob)])
    for each in found:
        assert each.market == SYMBOL
        assert _refs(each, "trade") == trades
        other = bob if each.account == ana else ana
        assert _refs(each, ACCOUNT) == [str(other)]
    assert len({each.key for each in found}) == 2


def test_back_and_forth_that_is_a_small_part_of_the_volume_or_moves_risk_is_not(
    world: Watched,
) -> None:
    ana, bob = world.trader("ana"), world.trader("bob")
    # both also buy far more from the market maker: their trades together are a small part
    world.place(MM, "sell", "100", "20")
    world.order(ana, "buy", "100", "5")
    world.order(bob, "buy", "100", "5")
    _back_and_forth(world, [(ana, bob), (bob, ana), (ana, bob), (bob, ana)])
    # a second pair whose trades leave one of them holding: net 3 of 5 lots
    cyd, dan = world.trader("cyd"), world.trader("dan")
    _back_and_forth(world, [(cyd, dan), (dan, cyd), (cyd, dan), (cyd, dan)])
    assert world.findings() == []


def test_circular_trades_among_three_accounts_are_wash_trading(world: Watched) -> None:
    ana, bob, cyd = world.trader("ana"), world.trader("bob"), world.trader("cyd")
    cycle = [(ana, bob), (bob, cyd), (cyd, ana)]
    trades = _back_and_forth(world, cycle + cycle)
    found = world.findings()
    assert sorted(kinds(found)) == sorted((WASH_TRADING, a) for a in (ana, bob, cyd))
    for each in found:
        assert _refs(each, TRADE) == trades
        assert "circular" in each.summary


def test_one_cycle_or_cycles_of_unlike_quantities_are_not(world: Watched) -> None:
    ana, bob, cyd = world.trader("ana"), world.trader("bob"), world.trader("cyd")
    _back_and_forth(world, [(ana, bob), (bob, cyd), (cyd, ana)])
    for seller, buyer, quantity in [(ana, bob, "1"), (bob, cyd, "2"), (cyd, ana, "3")] * 2:
        world.place(seller, "sell", "100", quantity)
        world.order(buyer, "buy", "100", quantity)
    assert world.findings() == []


def test_a_copier_trading_with_its_own_allocation_is_wash_trading(world: Watched) -> None:
    world.lead()
    copy_id = world.start(CAT, "1000", sizing="FIXED_RATIO", ratio=D(1))
    world.place(MM, "sell", "100", "4")  # for the leader, then the copy
    fill = world.order(LEA, "buy", "100", "2")
    (leader_trade,) = _trade_ids(fill)
    world.copy_fill(leader_trade)
    world.fund(CAT, "USD", "1000")
    bid = world.place(CAT, "buy", "99.5", "2")  # the best bid
    world.ok(StopCopying(command_id=world.id(), actor=CAT, copy_id=copy_id))  # sells at market
    (found,) = world.findings()
    assert (found.kind, found.account) == (WASH_TRADING, CAT)
    allocation = world.copy(copy_id).allocation
    assert set(_refs(found, ACCOUNT)) == {str(CAT), allocation}
    assert bid  # the copier's resting bid was the allocation's counterparty


# ---------------------------------------------------------------------- spoofing


def test_a_large_bid_cancelled_within_seconds_while_selling_is_spoofing(world: Watched) -> None:
    spo = world.trader("spo")
    world.quote("99", "101")
    world.at(10)
    spoof = world.place(spo, "buy", "98.99", "20")  # 80% of the bids
    world.at(12)
    sale = world.order(spo, "sell", "99", "2")  # the genuine order: 1/10 of the spoof
    world.at(15)
    world.cancel(spo, spoof)
    (found,) = world.findings()
    assert (found.kind, found.account, found.market) == (SPOOFING, spo, SYMBOL)
    assert _refs(found, ORDER) == [spoof, spoof]  # placed, cancelled
    assert _refs(found, TRADE) == _trade_ids(sale)
    assert found.score >= 50


@pytest.mark.parametrize(
    ("size", "cancel_at"),
    [("20", 25), ("6", 15)],
    ids=["cancelled_after_15_seconds", "only_three_times_the_genuine_order"],
)
def test_a_slow_cancel_or_a_modest_order_is_not_spoofing(
    world: Watched, size: str, cancel_at: int
) -> None:
    spo = world.trader("spo")
    world.quote("99", "101")
    world.at(10)
    order = world.place(spo, "buy", "98.99", size)
    world.at(12)
    world.order(spo, "sell", "99", "2")
    world.at(cancel_at)
    world.cancel(spo, order)
    assert world.findings() == []


def test_a_market_maker_quoting_both_sides_alike_is_not_spoofing(world: Watched) -> None:
    mak = world.trader("mak")
    world.at(10)
    bid, ask = world.place(mak, "buy", "99", "5"), world.place(mak, "sell", "101", "5")
    world.order(MM, "buy", "101", "2")  # a taker lifts the ask
    world.at(11)
    world.cancel(mak, bid)
    world.cancel(mak, ask)
    assert world.findings() == []


# ---------------------------------------------------------------------- order-to-trade


def test_many_orders_without_trades_are_a_high_order_to_trade_ratio(world: Watched) -> None:
    spo = world.trader("spo")
    orders = []
    for _ in range(30):
        order = world.place(spo, "buy", "90", "1")
        orders.append(order)
        world.cancel(spo, order)
    (found,) = world.findings(otr_min_messages=50, otr_max_ratio=20)
    assert (found.kind, found.account) == (ORDER_TO_TRADE, spo)
    assert _refs(found, ORDER)[:3] == [orders[0], orders[0], orders[1]]
    assert "50 order messages and 0 trade(s)" in found.summary


def test_orders_that_trade_often_enough_are_not(world: Watched) -> None:
    spo = world.trader("spo")
    world.place(MM, "sell", "100", "6")
    for n in range(30):
        if n % 5 == 0:
            world.order(spo, "buy", "100", "1")  # trades
            world.cancel(spo, world.place(spo, "buy", "90", "1"))
            continue
        world.cancel(spo, world.place(spo, "buy", "90", "1"))
    assert world.findings(otr_min_messages=50, otr_max_ratio=20) == []


# ---------------------------------------------------------------------- marking the close


def _ladder(world: Watched) -> None:
    world.place(MM, "buy", "99", "5")
    for price in ("100", "100.5", "101", "101.5", "102"):
        world.place(MM, "sell", price, "1")
    world.order(world.trader("ana"), "buy", "100", "0.1")  # a last price: 100


def test_aggressive_buys_in_the_last_minutes_of_the_hour_mark_the_close(world: Watched) -> None:
    ram = world.trader("ram")
    _ladder(world)
    world.at(HOUR - 200)
    first = world.place(ram, "buy", "101", "1.5", time_in_force="IOC")
    world.at(HOUR - 100)
    second = world.place(ram, "buy", "102", "1.5", time_in_force="IOC")
    (found,) = world.findings()
    assert (found.kind, found.account) == (MARKING_THE_CLOSE, ram)
    assert _refs(found, ORDER) == [first, second]
    assert "up 100 ticks (100 bps)" in found.summary  # reported as it reached the threshold


@pytest.mark.parametrize("when", [HOUR - 600, None], ids=["before_the_window", "one_order"])
def test_buying_before_the_final_minutes_or_in_one_order_is_not(
    world: Watched, when: int | None
) -> None:
    ram = world.trader("ram")
    _ladder(world)
    if when is None:
        world.at(HOUR - 100)
        world.place(ram, "buy", "102", "3", time_in_force="IOC")
    else:
        world.at(when)
        world.place(ram, "buy", "101", "1.5", time_in_force="IOC")
        world.place(ram, "buy", "102", "1.5", time_in_force="IOC")
    assert world.findings() == []


# ---------------------------------------------------------------------- pump and dump


def _pump(world: Watched, sell_after: int, followers_buy: str = "2") -> tuple[UUID, str]:
    """pmp buys 10 BTC, is followed by three, posts BULLISH; `sell_after` seconds later it
    offers 8 BTC at 101 and each follower buys `followers_buy` of them."""
    pmp = world.trader("pmp")
    world.place(MM, "sell", "100", "10")
    world.order(pmp, "buy", "100", "10")
    fans = [world.trader(f"fan{n}") for n in range(3)]
    for fan in fans:
        world.follow(fan, "pmp")
    world.at(HOUR)
    post = world.post(pmp, "BULLISH")
    world.at(HOUR + sell_after)
    world.place(pmp, "sell", "101", "8")
    for fan in fans:
        world.order(fan, "buy", "101", followers_buy)
    return pmp, post


def test_selling_into_followers_buying_after_a_bullish_post_is_pump_and_dump(
    world: Watched,
) -> None:
    pmp, post = _pump(world, sell_after=2 * HOUR)
    (found,) = world.findings()
    assert (found.kind, found.account) == (PUMP_AND_DUMP, pmp)
    assert _refs(found, POST) == [post]
    assert len(_refs(found, ACCOUNT)) == 3  # the three followers
    assert "3 of them following or copying" in found.summary
    assert found.score > 60


@pytest.mark.parametrize(
    ("sell_after", "bought"),
    [(25 * HOUR, "2"), (2 * HOUR, "0.5")],
    ids=["after_the_window", "a_small_part_of_the_position"],
)
def test_selling_late_or_little_after_a_bullish_post_is_not(
    world: Watched, sell_after: int, bought: str
) -> None:
    _pump(world, sell_after, bought)
    assert world.findings() == []


# ---------------------------------------------------------------------- against one's post


def test_closing_a_recommended_position_soon_after_the_post_is_trading_against_it(
    world: Watched,
) -> None:
    sid = world.trader("sid")
    world.place(MM, "sell", "100", "5")
    world.order(sid, "buy", "100", "5")
    world.place(MM, "buy", "99", "10")
    world.at(60)
    post = world.post(sid, "BULLISH")
    world.at(60 + 600)
    sale = world.order(sid, "sell", "99", "4")
    (found,) = world.findings()
    assert (found.kind, found.account) == (AGAINST_OWN_RECOMMENDATION, sid)
    assert _refs(found, POST) == [post]
    assert _refs(found, TRADE) == _trade_ids(sale)
    assert "80% of it" in found.summary


@pytest.mark.parametrize(
    ("quantity", "after"), [("1", 600), ("4", 2 * HOUR)], ids=["a_little", "much_later"]
)
def test_selling_a_little_or_much_later_is_not(world: Watched, quantity: str, after: int) -> None:
    sid = world.trader("sid")
    world.place(MM, "sell", "100", "5")
    world.order(sid, "buy", "100", "5")
    world.place(MM, "buy", "99", "10")
    world.at(60)
    world.post(sid, "BULLISH")
    world.at(60 + after)
    world.order(sid, "sell", "99", quantity)
    assert world.findings() == []


# ---------------------------------------------------------------------- front-running copiers


def test_a_leader_selling_into_their_copies_block_is_front_running(world: Watched) -> None:
    world.lead()
    world.start(CAT, "1000", sizing="FIXED_RATIO", ratio=D(1))
    world.fund(LEA, "BTC", "5")
    world.place(MM, "sell", "100", "1")
    world.place(LEA, "sell", "100.3", "1")  # within the copies' 50 bps
    (leader_trade,) = _trade_ids(world.order(LEA, "buy", "100", "1"))
    block = world.copy_fill(leader_trade)
    (found,) = world.findings()
    assert (found.kind, found.account) == (FRONT_RUNNING_COPIERS, LEA)
    assert _refs(found, TRADE)[0] == leader_trade
    assert len(_refs(found, TRADE)) == 2
    assert block.accepted


def _ran_ahead(world: Watched, sec: UUID, price: int, before: bool = False) -> None:
    """lea buys 1 at `price` (from MM); sec buys 1 at `price` + 0.1 and offers it at
    `price` + 0.4 (before lea's buy when `before`); the copies' block buys it."""

    def run_ahead() -> None:
        world.place(MM, "sell", f"{price}.1", "1")
        world.order(sec, "buy", f"{price}.1", "1")
        world.place(sec, "sell", f"{price}.4", "1")

    if before:
        run_ahead()
    world.place(MM, "sell", f"{price}", "1")
    (leader_trade,) = _trade_ids(world.order(LEA, "buy", f"{price}", "1"))
    if not before:
        run_ahead()
    world.copy_fill(leader_trade)


def test_a_second_account_running_ahead_of_the_copies_twice_is_front_running(
    world: Watched,
) -> None:
    world.lead()
    world.start(CAT, "5000", sizing="FIXED_RATIO", ratio=D(1))
    sec = world.trader("sec")
    _ran_ahead(world, sec, 100)
    world.at(600)
    _ran_ahead(world, sec, 102)
    (found,) = world.findings()
    assert (found.kind, found.account) == (FRONT_RUNNING_COPIERS, sec)
    assert _refs(found, ACCOUNT) == [str(LEA)]
    assert len(_refs(found, TRADE)) == 6  # twice: lea's fill, sec's buy, sec's sale


@pytest.mark.parametrize("before", [False, True], ids=["once", "bought_before_the_leader"])
def test_running_ahead_once_or_buying_before_the_leader_is_not(
    world: Watched, before: bool
) -> None:
    world.lead()
    world.start(CAT, "5000", sizing="FIXED_RATIO", ratio=D(1))
    sec = world.trader("sec")
    _ran_ahead(world, sec, 100, before)
    if before:
        world.at(600)
        _ran_ahead(world, sec, 102, before)
    assert world.findings() == []
