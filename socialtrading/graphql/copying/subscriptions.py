"""Live copy activity of the caller's copies."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from socialtrading.graphql.context import Info
from socialtrading.graphql.copying.types import CopyActivity
from socialtrading.graphql.permissions import IsAuthenticated, requires
from socialtrading.projections.copy.rows import CopyActivityRow


@strawberry.type
class CopySubscriptions:
    @strawberry.subscription(
        extensions=requires(IsAuthenticated),
        description=(
            "Each activity of your copies as it happens (orders placed, fills allocated, "
            "skips, pauses, settlements, stops); `copyId` says which copy. It completes when "
            "the connection's token is revoked or expires"
        ),
    )
    async def my_copies(self, info: Info) -> AsyncGenerator[CopyActivity, None]:
        viewer = await info.context.viewer()
        assert viewer is not None  # IsAuthenticated
        async with info.context.services.bus.subscribe(f"copies:{viewer.id}") as queue:
            while True:
                rows: list[CopyActivityRow] = await queue.get()
                if await info.context.viewer() is None:
                    return
                for row in rows:
                    yield CopyActivity.from_row(row)
