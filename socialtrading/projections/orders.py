"""The orders read model: one row per order with its status, quantities and reason.

The engine records of each market event move an order between the statuses of
`projections/order_status.py`. `accepted` creates the row (quantity = open = the order's lots,
nothing filled); a `rejected` new order creates it as REJECTED with the reason, its side,
type, price, quantity and time in force from the OrderRejected event's `terms`; a cancel
keeps its record's reason; `amended` sets the new price and open quantity.

`quantity` is filled + open while the order is live (amends and STP decrements change it);
a cancel or expiry leaves it as it was. Prices are stored in ticks, quantities in lots, times
in microseconds; queries convert with the market's spec.

Orders are keyed by (cursor, id): `cursor` is the notification id of the order's first event,
so new rows append at the end of the table. Lookups by id use an index on (block, id), where
`block` is the cursor's 65,536-notification block: inserts only touch the newest block's part
of that index, and a lookup probes each block.

The projection keeps every live order's mutable state in memory (read from the table after a
reset), so a batch needs no reads, and holds a batch's new and changed orders until `flush`:
an order placed and done within one batch is inserted once, in its final state. Publishes
`orders:{account_id}` with the changed OrderRows of that account (oldest first) after each
commit, for accounts with subscribers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    func,
    select,
)

from socialtrading.domain.market import Market
from socialtrading.domain.time import to_datetime
from socialtrading.engine.book import MARKET
from socialtrading.engine.records import (
    ACCEPTED,
    ACCEPTED_ACCOUNT,
    ACCEPTED_ID,
    ACCEPTED_ORDER_TYPE,
    ACCEPTED_POST_ONLY,
    ACCEPTED_PRICE,
    ACCEPTED_QTY,
    ACCEPTED_SIDE,
    ACCEPTED_STOP_PRICE,
    ACCEPTED_TIF,
    AMENDED,
    AMENDED_NEW_OPEN,
    AMENDED_NEW_PRICE,
    AMENDED_PRIORITY_KEPT,
    CANCELLED,
    CANCELLED_ID,
    CANCELLED_REASON,
    CANCELLED_REMAINING,
    EXPIRED,
    KIND,
    ORDER_ID,
    REJECTED,
    REJECTED_ACCOUNT,
    REJECTED_ID,
    REJECTED_OP,
    REJECTED_REASON,
    RESTED,
    RESTED_ID,
    RESTED_OPEN,
    RESTED_PRICE,
    TRADE,
    TRADE_MAKER,
    TRADE_QTY,
    TRADE_TAKER,
    TRIGGERED,
    TS,
)
from socialtrading.infra.bus import Bus
from socialtrading.projections import order_status as statuses
from socialtrading.projections.base import Item, Projection, metadata
from socialtrading.projections.market_specs import MarketDirectory, market_table, specs_by_symbol
from socialtrading.projections.order_status import after_fill, resting
from socialtrading.projections.rows import OrderRow
from socialtrading.projections.sql import Bulk, bulk_insert, chunks

BLOCK_BITS = 16

orders_markets = market_table("orders_markets")

orders = Table(
    "orders",
    metadata,
    Column("cursor", BigInteger, primary_key=True, autoincrement=False),
    Column("id", String(32), primary_key=True),
    Column("block", Integer, nullable=False),
    Column("market", String(32), nullable=False),
    Column("account_id", String(36), nullable=False),
    Column("side", String(4), nullable=False),
    Column("type", String(8), nullable=False),
    Column("price", BigInteger),  # ticks
    Column("quantity", BigInteger, nullable=False),  # lots
    Column("open", BigInteger, nullable=False),
    Column("filled", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("time_in_force", String(4), nullable=False),
    Column("post_only", Boolean, nullable=False),
    Column("stop_price", BigInteger),
    Column("reason", String(40)),
    Column("created_at", BigInteger, nullable=False),  # microseconds since the epoch, UTC
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_orders_block_id", "block", "id"),
    Index("ix_orders_account_cursor", "account_id", "cursor"),
    sqlite_with_rowid=False,
)

# A live order in memory: [cursor, status, price, quantity, open, filled, account, reason,
# updated_at, is a market order]; an order of this batch also has its fixed fields in
# `_Batch.fixed`. A market order `rested` is queued for an auction (its price, if any, is its
# protection price): it stays ACCEPTED.
_CURSOR, _STATUS, _PRICE, _QUANTITY, _OPEN, _FILLED, _ACCOUNT, _REASON, _UPDATED = range(9)
_MARKET = 9

_RARE_KINDS = frozenset({EXPIRED, AMENDED, TRIGGERED})

_insert = bulk_insert(orders)
_update = Bulk(
    orders.update()
    .where(and_(orders.c.cursor == bindparam("k_cursor"), orders.c.id == bindparam("k_id")))
    .values(
        price=bindparam("price"),
        quantity=bindparam("quantity"),
        open=bindparam("open"),
        filled=bindparam("filled"),
        status=bindparam("status"),
        reason=bindparam("reason"),
        updated_at=bindparam("updated_at"),
    ),
    ["price", "quantity", "open", "filled", "status", "reason", "updated_at", "k_cursor", "k_id"],
)


class OrdersProjection(Projection):
    """Orders from the records of the market events."""

    name: ClassVar[str] = "orders"
    tables: ClassVar[tuple[Table, ...]] = (orders_markets, orders)

    def __init__(self, bus: Bus | None = None) -> None:
        self.bus = bus
        self.markets = MarketDirectory(orders_markets)
        self._live: dict[str, list[Any]] | None = None  # order id -> live order
        self._strings: dict[str, str] = {}  # one copy of each account id string
        self._engine: Engine | None = None
        self._published: dict[str, list[str]] = {}  # account -> changed order ids
        # the batch's changes, until `flush`
        self._fixed: dict[str, tuple[Any, ...]] = {}  # new order id -> its fixed columns
        self._new: dict[str, list[Any]] = {}  # new order id -> its state
        self._changed: dict[str, list[Any]] = {}  # existing order id -> its state

    def reset(self) -> None:
        self.markets.reset()
        self._live = None
        self._published = {}
        self._fixed, self._new, self._changed = {}, {}, {}

    def _load(self, connection: Connection) -> dict[str, list[Any]]:
        if self._live is None:
            intern = self._strings.setdefault
            statement = select(
                orders.c.id,
                orders.c.cursor,
                orders.c.status,
                orders.c.price,
                orders.c.quantity,
                orders.c.open,
                orders.c.filled,
                orders.c.account_id,
                orders.c.reason,
                orders.c.updated_at,
                orders.c.type,
            ).where(orders.c.status.in_(statuses.LIVE))
            self._live = {
                row[0]: [
                    row[1],
                    row[2],
                    row[3],
                    row[4],
                    row[5],
                    row[6],
                    intern(row[7], row[7]),
                    row[8],
                    row[9],
                    row[10] == MARKET,
                ]
                for row in connection.execute(statement)
            }
        return self._live

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        self._engine = connection.engine
        live = self._load(connection)
        directory = self.markets.load(connection)
        intern = self._strings.setdefault
        fixed = self._fixed
        new = self._new
        changed = self._changed
        book_changed = Market.BookChanged
        last_market = None  # the market of the previous event, and its symbol
        symbol = ""
        for position, event in items:
            if not isinstance(event, book_changed):
                if isinstance(event, Market.Listed):
                    self.markets.listed(connection, event)
                continue
            market = event.originator_id
            if market is not last_market:  # ids are shared per batch (see infra/decoding.py)
                symbol = directory[market].symbol
                last_market = market
            for record in event.records:
                # the kinds by how often they come
                kind = record[KIND]
                if kind == ACCEPTED:
                    order_id = record[ACCEPTED_ID]
                    ts = record[TS]
                    account = intern(record[ACCEPTED_ACCOUNT], record[ACCEPTED_ACCOUNT])
                    order = [
                        position,
                        statuses.ACCEPTED,
                        record[ACCEPTED_PRICE],
                        record[ACCEPTED_QTY],
                        record[ACCEPTED_QTY],
                        0,
                        account,
                        None,
                        ts,
                        record[ACCEPTED_ORDER_TYPE] == MARKET,
                    ]
                    live[order_id] = new[order_id] = order
                    fixed[order_id] = (
                        symbol,
                        record[ACCEPTED_SIDE],
                        record[ACCEPTED_ORDER_TYPE],
                        record[ACCEPTED_TIF],
                        bool(record[ACCEPTED_POST_ONLY]),
                        record[ACCEPTED_STOP_PRICE],
                        ts,
                    )
                elif kind == RESTED:
                    order_id = record[RESTED_ID]
                    order = live[order_id]
                    order[_UPDATED] = record[TS]
                    if order_id not in new:
                        changed[order_id] = order
                    order[_OPEN] = record[RESTED_OPEN]
                    if record[RESTED_PRICE] is not None and not order[_MARKET]:
                        order[_STATUS] = resting(order[_FILLED])
                elif kind == TRADE:
                    qty = record[TRADE_QTY]
                    for order_id in (record[TRADE_TAKER], record[TRADE_MAKER]):
                        order = live[order_id]
                        left = order[_OPEN] - qty
                        order[_OPEN] = left
                        order[_FILLED] += qty
                        order[_UPDATED] = record[TS]
                        order[_STATUS] = after_fill(order[_STATUS], left)
                        if not left:
                            del live[order_id]
                        if order_id not in new:
                            changed[order_id] = order
                elif kind == CANCELLED:
                    order_id = record[CANCELLED_ID]
                    order = live[order_id]
                    order[_UPDATED] = record[TS]
                    if order_id not in new:
                        changed[order_id] = order
                    remaining = record[CANCELLED_REMAINING]
                    if remaining:
                        order[_OPEN] = remaining
                        order[_QUANTITY] = order[_FILLED] + remaining
                    else:
                        order[_OPEN] = 0
                        order[_STATUS] = statuses.CANCELLED
                        order[_REASON] = record[CANCELLED_REASON]
                        del live[order_id]
                elif kind == REJECTED:
                    order_id = record[REJECTED_ID]
                    if (
                        record[REJECTED_OP] == "new"
                        and order_id is not None
                        and order_id not in live
                    ):
                        account = intern(
                            record[REJECTED_ACCOUNT] or "", record[REJECTED_ACCOUNT] or ""
                        )
                        ts = record[TS]
                        # A refused order's terms travel on its event (older events lack them).
                        terms = getattr(event, "terms", None) or {}
                        order = [
                            position,
                            statuses.REJECTED,
                            terms.get("price"),
                            terms.get("qty", 0),
                            0,
                            0,
                            account,
                            record[REJECTED_REASON],
                            ts,
                        ]
                        new[order_id] = order
                        fixed[order_id] = (
                            symbol,
                            terms.get("side", ""),
                            terms.get("type", ""),
                            terms.get("tif", ""),
                            bool(terms.get("post_only", False)),
                            terms.get("stop_price"),
                            ts,
                        )
                elif kind in _RARE_KINDS:
                    order_id = record[ORDER_ID]
                    order = live[order_id]
                    order[_UPDATED] = record[TS]
                    if order_id not in new:
                        changed[order_id] = order
                    if kind == EXPIRED:
                        order[_OPEN] = 0
                        order[_STATUS] = statuses.EXPIRED
                        del live[order_id]
                    elif kind == AMENDED:
                        order[_PRICE] = record[AMENDED_NEW_PRICE]
                        order[_OPEN] = record[AMENDED_NEW_OPEN]
                        order[_QUANTITY] = order[_FILLED] + record[AMENDED_NEW_OPEN]
                        if not record[AMENDED_PRIORITY_KEPT]:
                            order[_STATUS] = resting(order[_FILLED])
                    # triggered: the stop order enters; the records after it decide its status
                # halted, resumed, auction_started, uncrossed: nothing of an order

    def flush(self, connection: Connection) -> None:
        fixed, new, changed = self._fixed, self._new, self._changed
        self._fixed, self._new, self._changed = {}, {}, {}
        self._write(connection, fixed, new, changed)
        if self.bus is None:
            return
        published = self._published
        for order_id, order in new.items():
            published.setdefault(order[_ACCOUNT], []).append(order_id)
        for order_id, order in changed.items():
            published.setdefault(order[_ACCOUNT], []).append(order_id)

    @staticmethod
    def _write(
        connection: Connection,
        fixed: dict[str, tuple[Any, ...]],
        new: dict[str, list[Any]],
        changed: dict[str, list[Any]],
    ) -> None:
        rows = []
        for order_id, order in new.items():
            market, side, type_, tif, post_only, stop_price, created_at = fixed[order_id]
            cursor = order[_CURSOR]
            rows.append(
                (
                    cursor,
                    order_id,
                    cursor >> BLOCK_BITS,
                    market,
                    order[_ACCOUNT],
                    side,
                    type_,
                    order[_PRICE],
                    order[_QUANTITY],
                    order[_OPEN],
                    order[_FILLED],
                    order[_STATUS],
                    tif,
                    post_only,
                    stop_price,
                    order[_REASON],
                    created_at,
                    order[_UPDATED],
                )
            )
        _insert.run(connection, rows)
        _update.run(
            connection,
            [
                (
                    order[_PRICE],
                    order[_QUANTITY],
                    order[_OPEN],
                    order[_FILLED],
                    order[_STATUS],
                    order[_REASON],
                    order[_UPDATED],
                    order[_CURSOR],
                    order_id,
                )
                for order_id, order in changed.items()
            ],
        )

    def after_commit(self) -> None:
        published, self._published = self._published, {}
        bus = self.bus
        if bus is None or self._engine is None:
            return
        topics = {
            account: f"orders:{account}"
            for account in published
            if bus.subscriber_count(f"orders:{account}")
        }
        if not topics:
            return
        with self._engine.connect() as connection:
            found = orders_by_ids(
                connection, [order_id for account in topics for order_id in published[account]]
            )
        for account, topic in topics.items():
            rows = sorted(
                (found[order_id] for order_id in set(published[account]) if order_id in found),
                key=lambda row: row.cursor,
            )
            if rows:
                bus.publish(topic, rows)


# ---------------------------------------------------------------------- queries


def _order_rows(connection: Connection, rows: Sequence[Any]) -> list[OrderRow]:
    specs = specs_by_symbol(connection, orders_markets, {row.market for row in rows})
    out = []
    for row in rows:
        spec = specs[row.market]
        price = row.price
        stop_price = row.stop_price
        out.append(
            OrderRow(
                id=row.id,
                market=row.market,
                account_id=row.account_id,
                side=row.side,
                type=row.type,
                price=None if price is None else spec.price(price),
                quantity=spec.quantity(row.quantity),
                open_quantity=spec.quantity(row.open),
                filled_quantity=spec.quantity(row.filled),
                status=row.status,
                time_in_force=row.time_in_force,
                post_only=bool(row.post_only),
                stop_price=None if stop_price is None else spec.price(stop_price),
                reason=row.reason,
                created_at=to_datetime(row.created_at),
                updated_at=to_datetime(row.updated_at),
                cursor=row.cursor,
            )
        )
    return out


def orders_by_ids(connection: Connection, ids: Sequence[str]) -> dict[str, OrderRow]:
    """The orders with these ids (unknown ids are left out)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    newest = connection.execute(select(func.max(orders.c.cursor))).scalar()
    if newest is None:
        return {}
    blocks = list(range((int(newest) >> BLOCK_BITS) + 1))
    found: dict[str, OrderRow] = {}
    for part in chunks(wanted, 1000):
        statement = (
            select(orders)
            .where(orders.c.block.in_(blocks), orders.c.id.in_(part))
            .order_by(orders.c.cursor)
        )
        for row in _order_rows(connection, connection.execute(statement).all()):
            found[row.id] = row
    return found


def orders_of(
    connection: Connection,
    account_id: str,
    *,
    first: int,
    after: int | None = None,
    open_only: bool = False,
) -> list[OrderRow]:
    """An account's orders, newest first; `after` (a cursor) pages to older ones."""
    statement = select(orders).where(orders.c.account_id == account_id)
    if after is not None:
        statement = statement.where(orders.c.cursor < after)
    if open_only:
        statement = statement.where(orders.c.status.in_(statuses.LIVE))
    statement = statement.order_by(orders.c.cursor.desc()).limit(max(first, 0))
    return _order_rows(connection, connection.execute(statement).all())
