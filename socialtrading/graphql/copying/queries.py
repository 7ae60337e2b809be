"""Copy trading's queries: one copy by id (for its copier, its leader and staff)."""

from __future__ import annotations

import strawberry

from socialtrading.graphql.context import Info
from socialtrading.graphql.copying.types import Copy, readable_copy
from socialtrading.graphql.permissions import IsAuthenticated, requires


@strawberry.type
class CopyQueries:
    @strawberry.field(
        extensions=requires(IsAuthenticated),
        description="A copy by id, or null (unknown, or neither yours nor one of your copiers')",
    )
    async def copy(self, info: Info, id: strawberry.ID) -> Copy | None:
        if len(id) > 36:
            return None
        return await readable_copy(info, str(id))
