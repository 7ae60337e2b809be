"""Orders and positions as GraphQL types, and the order input."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from socialtrading.graphql.context import Info
from socialtrading.projections.order_status import OrderStatus
from socialtrading.projections.rows import OrderRow, PositionRow

if TYPE_CHECKING:
    from socialtrading.graphql.accounts.types import Account


@strawberry.enum
class Side(Enum):
    BUY = "buy"
    SELL = "sell"


@strawberry.enum
class OrderType(Enum):
    LIMIT = "limit"
    MARKET = "market"


@strawberry.enum
class TimeInForce(Enum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    GTD = "GTD"


@strawberry.enum(description="What happens when an order would trade with its owner's own order")
class SelfTradePrevention(Enum):
    CANCEL_TAKER = "cancel_taker"
    CANCEL_MAKER = "cancel_maker"
    CANCEL_BOTH = "cancel_both"
    DECREMENT = "decrement"


strawberry.enum(OrderStatus)  # the read model's statuses, as the GraphQL enum `OrderStatus`


@strawberry.type(description="An order and where it stands")
class Order:
    id: strawberry.ID
    market: str
    side: Side
    type: OrderType
    price: Decimal | None = strawberry.field(
        description="The limit price, or a market buy's protection price"
    )
    quantity: Decimal = strawberry.field(description="Filled plus open quantity")
    filled_quantity: Decimal
    open_quantity: Decimal
    status: OrderStatus
    time_in_force: TimeInForce
    post_only: bool
    stop_price: Decimal | None
    reason: str | None = strawberry.field(description="Why it was rejected or cancelled")
    created_at: datetime
    updated_at: datetime
    account_id: strawberry.Private[str]

    @strawberry.field(description="The owner's public profile")
    async def account(
        self, info: Info
    ) -> Annotated[Account, strawberry.lazy("socialtrading.graphql.accounts.types")] | None:
        from socialtrading.graphql.accounts.types import Account

        row = await info.context.loaders.accounts.load(self.account_id)
        return None if row is None else Account.from_row(row)

    @classmethod
    def from_row(cls, row: OrderRow) -> Order:
        """The GraphQL view of a read-model row."""
        return cls(
            id=strawberry.ID(row.id),
            market=row.market,
            side=Side(row.side),
            type=OrderType(row.type),
            price=row.price,
            quantity=row.quantity,
            filled_quantity=row.filled_quantity,
            open_quantity=row.open_quantity,
            status=OrderStatus(row.status),
            time_in_force=TimeInForce(row.time_in_force),
            post_only=row.post_only,
            stop_price=row.stop_price,
            reason=row.reason,
            created_at=row.created_at,
            updated_at=row.updated_at,
            account_id=row.account_id,
        )


@strawberry.type(description="A net position in one market, from the account's fills")
class Position:
    market: str
    quantity: Decimal = strawberry.field(description="Signed base quantity: > 0 long, < 0 short")
    average_entry_price: Decimal | None
    realized_pnl: Decimal | None = strawberry.field(
        description="In the quote asset, fees not included; null as of a past point (the "
        "market's position book then holds the open quantity and its cost, not the history)"
    )
    unrealized_pnl: Decimal | None = strawberry.field(
        description="The open quantity marked to `markPrice`, in the quote asset (fees not "
        "included); null before the market's first trade"
    )
    mark_price: Decimal | None = strawberry.field(description="The market's last trade price")
    fees_paid: Decimal | None = strawberry.field(
        description="In the quote asset; null as of a past point, as `realizedPnl`"
    )

    @classmethod
    def from_row(cls, row: PositionRow) -> Position:
        """The GraphQL view of a read-model row."""
        return cls(
            market=row.market,
            quantity=row.quantity,
            average_entry_price=row.average_entry_price,
            realized_pnl=row.realized_pnl,
            unrealized_pnl=row.unrealized_pnl,
            mark_price=row.mark_price,
            fees_paid=row.fees_paid,
        )


@strawberry.input(description="A new order. A market order carries no price.")
class PlaceOrderInput:
    market: str
    side: Side
    quantity: Decimal
    type: OrderType = OrderType.LIMIT
    price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    expires_at: datetime | None = strawberry.field(
        default=None, description="When a GTD order expires"
    )
    stop_price: Decimal | None = strawberry.field(
        default=None,
        description="Makes a stop-limit order: it enters when the last trade reaches this",
    )
    self_trade_prevention: SelfTradePrevention = SelfTradePrevention.CANCEL_TAKER
    client_order_id: str | None = strawberry.field(
        default=None,
        description="Your id for this order; resending it returns the first outcome (idempotent)",
    )
