"""Live market data over graphql-transport-ws: the trade tape and the order book.

Each subscription listens on the in-process bus before it reads anything, so no change that
commits while it starts is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import strawberry

from socialtrading.graphql.context import Info
from socialtrading.graphql.errors import ApiError, clip
from socialtrading.graphql.markets.queries import DEFAULT_DEPTH, book_depth, read_book
from socialtrading.graphql.markets.types import OrderBook, Trade
from socialtrading.projections import markets


async def _require_market(info: Info, symbol: str) -> None:
    if await info.context.services.read(markets.market, symbol) is None:
        raise ApiError("UNKNOWN_MARKET", f"no market {clip(symbol)}")


def _drain(queue: asyncio.Queue[Any]) -> None:
    """Drop queued notices: one fresh read answers them all."""
    while not queue.empty():
        queue.get_nowait()


@strawberry.type
class MarketSubscriptions:
    @strawberry.subscription(description="Each trade of a market as it happens")
    async def trades(self, info: Info, market: str) -> AsyncGenerator[Trade, None]:
        await _require_market(info, market)
        async with info.context.services.bus.subscribe(f"trades:{market}") as queue:
            while True:
                for row in await queue.get():
                    yield Trade.from_row(row)

    @strawberry.subscription(description="The order book now, then again after every change")
    async def order_book(
        self, info: Info, market: str, depth: int | None = DEFAULT_DEPTH
    ) -> AsyncGenerator[OrderBook, None]:
        levels = book_depth(depth, info.context.services.settings.max_page_size)
        async with info.context.services.bus.subscribe(f"book:{market}") as queue:
            yield await read_book(info, market, levels)
            while True:
                await queue.get()
                _drain(queue)
                yield await read_book(info, market, levels)
