"""Trader statistics, equity curves and leaderboard entries as GraphQL types, and the
statistics fields of `Account` (its base class `StatsAccount`).

Statistics are public, as leaderboards are: anyone may read any trader's figures.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from socialtrading.graphql.context import Info
from socialtrading.projections.rows import clean
from socialtrading.projections.stats import queries
from socialtrading.projections.stats.formulas import WINDOWS, WindowStats
from socialtrading.projections.stats.projection import day_of

if TYPE_CHECKING:
    from socialtrading.graphql.accounts.types import Account

AccountType = Annotated["Account", strawberry.lazy("socialtrading.graphql.accounts.types")]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@strawberry.enum(description="A statistics window: the last 7, 30, 90, 365 days, or all")
class StatsWindow(Enum):
    D7 = "D7"
    D30 = "D30"
    D90 = "D90"
    D365 = "D365"
    ALL = "ALL"


@strawberry.enum(description="What a leaderboard ranks by (largest first)")
class LeaderboardMetric(Enum):
    ROI = "ROI"
    PNL = "PNL"
    REALIZED_PNL = "REALIZED_PNL"
    SHARPE = "SHARPE"
    WIN_RATE = "WIN_RATE"
    TRADES = "TRADES"
    COPIERS = "COPIERS"
    ASSETS_UNDER_COPY = "ASSETS_UNDER_COPY"
    COPIERS_PNL = "COPIERS_PNL"


def day_start(day: int) -> datetime:
    """The start (00:00 UTC) of a day given as days since the epoch."""
    return _EPOCH + timedelta(days=day)


async def end_day(info: Info, as_of: datetime | None) -> int:
    """The last day of a window: `as_of`'s (clamped to today), else today, where today is the
    later of the wall clock's day and the read model's open day."""
    today = day_of(datetime.now(UTC))  # the read side may use the wall clock
    now = await info.context.services.read(queries.clock)
    if now.day is not None:
        today = max(today, now.day)
    return today if as_of is None else min(day_of(as_of), today)


@strawberry.type(
    description=(
        "A trader's statistics over a window (formulas: docs/stats.md). Money in the "
        "reference asset (`referenceAsset`); ratios are fractions (0.1 = 10%)"
    )
)
class TraderStats:
    window: StatsWindow
    start: datetime = strawberry.field(description="The window's first day (00:00 UTC)")
    end: datetime = strawberry.field(description="Its last day (00:00 UTC), included")
    reference_asset: str
    equity: Decimal = strawberry.field(description="At the close of the last day")
    roi: float | None = strawberry.field(
        description="Time-weighted return; deposits, withdrawals and transfers are not gains"
    )
    pnl: Decimal = strawberry.field(description="Equity change minus net flows")
    realized_pnl: Decimal = strawberry.field(description="Realized by closing fills, before fees")
    unrealized_pnl: Decimal = strawberry.field(description="pnl - realizedPnl + fees")
    fees: Decimal
    net_flows: Decimal = strawberry.field(description="Deposits - withdrawals +/- transfers")
    max_drawdown: float | None = strawberry.field(
        description="Largest fall of the return index from a peak, 0..1"
    )
    win_rate: float | None = strawberry.field(
        description="Round trips closed with a gain / round trips closed (null: none)"
    )
    closed_trades: int = strawberry.field(
        description="Round trips closed (back to flat or flipped)"
    )
    trades: int = strawberry.field(description="Fills")
    sharpe: float | None = strawberry.field(
        description="Of daily returns, annualized with sqrt(365), risk-free 0"
    )
    volatility: float | None = strawberry.field(
        description="Annualized standard deviation of daily returns"
    )
    risk_score: int | None = strawberry.field(description="1..10 from the volatility")
    history_days: int = strawberry.field(description="Days from the first equity point")
    followers: int
    copiers: int = strawberry.field(description="Active copies of this trader")
    assets_under_copy: Decimal = strawberry.field(description="Equity of the active copies")
    copiers_pnl: Decimal = strawberry.field(
        description="What this trader's copies made in the window, net of profit share"
    )
    formula_version: int

    @classmethod
    def of(cls, stats: WindowStats, reference: str, followers: int) -> TraderStats:
        """The GraphQL view of computed statistics."""
        return cls(
            window=StatsWindow(stats.window),
            start=day_start(stats.start_day),
            end=day_start(stats.end_day),
            reference_asset=reference,
            equity=clean(stats.equity),
            roi=stats.roi,
            pnl=clean(stats.pnl),
            realized_pnl=clean(stats.realized_pnl),
            unrealized_pnl=clean(stats.unrealized_pnl),
            fees=clean(stats.fees),
            net_flows=clean(stats.net_flows),
            max_drawdown=stats.max_drawdown,
            win_rate=stats.win_rate,
            closed_trades=stats.closed_trades,
            trades=stats.trades,
            sharpe=stats.sharpe,
            volatility=stats.volatility,
            risk_score=stats.risk_score,
            history_days=stats.history_days,
            followers=followers,
            copiers=stats.copiers,
            assets_under_copy=clean(stats.assets_under_copy),
            copiers_pnl=clean(stats.copiers_pnl),
            formula_version=stats.formula_version,
        )


@strawberry.type(description="A trader's equity at the close of one UTC day")
class EquityPoint:
    date: datetime = strawberry.field(description="The day (00:00 UTC)")
    equity: Decimal = strawberry.field(description="In the reference asset")
    index: float = strawberry.field(
        description="Time-weighted return index: 1 on the curve's first day"
    )


@strawberry.type(description="A trader's place on a leaderboard")
class LeaderboardEntry:
    rank: int
    account_id: strawberry.Private[str]
    stats: TraderStats

    @strawberry.field
    async def account(self, info: Info) -> AccountType:
        from socialtrading.graphql.social.types import author_of

        return await author_of(info, self.account_id)


async def followers(info: Info, account_id: str) -> int:
    """The account's follower count (from the social read model)."""
    profile = await info.context.loaders.social.profiles.load(account_id)
    return 0 if profile is None else profile.follower_count


@strawberry.type
class StatsAccount:
    """The statistics fields of `Account` (its base class)."""

    id: strawberry.ID

    @strawberry.field(
        description=(
            "Statistics over a window ending today (null for accounts that are not traders, "
            "such as copies' allocations)"
        )
    )
    async def stats(self, info: Info, window: StatsWindow = StatsWindow.D30) -> TraderStats | None:
        end = await end_day(info, None)
        found = await info.context.services.read(
            queries.trader_stats, [str(self.id)], window.value, WINDOWS[window.value], end
        )
        stats = found.get(str(self.id))
        if stats is None:
            return None
        reference = (await info.context.services.read(queries.clock)).reference
        return TraderStats.of(stats, reference, await followers(info, str(self.id)))

    @strawberry.field(
        description=(
            "The equity at each day's close over a window ending today, from the first day "
            "with equity (days without activity carry the previous close)"
        )
    )
    async def equity_curve(
        self, info: Info, window: StatsWindow = StatsWindow.D30
    ) -> list[EquityPoint]:
        end = await end_day(info, None)
        curve = await info.context.services.read(
            queries.equity_curve, str(self.id), window.value, WINDOWS[window.value], end
        )
        return [
            EquityPoint(date=day_start(point.day), equity=clean(point.equity), index=point.index)
            for point in curve
        ]
