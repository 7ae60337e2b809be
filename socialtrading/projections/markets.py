"""The markets read model: every listed market, its spec, fees, trading mode, halt and last
trade price.

Publishes `markets` with the list of changed `MarketRow`s after each commit that changed any.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from sqlalchemy import BigInteger, Boolean, Column, Connection, Integer, String, Table, select

from socialtrading.domain.market import Market
from socialtrading.domain.time import to_datetime, to_micros
from socialtrading.engine.records import (
    AUCTION_STARTED,
    HALTED,
    KIND,
    RESUMED,
    TRADE_PRICE,
    UNCROSSED,
)
from socialtrading.engine.spec import AUCTION, CONTINUOUS
from socialtrading.infra.bus import Bus
from socialtrading.projections.base import Item, Projection, metadata, scan
from socialtrading.projections.rows import MarketRow, clean
from socialtrading.projections.sql import upsert
from socialtrading.projections.types import DecimalText

markets = Table(
    "markets",
    metadata,
    Column("symbol", String(32), primary_key=True),
    Column("market_id", String(36), nullable=False, unique=True),
    Column("base", String(16), nullable=False),
    Column("quote", String(16), nullable=False),
    Column("tick_size", DecimalText, nullable=False),
    Column("lot_size", DecimalText, nullable=False),
    Column("min_qty", DecimalText),
    Column("max_qty", DecimalText),
    Column("max_notional", DecimalText),
    Column("collar_ticks", BigInteger),
    Column("reference_price", DecimalText),
    Column("maker_fee_bps", Integer, nullable=False),
    Column("taker_fee_bps", Integer, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("halted", Boolean, nullable=False),
    Column("last_price", BigInteger),  # ticks
    Column("listed_at", BigInteger, nullable=False),  # microseconds since the epoch, UTC
)


class MarketsProjection(Projection):
    """Markets from `Market.Listed` and the control and trade records of the book events."""

    name: ClassVar[str] = "markets"
    tables: ClassVar[tuple[Table, ...]] = (markets,)

    def __init__(self, bus: Bus | None = None) -> None:
        self.bus = bus
        self._rows: dict[UUID, dict[str, Any]] | None = None  # market id -> row, every market
        self._changed: dict[UUID, dict[str, Any]] = {}  # published after the commit

    def reset(self) -> None:
        self._rows = None
        self._changed = {}

    def _load(self, connection: Connection) -> dict[UUID, dict[str, Any]]:
        if self._rows is None:
            self._rows = {
                UUID(row["market_id"]): dict(row)
                for row in connection.execute(select(markets)).mappings().all()
            }
        return self._rows

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        rows = self._load(connection)
        found = scan(items)
        changed = self._changed  # upserted once per transaction, in `flush`
        for event in found.listed:
            row = _listed_row(event)
            rows[event.originator_id] = row
            changed[event.originator_id] = row
        for market_id, record in found.trades:
            row = rows[market_id]
            row["last_price"] = record[TRADE_PRICE]
            changed[market_id] = row
        for market_id, record in found.controls:
            row = rows[market_id]
            kind = record[KIND]
            if kind == HALTED:
                row["halted"] = True
            elif kind == RESUMED:
                row["halted"] = False
            elif kind == AUCTION_STARTED:
                row["mode"] = AUCTION
            elif kind == UNCROSSED:
                row["mode"] = CONTINUOUS
            changed[market_id] = row

    def flush(self, connection: Connection) -> None:
        if self._changed:
            upsert(connection, markets, [dict(row) for row in self._changed.values()], ["symbol"])

    def after_commit(self) -> None:
        changed, self._changed = self._changed, {}
        if changed and self.bus is not None and self.bus.subscriber_count("markets"):
            self.bus.publish("markets", [_market_row(row) for row in changed.values()])


def _listed_row(event: Market.Listed) -> dict[str, Any]:
    return {
        "symbol": event.symbol,
        "market_id": str(event.originator_id),
        "base": event.base,
        "quote": event.quote,
        "tick_size": Decimal(event.tick_size),
        "lot_size": Decimal(event.lot_size),
        "min_qty": event.min_qty,
        "max_qty": event.max_qty,
        "max_notional": event.max_notional,
        "collar_ticks": event.collar_ticks,
        "reference_price": event.reference_price,
        "maker_fee_bps": event.maker_fee_bps,
        "taker_fee_bps": event.taker_fee_bps,
        "mode": event.mode,
        "halted": False,
        "last_price": None,
        "listed_at": to_micros(event.timestamp),
    }


def _optional(value: Decimal | None) -> Decimal | None:
    return None if value is None else clean(value)


def _market_row(row: Any) -> MarketRow:
    tick = clean(row["tick_size"])
    last = row["last_price"]
    return MarketRow(
        symbol=row["symbol"],
        base=row["base"],
        quote=row["quote"],
        tick_size=tick,
        lot_size=clean(row["lot_size"]),
        min_qty=_optional(row["min_qty"]),
        max_qty=_optional(row["max_qty"]),
        max_notional=_optional(row["max_notional"]),
        collar_ticks=row["collar_ticks"],
        maker_fee_bps=row["maker_fee_bps"],
        taker_fee_bps=row["taker_fee_bps"],
        mode=row["mode"],
        halted=bool(row["halted"]),
        last_price=None if last is None else tick * last,
        listed_at=to_datetime(row["listed_at"]),
    )


# ---------------------------------------------------------------------- queries


def all_markets(connection: Connection) -> list[MarketRow]:
    """Every listed market, by symbol."""
    rows = connection.execute(select(markets).order_by(markets.c.symbol)).mappings().all()
    return [_market_row(row) for row in rows]


def market(connection: Connection, symbol: str) -> MarketRow | None:
    """One market by symbol (None: not listed)."""
    row = connection.execute(select(markets).where(markets.c.symbol == symbol)).mappings().first()
    return None if row is None else _market_row(row)
