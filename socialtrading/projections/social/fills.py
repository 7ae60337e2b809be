"""Fills: every fill of every account (each trade is two: its taker's and its maker's), from
the `trade` records of the market events, for `Account.fills` and for posts that attach
fills by trade id.

A fill's fee follows `domain/settlement.py`: floor(price x lots x bps / 10,000) quote units at
the market's taker or maker rate, in the market's quote asset. Fills are ordered by the log
position of their market event, then the trade's sequence number: `(position, seq)` is the
cursor with the liquidity (an account trading with itself has both fills of a trade),
newest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    String,
    Table,
    select,
    tuple_,
)

from socialtrading.domain.market import Market
from socialtrading.domain.time import to_datetime
from socialtrading.engine.book import BUY, SELL
from socialtrading.engine.records import (
    KIND,
    SEQ,
    TRADE,
    TRADE_MAKER,
    TRADE_MAKER_ACCOUNT,
    TRADE_PRICE,
    TRADE_QTY,
    TRADE_TAKER,
    TRADE_TAKER_ACCOUNT,
    TRADE_TAKER_SIDE,
    TS,
)
from socialtrading.projections.base import Item, Projection, metadata
from socialtrading.projections.market_specs import MarketDirectory, market_table, specs_by_symbol
from socialtrading.projections.rows import clean
from socialtrading.projections.social.rows import FillRow
from socialtrading.projections.sql import bulk_insert

_BPS = 10_000
TAKER = "TAKER"
MAKER = "MAKER"

fills_markets = market_table("social_fills_markets")

fills_assets = Table(
    "social_fills_assets",
    metadata,
    Column("market_id", String(36), primary_key=True),
    Column("quote", String(16), nullable=False),
)

fills = Table(
    "social_fills",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("position", BigInteger, primary_key=True, autoincrement=False),  # market event's
    Column("seq", BigInteger, primary_key=True, autoincrement=False),  # the trade's
    Column("liquidity", String(5), primary_key=True),  # TAKER | MAKER
    Column("market", String(32), nullable=False),
    Column("side", String(4), nullable=False),
    Column("price", BigInteger, nullable=False),  # ticks
    Column("quantity", BigInteger, nullable=False),  # lots
    Column("fee", BigInteger, nullable=False),  # quote units (tick x lot)
    Column("fee_asset", String(16), nullable=False),
    Column("order_id", String(64), nullable=False),
    Column("executed_at", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

_insert = bulk_insert(fills)


class FillsProjection(Projection):
    """Every account's fills, from the trade records."""

    name: ClassVar[str] = "social_fills"
    tables: ClassVar[tuple[Table, ...]] = (fills_markets, fills_assets, fills)

    def __init__(self) -> None:
        self.markets = MarketDirectory(fills_markets)
        self._quotes: dict[str, str] | None = None  # market id (text) -> quote asset

    def reset(self) -> None:
        self.markets.reset()
        self._quotes = None

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        rows: list[tuple[Any, ...]] = []
        for position, event in items:
            if isinstance(event, Market.BookChanged):
                trades = [record for record in event.records if record[KIND] == TRADE]
                if trades:
                    self._fills(connection, position, event.originator_id, trades, rows)
            elif isinstance(event, Market.Listed):
                self.markets.listed(connection, event)
                quotes = self._assets(connection)
                market = str(event.originator_id)
                if market not in quotes:
                    connection.execute(
                        fills_assets.insert(), {"market_id": market, "quote": event.quote}
                    )
                    quotes[market] = event.quote
        _insert.run(connection, rows)

    def _assets(self, connection: Connection) -> dict[str, str]:
        if self._quotes is None:
            self._quotes = {
                row.market_id: row.quote for row in connection.execute(select(fills_assets))
            }
        return self._quotes

    def _fills(
        self,
        connection: Connection,
        position: int,
        market: Any,
        trades: list[Sequence[Any]],
        rows: list[tuple[Any, ...]],
    ) -> None:
        spec = self.markets.load(connection)[market]
        quote = self._assets(connection)[str(market)]
        for record in trades:
            price, qty = record[TRADE_PRICE], record[TRADE_QTY]
            notional = price * qty
            taker_side = record[TRADE_TAKER_SIDE]
            maker_side = SELL if taker_side == BUY else BUY
            for account, liquidity, side, order, bps in (
                (
                    record[TRADE_TAKER_ACCOUNT],
                    TAKER,
                    taker_side,
                    record[TRADE_TAKER],
                    spec.taker_fee_bps,
                ),
                (
                    record[TRADE_MAKER_ACCOUNT],
                    MAKER,
                    maker_side,
                    record[TRADE_MAKER],
                    spec.maker_fee_bps,
                ),
            ):
                rows.append(
                    (
                        account,
                        position,
                        record[SEQ],
                        liquidity,
                        spec.symbol,
                        side,
                        price,
                        qty,
                        notional * bps // _BPS,
                        quote,
                        order,
                        record[TS],
                    )
                )


# ---------------------------------------------------------------------- queries


def trade_id(market: str, seq: int) -> str:
    """A trade's id: its market and sequence number, as posts attach it."""
    return f"{market}:{seq}"


def fills_of(
    connection: Connection,
    account: str,
    *,
    first: int,
    after: tuple[int, int, str] | None = None,
) -> list[FillRow]:
    """An account's fills, newest first; `after` (a fill's cursor) pages to older ones."""
    statement = select(fills).where(fills.c.account_id == account)
    if after is not None:
        key = tuple_(fills.c.position, fills.c.seq, fills.c.liquidity)
        statement = statement.where(key < tuple_(*after))
    statement = statement.order_by(
        fills.c.position.desc(), fills.c.seq.desc(), fills.c.liquidity.desc()
    ).limit(max(first, 0))
    rows = connection.execute(statement).all()
    specs = specs_by_symbol(connection, fills_markets, {row.market for row in rows})
    found = []
    for row in rows:
        spec = specs[row.market]
        trade = trade_id(row.market, row.seq)
        found.append(
            FillRow(
                id=f"{trade}:{row.liquidity[0]}",
                trade_id=trade,
                account_id=row.account_id,
                market=row.market,
                side=row.side,
                price=clean(spec.price(row.price)),
                quantity=clean(spec.quantity(row.quantity)),
                fee=clean(spec.quote(row.fee)),
                fee_asset=row.fee_asset,
                liquidity=row.liquidity,
                order_id=row.order_id,
                executed_at=to_datetime(row.executed_at),
                cursor=(row.position, row.seq, row.liquidity),
            )
        )
    return found
