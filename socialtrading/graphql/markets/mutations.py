"""Admin mutations on markets: list, halt, resume, start an auction, uncross."""

from __future__ import annotations

from typing import Annotated

import strawberry

from socialtrading.commands.models import (
    HaltMarket,
    ListMarket,
    ResumeMarket,
    StartAuction,
    Uncross,
)
from socialtrading.graphql.commands import execute, new_command_id
from socialtrading.graphql.context import Info
from socialtrading.graphql.errors import Rejection
from socialtrading.graphql.markets.types import ListMarketInput, Market
from socialtrading.graphql.permissions import IsAdmin, IsAuthenticated, guarded
from socialtrading.projections import markets


@strawberry.type
class ListMarketSuccess:
    market: Market


@strawberry.type
class MarketControlSuccess:
    market: Market


ListMarketResult = Annotated[ListMarketSuccess | Rejection, strawberry.union("ListMarketResult")]
MarketControlResult = Annotated[
    MarketControlSuccess | Rejection, strawberry.union("MarketControlResult")
]

_Control = type[HaltMarket] | type[ResumeMarket] | type[StartAuction] | type[Uncross]


async def _market(info: Info, symbol: str) -> Market | Rejection:
    row = await info.context.services.read(markets.market, symbol)
    if row is None:  # the read models did not catch up within the wait
        return Rejection(code="unavailable", message="The market is not readable yet; retry")
    return Market.from_row(row)


async def _control(info: Info, command: _Control, symbol: str) -> MarketControlSuccess | Rejection:
    actor = await info.context.actor()
    outcome = await execute(
        info.context,
        lambda: command(command_id=new_command_id(), actor=actor, market=symbol),
    )
    if isinstance(outcome, Rejection):
        return outcome
    market = await _market(info, symbol)
    return market if isinstance(market, Rejection) else MarketControlSuccess(market=market)


@strawberry.type
class MarketMutations:
    @strawberry.mutation(
        extensions=guarded(IsAuthenticated, IsAdmin), description="List a new market (admins)"
    )
    async def list_market(self, info: Info, input: ListMarketInput) -> ListMarketResult:
        actor = await info.context.actor()
        outcome = await execute(
            info.context,
            lambda: ListMarket(
                command_id=new_command_id(),
                actor=actor,
                symbol=input.symbol,
                tick_size=input.tick_size,
                lot_size=input.lot_size,
                min_qty=input.min_qty,
                max_qty=input.max_qty,
                max_notional=input.max_notional,
                collar_ticks=input.collar_ticks,
                reference_price=input.reference_price,
                max_price=input.max_price,
                mode=input.mode.value,
                maker_fee_bps=input.maker_fee_bps,
                taker_fee_bps=input.taker_fee_bps,
            ),
        )
        if isinstance(outcome, Rejection):
            return outcome
        market = await _market(info, input.symbol)
        return market if isinstance(market, Rejection) else ListMarketSuccess(market=market)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated, IsAdmin), description="Halt trading (admins)"
    )
    async def halt_market(self, info: Info, market: str) -> MarketControlResult:
        return await _control(info, HaltMarket, market)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated, IsAdmin), description="Lift a halt (admins)"
    )
    async def resume_market(self, info: Info, market: str) -> MarketControlResult:
        return await _control(info, ResumeMarket, market)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated, IsAdmin),
        description="Switch a market to call-auction mode (admins)",
    )
    async def start_auction(self, info: Info, market: str) -> MarketControlResult:
        return await _control(info, StartAuction, market)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated, IsAdmin),
        description="Run the call auction at one price, then trade continuously (admins)",
    )
    async def uncross(self, info: Info, market: str) -> MarketControlResult:
        return await _control(info, Uncross, market)
