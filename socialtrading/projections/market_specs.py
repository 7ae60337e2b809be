"""Each read model's own copy of the market specs: its symbol, tick, lot and fees by id.

Each read model that needs to know a market while it applies events keeps its OWN copy of
the specs, in a small table of its own (`market_table`) filled from `Market.Listed` by a
`MarketDirectory`. That keeps every projection independent of the others: a projection can
be rebuilt, or be ahead of or behind the markets read model, and still resolve every market
id it meets. Queries convert ticks and lots to Decimal with the same specs
(`specs_by_symbol`), cached in memory per read-model database (specs never change).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import Column, Connection, Engine, Integer, String, Table, select

from socialtrading.domain.market import Market
from socialtrading.domain.money import CONTEXT as EXACT
from socialtrading.projections.base import metadata
from socialtrading.projections.rows import clean
from socialtrading.projections.types import DecimalText

__all__ = ["MarketDirectory", "Spec", "market_table", "spec_by_symbol", "specs_by_symbol"]


class Spec(NamedTuple):
    """What read models need of a market, and its conversions from integer units."""

    market_id: str
    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    maker_fee_bps: int
    taker_fee_bps: int

    @classmethod
    def of_listing(cls, event: Market.Listed) -> Spec:
        """The spec a `Market.Listed` event describes."""
        return cls(
            str(event.originator_id),
            event.symbol,
            clean(Decimal(event.tick_size)),
            clean(Decimal(event.lot_size)),
            int(event.maker_fee_bps),
            int(event.taker_fee_bps),
        )

    @classmethod
    def of_row(cls, row: Any) -> Spec:
        """The spec of a row of a `market_table`."""
        return cls(
            row.market_id,
            row.symbol,
            clean(row.tick_size),
            clean(row.lot_size),
            int(row.maker_fee_bps),
            int(row.taker_fee_bps),
        )

    def price(self, ticks: int) -> Decimal:
        """The decimal price of `ticks` (exact: the query threads keep 28 digits)."""
        return EXACT.multiply(self.tick_size, ticks)

    def quantity(self, lots: int) -> Decimal:
        """The decimal quantity of `lots`, exact (sums of lots can pass 28 digits)."""
        return EXACT.multiply(self.lot_size, lots)

    def quote(self, units: int) -> Decimal:
        """The decimal quote amount of `units` (tick x lot), exact."""
        return EXACT.multiply(EXACT.multiply(self.tick_size, self.lot_size), units)


def market_table(name: str) -> Table:
    """A read model's own copy of the market specs (see the module docstring)."""
    return Table(
        name,
        metadata,
        Column("market_id", String(36), primary_key=True),
        Column("symbol", String(32), nullable=False, unique=True),
        Column("tick_size", DecimalText, nullable=False),
        Column("lot_size", DecimalText, nullable=False),
        Column("maker_fee_bps", Integer, nullable=False),
        Column("taker_fee_bps", Integer, nullable=False),
    )


class MarketDirectory:
    """A projection's markets by id, kept in its own `market_table` and in memory."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._by_id: dict[UUID, Spec] | None = None

    def reset(self) -> None:
        """Forget the in-memory copy (it is read again from the table when needed)."""
        self._by_id = None

    def load(self, connection: Connection) -> dict[UUID, Spec]:
        """Every known market by id, as events carry it (a UUID; read from the table after a
        reset)."""
        if self._by_id is None:
            rows = connection.execute(select(self.table)).all()
            self._by_id = {UUID(row.market_id): Spec.of_row(row) for row in rows}
        return self._by_id

    def listed(self, connection: Connection, event: Market.Listed) -> Spec:
        """Record a newly listed market (idempotent)."""
        known = self.load(connection)
        spec = Spec.of_listing(event)
        if event.originator_id not in known:
            connection.execute(self.table.insert(), spec._asdict())  # columns named as fields
            known[event.originator_id] = spec
        return known[event.originator_id]


# Specs by symbol for queries, per read-model database and table: specs never change, so a
# process reads each table's rows once (and again only for a symbol it has not seen).
_query_specs: weakref.WeakKeyDictionary[Engine, dict[str, dict[str, Spec]]] = (
    weakref.WeakKeyDictionary()
)
_query_lock = threading.Lock()


def specs_by_symbol(
    connection: Connection, table: Table, symbols: Iterable[str]
) -> dict[str, Spec]:
    """The specs of `symbols` (those known) from a read model's market table, cached."""
    wanted = set(symbols)
    with _query_lock:
        per_engine = _query_specs.setdefault(connection.engine, {})
        cached = per_engine.setdefault(table.name, {})
        missing = wanted.difference(cached)
    if missing:
        rows = connection.execute(select(table)).all()
        loaded = {row.symbol: Spec.of_row(row) for row in rows}
        with _query_lock:
            cached.update(loaded)
    return {symbol: cached[symbol] for symbol in wanted if symbol in cached}


def spec_by_symbol(connection: Connection, table: Table, symbol: str) -> Spec | None:
    """The spec of one market from a read model's market table (None: unknown)."""
    return specs_by_symbol(connection, table, (symbol,)).get(symbol)
