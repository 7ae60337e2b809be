"""One order by id, for its owner (or admins and compliance analysts)."""

from __future__ import annotations

import strawberry

from socialtrading.graphql.context import Info
from socialtrading.graphql.permissions import IsAuthenticated, requires
from socialtrading.graphql.trading.types import Order


@strawberry.type
class TradingQueries:
    @strawberry.field(
        extensions=requires(IsAuthenticated),
        description="An order by id, or null; only its owner, admins and compliance see it",
    )
    async def order(self, info: Info, id: strawberry.ID) -> Order | None:
        """Answer someone else's order as an unknown one (null): nobody learns it exists."""
        row = await info.context.loaders.orders.load(id)
        if row is None:
            return None
        viewer = await info.context.viewer()
        if (viewer is None or viewer.id != row.account_id) and not await info.context.is_staff():
            return None
        return Order.from_row(row)
