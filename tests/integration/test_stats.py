"""The stats read model over real events: daily equity points, statistics computed from
them, leaderboards as of a past day, rebuilds."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, select

from socialtrading.commands.models import Deposit, ListMarket, RegisterTrader, Withdraw
from socialtrading.commands.writer import Writer
from socialtrading.domain.account import Account
from socialtrading.domain.ids import SYSTEM_ACTOR
from socialtrading.domain.time import to_datetime
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import open_store
from socialtrading.projections.base import metadata
from socialtrading.projections.registry import all_projections
from socialtrading.projections.runner import ProjectionRunner
from socialtrading.projections.stats import queries
from socialtrading.projections.stats.formulas import WINDOWS
from socialtrading.projections.stats.projection import DAY_US, StatsProjection
from socialtrading.projections.stats.tables import TABLES, stats_points
from tests.integration.projection_scenario import START_US, Clock, Scenario

DAY0 = START_US // DAY_US
HANDLES = ("alice", "bob", "carol", "dave")


def _runner(scenario: Scenario, engine: Engine, batch_size: int = 20_000) -> ProjectionRunner:
    runner = ProjectionRunner(
        scenario.writer.store,
        engine,
        all_projections(),
        batch_size=batch_size,
        read_size=batch_size,
        catch_up_batch_size=batch_size,
    )
    runner.setup()
    return runner


def _deposit(scenario: Scenario, who: str, asset: str, amount: str) -> None:
    account = scenario.accounts[who]
    outcome = scenario.run(
        Deposit(
            command_id=scenario.cid(),
            actor=account,
            account=account,
            asset=asset,
            amount=Decimal(amount),
        )
    )
    assert outcome.accepted, outcome


def _trade(scenario: Scenario, seller: str, buyer: str, price: str, qty: str) -> None:
    scenario.order(seller, "BTC-USD", "sell", price, qty)
    outcome = scenario.order(buyer, "BTC-USD", "buy", price, qty)
    assert outcome.accepted and outcome.records, outcome


def _next_day(scenario: Scenario) -> None:
    scenario.clock.advance(86_400)


def _setup(scenario: Scenario) -> None:
    """Day 0: a market without fees; carol and dave trade first (the first BTC deposit has no
    price yet), then bob deposits 10 BTC (worth 1,000), alice 1,000 USD, and alice buys
    bob's 10 BTC at 100."""
    outcome = scenario.run(
        ListMarket(
            command_id="list",
            actor=SYSTEM_ACTOR,
            symbol="BTC-USD",
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.001"),
        )
    )
    assert outcome.accepted, outcome
    for handle in HANDLES:
        registered = scenario.run(RegisterTrader(command_id="register", handle=handle))
        assert registered.account_id is not None
        scenario.accounts[handle] = registered.account_id
    _deposit(scenario, "carol", "BTC", "2")
    _deposit(scenario, "dave", "USD", "1000")
    _trade(scenario, "carol", "dave", "100", "0.5")
    _deposit(scenario, "bob", "BTC", "10")
    _deposit(scenario, "alice", "USD", "1000")
    _trade(scenario, "bob", "alice", "100", "10")


def _days_1_to_3(scenario: Scenario) -> None:
    _next_day(scenario)  # day 1: BTC to 110 (alice 1,100)
    _trade(scenario, "carol", "dave", "110", "1")
    _next_day(scenario)  # day 2: alice deposits 1,000 (not a gain)
    _deposit(scenario, "alice", "USD", "1000")
    _next_day(scenario)  # day 3: BTC to 99 (alice 990 + 1,000)
    _trade(scenario, "dave", "carol", "99", "1")


def _days_4_to_5(scenario: Scenario) -> None:
    _next_day(scenario)  # day 4: alice sells her 10 BTC at 99 (a round trip lost 10)
    _trade(scenario, "alice", "bob", "99", "10")
    _next_day(scenario)  # day 5: buys 5 at 99, sells them at 101 (a round trip won 10)
    _trade(scenario, "bob", "alice", "99", "5")
    _trade(scenario, "alice", "dave", "101", "5")


def _points(engine: Engine, account: Any) -> dict[int, Decimal]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(stats_points.c.day, stats_points.c.equity).where(
                stats_points.c.account_id == str(account)
            )
        ).all()
    return {row.day - DAY0: row.equity for row in rows}


def _stats(engine: Engine, account: Any, window: str, end: int) -> Any:
    with engine.connect() as connection:
        found = queries.trader_stats(connection, [str(account)], window, WINDOWS[window], end)
    return found[str(account)]


def _board(engine: Engine, metric: str, window: str, end: int) -> list[Any]:
    with engine.connect() as connection:
        return queries.leaderboard(
            connection, metric, window, WINDOWS[window], end, min_trades=0, min_days=0
        )


def test_daily_points_and_statistics_of_a_trader(scenario: Scenario, read_engine: Engine) -> None:
    _setup(scenario)
    _days_1_to_3(scenario)
    _days_4_to_5(scenario)
    _runner(scenario, read_engine).catch_up()
    alice = scenario.accounts["alice"]
    # the closes; the open day (5) gets its equity when it closes (queries mark it live)
    closes = [Decimal(n) for n in (1000, 1100, 2100, 1990, 1990, 2000)]
    assert _points(read_engine, alice) == {n: closes[n] for n in range(5)} | {5: 0}
    with read_engine.connect() as connection:
        curve = queries.equity_curve(connection, str(alice), "D7", 7, DAY0 + 5)
    assert [(p.day - DAY0, p.equity) for p in curve] == list(enumerate(closes))
    stats = _stats(read_engine, alice, "ALL", DAY0 + 5)
    # returns 0, 0.1, 0 (the deposit), -110/2100, 0, 10/1990
    assert stats.roi == pytest.approx(1.1 * 2000 / 2100 - 1)
    assert stats.pnl == 0  # 2,000 of equity from 2,000 deposited
    assert stats.net_flows == 2000
    assert stats.realized_pnl == 0  # -10 then +10
    assert stats.closed_trades == 2 and stats.wins == 1 and stats.win_rate == 0.5
    assert stats.trades == 4
    assert stats.max_drawdown == pytest.approx(110 / 2100)
    assert stats.history_days == 6
    returns = [0, 0.1, 0, -110 / 2100, 0, 10 / 1990]
    assert stats.sharpe == pytest.approx(
        statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(365)
    )
    assert _stats(read_engine, alice, "D7", DAY0 + 5).roi == stats.roi  # reaches day 0
    # days 3..9 start from the close of day 2 (2,100): -110/2100, 0, 10/1990, then flat
    later = _stats(read_engine, alice, "D7", DAY0 + 9)
    assert later.roi == pytest.approx(2000 / 2100 - 1)
    assert later.pnl == -100 and later.net_flows == 0
    # bob's 10 BTC came in at the mark (100): a flow, not a gain
    bob = _stats(read_engine, scenario.accounts["bob"], "ALL", DAY0 + 5)
    assert bob.net_flows == 1000
    assert bob.roi is not None


def test_the_leaderboard_as_of_a_past_day_is_the_one_read_that_day(
    scenario: Scenario, read_engine: Engine
) -> None:
    _setup(scenario)
    _days_1_to_3(scenario)
    runner = _runner(scenario, read_engine)
    runner.catch_up()
    then = {
        (metric, window): _board(read_engine, metric, window, DAY0 + 3)
        for metric in queries.METRICS
        for window in WINDOWS
    }
    assert then[("ROI", "ALL")], "traders are ranked"
    _days_4_to_5(scenario)
    runner.catch_up()
    for (metric, window), board in then.items():
        assert _board(read_engine, metric, window, DAY0 + 3) == board, (metric, window)
    assert _board(read_engine, "ROI", "ALL", DAY0 + 5) != then[("ROI", "ALL")]


def test_minimums_keep_traders_off_the_leaderboard(scenario: Scenario, read_engine: Engine) -> None:
    _setup(scenario)
    _days_1_to_3(scenario)
    _days_4_to_5(scenario)
    _runner(scenario, read_engine).catch_up()
    with read_engine.connect() as connection:
        board = queries.leaderboard(
            connection, "TRADES", "ALL", None, DAY0 + 5, min_trades=4, min_days=6
        )
        # alice and dave have 4 fills (a tie: by account id), bob and carol 3
        assert sorted([str(scenario.accounts["alice"]), str(scenario.accounts["dave"])]) == [
            r.account_id for r in board
        ]
        assert [(r.rank, r.stats.trades) for r in board] == [(1, 4), (2, 4)]
        none = queries.leaderboard(
            connection, "TRADES", "ALL", None, DAY0 + 5, min_trades=4, min_days=7
        )
        assert none == []


def test_no_copies_give_zero_copy_figures(scenario: Scenario, read_engine: Engine) -> None:
    _setup(scenario)
    _runner(scenario, read_engine).catch_up()
    stats = _stats(read_engine, scenario.accounts["alice"], "D30", DAY0)
    assert (stats.copiers, stats.assets_under_copy, stats.copiers_pnl) == (
        0,
        Decimal(0),
        Decimal(0),
    )


def _dump(engine: Engine) -> dict[str, list[Any]]:
    with engine.connect() as connection:
        return {
            table.name: sorted(map(tuple, connection.execute(select(table)).all()), key=repr)
            for table in TABLES
        }


def test_small_batches_and_a_rebuild_from_zero_give_identical_rows(
    scenario: Scenario, read_engine: Engine
) -> None:
    _setup(scenario)
    runner = _runner(scenario, read_engine, batch_size=2)
    runner.catch_up()
    _days_1_to_3(scenario)
    runner.catch_up()
    _days_4_to_5(scenario)
    scenario.run(
        Withdraw(
            command_id=scenario.cid(),
            actor=scenario.accounts["bob"],
            asset="BTC",
            amount=Decimal("1"),
        )
    )
    runner.catch_up()
    followed = _dump(read_engine)
    assert followed["stats_points"]
    runner.rebuild(["stats"])
    assert _dump(read_engine) == followed


# ---------------------------------------------------------------------- rebuilds, at random

_STEP = st.one_of(
    st.tuples(st.just("day"), st.integers(1, 3)),
    st.tuples(st.just("hours"), st.integers(1, 20)),
    st.tuples(
        st.just("trade"),
        st.sampled_from(HANDLES),
        st.sampled_from(HANDLES),
        st.integers(90, 115),
        st.integers(1, 30),
    ),
    st.tuples(st.just("deposit"), st.sampled_from(HANDLES), st.sampled_from(("USD", "BTC"))),
    st.tuples(st.just("withdraw"), st.sampled_from(HANDLES), st.sampled_from(("USD", "BTC"))),
)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(_STEP, min_size=5, max_size=25), batch=st.integers(1, 7))
def test_following_in_any_batches_equals_a_rebuild_from_zero(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[Any, ...]], batch: int
) -> None:
    """Random trades (with fees, ticks of 10^-8 x lots of 10^-3: amounts past 8 decimals),
    deposits, withdrawals and days passing, followed in small batches: the rows equal a
    rebuild's."""
    folder = tmp_path_factory.mktemp("stats")
    clock = Clock()
    writer = Writer(
        open_store(Settings(store=f"sqlite:///{folder}/events.db")), clock=clock, demo_funding=True
    ).start()
    engine = create_engine(f"sqlite:///{folder}/read.db")
    try:
        scenario = Scenario(writer, clock)
        _setup(scenario)
        scenario.run(
            ListMarket(
                command_id="list-fine",
                actor=SYSTEM_ACTOR,
                symbol="ETH-USD",
                tick_size=Decimal("0.00000001"),
                lot_size=Decimal("0.001"),
                maker_fee_bps=7,
                taker_fee_bps=13,
            )
        )
        for handle in HANDLES:
            _deposit(scenario, handle, "ETH", "50")
            _deposit(scenario, handle, "USD", "5000")
        runner = _runner(scenario, engine, batch_size=batch)
        for step in steps:
            if step[0] == "day":
                clock.advance(86_400 * step[1])
            elif step[0] == "hours":
                clock.advance(3_600 * step[1])
            elif step[0] == "trade":
                _, seller, buyer, price, qty = step
                price_text = str(Decimal(price) / 5 + Decimal("0.12345678"))
                quantity = str(Decimal(qty) / 10)
                scenario.order(seller, "ETH-USD", "sell", price_text, quantity)
                scenario.order(buyer, "ETH-USD", "buy", price_text, quantity)
            elif step[0] == "deposit":
                _deposit(scenario, step[1], step[2], "3")
            else:
                account = scenario.accounts[step[1]]
                scenario.run(
                    Withdraw(
                        command_id=scenario.cid(),
                        actor=account,
                        asset=step[2],
                        amount=Decimal("2"),
                    )
                )
            runner.catch_up()
        followed = _dump(engine)
        runner.rebuild(["stats"])
        assert _dump(engine) == followed
    finally:
        writer.stop()
        engine.dispose()
        writer.store.close()


# ---------------------------------------------------------------------- copies


class Copy:
    """Stand-ins for copy trading's events: the read model matches them by class name."""

    @dataclass(frozen=True)
    class Started:
        originator_id: UUID
        timestamp: datetime
        leader: UUID
        copier: UUID
        allocation: UUID
        amount: Decimal

    @dataclass(frozen=True)
    class Stopped:
        originator_id: UUID
        timestamp: datetime
        status: str


# the events' classes, built here by keyword as the store's decoder builds them
_REGISTERED: Any = Account.Registered
_POSTED: Any = Account.LedgerPosted
_DEPOSITED: Any = Account.FundsDeposited


def test_copy_figures_follow_the_copy_events_and_transfers(tmp_path: Any) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/read.db")
    metadata.create_all(engine)
    projection = StatsProjection()
    leader, copier, allocation, copy = (uuid4() for _ in range(4))
    day0 = to_datetime(START_US)
    day1 = to_datetime(START_US + DAY_US)
    n = iter(range(1, 1000))

    def registered(account: UUID, handle: str, roles: list[str]) -> Any:
        return _REGISTERED(
            originator_id=account,
            originator_version=1,
            timestamp=day0,
            originator_topic="",
            handle=handle,
            display_name=handle,
            roles=roles,
            command_id="register",
        )

    def posted(account: UUID, at: datetime, kind: str, amount: str) -> Any:
        return _POSTED(
            originator_id=account,
            originator_version=next(n),
            timestamp=at,
            entries=[[kind, "", str(copy), "USD", amount, "0"]],
        )

    def deposit(account: UUID, at: datetime, amount: str) -> Any:
        return _DEPOSITED(
            originator_id=account,
            originator_version=next(n),
            timestamp=at,
            asset="USD",
            amount=Decimal(amount),
            by=str(account),
            command_id=f"d{next(n)}",
        )

    events = [
        registered(leader, "lea", ["trader"]),
        registered(copier, "cop", ["trader"]),
        registered(allocation, f"~copy-{copy.hex[:12]}", ["copy"]),
        deposit(copier, day0, "1000"),
        Copy.Started(copy, day0, leader, copier, allocation, Decimal(400)),
        posted(copier, day0, "transfer", "-400"),
        posted(allocation, day0, "transfer", "400"),
        posted(allocation, day0, "settle", "50"),  # the copy gains 50
        Copy.Stopped(copy, day1, "STOPPED"),
        posted(allocation, day1, "transfer", "-450"),
        posted(copier, day1, "transfer", "450"),
    ]
    with engine.begin() as connection:
        projection.apply(connection, list(enumerate(events[:8], 1)))
        projection.flush(connection)
    with engine.connect() as connection:
        live = queries.trader_stats(connection, [str(leader)], "D7", 7, DAY0)[str(leader)]
    assert (live.copiers, live.assets_under_copy, live.copiers_pnl) == (
        1,
        Decimal(450),
        Decimal(50),
    )
    with engine.begin() as connection:
        projection.apply(connection, list(enumerate(events[8:], 9)))
        projection.flush(connection)
    with engine.connect() as connection:
        found = queries.trader_stats(
            connection, [str(leader), str(copier), str(allocation)], "ALL", None, DAY0 + 1
        )
        closed = queries.trader_stats(connection, [str(leader)], "ALL", None, DAY0)
    assert set(found) == {str(leader), str(copier)}  # an allocation is never a trader
    stats = found[str(leader)]
    assert (stats.copiers, stats.assets_under_copy, stats.copiers_pnl) == (
        0,
        Decimal(0),
        Decimal(50),
    )
    assert (closed[str(leader)].copiers, closed[str(leader)].assets_under_copy) == (1, Decimal(450))
    # the copier's money moved out and back: flows, not gains or losses of its own
    mine = found[str(copier)]
    assert (mine.net_flows, mine.pnl, mine.roi) == (Decimal(1050), Decimal(0), 0.0)
    engine.dispose()
