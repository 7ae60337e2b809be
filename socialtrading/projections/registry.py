"""Every read model, in the order the runner applies them."""

from __future__ import annotations

from socialtrading.infra.bus import Bus
from socialtrading.projections.accounts import AccountsProjection
from socialtrading.projections.audit_trail import AuditTrailProjection
from socialtrading.projections.base import Projection
from socialtrading.projections.book import BookProjection
from socialtrading.projections.candles import CandlesProjection
from socialtrading.projections.copy.copies import CopiesProjection
from socialtrading.projections.markets import MarketsProjection
from socialtrading.projections.orders import OrdersProjection
from socialtrading.projections.positions import PositionsProjection
from socialtrading.projections.social.feed import PULL_THRESHOLD, FeedProjection
from socialtrading.projections.social.fills import FillsProjection
from socialtrading.projections.social.projection import SocialProjection
from socialtrading.projections.social.sentiment import TrackRecordsProjection
from socialtrading.projections.stats.projection import DEFAULT_REFERENCE, StatsProjection
from socialtrading.projections.surveillance.alerts import AlertsProjection
from socialtrading.projections.trades import TradesProjection


def all_projections(
    bus: Bus | None = None,
    feed_pull_threshold: int = PULL_THRESHOLD,
    stats_reference: str = DEFAULT_REFERENCE,
) -> list[Projection]:
    """A fresh instance of every projection; those with live updates publish on `bus`.
    `feed_pull_threshold`: the followers from which an author's posts are pulled into feeds
    at read time; `stats_reference`: the asset statistics are valued in (a rebuild must use
    the server's values to give the same rows)."""
    return [
        MarketsProjection(bus),
        AccountsProjection(),
        OrdersProjection(bus),
        BookProjection(bus),
        TradesProjection(bus),
        CandlesProjection(),
        PositionsProjection(),
        SocialProjection(bus),
        FeedProjection(bus, feed_pull_threshold),
        FillsProjection(),
        TrackRecordsProjection(),
        CopiesProjection(bus),
        StatsProjection(stats_reference),
        AlertsProjection(bus),
        AuditTrailProjection(),
    ]
