"""The caller's own account, and public profiles."""

from __future__ import annotations

import strawberry

from socialtrading.graphql.accounts.types import Account
from socialtrading.graphql.context import Info
from socialtrading.graphql.permissions import IsAuthenticated, requires
from socialtrading.projections import accounts


@strawberry.type
class AccountQueries:
    @strawberry.field(
        extensions=requires(IsAuthenticated), description="The account of the caller's token"
    )
    async def me(self, info: Info) -> Account:
        viewer = await info.context.viewer()
        assert viewer is not None  # IsAuthenticated
        return Account.from_row(viewer)

    @strawberry.field(description="An account's public profile by handle, or null")
    async def account(self, info: Info, handle: str) -> Account | None:
        row = await info.context.services.read(accounts.account_by_handle, handle)
        return None if row is None else Account.from_row(row)
