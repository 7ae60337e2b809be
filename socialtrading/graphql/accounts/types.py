"""Accounts and balances as GraphQL types.

An account's identity is public; its balances, orders and positions are private to its owner
(and to admins and compliance analysts).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum

import strawberry

from socialtrading.domain.account import Account as AccountAggregate
from socialtrading.domain.time import to_micros
from socialtrading.graphql.asof import PastAccount
from socialtrading.graphql.context import Info
from socialtrading.graphql.copying.types import CopyAccount
from socialtrading.graphql.errors import ApiError
from socialtrading.graphql.pagination import Connection, int_cursor, page_size, paginate
from socialtrading.graphql.permissions import IsOwnerOrStaff, requires
from socialtrading.graphql.social.types import SocialAccount
from socialtrading.graphql.stats.types import StatsAccount
from socialtrading.graphql.trading.types import Order, Position
from socialtrading.projections import accounts, orders
from socialtrading.projections.rows import AccountRow, BalanceRow, TokenRow

ORDER_CURSOR = "order"
# Asked of an account read as of a past point, fields that only know the present.
AS_OF_UNSUPPORTED = "AS_OF_UNSUPPORTED"


@strawberry.enum
class Role(Enum):
    TRADER = "trader"
    MERCHANT = "merchant"
    ADMIN = "admin"
    COMPLIANCE = "compliance"
    MODERATOR = "moderator"


@strawberry.type(description="Funds of one asset")
class Balance:
    asset: str
    available: Decimal = strawberry.field(description="Free to trade or withdraw")
    reserved: Decimal = strawberry.field(description="Held for open orders")

    @classmethod
    def from_row(cls, row: BalanceRow) -> Balance:
        """The GraphQL view of a read-model row."""
        return cls(asset=row.asset, available=row.available, reserved=row.reserved)


@strawberry.type(description="A valid API token of an account: never the token itself")
class ApiToken:
    id: strawberry.ID = strawberry.field(description="Its public id, what `revokeToken` takes")
    label: str | None
    created_at: datetime
    last_used_at: datetime | None = strawberry.field(
        description="Its last use seen by the server process answering, since it started"
    )
    expires_at: datetime | None = strawberry.field(description="Null: it does not expire")

    @classmethod
    def from_row(cls, row: TokenRow, last_used_at: datetime | None) -> ApiToken:
        """The GraphQL view of a read-model row."""
        return cls(
            id=strawberry.ID(row.id),
            label=row.label,
            created_at=row.created_at,
            last_used_at=last_used_at,
            expires_at=row.expires_at,
        )


@strawberry.type(description="A participant: a trader, an admin, a compliance analyst")
class Account(SocialAccount, CopyAccount, StatsAccount):
    id: strawberry.ID
    handle: str
    kyc_level: int
    roles: list[Role]
    created_at: datetime
    # Set when the account is read as of a past point (`account(asOf:, atPosition:)`):
    # balances, open orders and positions then come from there (graphql/asof.py).
    past: strawberry.Private[PastAccount | None] = None

    @strawberry.field(extensions=requires(IsOwnerOrStaff), description="Private")
    async def balances(self, info: Info) -> list[Balance]:
        if self.past is not None:
            return [Balance.from_row(row) for row in self.past.balances()]
        rows = await info.context.loaders.balances.load(self.id)
        return [Balance.from_row(row) for row in sorted(rows, key=lambda r: r.asset)]

    @strawberry.field(extensions=requires(IsOwnerOrStaff), description="Private; newest first")
    async def open_orders(self, info: Info) -> list[Order]:
        if self.past is not None:
            return [Order.from_row(row) for row in await self.past.open_orders()]
        rows = await info.context.loaders.open_orders.load(self.id)
        return [Order.from_row(row) for row in rows]

    @strawberry.field(
        extensions=requires(IsOwnerOrStaff), description="Private; every order, newest first"
    )
    async def orders(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Order]:
        self._present_only("orders")
        size = page_size(first, info.context.services.settings.max_page_size)
        cursor = int_cursor(ORDER_CURSOR, after)
        rows = await info.context.services.read(
            orders.orders_of, str(self.id), first=size + 1, after=cursor
        )
        return paginate(rows, size, ORDER_CURSOR, lambda row: row.cursor, Order.from_row)

    @strawberry.field(
        extensions=requires(IsOwnerOrStaff),
        description="Private; the API tokens still valid (not revoked, not expired), oldest first",
    )
    async def tokens(self, info: Info) -> list[ApiToken]:
        self._present_only("tokens")
        now = to_micros(datetime.now(UTC))
        rows = await info.context.services.read(accounts.tokens_of, str(self.id), now)
        uses = info.context.services.token_uses
        return [ApiToken.from_row(row, uses.last(row.id)) for row in rows]

    @strawberry.field(extensions=requires(IsOwnerOrStaff), description="Private")
    async def positions(self, info: Info) -> list[Position]:
        if self.past is not None:
            return await self.past.positions()
        rows = await info.context.loaders.positions.load(self.id)
        return [Position.from_row(row) for row in sorted(rows, key=lambda r: r.market)]

    def _present_only(self, name: str) -> None:
        if self.past is not None:
            raise ApiError(
                AS_OF_UNSUPPORTED,
                f"`{name}` is not kept as of a past point: ask for it without `asOf`/`atPosition`",
            )

    @classmethod
    def from_row(cls, row: AccountRow) -> Account:
        """The GraphQL view of a read-model row."""
        return cls(
            id=strawberry.ID(row.id),
            handle=row.handle,
            registered_name=row.display_name,
            kyc_level=row.kyc_level,
            roles=[Role(role) for role in row.roles if role in Role._value2member_map_],
            created_at=row.created_at,
        )

    @classmethod
    def from_past(cls, past: PastAccount) -> Account:
        """The account as it stood at a past point (its identity and private fields)."""
        account: AccountAggregate = past.account
        return cls(
            id=strawberry.ID(str(account.id)),
            handle=account.handle,
            registered_name=account.display_name,
            kyc_level=account.kyc_level,
            roles=[Role(role) for role in account.roles if role in Role._value2member_map_],
            created_at=account.created_on,
            past=past,
        )
