"""Markets, order books, trades and candles as GraphQL types."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry

from socialtrading.graphql.trading.types import Side
from socialtrading.projections.rows import CandleRow, LevelRow, MarketRow, TradeRow


@strawberry.enum
class MarketMode(Enum):
    CONTINUOUS = "continuous"
    AUCTION = "auction"


@strawberry.type(description="A listed market, BASE-QUOTE")
class Market:
    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    min_qty: Decimal | None
    max_qty: Decimal | None
    max_notional: Decimal | None
    collar_ticks: int | None = strawberry.field(
        description="How far (in ticks) from the reference price orders may be priced"
    )
    maker_fee_bps: int
    taker_fee_bps: int
    mode: MarketMode
    halted: bool
    last_price: Decimal | None
    listed_at: datetime

    @classmethod
    def from_row(cls, row: MarketRow) -> Market:
        """The GraphQL view of a read-model row."""
        return cls(
            symbol=row.symbol,
            base=row.base,
            quote=row.quote,
            tick_size=row.tick_size,
            lot_size=row.lot_size,
            min_qty=row.min_qty,
            max_qty=row.max_qty,
            max_notional=row.max_notional,
            collar_ticks=row.collar_ticks,
            maker_fee_bps=row.maker_fee_bps,
            taker_fee_bps=row.taker_fee_bps,
            mode=MarketMode(row.mode),
            halted=row.halted,
            last_price=row.last_price,
            listed_at=row.listed_at,
        )


@strawberry.type(description="One price level of a book")
class Level:
    price: Decimal
    quantity: Decimal
    orders: int

    @classmethod
    def from_row(cls, row: LevelRow) -> Level:
        """The GraphQL view of a read-model row."""
        return cls(price=row.price, quantity=row.quantity, orders=row.orders)


@strawberry.type(description="Aggregated depth: best bids (highest first) and asks (lowest first)")
class OrderBook:
    market: str
    bids: list[Level]
    asks: list[Level]


@strawberry.type(description="A trade on the public tape")
class Trade:
    id: strawberry.ID
    market: str
    price: Decimal
    quantity: Decimal
    taker_side: Side
    executed_at: datetime
    seq: strawberry.Private[int]  # the tape's cursor

    @classmethod
    def from_row(cls, row: TradeRow) -> Trade:
        """The GraphQL view of a read-model row."""
        return cls(
            id=strawberry.ID(f"{row.market}:{row.seq}"),
            market=row.market,
            price=row.price,
            quantity=row.quantity,
            taker_side=Side(row.taker_side),
            executed_at=row.executed_at,
            seq=row.seq,
        )


@strawberry.type(description="Open, high, low, close and volume over one interval")
class Candle:
    market: str
    interval: str
    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int

    @classmethod
    def from_row(cls, row: CandleRow) -> Candle:
        """The GraphQL view of a read-model row."""
        return cls(
            market=row.market,
            interval=row.interval,
            start=row.start,
            open=row.open,
            high=row.high,
            low=row.low,
            close=row.close,
            volume=row.volume,
            trades=row.trades,
        )


@strawberry.input(description="A new market (admins)")
class ListMarketInput:
    symbol: str = strawberry.field(description="BASE-QUOTE, e.g. BTC-USD")
    tick_size: Decimal
    lot_size: Decimal
    min_qty: Decimal | None = None
    max_qty: Decimal | None = None
    max_notional: Decimal | None = None
    collar_ticks: int | None = None
    reference_price: Decimal | None = None
    max_price: Decimal | None = strawberry.field(
        default=None, description="the highest price orders may carry (below the hard cap)"
    )
    mode: MarketMode = MarketMode.CONTINUOUS
    maker_fee_bps: int = 0
    taker_fee_bps: int = 0
