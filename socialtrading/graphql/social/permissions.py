"""Who moderates: admins, compliance analysts and moderators."""

from __future__ import annotations

from typing import Any

from socialtrading.domain.account import ADMIN, COMPLIANCE, MODERATOR
from socialtrading.graphql.context import Info
from socialtrading.graphql.permissions import Rule

MODERATING = (ADMIN, COMPLIANCE, MODERATOR)


class IsModerator(Rule):
    """The caller holds the admin, compliance or moderator role."""

    message = "This needs the admin, compliance or moderator role"

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = await info.context.viewer()
        return viewer is not None and any(role in viewer.roles for role in MODERATING)
