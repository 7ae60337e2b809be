"""The leaderboard query."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from socialtrading.graphql import asof
from socialtrading.graphql.context import Info
from socialtrading.graphql.pagination import Connection, int_cursor, page_size, paginate
from socialtrading.graphql.stats.types import (
    LeaderboardEntry,
    LeaderboardMetric,
    StatsWindow,
    TraderStats,
    end_day,
)
from socialtrading.projections.stats import queries
from socialtrading.projections.stats.formulas import WINDOWS

RANK_CURSOR = "rank"


@strawberry.type
class StatsQueries:
    @strawberry.field(
        description=(
            "Traders ranked by a metric over a window (largest first), with at least the "
            "configured fills in the window and days of history; `asOf` (anyone) or "
            "`atPosition` (admins and compliance) reads it as it stood at the close of that "
            "time's day (the day of the event at that position), from the stored daily points"
        )
    )
    async def leaderboard(
        self,
        info: Info,
        metric: LeaderboardMetric = LeaderboardMetric.ROI,
        window: StatsWindow = StatsWindow.D30,
        as_of: Annotated[
            datetime | None,
            strawberry.argument(description="Its day's close (not in the future)"),
        ] = None,
        first: int | None = None,
        after: str | None = None,
        at_position: Annotated[
            int | None,
            strawberry.argument(description="The close of the day of the event at this position"),
        ] = None,
    ) -> Connection[LeaderboardEntry]:
        settings = info.context.services.settings
        size = page_size(first, settings.max_page_size)
        skip = int_cursor(RANK_CURSOR, after) or 0
        end = await end_day(info, await asof.leaderboard_time(info, as_of, at_position))
        ranked = await info.context.services.read(
            queries.leaderboard,
            metric.value,
            window.value,
            WINDOWS[window.value],
            end,
            min_trades=settings.leaderboard_min_trades,
            min_days=settings.leaderboard_min_days,
        )
        rows = ranked[skip : skip + size + 1]
        reference = (await info.context.services.read(queries.clock)).reference
        counts = await info.context.services.read(
            queries.followers_of, [row.account_id for row in rows]
        )
        return paginate(
            rows,
            size,
            RANK_CURSOR,
            lambda row: row.rank,
            lambda row: LeaderboardEntry(
                rank=row.rank,
                account_id=row.account_id,
                stats=TraderStats.of(row.stats, reference, counts.get(row.account_id, 0)),
            ),
        )
