"""Every read model, in the order the runner applies them."""

from __future__ import annotations

from socialtrading.infra.bus import Bus
from socialtrading.projections.accounts import AccountsProjection
from socialtrading.projections.base import Projection
from socialtrading.projections.book import BookProjection
from socialtrading.projections.candles import CandlesProjection
from socialtrading.projections.markets import MarketsProjection
from socialtrading.projections.orders import OrdersProjection
from socialtrading.projections.positions import PositionsProjection
from socialtrading.projections.trades import TradesProjection


def all_projections(bus: Bus | None = None) -> list[Projection]:
    """A fresh instance of every projection; those with live updates publish on `bus`."""
    return [
        MarketsProjection(bus),
        AccountsProjection(),
        OrdersProjection(bus),
        BookProjection(bus),
        TradesProjection(bus),
        CandlesProjection(),
        PositionsProjection(),
    ]
