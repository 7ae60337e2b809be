"""What several read models share: their own copy of the market specs, units, time, helpers.

Each read model that needs to know a market (its symbol, tick, lot and fees) while it applies
events keeps its OWN copy of the specs, in a small table of its own filled from
`Market.Listed`. That keeps every projection independent of the others: a projection can be
rebuilt, or be ahead of or behind the markets read model, and still resolve every market id it
meets. Queries convert ticks and lots to Decimal with the same specs, cached in memory per
read-model database (specs never change).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar, cast
from uuid import UUID

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    Executable,
    Integer,
    Row,
    Select,
    String,
    Table,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement
from sqlalchemy.types import TypeDecorator

from socialtrading.domain.market import Market
from socialtrading.domain.money import CONTEXT as EXACT
from socialtrading.domain.time import to_datetime, to_micros
from socialtrading.engine.records import (
    AUCTION_STARTED,
    HALTED,
    KIND,
    RESUMED,
    TRADE,
    UNCROSSED,
)
from socialtrading.projections.runner import Chunk, Item, Projection, metadata
from socialtrading.projections.types import DecimalText

__all__ = [
    "LIVE_STATUSES",
    "Bulk",
    "MarketDirectory",
    "PricedTrades",
    "Spec",
    "TradeFedProjection",
    "bulk_insert",
    "bulk_upsert",
    "chunks",
    "clean",
    "market_table",
    "micros",
    "moment",
    "rows_in",
    "scan",
    "spec_by_symbol",
    "specs_by_symbol",
]

T = TypeVar("T")

# Live order statuses (the others are final).
ACCEPTED = "ACCEPTED"
OPEN = "OPEN"
PARTIALLY_FILLED = "PARTIALLY_FILLED"
FILLED = "FILLED"
CANCELLED = "CANCELLED"
REJECTED = "REJECTED"
EXPIRED = "EXPIRED"
LIVE_STATUSES = (ACCEPTED, OPEN, PARTIALLY_FILLED)

# Most values in one `IN (...)`: below SQLite's and PostgreSQL's parameter limits.
IN_CHUNK = 5_000


class Spec(NamedTuple):
    """What read models need of a market."""

    market_id: str
    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    maker_fee_bps: int
    taker_fee_bps: int

    def price(self, ticks: int) -> Decimal:
        """The decimal price of `ticks` (exact: the query threads keep 28 digits)."""
        return EXACT.multiply(self.tick_size, ticks)

    def quantity(self, lots: int) -> Decimal:
        """The decimal quantity of `lots`, exact (sums of lots can pass 28 digits)."""
        return EXACT.multiply(self.lot_size, lots)

    def quote(self, units: int) -> Decimal:
        """The decimal quote amount of `units` (tick x lot), exact."""
        return EXACT.multiply(EXACT.multiply(self.tick_size, self.lot_size), units)


def clean(value: Decimal) -> Decimal:
    """`value` without trailing zeros and without an exponent (1E+2 -> 100, 0.50 -> 0.5)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1), context=EXACT)
    return value.normalize(EXACT)


def micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (how read models store time)."""
    return to_micros(moment)


def moment(us: int) -> datetime:
    """The aware UTC datetime of `us` microseconds since the epoch."""
    return to_datetime(us)


def rows_in(
    connection: Connection,
    statement: Select[Any],
    column: ColumnElement[Any],
    values: Iterable[str],
) -> Iterator[Row[Any]]:
    """The rows of `statement` whose `column` is one of `values`: one `IN (...)` per chunk of
    the sorted values (an ORDER BY in `statement` orders within each chunk)."""
    for part in chunks(sorted(set(values))):
        yield from connection.execute(statement.where(column.in_(part)))


def chunks(values: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """`values` in slices of at most `size`."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


_POSITIONAL: dict[str, Dialect] = {
    "sqlite": sqlite.dialect(paramstyle="qmark"),
    "postgresql": postgresql.psycopg.dialect(paramstyle="format"),  # type: ignore[no-untyped-call]
}


class Bulk:
    """A statement run for many rows given as plain tuples, straight to the driver.

    SQLAlchemy processes every parameter of every row of an executemany, which costs more
    than the database's own work for the big read models. These statements are compiled
    once per dialect with positional parameters, in the order `names` gives (checked), and
    take tuples. Values go to the driver as they are (integers, strings, booleans, None),
    but those of the project's own column types (`TypeDecorator`s such as `BigIntText`),
    which their bind processor converts.
    """

    def __init__(
        self, statement: Executable | Callable[[str], Executable], names: Sequence[str]
    ) -> None:
        self.statement = statement  # or a function of the dialect's name making it
        self.names = tuple(names)
        self._sql: dict[str, str] = {}
        # per dialect: (position, bind processor) of the parameters to convert
        self._convert: dict[str, list[tuple[int, Callable[[Any], Any]]]] = {}

    def sql(self, dialect: str) -> str:
        """The statement's SQL for `dialect` (sqlite or postgresql)."""
        text = self._sql.get(dialect)
        if text is None:
            statement = self.statement(dialect) if callable(self.statement) else self.statement
            assert isinstance(statement, ClauseElement)
            compiled = statement.compile(dialect=_POSITIONAL[dialect])
            assert isinstance(compiled, SQLCompiler)
            if tuple(compiled.positiontup or ()) != self.names:
                raise ValueError(f"parameters are {compiled.positiontup}, not {self.names}")
            convert: list[tuple[int, Callable[[Any], Any]]] = []
            for at, name in enumerate(self.names):
                kind = compiled.binds[name].type
                if isinstance(kind, TypeDecorator):
                    processor = kind.bind_processor(compiled.dialect)
                    if processor is not None:
                        convert.append((at, processor))
            self._convert[dialect] = convert
            text = self._sql[dialect] = str(compiled)
        return text

    def run(self, connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Execute the statement once per row (one executemany)."""
        if rows:
            dialect = connection.dialect.name
            sql = self.sql(dialect)
            convert = self._convert[dialect]
            if convert:
                rows = [_converted(row, convert) for row in rows]
            connection.exec_driver_sql(sql, list(rows))


def _converted(
    row: tuple[Any, ...], convert: list[tuple[int, Callable[[Any], Any]]]
) -> tuple[Any, ...]:
    values = list(row)
    for at, processor in convert:
        values[at] = processor(values[at])
    return tuple(values)


def bulk_insert(table: Table) -> Bulk:
    """A `Bulk` insert of every column of `table`, rows given in column order."""
    return Bulk(table.insert(), [column.name for column in table.columns])


def bulk_upsert(table: Table, keys: Sequence[str]) -> Bulk:
    """A `Bulk` insert of every column of `table` that replaces the rows whose keys exist."""
    names = [column.name for column in table.columns]

    def statement(dialect: str) -> Executable:
        insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        return insert.on_conflict_do_update(
            index_elements=list(keys),
            set_={name: insert.excluded[name] for name in names if name not in keys},
        )

    return Bulk(statement, names)


class Scan(NamedTuple):
    """What several projections look for in a batch, found in one pass."""

    listed: list[Market.Listed]
    trades: list[tuple[UUID, Sequence[Any]]]  # (market id, trade record) in log order
    controls: list[tuple[UUID, Sequence[Any]]]  # halted, resumed, auction_started, uncrossed


_CONTROL_KINDS = frozenset({HALTED, RESUMED, AUCTION_STARTED, UNCROSSED})


def scan(items: Sequence[Any]) -> Scan:
    """The listings, trades and control records of a chunk of (position, event) items.

    The runner hands every projection that is level with it the same `Chunk`, so the scan
    is made once per chunk and kept on it (and freed with it).
    """
    shared = items.shared if isinstance(items, Chunk) else None
    if shared is not None:
        known = shared.get("scan")
        if known is not None:
            return cast(Scan, known)
    found = Scan([], [], [])
    trades = found.trades
    controls = found.controls
    for _, event in items:
        if isinstance(event, Market.BookChanged):
            market = event.originator_id
            for record in event.records:
                kind = record[KIND]
                if kind == TRADE:
                    trades.append((market, record))
                elif kind in _CONTROL_KINDS:
                    controls.append((market, record))
        elif isinstance(event, Market.Listed):
            found.listed.append(event)
    if shared is not None:
        shared["scan"] = found
    return found


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


def spec_of_listing(event: Market.Listed) -> Spec:
    """The spec a `Market.Listed` event describes."""
    return Spec(
        str(event.originator_id),
        event.symbol,
        clean(Decimal(event.tick_size)),
        clean(Decimal(event.lot_size)),
        int(event.maker_fee_bps),
        int(event.taker_fee_bps),
    )


def _spec_of_row(row: Any) -> Spec:
    return Spec(
        row.market_id,
        row.symbol,
        clean(row.tick_size),
        clean(row.lot_size),
        int(row.maker_fee_bps),
        int(row.taker_fee_bps),
    )


class MarketDirectory:
    """A projection's markets by id, kept in its own table (see the module docstring)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._by_id: dict[UUID, Spec] | None = None

    def reset(self) -> None:
        """Forget the in-memory copy (it is read again from the table when needed)."""
        self._by_id = None

    def load(self, connection: Connection) -> dict[UUID, Spec]:
        """Every known market by id, as events carry it (read from the table after a reset).

        Keyed by the UUID itself: events carry one, and rendering it as text per event
        costs more than the rest of a lookup.
        """
        if self._by_id is None:
            rows = connection.execute(select(self.table)).all()
            self._by_id = {UUID(row.market_id): _spec_of_row(row) for row in rows}
        return self._by_id

    def listed(self, connection: Connection, event: Market.Listed) -> Spec:
        """Record a newly listed market (idempotent)."""
        known = self.load(connection)
        spec = spec_of_listing(event)
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


# A batch's trades with their market's spec: (spec, trade record), in log order.
PricedTrades = list[tuple[Spec, Sequence[Any]]]


class TradeFedProjection(Projection):
    """A read model fed by its batch's trades (found by the shared `scan`), keeping its own
    copy of the market specs. Subclasses set `markets` and implement `apply_trades`."""

    markets: MarketDirectory

    def reset(self) -> None:
        self.markets.reset()

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        found = scan(items)
        for event in found.listed:
            self.markets.listed(connection, event)
        if found.trades:
            directory = self.markets.load(connection)
            priced: PricedTrades = []
            last_market = None  # ids are shared objects (Exchange.read): compare identity
            spec: Spec | None = None
            for market_id, record in found.trades:
                if market_id is not last_market:
                    spec = directory[market_id]
                    last_market = market_id
                assert spec is not None
                priced.append((spec, record))
            self.apply_trades(connection, priced)

    def apply_trades(self, connection: Connection, trades: PricedTrades) -> None:
        """Apply the batch's trades: (the market's spec, trade record) in log order."""
        raise NotImplementedError


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
        loaded = {row.symbol: _spec_of_row(row) for row in rows}
        with _query_lock:
            cached.update(loaded)
    return {symbol: cached[symbol] for symbol in wanted if symbol in cached}


def spec_by_symbol(connection: Connection, table: Table, symbol: str) -> Spec | None:
    """The spec of one market from a read model's market table (None: unknown)."""
    return specs_by_symbol(connection, table, (symbol,)).get(symbol)
