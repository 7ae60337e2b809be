"""Public market data: listings, order books, the trade tape, candles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import strawberry
from sqlalchemy import Connection

from socialtrading.graphql import asof
from socialtrading.graphql.context import Info, Services
from socialtrading.graphql.errors import ApiError, clip
from socialtrading.graphql.markets.types import Candle, Level, Market, OrderBook, Trade
from socialtrading.graphql.pagination import Connection as Page
from socialtrading.graphql.pagination import datetime_cursor, int_cursor, page_size, paginate
from socialtrading.projections import book, candles, markets, trades

TRADE_CURSOR = "trade"
CANDLE_CURSOR = "candle"
DEFAULT_DEPTH = 20


def book_depth(depth: int | None, maximum: int) -> int:
    """`depth`, defaulted and checked to lie within 1..maximum."""
    levels = DEFAULT_DEPTH if depth is None else depth
    if not 1 <= levels <= maximum:
        raise ApiError("DEPTH", f"`depth` must be between 1 and {maximum}")
    return levels


async def read_book(services: Services, symbol: str, depth: int) -> OrderBook:
    """The book of a listed market, `depth` levels a side."""

    def query(connection: Connection) -> OrderBook | None:
        if not services.is_listed(connection, symbol):
            return None
        bids, asks = book.depth(connection, symbol, depth)
        return OrderBook(
            market=symbol,
            bids=[Level.from_row(level) for level in bids],
            asks=[Level.from_row(level) for level in asks],
        )

    found = await services.read(query)
    if found is None:
        raise ApiError("UNKNOWN_MARKET", f"no market {clip(symbol)}")
    return found


@strawberry.type
class MarketQueries:
    @strawberry.field(description="Every listed market")
    async def markets(self, info: Info) -> list[Market]:
        rows = await info.context.services.read(markets.all_markets)
        return [Market.from_row(row) for row in rows]

    @strawberry.field(description="One market, or null")
    async def market(self, info: Info, symbol: str) -> Market | None:
        row = await info.context.services.read(markets.market, symbol)
        return None if row is None else Market.from_row(row)

    @strawberry.field(
        description=(
            "The aggregated order book, `depth` levels a side; with `asOf` or `atPosition` "
            "(admins and compliance), as it stood then"
        )
    )
    async def order_book(
        self,
        info: Info,
        market: str,
        depth: int | None = DEFAULT_DEPTH,
        as_of: Annotated[datetime | None, strawberry.argument(description=asof.AS_OF)] = None,
        at_position: Annotated[
            int | None, strawberry.argument(description=asof.AT_POSITION)
        ] = None,
    ) -> OrderBook:
        levels = book_depth(depth, info.context.services.settings.max_page_size)
        if asof.asks_the_past(as_of, at_position):
            return await asof.past_book(info, market, levels, as_of, at_position)
        return await read_book(info.context.services, market, levels)

    @strawberry.field(description="The trade tape, newest first")
    async def trades(
        self, info: Info, market: str, first: int | None = None, after: str | None = None
    ) -> Page[Trade]:
        services = info.context.services
        size = page_size(first, services.settings.max_page_size)
        cursor = int_cursor(TRADE_CURSOR, after)

        def query(connection: Connection) -> list[Trade] | None:
            if not services.is_listed(connection, market):
                return None
            rows = trades.trades_page(connection, market, first=size + 1, after=cursor)
            return [Trade.from_row(row) for row in rows]

        rows = await services.read(query)
        if rows is None:
            raise ApiError("UNKNOWN_MARKET", f"no market {clip(market)}")
        return paginate(rows, size, TRADE_CURSOR, lambda trade: trade.seq, lambda t: t)

    @strawberry.field(description="Candles of an interval (1m, 5m, 1h, 1d), oldest first")
    async def candles(
        self,
        info: Info,
        market: str,
        interval: str,
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="Default: 100 intervals before `to`"),
        ] = None,
        to: Annotated[datetime | None, strawberry.argument(description="Default: now")] = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Page[Candle]:
        micros = candles.INTERVALS.get(interval)
        if micros is None:
            names = ", ".join(candles.INTERVALS)
            raise ApiError("BAD_INTERVAL", f"`interval` is one of {names}")
        services = info.context.services
        size = page_size(first, services.settings.max_page_size)
        end = to or datetime.now(UTC)
        start = from_ or end - timedelta(microseconds=micros * 100)
        cursor = datetime_cursor(CANDLE_CURSOR, after)

        def query(connection: Connection) -> list[Candle] | None:
            if not services.is_listed(connection, market):
                return None
            rows = candles.candles_page(
                connection, market, interval, start=start, end=end, first=size + 1, after=cursor
            )
            return [Candle.from_row(row) for row in rows]

        rows = await services.read(query)
        if rows is None:
            raise ApiError("UNKNOWN_MARKET", f"no market {clip(market)}")
        return paginate(rows, size, CANDLE_CURSOR, lambda c: c.start.isoformat(), lambda c: c)
