"""Who reads alerts and works cases: compliance analysts and admins, nobody else."""

from __future__ import annotations

from typing import Any

from socialtrading.domain.account import ADMIN, COMPLIANCE
from socialtrading.graphql.context import Info
from socialtrading.graphql.permissions import Rule

ANALYSTS = (COMPLIANCE, ADMIN)


async def is_analyst(info: Info) -> bool:
    """Whether the caller holds the compliance or admin role (now: a WebSocket asks again
    before each event it sends)."""
    viewer = await info.context.viewer()
    return viewer is not None and any(role in viewer.roles for role in ANALYSTS)


class IsAnalyst(Rule):
    """The caller holds the compliance or admin role."""

    message = "This needs the compliance or admin role"

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return await is_analyst(info)
