"""Candles: open, high, low, close, volume and trade count per market for 1m, 5m, 1h and 1d.

A trade counts in the candle whose start is its time floored to the interval (UTC; days
start at midnight UTC). A market's trades never go back in time, so only the newest candle
of each (market, interval) can change: the projection keeps that one in memory and reads it
from the table only after a reset.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import BigInteger, Column, Connection, Integer, String, Table, select

from socialtrading.domain.time import to_datetime, to_micros
from socialtrading.engine.records import (
    SEQ,
    TRADE_PRICE,
    TRADE_QTY,
    TS,
)
from socialtrading.projections.base import PricedTrades, TradeFedProjection, metadata
from socialtrading.projections.market_specs import MarketDirectory, market_table, spec_by_symbol
from socialtrading.projections.rows import CandleRow
from socialtrading.projections.sql import upsert
from socialtrading.projections.types import BigIntText

INTERVALS: dict[str, int] = {  # name -> length in microseconds
    "1m": 60_000_000,
    "5m": 300_000_000,
    "1h": 3_600_000_000,
    "1d": 86_400_000_000,
}

candles_markets = market_table("candles_markets")

candles = Table(
    "candles",
    metadata,
    Column("market", String(32), primary_key=True),
    Column("interval", String(4), primary_key=True),
    Column("start", BigInteger, primary_key=True, autoincrement=False),  # microseconds, UTC
    Column("open", BigInteger, nullable=False),  # ticks
    Column("high", BigInteger, nullable=False),
    Column("low", BigInteger, nullable=False),
    Column("close", BigInteger, nullable=False),
    Column("volume", BigIntText, nullable=False),  # lots (a sum: may pass 2**63)
    Column("trades", Integer, nullable=False),
    sqlite_with_rowid=False,
)

# A candle in memory: [start, open, high, low, close, volume, trades]
_START, _OPEN, _HIGH, _LOW, _CLOSE, _VOLUME, _TRADES = range(7)
_WIDTHS = tuple(INTERVALS.items())


class CandlesProjection(TradeFedProjection):
    """Candles from the `trade` records of the market events."""

    name: ClassVar[str] = "candles"
    tables: ClassVar[tuple[Table, ...]] = (candles_markets, candles)

    def __init__(self) -> None:
        self.markets = MarketDirectory(candles_markets)
        # (market, interval) -> its newest candle, when known
        self._newest: dict[tuple[str, str], list[int]] = {}

    def reset(self) -> None:
        super().reset()
        self._newest = {}

    def apply_trades(self, connection: Connection, trades: PricedTrades) -> None:
        newest = self._newest
        changed: dict[tuple[str, str, int], list[int]] = {}
        for spec, record in trades:
            symbol = spec.symbol
            ts, price, qty = record[TS], record[TRADE_PRICE], record[TRADE_QTY]
            for interval, width in _WIDTHS:
                start = ts - ts % width
                key = (symbol, interval)
                candle = newest.get(key)
                if candle is None:
                    candle = self._read(connection, symbol, interval, start)
                if candle is not None and candle[_START] == start:
                    if price > candle[_HIGH]:
                        candle[_HIGH] = price
                    elif price < candle[_LOW]:
                        candle[_LOW] = price
                    candle[_CLOSE] = price
                    candle[_VOLUME] += qty
                    candle[_TRADES] += 1
                elif candle is not None and candle[_START] > start:
                    raise AssertionError(f"{symbol} trade {record[SEQ]} goes back in time")
                else:
                    candle = [start, price, price, price, price, qty, 1]
                newest[key] = candle
                changed[(symbol, interval, start)] = candle
        if changed:
            rows = [
                {
                    "market": market,
                    "interval": interval,
                    "start": start,
                    "open": candle[_OPEN],
                    "high": candle[_HIGH],
                    "low": candle[_LOW],
                    "close": candle[_CLOSE],
                    "volume": candle[_VOLUME],
                    "trades": candle[_TRADES],
                }
                for (market, interval, start), candle in changed.items()
            ]
            upsert(connection, candles, rows, ["market", "interval", "start"])

    @staticmethod
    def _read(connection: Connection, market: str, interval: str, start: int) -> list[int] | None:
        """The newest stored candle of (market, interval) at or after `start`'s candle."""
        statement = (
            select(candles)
            .where(candles.c.market == market, candles.c.interval == interval)
            .order_by(candles.c.start.desc())
            .limit(1)
        )
        row = connection.execute(statement).first()
        if row is None:
            return None
        return [row.start, row.open, row.high, row.low, row.close, row.volume, row.trades]


# ---------------------------------------------------------------------- queries


def candles_page(
    connection: Connection,
    market: str,
    interval: str,
    *,
    start: datetime | None,
    end: datetime | None,
    first: int,
    after: datetime | None = None,
) -> list[CandleRow]:
    """A market's candles of one interval, oldest first.

    `start` (inclusive) and `end` (exclusive) bound the candles' start times; `after` (a
    candle's start) pages to later ones.
    """
    if interval not in INTERVALS:
        raise ValueError(f"unknown interval {interval!r}: one of {', '.join(INTERVALS)}")
    spec = spec_by_symbol(connection, candles_markets, market)
    if spec is None:
        return []
    statement = select(candles).where(candles.c.market == market, candles.c.interval == interval)
    if start is not None:
        statement = statement.where(candles.c.start >= to_micros(start))
    if end is not None:
        statement = statement.where(candles.c.start < to_micros(end))
    if after is not None:
        statement = statement.where(candles.c.start > to_micros(after))
    statement = statement.order_by(candles.c.start).limit(max(first, 0))
    rows: Sequence[Any] = connection.execute(statement).all()
    return [
        CandleRow(
            market=market,
            interval=interval,
            start=to_datetime(row.start),
            open=spec.price(row.open),
            high=spec.price(row.high),
            low=spec.price(row.low),
            close=spec.price(row.close),
            volume=spec.quantity(row.volume),
            trades=row.trades,
        )
        for row in rows
    ]
