"""The tape: every trade of every market, in the market's record order.

Rows are keyed by (market, seq), the seq of the market's `trade` record, so new trades append.
Publishes `trades:{symbol}` with the batch's new TradeRows of that market (oldest first) after
each commit, when someone listens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import BigInteger, Column, Connection, String, Table, select

from socialtrading.domain.time import to_datetime
from socialtrading.engine.book import BUY
from socialtrading.engine.records import (
    SEQ,
    TRADE_MAKER,
    TRADE_MAKER_ACCOUNT,
    TRADE_PRICE,
    TRADE_QTY,
    TRADE_TAKER,
    TRADE_TAKER_ACCOUNT,
    TRADE_TAKER_SIDE,
    TS,
)
from socialtrading.infra.bus import Bus
from socialtrading.projections.base import PricedTrades, TradeFedProjection, metadata
from socialtrading.projections.market_specs import (
    MarketDirectory,
    Spec,
    market_table,
    spec_by_symbol,
)
from socialtrading.projections.rows import TradeRow
from socialtrading.projections.sql import bulk_insert, chunks

trades_markets = market_table("trades_markets")

trades = Table(
    "trades",
    metadata,
    Column("market", String(32), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("price", BigInteger, nullable=False),  # ticks
    Column("quantity", BigInteger, nullable=False),  # lots
    Column("taker_order", String(32), nullable=False),
    Column("maker_order", String(32), nullable=False),
    Column("taker_side", String(4), nullable=False),
    Column("buyer_account", String(36), nullable=False),
    Column("seller_account", String(36), nullable=False),
    Column("executed_at", BigInteger, nullable=False),  # microseconds since the epoch, UTC
    sqlite_with_rowid=False,
)


_insert = bulk_insert(trades)


class TradesProjection(TradeFedProjection):
    """The tape, from the `trade` records of the market events."""

    name: ClassVar[str] = "trades"
    tables: ClassVar[tuple[Table, ...]] = (trades_markets, trades)

    def __init__(self, bus: Bus | None = None) -> None:
        self.bus = bus
        self.markets = MarketDirectory(trades_markets)
        self._new: dict[str, tuple[Spec, list[tuple[Any, ...]]]] = {}  # symbol -> new trades

    def reset(self) -> None:
        super().reset()
        self._new = {}

    def apply_trades(self, connection: Connection, executed: PricedTrades) -> None:
        new = self._new
        rows: list[tuple[Any, ...]] = []
        last_spec = None
        batch: list[tuple[Any, ...]] = []
        symbol = ""
        for spec, record in executed:
            if spec is not last_spec:
                symbol = spec.symbol
                batch = new.setdefault(symbol, (spec, []))[1]
                last_spec = spec
            if record[TRADE_TAKER_SIDE] == BUY:
                buyer, seller = record[TRADE_TAKER_ACCOUNT], record[TRADE_MAKER_ACCOUNT]
            else:
                buyer, seller = record[TRADE_MAKER_ACCOUNT], record[TRADE_TAKER_ACCOUNT]
            row = (
                symbol,
                record[SEQ],
                record[TRADE_PRICE],
                record[TRADE_QTY],
                record[TRADE_TAKER],
                record[TRADE_MAKER],
                record[TRADE_TAKER_SIDE],
                buyer,
                seller,
                record[TS],
            )
            rows.append(row)
            batch.append(row)
        _insert.run(connection, rows)

    def after_commit(self) -> None:
        new, self._new = self._new, {}
        bus = self.bus
        if bus is None:
            return
        for symbol, (spec, rows) in new.items():
            topic = f"trades:{symbol}"
            if bus.subscriber_count(topic):
                bus.publish(topic, [_trade_row(spec, row) for row in rows])


def _trade_row(spec: Spec, row: Sequence[Any]) -> TradeRow:
    """A TradeRow from a row of `trades` (as a tuple, in column order)."""
    market, seq, price, quantity, taker, maker, side, buyer, seller, executed_at = row
    return TradeRow(
        market=market,
        seq=seq,
        price=spec.price(price),
        quantity=spec.quantity(quantity),
        taker_order=taker,
        maker_order=maker,
        taker_side=side,
        buyer_account=buyer,
        seller_account=seller,
        executed_at=to_datetime(executed_at),
    )


# ---------------------------------------------------------------------- queries


def trades_page(
    connection: Connection, market: str, *, first: int, after: int | None = None
) -> list[TradeRow]:
    """A market's trades, newest first; `after` (a seq) pages to older ones."""
    spec = spec_by_symbol(connection, trades_markets, market)
    if spec is None:
        return []
    statement = select(trades).where(trades.c.market == market)
    if after is not None:
        statement = statement.where(trades.c.seq < after)
    statement = statement.order_by(trades.c.seq.desc()).limit(max(first, 0))
    return [_trade_row(spec, tuple(row)) for row in connection.execute(statement)]


def trades_by_ids(connection: Connection, ids: Sequence[str]) -> dict[str, TradeRow]:
    """The trades named `SYMBOL:SEQ` among `ids` (unknown or malformed ids are left out)."""
    wanted: dict[str, list[int]] = {}
    for trade_id in dict.fromkeys(ids):
        symbol, _, seq = trade_id.partition(":")
        if seq.isascii() and seq.isdigit() and len(seq) <= 18:
            wanted.setdefault(symbol, []).append(int(seq))
    found: dict[str, TradeRow] = {}
    for symbol, seqs in wanted.items():
        spec = spec_by_symbol(connection, trades_markets, symbol)
        if spec is None:
            continue
        for part in chunks(sorted(seqs)):
            statement = select(trades).where(trades.c.market == symbol, trades.c.seq.in_(part))
            for row in connection.execute(statement):
                trade = _trade_row(spec, tuple(row))
                found[f"{symbol}:{trade.seq}"] = trade
    return found
