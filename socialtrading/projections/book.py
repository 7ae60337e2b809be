"""The order book read model: aggregated price levels (open quantity, order count) per market
and side, kept from the engine records.

Levels change as the records say: an order `rested` at a price joins its level; trades,
cancels (including STP decrements) and expiries take lots off the levels of the resting
orders they touch (at the order's own price: an auction trades at the uncross price); an
amend that keeps priority shrinks the order in place, any other amend moves it to its new
level. Market orders queued for an auction never appear in the levels.

To know where each order rests, the projection keeps the live orders it may have to find:
resting orders and pending stop orders (a stop rests only when triggered, maybe much later,
and its side is known only from its `accepted` record; a new order rests, if at all, in the
event that accepted it). They live in memory and in
`book_orders`, keyed by (market, the sequence number of the order's acceptance) so that new
rows append. Publishes `book:{symbol}` (the message is the symbol) after each commit that
changed a market's levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    SmallInteger,
    String,
    Subquery,
    Table,
    and_,
    bindparam,
    select,
    union_all,
)

from socialtrading.domain.market import Market
from socialtrading.engine.book import BUY, MARKET, SELL
from socialtrading.engine.records import (
    ACCEPTED,
    ACCEPTED_ID,
    ACCEPTED_ORDER_TYPE,
    ACCEPTED_PRICE,
    ACCEPTED_QTY,
    ACCEPTED_SIDE,
    ACCEPTED_STOP_PRICE,
    AMENDED,
    AMENDED_ID,
    AMENDED_NEW_OPEN,
    AMENDED_NEW_PRICE,
    AMENDED_OLD_OPEN,
    AMENDED_OLD_PRICE,
    AMENDED_PRIORITY_KEPT,
    CANCELLED,
    CANCELLED_QTY,
    EXPIRED,
    KIND,
    ORDER_ID,
    RESTED,
    RESTED_ID,
    RESTED_OPEN,
    RESTED_PRICE,
    SEQ,
    TRADE,
    TRADE_MAKER,
    TRADE_QTY,
    TRADE_TAKER,
    TRIGGERED,
    TRIGGERED_ID,
)
from socialtrading.infra.bus import Bus
from socialtrading.projections.base import Item, Projection, metadata
from socialtrading.projections.market_specs import MarketDirectory, market_table, spec_by_symbol
from socialtrading.projections.rows import LevelRow
from socialtrading.projections.sql import Bulk, bulk_insert, bulk_upsert
from socialtrading.projections.types import BigIntText

book_markets = market_table("book_markets")

book_levels = Table(
    "book_levels",
    metadata,
    Column("market", String(32), primary_key=True),
    Column("side", String(4), primary_key=True),
    Column("price", BigInteger, primary_key=True),  # ticks
    Column("quantity", BigIntText, nullable=False),  # lots (a sum: may pass 2**63)
    Column("orders", Integer, nullable=False),
    sqlite_with_rowid=False,
)

book_orders = Table(
    "book_orders",
    metadata,
    Column("market", String(32), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),  # of its `accepted`
    Column("id", String(32), nullable=False),
    Column("side", String(4), nullable=False),
    Column("price", BigInteger),
    Column("open", BigInteger, nullable=False),
    Column("state", SmallInteger, nullable=False),  # _RESTING or _STOP
    sqlite_with_rowid=False,
)

# Where an order the projection tracks is.
_FLIGHT = 0  # accepted or triggered, not resting yet (only within one market event)
_RESTING = 1
_STOP = 2
_GONE = 3  # left the book this batch

_KEPT = frozenset({_RESTING, _STOP})
_ENDS = frozenset({CANCELLED, EXPIRED})

# A tracked order: [market, seq, side, price, open, state, stored (has a row)].
_MARKET, _SEQ, _SIDE, _PRICE, _OPEN, _STATE, _STORED = range(7)

_key = and_(book_orders.c.market == bindparam("k_market"), book_orders.c.seq == bindparam("k_seq"))
_insert_order = bulk_insert(book_orders)
_update_order = Bulk(
    book_orders.update()
    .where(_key)
    .values(price=bindparam("price"), open=bindparam("open"), state=bindparam("state")),
    ["price", "open", "state", "k_market", "k_seq"],
)
_delete_order = Bulk(book_orders.delete().where(_key), ["k_market", "k_seq"])
_delete_level = Bulk(
    book_levels.delete().where(
        and_(
            book_levels.c.market == bindparam("k_market"),
            book_levels.c.side == bindparam("k_side"),
            book_levels.c.price == bindparam("k_price"),
        )
    ),
    ["k_market", "k_side", "k_price"],
)
_upsert_level = bulk_upsert(book_levels, ["market", "side", "price"])


class BookProjection(Projection):
    """Price levels from the records of the market events."""

    name: ClassVar[str] = "book"
    tables: ClassVar[tuple[Table, ...]] = (book_markets, book_levels, book_orders)

    def __init__(self, bus: Bus | None = None) -> None:
        self.bus = bus
        self.markets = MarketDirectory(book_markets)
        self._orders: dict[str, list[Any]] | None = None  # order id -> tracked order
        self._levels: dict[tuple[str, str, int], list[int]] = {}  # -> [quantity, orders]
        self._changed_markets: set[str] = set()
        # the batch's changes, until `flush`
        self._dirty: dict[str, list[Any]] = {}  # orders whose row may change
        self._touched: set[tuple[str, str, int]] = set()  # levels that changed

    def reset(self) -> None:
        self.markets.reset()
        self._orders = None
        self._levels = {}
        self._changed_markets = set()
        self._dirty, self._touched = {}, set()

    def _load(self, connection: Connection) -> dict[str, list[Any]]:
        if self._orders is None:
            self._levels = {
                (row.market, row.side, row.price): [row.quantity, row.orders]
                for row in connection.execute(select(book_levels))
            }
            self._orders = {
                row.id: [row.market, row.seq, row.side, row.price, row.open, row.state, True]
                for row in connection.execute(select(book_orders))
            }
        return self._orders

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        tracked = self._load(connection)
        levels = self._levels
        directory = self.markets.load(connection)
        dirty = self._dirty
        touched = self._touched

        def take(order_id: str, qty: int) -> None:
            """Take `qty` off a tracked order (a fill, cancel or expiry) and off its level."""
            order = tracked.get(order_id)
            if order is None:
                return
            left = order[_OPEN] - qty
            order[_OPEN] = left
            if order[_STATE] == _RESTING:
                key = (order[_MARKET], order[_SIDE], order[_PRICE])
                level = levels[key]
                level[0] -= qty
                touched.add(key)
                if not left:
                    level[1] -= 1
            dirty[order_id] = order
            if not left:
                order[_STATE] = _GONE
                del tracked[order_id]

        order: list[Any] | None
        book_changed = Market.BookChanged
        last_market = None  # the market of the previous event, and its symbol
        symbol = ""
        for _, event in items:
            if not isinstance(event, book_changed):
                if isinstance(event, Market.Listed):
                    self.markets.listed(connection, event)
                continue
            market = event.originator_id
            if market is not last_market:  # ids are shared per batch (see infra/decoding.py)
                symbol = directory[market].symbol
                last_market = market
            entering: Sequence[Any] | None = None  # the `accepted` record of a new order
            for record in event.records:
                kind = record[KIND]
                if kind == ACCEPTED:
                    if record[ACCEPTED_STOP_PRICE] is None:
                        # it rests (if at all) within this event, after its trades
                        entering = record
                    else:  # a stop order: it may rest much later, so remember its side
                        order = [
                            symbol,
                            record[SEQ],
                            record[ACCEPTED_SIDE],
                            # None for a market order: it never rests (a market buy's price
                            # is its protection price; `rested`, it is queued for an auction)
                            None
                            if record[ACCEPTED_ORDER_TYPE] == MARKET
                            else record[ACCEPTED_PRICE],
                            record[ACCEPTED_QTY],
                            _STOP,
                            False,
                        ]
                        tracked[record[ACCEPTED_ID]] = dirty[record[ACCEPTED_ID]] = order
                elif kind == TRADE:
                    qty = record[TRADE_QTY]
                    for order_id in (record[TRADE_TAKER], record[TRADE_MAKER]):
                        # None: a taker not resting yet, or an auction market order
                        take(order_id, qty)
                elif kind == RESTED:
                    order_id = record[RESTED_ID]
                    price = record[RESTED_PRICE]
                    order = tracked.get(order_id)
                    if order is None:
                        assert entering is not None and entering[ACCEPTED_ID] == order_id, record
                        if price is None or entering[ACCEPTED_ORDER_TYPE] == MARKET:
                            continue  # a market order queued for the auction: not in levels
                        order = [
                            symbol,
                            entering[SEQ],
                            entering[ACCEPTED_SIDE],
                            price,
                            0,
                            _FLIGHT,
                            False,
                        ]
                        tracked[order_id] = order
                    if price is None or order[_PRICE] is None:
                        # a triggered stop market order queued for the auction
                        order[_STATE] = _GONE
                        del tracked[order_id]
                    else:
                        order[_PRICE] = price
                        order[_OPEN] = record[RESTED_OPEN]
                        order[_STATE] = _RESTING
                        key = (symbol, order[_SIDE], price)
                        joined = levels.get(key)
                        if joined is None:
                            levels[key] = [record[RESTED_OPEN], 1]
                        else:
                            joined[0] += record[RESTED_OPEN]
                            joined[1] += 1
                        touched.add(key)
                    dirty[order_id] = order
                elif kind in _ENDS:
                    take(record[ORDER_ID], record[CANCELLED_QTY])  # EXPIRED_QTY is the same field
                elif kind == AMENDED:
                    order_id = record[AMENDED_ID]
                    order = tracked[order_id]
                    old_key = (symbol, order[_SIDE], record[AMENDED_OLD_PRICE])
                    level = levels[old_key]
                    touched.add(old_key)
                    if record[AMENDED_PRIORITY_KEPT]:  # same price, smaller or equal
                        level[0] -= record[AMENDED_OLD_OPEN] - record[AMENDED_NEW_OPEN]
                        order[_OPEN] = record[AMENDED_NEW_OPEN]
                    else:
                        level[0] -= record[AMENDED_OLD_OPEN]
                        level[1] -= 1
                        order[_PRICE] = record[AMENDED_NEW_PRICE]
                        order[_OPEN] = record[AMENDED_NEW_OPEN]
                        new_key = (symbol, order[_SIDE], record[AMENDED_NEW_PRICE])
                        joined = levels.get(new_key)
                        if joined is None:
                            levels[new_key] = [record[AMENDED_NEW_OPEN], 1]
                        else:
                            joined[0] += record[AMENDED_NEW_OPEN]
                            joined[1] += 1
                        touched.add(new_key)
                    dirty[order_id] = order
                elif kind == TRIGGERED:
                    order_id = record[TRIGGERED_ID]
                    order = tracked[order_id]
                    order[_STATE] = _FLIGHT
                    dirty[order_id] = order

    def flush(self, connection: Connection) -> None:
        dirty, touched = self._dirty, self._touched
        self._dirty, self._touched = {}, set()
        self._write(connection, dirty, touched)
        self._changed_markets.update(key[0] for key in touched)

    def _write(
        self,
        connection: Connection,
        dirty: dict[str, list[Any]],
        touched: set[tuple[str, str, int]],
    ) -> None:
        levels = self._levels
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        deletes: list[tuple[Any, ...]] = []
        for order_id, order in dirty.items():
            state = order[_STATE]
            keep = state in _KEPT
            if order[_STORED]:
                if keep:
                    updates.append(
                        (order[_PRICE], order[_OPEN], state, order[_MARKET], order[_SEQ])
                    )
                else:
                    deletes.append((order[_MARKET], order[_SEQ]))
                    order[_STORED] = False
            elif keep:
                inserts.append(
                    (
                        order[_MARKET],
                        order[_SEQ],
                        order_id,
                        order[_SIDE],
                        order[_PRICE],
                        order[_OPEN],
                        state,
                    )
                )
                order[_STORED] = True
        _delete_order.run(connection, deletes)
        _update_order.run(connection, updates)
        _insert_order.run(connection, inserts)
        upserts: list[tuple[Any, ...]] = []
        gone: list[tuple[str, str, int]] = []
        for key in touched:
            quantity, count = levels[key]
            if count == 0:
                del levels[key]
                gone.append(key)
            else:
                upserts.append((*key, quantity, count))
        _delete_level.run(connection, gone)
        _upsert_level.run(connection, upserts)

    def after_commit(self) -> None:
        changed, self._changed_markets = self._changed_markets, set()
        bus = self.bus
        if bus is not None:
            for symbol in sorted(changed):
                bus.publish(f"book:{symbol}", symbol)


# ---------------------------------------------------------------------- queries


def _best(side: str) -> Subquery:
    """One side's best `levels` levels, best first (the primary key gives them in order)."""
    price = book_levels.c.price
    return (
        select(book_levels.c.side, price, book_levels.c.quantity, book_levels.c.orders)
        .where(book_levels.c.market == bindparam("market"), book_levels.c.side == side)
        .order_by(price.desc() if side == BUY else price.asc())
        .limit(bindparam("levels"))
        .subquery()
    )


# Both sides in one statement, built once (SQLAlchemy caches its compiled form).
_depth = union_all(select(_best(BUY)), select(_best(SELL)))


def depth(
    connection: Connection, market: str, levels: int
) -> tuple[list[LevelRow], list[LevelRow]]:
    """The best `levels` price levels of a market: (bids best first, asks best first)."""
    spec = spec_by_symbol(connection, book_markets, market)
    if spec is None or levels <= 0:
        return [], []
    bids: list[tuple[int, int, int]] = []
    asks: list[tuple[int, int, int]] = []
    for side, price, quantity, count in connection.execute(
        _depth, {"market": market, "levels": levels}
    ):
        (bids if side == BUY else asks).append((price, quantity, count))
    bids.sort(reverse=True)  # a union keeps no order: best first again
    asks.sort()
    return (
        [
            LevelRow(spec.price(price), spec.quantity(quantity), count)
            for price, quantity, count in bids
        ],
        [
            LevelRow(spec.price(price), spec.quantity(quantity), count)
            for price, quantity, count in asks
        ],
    )
