"""The statistics of one trader over one window, from its daily equity points.

Pure functions over `Point`s (one per UTC day on which something changed the trader's
equity, flows or trades; a day without a point carries the previous day's figures forward,
which is exact: equity only moves when a balance or a mark price does, and both are events).
The formulas are described in docs/stats.md; `FORMULA_VERSION` names this version of them.

Money stays Decimal; ratios (ROI, drawdown, win rate, Sharpe, volatility) are floats:
statistics, not money.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from socialtrading.domain.money import CONTEXT as EXACT

FORMULA_VERSION = 1
DAYS_PER_YEAR = 365
ANNUALIZE = math.sqrt(DAYS_PER_YEAR)

# Window name -> its length in days (None: all the history).
WINDOWS: dict[str, int | None] = {"D7": 7, "D30": 30, "D90": 90, "D365": 365, "ALL": None}

# Risk score bands: the score is 1 + the number of bounds the annualized volatility of daily
# returns reaches (so below 2% scores 1, 100% and more scores 10).
RISK_BANDS: tuple[float, ...] = (0.02, 0.05, 0.10, 0.15, 0.25, 0.35, 0.50, 0.75, 1.00)

ZERO = Decimal(0)
_RATIO = decimal.Context(prec=34)  # ratios: rounded, never trapped


class Point(NamedTuple):
    """One trader's figures for one UTC day (amounts in the reference asset).

    `equity` is at the close of the day; the others are the day's own: `flow` net deposits,
    withdrawals and transfers (in > 0), `inflow` the part of it that came in (>= 0), `trades`
    fills, `realized` PnL realized by them (before fees), `fees` paid, `closed` round trips
    closed and `wins` those of them with a positive result. `copiers`, `assets_under_copy` and
    `copiers_pnl` are the leader's copy figures at the close (cumulative PnL of its copies).
    """

    day: int
    equity: Decimal
    flow: Decimal = ZERO
    inflow: Decimal = ZERO
    trades: int = 0
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    wins: int = 0
    closed: int = 0
    copiers: int = 0
    assets_under_copy: Decimal = ZERO
    copiers_pnl: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class WindowStats:
    """A trader's statistics over one window ending on `end_day` (inclusive)."""

    window: str
    start_day: int  # the first day of the window
    end_day: int
    history_days: int  # days from the trader's first point to `end_day` (0: none)
    equity: Decimal  # at the close of `end_day`
    roi: float | None  # time-weighted return; None: no day with capital
    pnl: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal  # pnl - realized + fees
    fees: Decimal
    net_flows: Decimal
    max_drawdown: float | None
    win_rate: float | None  # None: no round trip closed
    wins: int
    closed_trades: int
    trades: int
    sharpe: float | None  # None: fewer than 2 daily returns, or no variation
    volatility: float | None  # annualized; None: fewer than 2 daily returns
    risk_score: int | None
    copiers: int
    assets_under_copy: Decimal
    copiers_pnl: Decimal
    formula_version: int = FORMULA_VERSION


def daily_return(before: Decimal, point: Point) -> float | None:
    """The return of one day: (E - E_before - flow) / (E_before + inflow); None when no capital
    was at work (the denominator is not positive). Inflows count from the start of the day,
    outflows at its end, so deposits and withdrawals are never gains."""
    base = EXACT.add(before, point.inflow)
    if base <= 0:
        return None
    gain = EXACT.subtract(EXACT.subtract(point.equity, before), point.flow)
    return float(_RATIO.divide(gain, base))


def risk_score(volatility: float | None) -> int | None:
    """1..10 from the annualized volatility of daily returns (bands: `RISK_BANDS`)."""
    if volatility is None:
        return None
    return 1 + sum(1 for bound in RISK_BANDS if volatility >= bound)


def max_drawdown(returns: Sequence[float]) -> float:
    """The largest fall of the index prod(1 + r) from a previous peak, as a fraction of that
    peak (the index starts at 1), in [0, 1]."""
    index = peak = 1.0
    worst = 0.0
    for r in returns:
        index *= 1.0 + r
        if index > peak:
            peak = index
        elif peak > 0:
            worst = max(worst, (peak - index) / peak)
    return min(max(worst, 0.0), 1.0)


def sharpe_and_volatility(returns: Sequence[float]) -> tuple[float | None, float | None]:
    """The annualized Sharpe ratio (risk-free 0: mean / sample standard deviation x sqrt(365))
    and the annualized volatility (sample standard deviation x sqrt(365)) of daily returns."""
    n = len(returns)
    if n < 2:
        return None, None
    mean = math.fsum(returns) / n
    variance = math.fsum((r - mean) ** 2 for r in returns) / (n - 1)
    deviation = math.sqrt(variance)
    volatility = deviation * ANNUALIZE
    if deviation < 1e-12:
        return None, volatility
    return mean / deviation * ANNUALIZE, volatility


def window_bounds(window: str, end_day: int, first_day: int | None) -> tuple[int, int]:
    """(first day, end day) of `window` ending on `end_day`."""
    days = WINDOWS[window]
    if days is None:
        start = end_day if first_day is None else min(first_day, end_day)
        return start, end_day
    return end_day - days + 1, end_day


def window_stats(window: str, points: Sequence[Point], end_day: int) -> WindowStats:
    """The statistics over `window` ending on `end_day` from a trader's points (sorted by day;
    those after `end_day` are ignored)."""
    first_day = points[0].day if points and points[0].day <= end_day else None
    start, end = window_bounds(window, end_day, first_day)
    before = ZERO  # the equity at the close of the day before the window
    start_equity = ZERO
    returns: list[float] = []
    flows = realized = fees = ZERO
    trades = wins = closed = 0
    copiers_pnl_before = ZERO
    last: Point | None = None
    at = 0
    while at < len(points) and points[at].day < start:
        last = points[at]
        at += 1
    if last is not None:
        before = start_equity = last.equity
        copiers_pnl_before = last.copiers_pnl
    previous = start - 1  # the last day accounted for
    for point in points[at:]:
        if point.day > end:
            break
        if before > 0:  # days without a point carry the equity: zero returns with capital
            returns.extend([0.0] * (point.day - previous - 1))
        r = daily_return(before, point)
        if r is not None:
            returns.append(r)
        flows = EXACT.add(flows, point.flow)
        realized = EXACT.add(realized, point.realized)
        fees = EXACT.add(fees, point.fees)
        trades += point.trades
        wins += point.wins
        closed += point.closed
        before = point.equity
        last = point
        previous = point.day
    if before > 0:
        returns.extend([0.0] * (end - previous))
    equity = before
    pnl = EXACT.subtract(EXACT.subtract(equity, start_equity), flows)
    roi = None
    if returns:
        index = 1.0
        for r in returns:
            index *= 1.0 + r
        roi = index - 1.0
    sharpe, volatility = sharpe_and_volatility(returns)
    history = 0 if first_day is None else end_day - first_day + 1
    return WindowStats(
        window=window,
        start_day=start,
        end_day=end,
        history_days=history,
        equity=equity,
        roi=roi,
        pnl=pnl,
        realized_pnl=realized,
        unrealized_pnl=EXACT.add(EXACT.subtract(pnl, realized), fees),
        fees=fees,
        net_flows=flows,
        max_drawdown=max_drawdown(returns) if returns else None,
        win_rate=wins / closed if closed else None,
        wins=wins,
        closed_trades=closed,
        trades=trades,
        sharpe=sharpe,
        volatility=volatility,
        risk_score=risk_score(volatility),
        copiers=last.copiers if last is not None else 0,
        assets_under_copy=last.assets_under_copy if last is not None else ZERO,
        copiers_pnl=EXACT.subtract(
            last.copiers_pnl if last is not None else ZERO, copiers_pnl_before
        ),
    )
