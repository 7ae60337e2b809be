"""What a read model is: its tables (in the shared `metadata`), and how batches change them.

A `Projection` owns SQLAlchemy tables and applies the events of the notification log to them
(`projections/runner.py` runs them). A `TradeFedProjection` is one that needs only the
batch's trades and the markets they happened in. `scan` finds, once per chunk, what several
projections look for in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, TypeAlias, cast
from uuid import UUID

from sqlalchemy import Connection, MetaData, Table

from socialtrading.domain.market import Market
from socialtrading.engine.records import (
    AUCTION_STARTED,
    HALTED,
    KIND,
    RESUMED,
    TRADE,
    UNCROSSED,
)

if TYPE_CHECKING:
    from socialtrading.projections.market_specs import MarketDirectory, Spec

# Every read-model table, and the runner's own.
metadata = MetaData()

# (notification id, domain event)
Item = tuple[int, Any]

# A batch's trades with their market's spec: (spec, trade record), in log order.
PricedTrades: TypeAlias = "list[tuple[Spec, Sequence[Any]]]"


class Chunk(list[Item]):
    """The items of one chunk of notifications, with what projections derive from them and
    share (`shared`: for example `scan`'s result); it is freed with the chunk."""

    __slots__ = ("shared",)

    def __init__(self, items: Iterable[Item] = ()) -> None:
        super().__init__(items)
        self.shared: dict[str, Any] = {}


class Projection:
    """A read model: its tables, and how a batch of events changes them."""

    name: ClassVar[str]
    tables: ClassVar[tuple[Table, ...]]

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        """Apply events (in log order) inside the runner's transaction: one chunk of the
        batch; the changes may be held in memory until `flush`."""
        raise NotImplementedError

    def flush(self, connection: Connection) -> None:
        """Write the changes `apply` held back: once per batch, before the commit."""

    def reset(self) -> None:
        """Forget any in-memory cache and held-back change (after a rebuild or a failed
        batch)."""

    def after_commit(self) -> None:
        """Publish live updates for the batch now committed (subscriptions)."""


class Delegating(Projection):
    """A projection that hands everything to `inner`: the base of wrappers that observe or
    measure one (they override what they change, and cannot forget to pass `flush` on)."""

    name: ClassVar[str]
    tables: ClassVar[tuple[Table, ...]]

    def __init__(self, inner: Projection) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]
        self.tables = inner.tables  # type: ignore[misc]

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        self.inner.apply(connection, items)

    def flush(self, connection: Connection) -> None:
        self.inner.flush(connection)

    def reset(self) -> None:
        self.inner.reset()

    def after_commit(self) -> None:
        self.inner.after_commit()


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
            last_market = None  # ids are shared per batch (see infra/decoding.py)
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
