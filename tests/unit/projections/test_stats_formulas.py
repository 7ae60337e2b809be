"""The statistics formulas against hand-computed examples, and their invariants."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialtrading.projections.stats.formulas import (
    FORMULA_VERSION,
    Point,
    max_drawdown,
    risk_score,
    window_stats,
)

D = Decimal


def _deposit(day: int, equity: str, amount: str) -> Point:
    return Point(day, D(equity), flow=D(amount), inflow=max(D(amount), D(0)))


def _from_returns(returns: list[float]) -> list[Point]:
    """Points of a trader who deposits 1,000 on day 0 and then makes `returns`."""
    points = [_deposit(0, "1000", "1000")]
    equity = D(1000)
    for day, r in enumerate(returns, 1):
        equity = equity * (1 + D(str(r)))
        points.append(Point(day, equity))
    return points


def test_a_deposit_mid_window_is_not_a_gain() -> None:
    points = [
        _deposit(0, "1000", "1000"),
        Point(1, D(1100)),  # +10%
        _deposit(2, "3100", "2000"),  # a deposit, no gain
        Point(3, D(3410)),  # +10% of 3,100
    ]
    stats = window_stats("D30", points, 3)
    assert stats.roi == pytest.approx(1.1 * 1.1 - 1)  # 21%, not (3,410 - 3,000) / 3,000
    assert stats.pnl == 410
    assert stats.net_flows == 3000
    assert stats.equity == 3410
    assert stats.formula_version == FORMULA_VERSION == 1


def test_a_withdrawal_is_not_a_loss() -> None:
    points = [_deposit(0, "1000", "1000"), Point(1, D(1100)), _deposit(2, "600", "-500")]
    stats = window_stats("ALL", points, 2)
    assert stats.roi == pytest.approx(0.1)
    assert stats.pnl == 100
    assert stats.max_drawdown == 0


def test_maximum_drawdown_of_the_return_index() -> None:
    points = _from_returns([0.1, -0.2, 0.05, -0.1, 0.3])
    # index 1.1, 0.88, 0.924, 0.8316, 1.08108: the peak 1.1 falls to 0.8316
    stats = window_stats("ALL", points, 5)
    assert stats.max_drawdown == pytest.approx((1.1 - 0.8316) / 1.1)
    assert stats.roi == pytest.approx(1.08108 - 1)


def test_win_rate_counts_the_round_trips_closed_in_the_window() -> None:
    points = [
        Point(0, D(1000), D(1000), D(1000), trades=6, wins=1, closed=3),
        Point(5, D(1000), trades=2, wins=2, closed=2),
    ]
    assert window_stats("D7", points, 5).win_rate == pytest.approx(3 / 5)
    later = window_stats("D7", points, 10)  # days 4..10: day 5 only
    assert (later.win_rate, later.closed_trades, later.trades) == (1.0, 2, 2)
    assert window_stats("D7", points, 20).win_rate is None  # nothing closed


def test_sharpe_of_daily_returns() -> None:
    returns = [0.01, -0.02, 0.03]
    stats = window_stats("ALL", _from_returns(returns), 3)
    all_returns = [0.0, *returns]  # day 0: the deposit, no gain
    mean = sum(all_returns) / 4
    deviation = math.sqrt(sum((r - mean) ** 2 for r in all_returns) / 3)
    assert stats.sharpe == pytest.approx(mean / deviation * math.sqrt(365))
    assert stats.volatility == pytest.approx(deviation * math.sqrt(365))
    flat = window_stats("ALL", _from_returns([0.0, 0.0]), 2)
    assert (flat.sharpe, flat.volatility, flat.risk_score) == (None, 0.0, 1)


@pytest.mark.parametrize(
    ("volatility", "score"),
    [
        (None, None),
        (0.0, 1),
        (0.0199, 1),
        (0.02, 2),
        (0.05, 3),
        (0.10, 4),
        (0.15, 5),
        (0.25, 6),
        (0.35, 7),
        (0.50, 8),
        (0.75, 9),
        (0.99, 9),
        (1.00, 10),
        (7.0, 10),
    ],
)
def test_risk_score_bands(volatility: float | None, score: int | None) -> None:
    assert risk_score(volatility) == score


def test_days_without_a_point_carry_the_equity() -> None:
    points = [_deposit(0, "1000", "1000"), Point(5, D(1100))]
    stats = window_stats("ALL", points, 9)
    assert stats.roi == pytest.approx(0.1)
    assert stats.history_days == 10
    # returns: day 0 and days 1-4 flat, day 5 +10%, days 6-9 flat
    returns = [0.0] * 5 + [0.1] + [0.0] * 4
    mean = sum(returns) / 10
    deviation = math.sqrt(sum((r - mean) ** 2 for r in returns) / 9)
    assert stats.sharpe == pytest.approx(mean / deviation * math.sqrt(365))


def test_a_window_starts_from_the_close_before_it() -> None:
    points = [_deposit(0, "1000", "1000"), Point(20, D(1200), trades=3)]
    stats = window_stats("D7", points, 25)  # days 19..25, from day 0's 1,000
    assert (stats.start_day, stats.end_day) == (19, 25)
    assert stats.roi == pytest.approx(0.2)
    assert stats.pnl == 200
    assert stats.trades == 3
    before = window_stats("D7", points, 15)  # days 9..15: flat
    assert (before.roi, before.pnl, before.trades) == (0.0, D(0), 0)


def test_no_history_gives_empty_statistics() -> None:
    stats = window_stats("D30", [], 100)
    assert stats.roi is None and stats.max_drawdown is None and stats.sharpe is None
    assert (stats.pnl, stats.trades, stats.history_days) == (D(0), 0, 0)
    assert (stats.copiers, stats.assets_under_copy, stats.copiers_pnl) == (0, D(0), D(0))


def test_copiers_pnl_is_the_change_over_the_window() -> None:
    points = [
        Point(0, D(1000), D(1000), D(1000), copiers=2, assets_under_copy=D(500), copiers_pnl=D(5)),
        Point(10, D(1000), copiers=3, assets_under_copy=D(800), copiers_pnl=D(45)),
    ]
    stats = window_stats("D7", points, 12)
    assert (stats.copiers, stats.assets_under_copy, stats.copiers_pnl) == (3, D(800), D(40))
    assert window_stats("ALL", points, 12).copiers_pnl == 45


# ---------------------------------------------------------------------- properties

amounts = st.integers(min_value=0, max_value=10**6).map(lambda n: D(n) / 100)


@given(
    start=st.integers(min_value=1, max_value=10**6).map(lambda n: D(n) / 100),
    flows=st.lists(st.tuples(st.integers(0, 40), amounts, st.booleans()), max_size=20),
)
def test_with_flat_prices_the_return_is_zero_whatever_the_flows(
    start: Decimal, flows: list[tuple[int, Decimal, bool]]
) -> None:
    """Deposits and withdrawals on any days, nothing gained: ROI and PnL are 0."""
    by_day: dict[int, Decimal] = {}
    for day, amount, deposit in flows:
        by_day[day + 1] = by_day.get(day + 1, D(0)) + (amount if deposit else -amount)
    points = [_deposit(0, str(start), str(start))]
    equity = start
    for day in sorted(by_day):
        flow = max(by_day[day], -equity)  # never withdraw more than there is
        equity += flow
        points.append(Point(day, equity, flow=flow, inflow=max(flow, D(0))))
    stats = window_stats("ALL", points, 45)
    assert stats.pnl == 0
    assert stats.roi == 0.0
    assert stats.max_drawdown == 0.0


@given(
    prices=st.lists(st.integers(1, 10_000), min_size=2, max_size=30),
    deposits=st.lists(st.integers(0, 1_000), min_size=30, max_size=30),
)
def test_the_return_of_a_holder_does_not_depend_on_when_it_deposits(
    prices: list[int], deposits: list[int]
) -> None:
    """A trader who only holds one asset, and deposits more of it at the start of any day:
    its time-weighted return is the price's return, whatever the deposits."""
    price = [D(p) / 100 for p in prices]
    quantity = D(1)
    points = [_deposit(0, str(price[0]), str(price[0]))]
    for day in range(1, len(price)):
        added = D(deposits[day])
        flow = added * price[day - 1]  # deposited at the last price, at the start of the day
        quantity += added
        points.append(Point(day, quantity * price[day], flow=flow, inflow=flow))
    stats = window_stats("ALL", points, len(price) - 1)
    assert stats.roi == pytest.approx(float(price[-1] / price[0]) - 1, rel=1e-9, abs=1e-12)


@given(st.lists(st.floats(min_value=-1.0, max_value=10.0), max_size=60))
def test_drawdown_lies_between_0_and_1(returns: list[float]) -> None:
    assert 0.0 <= max_drawdown(returns) <= 1.0


@given(
    st.lists(
        st.tuples(amounts, st.integers(-(10**6), 10**6).map(lambda n: D(n) / 100)),
        min_size=1,
        max_size=40,
    )
)
def test_drawdown_of_any_points_lies_between_0_and_1(days: list[tuple[Decimal, Decimal]]) -> None:
    """Any non-negative equities and any flows: every daily return is >= -1, so the index
    never goes below 0 and the drawdown stays in [0, 1]."""
    points = [
        Point(day, equity, flow=flow, inflow=max(flow, D(0)))
        for day, (equity, flow) in enumerate(days)
    ]
    for window in ("D7", "ALL"):
        drawdown = window_stats(window, points, len(days) + 3).max_drawdown
        assert drawdown is None or 0.0 <= drawdown <= 1.0
