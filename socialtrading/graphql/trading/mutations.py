"""Placing, cancelling and amending orders: the caller's own, as a trader."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from socialtrading.commands.models import AmendOrder, CancelOrder, PlaceOrder
from socialtrading.commands.state import Outcome
from socialtrading.graphql.commands import execute, new_command_id
from socialtrading.graphql.context import Info
from socialtrading.graphql.errors import Rejection
from socialtrading.graphql.loaders import load_fresh
from socialtrading.graphql.permissions import CanTrade, IsAuthenticated, guarded
from socialtrading.graphql.trading.types import Order, PlaceOrderInput
from socialtrading.projections.order_status import OrderStatus


@strawberry.type
class PlaceOrderSuccess:
    order: Order


@strawberry.type
class CancelOrderSuccess:
    order: Order


@strawberry.type
class AmendOrderSuccess:
    order: Order


PlaceOrderResult = Annotated[PlaceOrderSuccess | Rejection, strawberry.union("PlaceOrderResult")]
CancelOrderResult = Annotated[CancelOrderSuccess | Rejection, strawberry.union("CancelOrderResult")]
AmendOrderResult = Annotated[AmendOrderSuccess | Rejection, strawberry.union("AmendOrderResult")]


async def _order(info: Info, order_id: str) -> Order | None:
    row = await load_fresh(info.context.loaders.orders, order_id)
    return None if row is None else Order.from_row(row)


async def _readable_order(info: Info, order_id: str) -> Order | Rejection:
    """The order after a cancel or amend, or the Rejection saying it is not readable yet."""
    order = await _order(info, order_id)
    if order is None:
        return Rejection(code="unavailable", message="The order is not readable yet; retry")
    return order


def _provisional(outcome: Outcome, order: PlaceOrderInput, account: str) -> Order:
    """The order as the command described it, when the read models lag behind."""
    now = datetime.now(UTC)
    return Order(
        id=strawberry.ID(outcome.order_id or ""),
        market=order.market,
        side=order.side,
        type=order.type,
        price=order.price,
        quantity=order.quantity,
        filled_quantity=Decimal(0),
        open_quantity=order.quantity,
        status=OrderStatus.ACCEPTED,
        time_in_force=order.time_in_force,
        post_only=order.post_only,
        stop_price=order.stop_price,
        reason=None,
        created_at=now,
        updated_at=now,
        account_id=account,
    )


@strawberry.type
class TradingMutations:
    @strawberry.mutation(
        extensions=guarded(IsAuthenticated, CanTrade), description="Place an order for your account"
    )
    async def place_order(self, info: Info, input: PlaceOrderInput) -> PlaceOrderResult:
        actor = await info.context.actor()
        outcome = await execute(
            info.context,
            lambda: PlaceOrder.model_validate(
                {
                    "command_id": input.client_order_id or new_command_id(),
                    "actor": actor,
                    "market": input.market,
                    "side": input.side.value,
                    "type": input.type.value,
                    "price": input.price,
                    "quantity": input.quantity,
                    "time_in_force": input.time_in_force.value,
                    "post_only": input.post_only,
                    "expires_at": input.expires_at,
                    "stop_price": input.stop_price,
                    "stp": input.self_trade_prevention.value,
                }
            ),
        )
        if isinstance(outcome, Rejection):
            return outcome
        assert outcome.order_id is not None
        order = await _order(info, outcome.order_id)
        return PlaceOrderSuccess(order=order or _provisional(outcome, input, str(actor)))

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated, CanTrade), description="Cancel an order of yours"
    )
    async def cancel_order(self, info: Info, order_id: strawberry.ID) -> CancelOrderResult:
        actor = await info.context.actor()
        outcome = await execute(
            info.context,
            lambda: CancelOrder(command_id=new_command_id(), actor=actor, order_id=order_id),
        )
        if isinstance(outcome, Rejection):
            return outcome
        order = await _readable_order(info, order_id)
        return order if isinstance(order, Rejection) else CancelOrderSuccess(order=order)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated, CanTrade),
        description="Change a resting order's price and/or open quantity",
    )
    async def amend_order(
        self,
        info: Info,
        order_id: strawberry.ID,
        price: Decimal | None = None,
        quantity: Decimal | None = None,
    ) -> AmendOrderResult:
        actor = await info.context.actor()
        outcome = await execute(
            info.context,
            lambda: AmendOrder(
                command_id=new_command_id(),
                actor=actor,
                order_id=order_id,
                price=price,
                quantity=quantity,
            ),
        )
        if isinstance(outcome, Rejection):
            return outcome
        order = await _readable_order(info, order_id)
        return order if isinstance(order, Rejection) else AmendOrderSuccess(order=order)
