"""Live updates of the caller's own orders."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from socialtrading.graphql.context import Info
from socialtrading.graphql.permissions import IsAuthenticated, requires
from socialtrading.graphql.trading.types import Order


@strawberry.type
class TradingSubscriptions:
    @strawberry.subscription(
        extensions=requires(IsAuthenticated),
        description=(
            "Each change to one of your orders (placed, filled, cancelled...); it completes "
            "when the connection's token is revoked or expires"
        ),
    )
    async def my_orders(self, info: Info) -> AsyncGenerator[Order, None]:
        viewer = await info.context.viewer()
        assert viewer is not None  # IsAuthenticated
        async with info.context.services.bus.subscribe(f"orders:{viewer.id}") as queue:
            while True:
                rows = await queue.get()
                # looked up again at most once a second (Context.viewer on a websocket)
                if await info.context.viewer() is None:
                    return
                for row in rows:
                    yield Order.from_row(row)
