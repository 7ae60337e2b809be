"""Queries of the `stats` read model: a trader's statistics and equity curve, leaderboards.

Every figure is computed from the stored daily points up to the window's end day
(`formulas.window_stats`), so a leaderboard read as of a past day equals the one read on that
day. The open day (the day of the latest event) is marked live: its equity is recomputed
from the balances and the current marks, as the projection will write it when the day
closes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, func, select

from socialtrading.domain.money import CONTEXT as EXACT
from socialtrading.projections.social.tables import profiles
from socialtrading.projections.sql import rows_in
from socialtrading.projections.stats.formulas import Point, WindowStats, daily_return, window_stats
from socialtrading.projections.stats.projection import DEFAULT_REFERENCE, value
from socialtrading.projections.stats.tables import (
    TRADER,
    stats_accounts,
    stats_balances,
    stats_clock,
    stats_copies,
    stats_marks,
    stats_points,
    stats_transfers,
)

ZERO = Decimal(0)
MAX_WINDOW_DAYS = 365


@dataclass(frozen=True, slots=True)
class Clock:
    """The open day (None: no event yet) and the reference asset."""

    day: int | None
    reference: str


@dataclass(frozen=True, slots=True)
class CurvePoint:
    day: int
    equity: Decimal
    index: float  # the time-weighted return index, 1 at the window's start


@dataclass(frozen=True, slots=True)
class Ranked:
    rank: int
    account_id: str
    stats: WindowStats


def clock(connection: Connection) -> Clock:
    """The read model's open day and reference asset."""
    row = connection.execute(select(stats_clock.c.day, stats_clock.c.reference)).first()
    if row is None:
        return Clock(None, DEFAULT_REFERENCE)
    return Clock(row.day, row.reference)


def _point(row: Any) -> Point:
    return Point(
        row.day,
        row.equity,
        row.flow,
        row.inflow,
        row.trades,
        row.realized,
        row.fees,
        row.wins,
        row.closed,
        row.copiers,
        row.assets_under_copy,
        row.copiers_pnl,
    )


def _points(
    connection: Connection, accounts: Sequence[str] | None, since: int | None, end: int
) -> dict[str, list[Point]]:
    """The points of `accounts` (every trader when None) from `since` (all when None) to
    `end`, with the last point before `since` of each, sorted by day."""
    found: dict[str, list[Point]] = {}
    columns = stats_points.c
    if accounts is None:
        traders = select(stats_accounts.c.account_id).where(stats_accounts.c.kind == TRADER)
        where: Any = columns.account_id.in_(traders)
    else:
        where = None
    lower = columns.day <= end if since is None else and_(columns.day >= since, columns.day <= end)
    rows: Iterable[Any]
    statement = select(stats_points).where(lower)
    if where is None:
        rows = rows_in(connection, statement, columns.account_id, accounts or ())
    else:
        rows = connection.execute(statement.where(where))
    for row in rows:
        found.setdefault(row.account_id, []).append(_point(row))
    if since is not None:
        latest = select(columns.account_id, func.max(columns.day).label("day")).where(
            columns.day < since
        )
        if where is not None:
            latest = latest.where(where)
        heads = latest.group_by(columns.account_id).subquery()
        statement = select(stats_points).join(
            heads, and_(columns.account_id == heads.c.account_id, columns.day == heads.c.day)
        )
        if where is None:
            rows = rows_in(connection, statement, columns.account_id, accounts or ())
        else:
            rows = connection.execute(statement)
        for row in rows:
            found.setdefault(row.account_id, []).append(_point(row))
    for points in found.values():
        points.sort(key=lambda point: point.day)
    return found


def live_equity(
    connection: Connection, accounts: Sequence[str] | None, reference: str
) -> dict[str, Decimal]:
    """The equity of `accounts` (every trader when None) at the current marks."""
    marks = {row.asset: row.price for row in connection.execute(select(stats_marks))}
    marks[reference] = Decimal(1)
    statement = select(stats_balances)
    rows: Iterable[Any]
    if accounts is None:
        traders = select(stats_accounts.c.account_id).where(stats_accounts.c.kind == TRADER)
        rows = connection.execute(statement.where(stats_balances.c.account_id.in_(traders)))
    else:
        rows = rows_in(connection, statement, stats_balances.c.account_id, accounts)
    found: dict[str, Decimal] = {}
    for row in rows:
        price = marks.get(row.asset)
        if price is not None and row.total:
            found[row.account_id] = EXACT.add(
                found.get(row.account_id, ZERO), value(row.total, price)
            )
    return found


def live_copy_figures(
    connection: Connection, leaders: Sequence[str] | None, reference: str
) -> dict[str, tuple[int, Decimal, Decimal]]:
    """Each leader's (active copies, their allocations' equity, the PnL of all its copies)
    at the current marks, as the projection computes them at a day's close."""
    statement = select(stats_copies)
    rows: list[Any] = (
        list(connection.execute(statement))
        if leaders is None
        else list(rows_in(connection, statement, stats_copies.c.leader, leaders))
    )
    if not rows:
        return {}
    equity = live_equity(connection, [row.allocation for row in rows], reference)
    moved = {
        (row.reference, row.account_id): row.net
        for row in rows_in(
            connection,
            select(stats_transfers),
            stats_transfers.c.reference,
            [r.copy_id for r in rows],
        )
    }
    found: dict[str, tuple[int, Decimal, Decimal]] = {}
    for row in sorted(rows, key=lambda r: r.copy_id):
        copiers, under, pnl = found.get(row.leader, (0, ZERO, ZERO))
        worth = equity.get(row.allocation, ZERO)
        if row.active:
            copiers += 1
            under = EXACT.add(under, worth)
        pnl = EXACT.add(pnl, EXACT.add(worth, moved.get((row.copy_id, row.copier), ZERO)))
        found[row.leader] = (copiers, under, pnl)
    return found


def _with_live_day(
    points: dict[str, list[Point]],
    equity: dict[str, Decimal],
    copies: dict[str, tuple[int, Decimal, Decimal]],
    day: int,
) -> dict[str, list[Point]]:
    """The points with the open `day` marked live (added when the account has none that
    day but an earlier one)."""
    for account, series in points.items():
        live = equity.get(account, ZERO)
        copiers, under, pnl = copies.get(account, (0, ZERO, ZERO))
        last = series[-1]
        if last.day == day:
            series[-1] = last._replace(
                equity=live, copiers=copiers, assets_under_copy=under, copiers_pnl=pnl
            )
        elif last.day < day:
            series.append(
                Point(day, live, copiers=copiers, assets_under_copy=under, copiers_pnl=pnl)
            )
    return points


def _since(window_days: int | None, end: int) -> int | None:
    return None if window_days is None else end - window_days + 1


def points_until(
    connection: Connection,
    accounts: Sequence[str] | None,
    window_days: int | None,
    end: int,
) -> tuple[Clock, dict[str, list[Point]]]:
    """The points each trader's statistics over a window ending on `end` need, the open day
    marked live when the window reaches it."""
    now = clock(connection)
    points = _points(connection, accounts, _since(window_days, end), end)
    if now.day is not None and end >= now.day:
        points = _with_live_day(
            points,
            live_equity(connection, accounts, now.reference),
            live_copy_figures(connection, accounts, now.reference),
            now.day,
        )
    return now, points


def kinds(connection: Connection, accounts: Sequence[str]) -> dict[str, str]:
    """Each known account's kind (trader, copy, other)."""
    statement = select(stats_accounts.c.account_id, stats_accounts.c.kind)
    return {
        row.account_id: row.kind
        for row in rows_in(connection, statement, stats_accounts.c.account_id, accounts)
    }


def trader_stats(
    connection: Connection,
    accounts: Sequence[str],
    window: str,
    window_days: int | None,
    end: int,
) -> dict[str, WindowStats]:
    """The statistics of the traders among `accounts` over `window` ending on `end` (other
    accounts, such as copies' allocations, are left out)."""
    traders = [a for a, kind in kinds(connection, accounts).items() if kind == TRADER]
    if not traders:
        return {}
    _, points = points_until(connection, traders, window_days, end)
    return {account: window_stats(window, points.get(account, []), end) for account in traders}


def equity_curve(
    connection: Connection, account: str, window: str, window_days: int | None, end: int
) -> list[CurvePoint]:
    """One point per day of the window from the trader's first point: the equity at the
    close (carried over days without a point) and the time-weighted return index."""
    if kinds(connection, [account]).get(account) != TRADER:
        return []
    _, found = points_until(connection, [account], window_days, end)
    points = found.get(account, [])
    if not points:
        return []
    start = max(points[0].day, end - window_days + 1) if window_days else points[0].day
    curve: list[CurvePoint] = []
    index = 1.0
    before: Decimal | None = None
    at = 0
    while at < len(points) and points[at].day < start:
        before = points[at].equity
        at += 1
    for day in range(start, end + 1):
        if at < len(points) and points[at].day == day:
            point = points[at]
            at += 1
            r = daily_return(ZERO if before is None else before, point)
            if r is not None:
                index *= 1.0 + r
            before = point.equity
        if before is not None:
            curve.append(CurvePoint(day, before, index))
    return curve


# Leaderboard metrics: how each ranks (larger first); a trader whose figure is None is left
# out.
METRICS: dict[str, Callable[[WindowStats], Any]] = {
    "ROI": lambda s: s.roi,
    "PNL": lambda s: s.pnl,
    "REALIZED_PNL": lambda s: s.realized_pnl,
    "SHARPE": lambda s: s.sharpe,
    "WIN_RATE": lambda s: s.win_rate,
    "TRADES": lambda s: s.trades,
    "COPIERS": lambda s: s.copiers,
    "ASSETS_UNDER_COPY": lambda s: s.assets_under_copy,
    "COPIERS_PNL": lambda s: s.copiers_pnl,
}


def leaderboard(
    connection: Connection,
    metric: str,
    window: str,
    window_days: int | None,
    end: int,
    *,
    min_trades: int,
    min_days: int,
) -> list[Ranked]:
    """Every trader with at least `min_trades` fills in the window and `min_days` days of
    history up to `end`, ranked by `metric` (largest first; ties by account id), from the
    points up to `end` only."""
    key = METRICS[metric]
    _, points = points_until(connection, None, window_days, end)
    scored = []
    for account in sorted(points):
        stats = window_stats(window, points[account], end)
        if stats.trades < min_trades or stats.history_days < min_days:
            continue
        figure = key(stats)
        if figure is None:
            continue
        scored.append((figure, account, stats))
    scored.sort(key=lambda entry: entry[1])
    scored.sort(key=lambda entry: entry[0], reverse=True)  # stable: ties by account id
    return [Ranked(n, account, stats) for n, (_, account, stats) in enumerate(scored, 1)]


def followers_of(connection: Connection, accounts: Sequence[str]) -> dict[str, int]:
    """Each account's follower count (the social read model's; 0 without a profile)."""
    statement = select(profiles.c.account_id, profiles.c.follower_count)
    found = dict.fromkeys(accounts, 0)
    for row in rows_in(connection, statement, profiles.c.account_id, accounts):
        found[row.account_id] = row.follower_count
    return found
