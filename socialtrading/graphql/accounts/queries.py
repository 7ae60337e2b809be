"""The caller's own account, and public profiles."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from socialtrading.graphql import asof
from socialtrading.graphql.accounts.types import Account
from socialtrading.graphql.asof import AS_OF, AT_POSITION
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

    @strawberry.field(
        description=(
            "An account's public profile by handle, or null. With `asOf` or `atPosition` "
            "(its owner, admins and compliance): its identity, balances, open orders and "
            "positions as they stood then"
        )
    )
    async def account(
        self,
        info: Info,
        handle: str,
        as_of: Annotated[datetime | None, strawberry.argument(description=AS_OF)] = None,
        at_position: Annotated[int | None, strawberry.argument(description=AT_POSITION)] = None,
    ) -> Account | None:
        if asof.asks_the_past(as_of, at_position):
            past = await asof.past_account(info, handle, as_of, at_position)
            return None if past is None else Account.from_past(past)
        row = await info.context.services.read(accounts.account_by_handle, handle)
        return None if row is None else Account.from_row(row)
