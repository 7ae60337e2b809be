"""Live market data over graphql-transport-ws: the trade tape and the order book.

Both are public and the same for everyone, so each is a shared feed (graphql/feeds.py):
one producer per market (and book depth) listens on the bus, reads or builds each update
once, and fans it out to every subscriber. A producer listens on the bus before it reads,
so no change that commits while it starts is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import strawberry

from socialtrading.graphql.context import Info, Services
from socialtrading.graphql.errors import ApiError, clip
from socialtrading.graphql.feeds import Feed
from socialtrading.graphql.markets.queries import DEFAULT_DEPTH, book_depth, read_book
from socialtrading.graphql.markets.types import OrderBook, Trade

TAPE_QUEUE = 100  # trade batches a slow subscriber may lag before it misses the oldest


async def _require_market(info: Info, symbol: str) -> None:
    services = info.context.services
    if not await services.read(services.is_listed, symbol):
        raise ApiError("UNKNOWN_MARKET", f"no market {clip(symbol)}")


def _drain(queue: asyncio.Queue[Any]) -> None:
    """Drop queued notices: one fresh read answers them all."""
    while not queue.empty():
        queue.get_nowait()


async def _tape(services: Services, symbol: str, feed: Feed[list[Trade]]) -> None:
    async with services.bus.subscribe(f"trades:{symbol}") as queue:
        feed.listening()
        while True:
            feed.emit([Trade.from_row(row) for row in await queue.get()])


async def _book(services: Services, symbol: str, depth: int, feed: Feed[OrderBook]) -> None:
    async with services.bus.subscribe(f"book:{symbol}") as queue:
        feed.listening()
        feed.emit(await read_book(services, symbol, depth))
        while True:
            await queue.get()
            _drain(queue)
            feed.emit(await read_book(services, symbol, depth))


@strawberry.type
class MarketSubscriptions:
    @strawberry.subscription(description="Each trade of a market as it happens")
    async def trades(self, info: Info, market: str) -> AsyncGenerator[Trade, None]:
        await _require_market(info, market)
        services = info.context.services

        async def produce(feed: Feed[list[Trade]]) -> None:
            await _tape(services, market, feed)

        async with services.feeds.subscribe(("trades", market), produce, size=TAPE_QUEUE) as tape:
            while True:
                for trade in await tape.next():
                    yield trade

    @strawberry.subscription(description="The order book now, then again after every change")
    async def order_book(
        self, info: Info, market: str, depth: int | None = DEFAULT_DEPTH
    ) -> AsyncGenerator[OrderBook, None]:
        services = info.context.services
        levels = book_depth(depth, services.settings.max_page_size)
        await _require_market(info, market)

        async def produce(feed: Feed[OrderBook]) -> None:
            await _book(services, market, levels, feed)

        key = ("book", market, levels)
        async with services.feeds.subscribe(key, produce, size=1, replay=True) as books:
            while True:
                yield await books.next()
