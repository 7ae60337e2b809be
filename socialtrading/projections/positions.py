"""Positions: per account and market the signed base quantity, the average entry price, the
realized PnL and the fees paid, from the trades.

Rules (all in the market's integer units: ticks, lots, and quote units of tick x lot):

- A buy of q lots adds q to the position, a sell takes q off; so a position is > 0 long,
  < 0 short, and the positions of a market sum to zero over all accounts.
- A trade in the position's direction (or from flat) adds its price x lots to the cost basis;
  the average entry price is cost / |quantity|.
- A trade against the position closes up to |quantity| lots: it takes their share of the
  cost basis (cost x closed / |quantity|, rounded down; the rounding stays in the basis of
  the lots still open, so a position's round trip is exact) and realizes, long,
  closed x price - that cost, short, that cost - closed x price. What the trade has beyond
  the position opens a new one the other way at the trade price (the basis resets when a
  position flips or closes).
- Fees are not part of the PnL: each trade costs its taker floor(price x lots x taker bps /
  10,000) and its maker the same at the maker rate, as in `domain/settlement.py`; they add
  up in `fees_paid`.
- Unrealized PnL marks the open quantity to the market's last trade price (the mark, kept in
  `positions_marks`): long, quantity x mark - cost; short, cost - |quantity| x mark; flat, 0.
  Computed when read, so it follows the mark without rewriting every position.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import BigInteger, Column, Connection, String, Table, select

from socialtrading.domain import money
from socialtrading.engine.book import BUY
from socialtrading.engine.records import (
    TRADE_MAKER_ACCOUNT,
    TRADE_PRICE,
    TRADE_QTY,
    TRADE_TAKER_ACCOUNT,
    TRADE_TAKER_SIDE,
    TS,
)
from socialtrading.projections.base import PricedTrades, TradeFedProjection, metadata
from socialtrading.projections.market_specs import (
    MarketDirectory,
    Spec,
    market_table,
    specs_by_symbol,
)
from socialtrading.projections.rows import PositionRow, clean
from socialtrading.projections.sql import rows_in, upsert
from socialtrading.projections.types import BigIntText, DecimalText

positions_markets = market_table("positions_markets")

positions = Table(
    "positions",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("market", String(32), primary_key=True),
    # sums, which may pass 2**63
    Column("quantity", BigIntText, nullable=False),  # signed lots
    Column("cost", BigIntText, nullable=False),  # ticks x lots of the open quantity
    Column("realized_pnl", DecimalText, nullable=False),  # quote asset
    Column("fees_paid", DecimalText, nullable=False),  # quote asset
    Column("updated_at", BigInteger, nullable=False),  # microseconds since the epoch, UTC
)

positions_marks = Table(
    "positions_marks",
    metadata,
    Column("market", String(32), primary_key=True),
    Column("price", BigInteger, nullable=False),  # ticks of the market's last trade
    Column("updated_at", BigInteger, nullable=False),  # that trade's time
)

_BPS = 10_000
ZERO = Decimal(0)
# Forget cached positions beyond this many accounts (read again when next needed).
_CACHE_ACCOUNTS = 100_000

# A position in memory: [quantity, cost, realized units, fee units, realized, fees, updated]
# where `realized` and `fees` are the stored Decimal amounts and the unit counts what this
# batch added to them.
_QTY, _COST, _REALIZED_UNITS, _FEE_UNITS, _REALIZED, _FEES, _UPDATED = range(7)


class PositionsProjection(TradeFedProjection):
    """Positions from the `trade` records of the market events."""

    name: ClassVar[str] = "positions"
    tables: ClassVar[tuple[Table, ...]] = (positions_markets, positions, positions_marks)

    def __init__(self) -> None:
        self.markets = MarketDirectory(positions_markets)
        # account -> market -> position, for accounts whose rows are all read
        self._positions: dict[str, dict[str, list[Any]]] = {}

    def reset(self) -> None:
        super().reset()
        self._positions = {}

    def apply_trades(self, connection: Connection, priced: PricedTrades) -> None:
        if len(self._positions) > _CACHE_ACCOUNTS:
            self._positions = {}
        held = self._positions
        self._read(
            connection,
            {
                a
                for _, r in priced
                for a in (r[TRADE_TAKER_ACCOUNT], r[TRADE_MAKER_ACCOUNT])
                if a not in held
            },
        )
        changed: dict[tuple[str, str], list[Any]] = {}
        specs: dict[str, Spec] = {}
        marks: dict[str, tuple[int, int]] = {}  # symbol -> (price, ts) of its last trade
        for spec, record in priced:
            ts, price, qty, taker_side = (
                record[TS],
                record[TRADE_PRICE],
                record[TRADE_QTY],
                record[TRADE_TAKER_SIDE],
            )
            notional = price * qty
            taker_fee = notional * spec.taker_fee_bps // _BPS
            maker_fee = notional * spec.maker_fee_bps // _BPS
            taker_buys = taker_side == BUY
            symbol = spec.symbol
            specs[symbol] = spec
            marks[symbol] = (price, ts)
            for account, delta, fee in (
                (record[TRADE_TAKER_ACCOUNT], qty if taker_buys else -qty, taker_fee),
                (record[TRADE_MAKER_ACCOUNT], -qty if taker_buys else qty, maker_fee),
            ):
                book = held[account]
                position = book.get(symbol)
                if position is None:
                    position = book[symbol] = [0, 0, 0, 0, ZERO, ZERO, ts]
                _trade(position, price, delta)
                position[_FEE_UNITS] += fee
                position[_UPDATED] = ts
                changed[(account, symbol)] = position
        upsert(
            connection,
            positions_marks,
            [
                {"market": symbol, "price": price, "updated_at": ts}
                for symbol, (price, ts) in marks.items()
            ],
            ["market"],
        )
        rows = []
        for (account, symbol), position in changed.items():
            spec = specs[symbol]
            with money.exact():  # the default 28 digits would round large amounts
                if position[_REALIZED_UNITS]:
                    position[_REALIZED] += spec.quote(position[_REALIZED_UNITS])
                    position[_REALIZED_UNITS] = 0
                if position[_FEE_UNITS]:
                    position[_FEES] += spec.quote(position[_FEE_UNITS])
                    position[_FEE_UNITS] = 0
            rows.append(
                {
                    "account_id": account,
                    "market": symbol,
                    "quantity": position[_QTY],
                    "cost": position[_COST],
                    "realized_pnl": position[_REALIZED],
                    "fees_paid": position[_FEES],
                    "updated_at": position[_UPDATED],
                }
            )
        upsert(connection, positions, rows, ["account_id", "market"])

    def _read(self, connection: Connection, accounts: set[str]) -> None:
        held = self._positions
        for account in accounts:
            held[account] = {}
        for row in rows_in(connection, select(positions), positions.c.account_id, accounts):
            held[row.account_id][row.market] = [
                row.quantity,
                row.cost,
                0,
                0,
                row.realized_pnl,
                row.fees_paid,
                row.updated_at,
            ]


def _trade(position: list[Any], price: int, delta: int) -> None:
    """Apply a fill of `delta` lots (> 0 bought, < 0 sold) at `price` ticks."""
    quantity = position[_QTY]
    if quantity == 0 or (quantity > 0) == (delta > 0):
        position[_QTY] = quantity + delta
        position[_COST] += price * abs(delta)
        return
    size = abs(quantity)
    closed = min(abs(delta), size)
    cost = position[_COST]
    released = cost * closed // size
    if quantity > 0:
        position[_REALIZED_UNITS] += closed * price - released
    else:
        position[_REALIZED_UNITS] += released - closed * price
    cost -= released
    quantity += closed if delta > 0 else -closed
    rest = abs(delta) - closed
    if rest:  # flipped: the rest opens a position the other way at this price
        quantity = rest if delta > 0 else -rest
        cost = price * rest
    position[_QTY] = quantity
    position[_COST] = cost


# ---------------------------------------------------------------------- queries


def positions_of(
    connection: Connection, account_ids: Sequence[str]
) -> dict[str, list[PositionRow]]:
    """Each account's positions by market (an account without any maps to [])."""
    found: dict[str, list[PositionRow]] = {account: [] for account in account_ids}
    statement = select(positions).order_by(positions.c.account_id, positions.c.market)
    rows = list(rows_in(connection, statement, positions.c.account_id, account_ids))
    symbols = {row.market for row in rows}
    specs = specs_by_symbol(connection, positions_markets, symbols)
    prices = select(positions_marks.c.market, positions_marks.c.price)
    marks = {
        row.market: row.price
        for row in rows_in(connection, prices, positions_marks.c.market, symbols)
    }
    for row in rows:
        spec = specs[row.market]
        quantity = row.quantity
        average = None
        if quantity:
            average = clean(Decimal(row.cost) / abs(quantity) * spec.tick_size)
        mark = marks.get(row.market)
        unrealized = None
        if mark is not None:
            units = quantity * mark - row.cost if quantity >= 0 else row.cost + quantity * mark
            unrealized = clean(spec.quote(units)) if quantity else ZERO
        found[row.account_id].append(
            PositionRow(
                account_id=row.account_id,
                market=row.market,
                quantity=spec.quantity(quantity),
                average_entry_price=average,
                realized_pnl=clean(row.realized_pnl),
                fees_paid=clean(row.fees_paid),
                mark_price=None if mark is None else clean(spec.price(mark)),
                unrealized_pnl=unrealized,
            )
        )
    return found
