"""The copy-trading process over a real store and read store (both backends): it copies a
leader's fills to every copy through the writer, once, whatever is sent again; it settles
profit share when the period has passed in log time; it applies the stop-loss after trades.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from uuid import UUID

import pytest
from sqlalchemy import Engine, delete

from socialtrading.commands.writer import Writer
from socialtrading.domain.copy.copy import STOPPED_BY_LOSS, Copy
from socialtrading.policies.copying import CopyPolicy, positions
from tests.unit.commands.copy_world import CAL, CAT, CID, LEA, MM, Clock, World

D = Decimal


@pytest.fixture
def world(make_writer: Callable[..., Writer]) -> World:
    return World(make_writer, Clock())


@pytest.fixture
def make_policy(world: World, read_engine: Engine) -> Iterator[Callable[..., CopyPolicy]]:
    made: list[CopyPolicy] = []

    def make(**options: object) -> CopyPolicy:
        policy = CopyPolicy(
            world.writer.store,
            read_engine,
            world.writer.submit,
            **options,  # type: ignore[arg-type]
        )
        policy.setup()
        made.append(policy)
        return policy

    yield make
    for policy in made:
        policy.stop()


def _copied(world: World, copies: list[UUID]) -> Counter[tuple[UUID, str]]:
    """(copy, leader trade id) -> OrderExecuted events."""
    found: Counter[tuple[UUID, str]] = Counter()
    for copy_id in copies:
        for event in world.events(copy_id):
            if isinstance(event, Copy.OrderExecuted):
                found[(copy_id, event.leader_trade_id)] += 1
    return found


def test_the_policy_copies_each_leader_fill_to_every_copy_exactly_once(
    world: World, make_policy: Callable[..., CopyPolicy], read_engine: Engine
) -> None:
    world.lead()
    copies = [world.start(CAT, "1000"), world.start(CAL, "2000"), world.start(CID, "3000")]
    totals = world.totals()
    policy = make_policy().start()
    world.writer.add_listener(policy.wake)
    world.order(MM, "sell", "100", "30")
    trades = []
    for _ in range(3):
        trades += world.trades(world.order(LEA, "buy", "100", "2"))
    assert policy.wait_for(world.head(), 30)
    assert policy.wait_for(world.head(), 30)  # the copies' own events, read past
    copied = _copied(world, copies)
    assert copied == Counter({(c, t): 1 for c in copies for t in trades})
    # 2% of each copy's equity per fill: 0.2, 0.4 and 0.6 BTC, three times
    assert [world.allocation(c).available("BTC") for c in copies] == [
        D("0.60"),
        D("1.20"),
        D("1.80"),
    ]
    policy.stop()
    # A crash after sending, before the position was recorded: everything is sent again
    # from the start, and the writer answers each resend with its first outcome.
    with read_engine.begin() as connection:
        connection.execute(delete(positions))
    head = world.head()
    again = make_policy()
    assert again.position == 0
    again.catch_up()
    assert again.sent >= len(trades)
    assert world.head() == head, "a resent copy command stored something"
    assert _copied(world, copies) == copied
    assert world.totals() == totals


def test_profit_share_is_settled_each_period_of_log_time(
    world: World, make_policy: Callable[..., CopyPolicy]
) -> None:
    world.lead(profit_share_bps=1000)
    copy_id = world.start(CAT, "1000", sizing="FIXED_RATIO", ratio=D(1))
    policy = make_policy(settlement_period_us=3_600_000_000)  # hourly
    world.order(MM, "sell", "100", "5")
    world.order(LEA, "buy", "100", "4")
    policy.catch_up()
    assert world.allocation(copy_id).available("BTC") == D(1)
    assert not [e for e in world.events(copy_id) if isinstance(e, Copy.ProfitShareSettled)]
    world.clock.now += 3_600_000_000  # an hour later, a trade at 110
    world.order(MM, "sell", "110", "0.01")
    world.order(CID, "buy", "110", "0.01")
    policy.catch_up()
    (settled,) = [e for e in world.events(copy_id) if isinstance(e, Copy.ProfitShareSettled)]
    assert settled.gain > D(9) and settled.paid == settled.share > 0
    policy.catch_up()  # nothing more until the next period
    assert len([e for e in world.events(copy_id) if isinstance(e, Copy.ProfitShareSettled)]) == 1


def test_the_stop_loss_is_checked_after_trades(
    world: World, make_policy: Callable[..., CopyPolicy]
) -> None:
    world.lead()
    copy_id = world.start(CAT, "1000", sizing="FIXED_RATIO", ratio=D(2), stop_loss_percent=95)
    policy = make_policy()
    world.order(MM, "sell", "100", "12")
    world.order(LEA, "buy", "100", "4")
    policy.catch_up()
    assert world.allocation(copy_id).available("BTC") == D(8)
    assert world.copy(copy_id).status != STOPPED_BY_LOSS
    # the price falls 10%: 8 BTC bought at 100 now worth 720; equity ~920 of 1,000
    world.order(MM, "buy", "90", "20")
    world.order(LEA, "sell", "90", "0.01")
    policy.catch_up()
    assert world.copy(copy_id).status == STOPPED_BY_LOSS
