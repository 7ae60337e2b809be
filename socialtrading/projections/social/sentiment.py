"""Market sentiment weighted by verified track records.

`TrackRecordsProjection` keeps, per account and market, the position (`domain/positions.py`'s
rule, the same as the positions read model and the write side's disclosure) and the PnL it
realized per hour (quote units of tick x lot, in hour buckets of the trade's time), from the
`trade` records.

`market_sentiment(market, hours, now)` counts the visible posts about the market published in
the window (now - hours, now], by sentiment, and scores them: each post counts s = +1
(BULLISH), -1 (BEARISH) or 0 (NEUTRAL) with its author's weight

    w = clamp(1 + sign(pnl) * log10(1 + |pnl|) / 4, 0.25, 2)

where pnl is the author's realized PnL in that market over the window (in the quote asset,
from the hour buckets that start at or after the window's start rounded down to the hour),
and score = sum(w * s) / sum(w), in [-1, 1] (0 without posts). An author with no result
weighs 1; +999 quote weighs 1.75, +9,999 and more 2; -9 weighs 0.75, -999 0.25. Logarithmic,
so a whale's gain does not drown everybody; bounded below, so a losing trader still counts.
The score is a float: a statistic, not money.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import ClassVar

from sqlalchemy import BigInteger, Column, Connection, String, Table, select, tuple_

from socialtrading.domain import positions as rule
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
from socialtrading.projections.market_specs import MarketDirectory, market_table, spec_by_symbol
from socialtrading.projections.social.rows import SentimentRow
from socialtrading.projections.social.tables import VISIBLE, posts
from socialtrading.projections.sql import bulk_upsert, chunks, rows_in
from socialtrading.projections.types import BigIntText

HOUR_US = 3_600_000_000
BULLISH = "BULLISH"
BEARISH = "BEARISH"
NEUTRAL = "NEUTRAL"

track_markets = market_table("social_track_markets")

track_positions = Table(
    "social_track_positions",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("market", String(32), primary_key=True),
    Column("quantity", BigIntText, nullable=False),  # signed lots
    Column("cost", BigIntText, nullable=False),  # ticks x lots of the open quantity
)

track_pnl = Table(
    "social_track_pnl",
    metadata,
    Column("market", String(32), primary_key=True),
    Column("account_id", String(36), primary_key=True),
    Column("hour", BigInteger, primary_key=True, autoincrement=False),  # bucket start, µs
    Column("realized", BigIntText, nullable=False),  # quote units (tick x lot)
)

_upsert_positions = bulk_upsert(track_positions, ["account_id", "market"])
_upsert_pnl = bulk_upsert(track_pnl, ["market", "account_id", "hour"])


class TrackRecordsProjection(TradeFedProjection):
    """Positions and realized PnL per hour, per account and market, from the trades."""

    name: ClassVar[str] = "social_track_records"
    tables: ClassVar[tuple[Table, ...]] = (track_markets, track_positions, track_pnl)

    def __init__(self) -> None:
        self.markets = MarketDirectory(track_markets)
        self._positions: dict[tuple[str, str], list[int]] = {}  # (account, market) -> [q, c]

    def reset(self) -> None:
        super().reset()
        self._positions = {}

    def apply_trades(self, connection: Connection, trades: PricedTrades) -> None:
        if len(self._positions) > 200_000:
            self._positions = {}
        held = self._positions
        wanted = {
            (account, spec.symbol)
            for spec, record in trades
            for account in (record[TRADE_TAKER_ACCOUNT], record[TRADE_MAKER_ACCOUNT])
        } - held.keys()
        for pair in wanted:
            held[pair] = [0, 0]
        pairs = tuple_(track_positions.c.account_id, track_positions.c.market)
        for part in chunks(sorted(wanted)):
            for row in connection.execute(select(track_positions).where(pairs.in_(part))):
                held[(row.account_id, row.market)] = [row.quantity, row.cost]
        changed: set[tuple[str, str]] = set()
        realized: dict[tuple[str, str, int], int] = {}  # (market, account, hour) -> units
        for spec, record in trades:
            price, qty = record[TRADE_PRICE], record[TRADE_QTY]
            hour = record[TS] // HOUR_US * HOUR_US
            buys = record[TRADE_TAKER_SIDE] == BUY
            for account, delta in (
                (record[TRADE_TAKER_ACCOUNT], qty if buys else -qty),
                (record[TRADE_MAKER_ACCOUNT], -qty if buys else qty),
            ):
                key = (account, spec.symbol)
                position = held[key]
                moved = rule.fill(position[0], position[1], price, delta)
                position[0], position[1] = moved.quantity, moved.cost
                changed.add(key)
                if moved.realized:
                    bucket = (spec.symbol, account, hour)
                    realized[bucket] = realized.get(bucket, 0) + moved.realized
        _upsert_positions.run(connection, [(a, m, *held[(a, m)]) for a, m in sorted(changed)])
        if realized:
            bucket_key = tuple_(track_pnl.c.market, track_pnl.c.account_id, track_pnl.c.hour)
            for buckets in chunks(sorted(realized), 2_000):
                for row in connection.execute(select(track_pnl).where(bucket_key.in_(buckets))):
                    realized[(row.market, row.account_id, row.hour)] += row.realized
            _upsert_pnl.run(connection, [(*key, units) for key, units in sorted(realized.items())])


# ---------------------------------------------------------------------- queries


def weight(pnl: Decimal) -> float:
    """An author's weight from their realized PnL in the quote asset (module docstring)."""
    if not pnl:
        return 1.0
    size = math.log10(1 + float(abs(pnl))) / 4
    return min(2.0, max(0.25, 1 + (size if pnl > 0 else -size)))


def realized_since(
    connection: Connection, market: str, accounts: Sequence[str], since: int
) -> dict[str, Decimal]:
    """Each account's PnL realized in `market` from the hour of `since` (µs) on, in the
    quote asset (accounts without any are left out)."""
    spec = spec_by_symbol(connection, track_markets, market)
    if spec is None:
        return {}
    units: dict[str, int] = {}
    statement = select(track_pnl.c.account_id, track_pnl.c.realized).where(
        track_pnl.c.market == market, track_pnl.c.hour >= since // HOUR_US * HOUR_US
    )
    for row in rows_in(connection, statement, track_pnl.c.account_id, accounts):
        units[row.account_id] = units.get(row.account_id, 0) + row.realized
    return {account: spec.quote(total) for account, total in units.items() if total}


def market_sentiment(connection: Connection, market: str, *, hours: int, now: int) -> SentimentRow:
    """The visible posts about `market` in the `hours` before `now` (µs), counted by
    sentiment and scored by their authors' track records (module docstring)."""
    since = now - hours * HOUR_US
    statement = select(posts.c.author, posts.c.sentiment).where(
        posts.c.market == market,
        posts.c.created_at > since,
        posts.c.created_at <= now,
        posts.c.status == VISIBLE,
    )
    found = connection.execute(statement).all()
    pnl = realized_since(connection, market, sorted({row.author for row in found}), since)
    counts = {BULLISH: 0, BEARISH: 0, NEUTRAL: 0}
    total = weighted = 0.0
    for row in found:
        counts[row.sentiment] += 1
        w = weight(pnl.get(row.author, Decimal(0)))
        total += w
        weighted += w * (1 if row.sentiment == BULLISH else -1 if row.sentiment == BEARISH else 0)
    return SentimentRow(
        market=market,
        hours=hours,
        bullish=counts[BULLISH],
        bearish=counts[BEARISH],
        neutral=counts[NEUTRAL],
        score=weighted / total if total else 0.0,
    )
