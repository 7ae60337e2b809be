"""The copies read model: every copy with its terms and bookkeeping, every decision a copy
recorded (its activity), and leaders' copy settings.

From the `Copy` events (`domain/copy/copy.py`), `Account.CopySettingsChanged` and
`Account.RiskScoreRecorded` (a leader's risk gate, on its settings row). A copy's
money is its allocation account's: its balances and positions are those of the accounts and
positions read models under the allocation's id, and its equity (`equity_of`) marks them
at the last trade prices of the markets quoted in the copy's asset (the listing's reference
price before any trade; an asset without such a market is not counted), as the writer marks
them for sizing and profit share. A stopped copy's allocation is empty: its equity is what
went back to the copier (the stop's settlement equity less the share paid).

Amounts are stored as exact decimal text (averages carry up to 28 significant digits, more
places than PostgreSQL's NUMERIC(38, 18) columns of the other read models keep).

Publishes `copies:{copier}` with the batch's `CopyActivityRow`s of that copier after each
commit (the `myCopies` subscription).
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar, Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    String,
    Table,
    bindparam,
    func,
    select,
    update,
)

from socialtrading.domain import money
from socialtrading.domain.account import Account
from socialtrading.domain.copy.copy import ACTIVE, PAUSED, STOPPED_BY_LOSS, Copy
from socialtrading.domain.time import to_datetime, to_micros
from socialtrading.engine.book import BUY
from socialtrading.infra.bus import Bus
from socialtrading.projections.accounts import balances
from socialtrading.projections.base import Item, Projection, metadata
from socialtrading.projections.copy.rows import CopyActivityRow, CopyRow, CopySettingsRow
from socialtrading.projections.markets import markets
from socialtrading.projections.rows import PositionRow, clean
from socialtrading.projections.sql import bulk_insert, rows_in, upsert

# activity kinds
STARTED: Final = "STARTED"
FUNDS_ADDED: Final = "FUNDS_ADDED"
FUNDS_WITHDRAWN: Final = "FUNDS_WITHDRAWN"
SIZING_CHANGED: Final = "SIZING_CHANGED"
PAUSED_KIND: Final = "PAUSED"
RESUMED: Final = "RESUMED"
STOPPED_KIND: Final = "STOPPED"
STOPPED_BY_LOSS_KIND: Final = "STOPPED_BY_LOSS"
ORDER_PLACED: Final = "ORDER_PLACED"
FILLED: Final = "FILLED"
SKIPPED: Final = "SKIPPED"
PROFIT_SHARE_SETTLED: Final = "PROFIT_SHARE_SETTLED"
KINDS: Final = (
    STARTED,
    FUNDS_ADDED,
    FUNDS_WITHDRAWN,
    SIZING_CHANGED,
    PAUSED_KIND,
    RESUMED,
    STOPPED_KIND,
    STOPPED_BY_LOSS_KIND,
    ORDER_PLACED,
    FILLED,
    SKIPPED,
    PROFIT_SHARE_SETTLED,
)

# Activity rows of one event, at most (OrderExecuted: placed, filled, skipped).
ROWS_PER_EVENT: Final = 4
_AMOUNT = 80  # characters of an exact decimal's text

copies = Table(
    "copies",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("leader", String(36), nullable=False),
    Column("copier", String(36), nullable=False),
    Column("allocation", String(36), nullable=False),
    Column("quote", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("pause_reason", String(256)),
    Column("stop_reason", String(256)),
    Column("invested", String(_AMOUNT), nullable=False),
    Column("sizing", String(16), nullable=False),
    Column("ratio", String(_AMOUNT)),
    Column("fixed_amount", String(_AMOUNT)),
    Column("max_order_notional", String(_AMOUNT)),
    Column("slippage_bps", Integer, nullable=False),
    Column("stop_loss_percent", Integer),
    Column("copy_open_positions", Boolean, nullable=False),
    Column("profit_share_bps", Integer, nullable=False),
    Column("high_water_mark", String(_AMOUNT), nullable=False),
    Column("profit_share_paid", String(_AMOUNT), nullable=False),
    Column("profit_share_owed", String(_AMOUNT), nullable=False),
    Column("settled_equity", String(_AMOUNT)),  # the last settlement's equity less its payment
    Column("final_equity", String(_AMOUNT)),
    Column("live", Boolean, nullable=False),
    Column("started_at", BigInteger, nullable=False),  # microseconds since the epoch, UTC
    Column("stopped_at", BigInteger),
    Column("cursor", BigInteger, nullable=False),  # notification id of Started
    Index("ix_copies_copier", "copier", "cursor"),
    Index("ix_copies_leader", "leader", "live", "cursor"),
)

copy_activity = Table(
    "copy_activity",
    metadata,
    # the event's notification id x ROWS_PER_EVENT + the row's place among its event's
    Column("id", BigInteger, primary_key=True),
    Column("event_id", BigInteger, nullable=False),  # the event's notification id
    Column("copy_id", String(36), nullable=False),
    Column("copier", String(36), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("at", BigInteger, nullable=False),  # microseconds since the epoch, UTC
    Column("market", String(32)),
    Column("side", String(4)),
    Column("quantity", String(_AMOUNT)),
    Column("price", String(_AMOUNT)),
    Column("fee", String(_AMOUNT)),
    Column("amount", String(_AMOUNT)),
    Column("reason", String(256)),
    Column("leader_trade_id", String(128)),
    Column("block_id", String(256)),
    Index("ix_copy_activity_copy", "copy_id", "id"),
)

# A copy's positions, from its allocated fills (a block's fills are the block account's
# trades, moved to the allocations by transfers, so the positions read model, which follows
# trades, cannot show them): the quantity, its cost basis, realized PnL and fees, in the
# quote asset, by the rule of `projections/positions.py` (a sell releases the basis of the
# lots it closes, pro rata; copies never go short).
copy_positions = Table(
    "copy_positions",
    metadata,
    Column("copy_id", String(36), primary_key=True),
    Column("market", String(32), primary_key=True),
    Column("quantity", String(_AMOUNT), nullable=False),
    Column("cost", String(_AMOUNT), nullable=False),
    Column("realized_pnl", String(_AMOUNT), nullable=False),
    Column("fees_paid", String(_AMOUNT), nullable=False),
)

copy_settings = Table(
    "copy_settings",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("accept_copiers", Boolean, nullable=False),
    Column("profit_share_bps", Integer, nullable=False),
    Column("min_copy_amount", String(_AMOUNT), nullable=False),
    Column("max_copiers", Integer, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # the risk gate (`Account.RiskScoreRecorded`): the last recorded score (null: never
    # scored), the UTC day it is as of (days since the epoch), whether the gate is closed
    Column("risk_score", Integer),
    Column("risk_score_as_of", Integer),
    Column("risk_gated", Boolean, nullable=False, default=False),
)
# A leader's risk gate, set on its settings row (the writer records a score for leaders
# only, after their settings: the row exists).
_set_risk = (
    update(copy_settings)
    .where(copy_settings.c.account_id == bindparam("leader"))
    .values(
        risk_score=bindparam("score"),
        risk_score_as_of=bindparam("day"),
        risk_gated=bindparam("gated"),
    )
)

_COPY_EVENTS = frozenset(
    {
        Copy.Started,
        Copy.FundsAdded,
        Copy.FundsWithdrawn,
        Copy.SizingChanged,
        Copy.Paused,
        Copy.Resumed,
        Copy.Stopped,
        Copy.OrderPlaced,
        Copy.AllocationFilled,
        Copy.Skipped,
        Copy.OrderExecuted,
        Copy.ProfitShareSettled,
    }
)
_ACTIVITY_COLUMNS = tuple(column.name for column in copy_activity.columns)
_insert_activity = bulk_insert(copy_activity)
ZERO = Decimal(0)
_UNIT = Decimal("1e-18")  # a released basis is rounded down to this (the rest stays open)
_CACHE_COPIES = 100_000  # copies held in memory between batches, at most


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _number(value: str | None) -> Decimal | None:
    return None if value is None else clean(Decimal(value))


class CopiesProjection(Projection):
    """Copies, their activity and leaders' settings from the copy events."""

    name: ClassVar[str] = "copies"
    tables: ClassVar[tuple[Table, ...]] = (copies, copy_activity, copy_positions, copy_settings)

    def __init__(self, bus: Bus | None = None) -> None:
        self.bus = bus
        self._copies: dict[str, dict[str, Any]] = {}  # copy id -> its row, as held
        self._changed: set[str] = set()
        self._activity: list[tuple[Any, ...]] = []
        self._settings: dict[str, dict[str, Any]] = {}
        self._risk: dict[str, dict[str, Any]] = {}  # leader -> its gate's parameters
        # (copy id, market) -> [quantity, cost, realized, fees], for copies whose rows are read
        self._positions: dict[tuple[str, str], list[Decimal]] = {}
        self._positions_read: set[str] = set()
        self._positions_changed: set[tuple[str, str]] = set()
        self._published: dict[str, list[CopyActivityRow]] = {}  # copier -> its new activity
        self._committing: dict[str, list[CopyActivityRow]] = {}

    def reset(self) -> None:
        self._copies = {}
        self._changed = set()
        self._activity = []
        self._settings = {}
        self._risk = {}
        self._positions = {}
        self._positions_read = set()
        self._positions_changed = set()
        self._published = {}
        self._committing = {}

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        if len(self._copies) > _CACHE_COPIES and not self._changed:
            self._copies = {}
        if len(self._positions_read) > _CACHE_COPIES and not self._positions_changed:
            self._positions, self._positions_read = {}, set()
        filled = {
            str(event.originator_id)
            for _, event in items
            if type(event) is Copy.AllocationFilled
            or (type(event) is Copy.OrderExecuted and event.filled)
        }
        self._read_positions(connection, filled - self._positions_read)
        wanted = {
            str(event.originator_id)
            for _, event in items
            if type(event) in _COPY_EVENTS and type(event) is not Copy.Started
        }
        self._read(connection, wanted - self._copies.keys())
        for position, event in items:
            if type(event) in _COPY_EVENTS:
                self._copy_event(position, event)
            elif type(event) is Account.CopySettingsChanged:
                account = str(event.originator_id)
                self._settings[account] = {
                    "account_id": account,
                    "accept_copiers": bool(event.accept_copiers),
                    "profit_share_bps": int(event.profit_share_bps),
                    "min_copy_amount": str(event.min_copy_amount),
                    "max_copiers": int(event.max_copiers),
                    "updated_at": to_micros(event.timestamp),
                }
            elif type(event) is Account.RiskScoreRecorded:
                leader = str(event.originator_id)
                self._risk[leader] = {
                    "leader": leader,
                    "score": int(event.score),
                    "day": int(event.as_of_day),
                    "gated": bool(event.gated),
                }

    def flush(self, connection: Connection) -> None:
        changed, self._changed = self._changed, set()
        if changed:
            held = self._copies
            upsert(connection, copies, [held[copy_id] for copy_id in sorted(changed)], ["id"])
        activity, self._activity = self._activity, []
        _insert_activity.run(connection, activity)
        moved, self._positions_changed = self._positions_changed, set()
        if moved:
            held_positions = self._positions
            rows = []
            for copy_id, market in sorted(moved):
                quantity, cost, realized, fees = held_positions[(copy_id, market)]
                rows.append(
                    {
                        "copy_id": copy_id,
                        "market": market,
                        "quantity": str(quantity),
                        "cost": str(cost),
                        "realized_pnl": str(realized),
                        "fees_paid": str(fees),
                    }
                )
            upsert(connection, copy_positions, rows, ["copy_id", "market"])
        settings, self._settings = self._settings, {}
        if settings:
            upsert(connection, copy_settings, list(settings.values()), ["account_id"])
        risk, self._risk = self._risk, {}
        if risk:
            connection.execute(_set_risk, [risk[leader] for leader in sorted(risk)])
        self._committing, self._published = self._published, {}

    def after_commit(self) -> None:
        published, self._committing = self._committing, {}
        bus = self.bus
        if bus is None:
            return
        for copier, rows in published.items():
            topic = f"copies:{copier}"
            if bus.subscriber_count(topic):
                bus.publish(topic, rows)

    # ------------------------------------------------------------------ applying

    def _read(self, connection: Connection, wanted: set[str]) -> None:
        held = self._copies
        for row in rows_in(connection, select(copies), copies.c.id, wanted):
            held[row.id] = dict(row._mapping)

    def _read_positions(self, connection: Connection, wanted: set[str]) -> None:
        held = self._positions
        for row in rows_in(connection, select(copy_positions), copy_positions.c.copy_id, wanted):
            held[(row.copy_id, row.market)] = [
                Decimal(row.quantity),
                Decimal(row.cost),
                Decimal(row.realized_pnl),
                Decimal(row.fees_paid),
            ]
        self._positions_read |= wanted

    def _fill(
        self, copy_id: str, market: str, side: str, quantity: Any, cost: Any, fee: Any
    ) -> None:
        """Move the copy's position in `market` by a fill (see `copy_positions`)."""
        key = (copy_id, market)
        position = self._positions.get(key)
        if position is None:
            position = self._positions[key] = [ZERO, ZERO, ZERO, ZERO]
        self._positions_changed.add(key)
        quantity = Decimal(quantity)
        cost = Decimal(cost)
        with money.exact():
            position[3] += Decimal(fee)
            if side == BUY:
                position[0] += quantity
                position[1] += cost
                return
            held = position[0]
            closed = min(quantity, held)
            if closed <= 0:
                return
            released, proceeds = position[1], cost
            if closed != held or closed != quantity:
                with decimal.localcontext() as context:
                    context.prec = 40
                    context.rounding = decimal.ROUND_FLOOR
                    if closed != held:
                        released = (position[1] * closed / held).quantize(_UNIT)
                    if closed != quantity:  # (a sell beyond the position: never, as copies go)
                        proceeds = (cost * closed / quantity).quantize(_UNIT)
            position[2] += proceeds - released
            position[0] = held - closed
            position[1] -= released

    def _copy_event(self, position: int, event: Any) -> None:
        copy_id = str(event.originator_id)
        at = to_micros(event.timestamp)
        kind = type(event)
        if kind is Copy.Started:
            row = self._started(copy_id, position, at, event)
            self._add(position, row, STARTED, at, amount=event.amount)
            return
        row = self._copies[copy_id]
        self._changed.add(copy_id)
        if kind is Copy.OrderExecuted:
            self._order_rows(
                position,
                row,
                at,
                event,
                placed=(event.quantity, event.limit_price),
                filled=(event.filled, event.price, event.cost, event.fee) if event.filled else None,
                skipped=(event.unfilled, event.reason) if event.unfilled else None,
            )
        elif kind is Copy.OrderPlaced:  # (older logs: the three events of an order)
            self._order_rows(position, row, at, event, placed=(event.quantity, event.limit_price))
        elif kind is Copy.AllocationFilled:
            filled = (event.quantity, event.price, event.cost, event.fee)
            self._order_rows(position, row, at, event, filled=filled)
        elif kind is Copy.Skipped:
            self._order_rows(position, row, at, event, skipped=(event.quantity, event.reason))
        elif kind is Copy.FundsAdded or kind is Copy.FundsWithdrawn:
            amount = Decimal(event.amount)
            with money.exact():
                invested = Decimal(row["invested"])
                invested = invested + amount if kind is Copy.FundsAdded else invested - amount
            row["invested"] = str(invested)
            added = kind is Copy.FundsAdded
            self._add(position, row, FUNDS_ADDED if added else FUNDS_WITHDRAWN, at, amount=amount)
        elif kind is Copy.SizingChanged:
            row["sizing"] = event.sizing
            row["ratio"] = _text(event.ratio)
            row["fixed_amount"] = _text(event.fixed_amount)
            self._add(
                position,
                row,
                SIZING_CHANGED,
                at,
                reason=event.sizing,
                amount=event.ratio if event.ratio is not None else event.fixed_amount,
            )
        elif kind is Copy.Paused:
            row["status"] = PAUSED
            row["pause_reason"] = event.reason[:256]
            self._add(position, row, PAUSED_KIND, at, reason=event.reason)
        elif kind is Copy.Resumed:
            row["status"] = ACTIVE
            row["pause_reason"] = None
            self._add(position, row, RESUMED, at)
        elif kind is Copy.ProfitShareSettled:
            with money.exact():
                paid = Decimal(row["profit_share_paid"]) + Decimal(event.paid)
                settled = Decimal(event.equity) - Decimal(event.paid)
            row["high_water_mark"] = str(event.high_water_mark_after)
            row["profit_share_paid"] = str(paid)
            row["profit_share_owed"] = str(event.owed)
            row["settled_equity"] = str(settled)
            self._add(
                position,
                row,
                PROFIT_SHARE_SETTLED,
                at,
                amount=event.paid,
                reason=f"gain {event.gain}, share {event.share}, owed {event.owed}",
            )
        elif kind is Copy.Stopped:
            row["status"] = event.status
            row["stop_reason"] = event.reason[:256]
            row["pause_reason"] = None
            row["live"] = False
            row["stopped_at"] = at
            row["final_equity"] = row["settled_equity"]
            by_loss = event.status == STOPPED_BY_LOSS
            kind_name = STOPPED_BY_LOSS_KIND if by_loss else STOPPED_KIND
            self._add(position, row, kind_name, at, reason=event.reason)

    def _order_rows(
        self,
        position: int,
        row: dict[str, Any],
        at: int,
        event: Any,
        *,
        placed: tuple[Any, Any] | None = None,
        filled: tuple[Any, Any, Any, Any] | None = None,
        skipped: tuple[Any, Any] | None = None,
    ) -> None:
        """A copy order's activity rows, those given: placed (quantity, limit price), filled
        (quantity, average price, cost, fee: the copy's position moves too), the rest skipped
        (quantity, reason). `OrderExecuted` holds all three; older logs, an event each."""
        common = {
            "market": event.market,
            "side": event.side,
            "leader_trade_id": event.leader_trade_id,
        }
        if placed is not None:
            quantity, limit = placed
            self._add(
                position,
                row,
                ORDER_PLACED,
                at,
                quantity=quantity,
                price=limit,
                block_id=event.block_id,
                **common,
            )
        if filled is not None:
            quantity, price, cost, fee = filled
            self._fill(row["id"], event.market, event.side, quantity, cost, fee)
            self._add(
                position,
                row,
                FILLED,
                at,
                quantity=quantity,
                price=price,
                fee=fee,
                amount=cost,
                block_id=event.block_id,
                **common,
            )
        if skipped is not None:
            quantity, reason = skipped
            self._add(position, row, SKIPPED, at, quantity=quantity, reason=reason, **common)

    def _started(self, copy_id: str, position: int, at: int, event: Any) -> dict[str, Any]:
        row = {
            "id": copy_id,
            "leader": event.leader,
            "copier": event.copier,
            "allocation": event.allocation,
            "quote": event.quote,
            "status": ACTIVE,
            "pause_reason": None,
            "stop_reason": None,
            "invested": str(event.amount),
            "sizing": event.sizing,
            "ratio": _text(event.ratio),
            "fixed_amount": _text(event.fixed_amount),
            "max_order_notional": _text(event.max_order_notional),
            "slippage_bps": int(event.slippage_bps),
            "stop_loss_percent": event.stop_loss_percent,
            "copy_open_positions": bool(event.copy_open_positions),
            "profit_share_bps": int(event.profit_share_bps),
            "high_water_mark": "0",
            "profit_share_paid": "0",
            "profit_share_owed": "0",
            "settled_equity": None,
            "final_equity": None,
            "live": True,
            "started_at": at,
            "stopped_at": None,
            "cursor": position,
        }
        self._copies[copy_id] = row
        self._changed.add(copy_id)
        return row

    def _add(
        self,
        position: int,
        copy: dict[str, Any],
        kind: str,
        at: int,
        *,
        market: str | None = None,
        side: str | None = None,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        fee: Decimal | None = None,
        amount: Decimal | None = None,
        reason: str | None = None,
        leader_trade_id: str | None = None,
        block_id: str | None = None,
    ) -> None:
        reason = None if reason is None else reason[:256]
        row_id = position * ROWS_PER_EVENT
        activity = self._activity
        if activity and activity[-1][1] == position:  # another row of the same event
            row_id = activity[-1][0] + 1
        activity.append(
            (
                row_id,
                position,
                copy["id"],
                copy["copier"],
                kind,
                at,
                market,
                side,
                _text(quantity),
                _text(price),
                _text(fee),
                _text(amount),
                reason,
                leader_trade_id,
                block_id,
            )
        )
        if self.bus is not None:
            self._published.setdefault(copy["copier"], []).append(
                _activity_row(dict(zip(_ACTIVITY_COLUMNS, self._activity[-1], strict=True)))
            )


# ---------------------------------------------------------------------- queries


def _copy_row(row: Any) -> CopyRow:
    return CopyRow(
        id=row.id,
        leader=row.leader,
        copier=row.copier,
        allocation=row.allocation,
        quote=row.quote,
        status=row.status,
        pause_reason=row.pause_reason,
        stop_reason=row.stop_reason,
        invested=clean(Decimal(row.invested)),
        sizing=row.sizing,
        ratio=_number(row.ratio),
        fixed_amount=_number(row.fixed_amount),
        max_order_notional=_number(row.max_order_notional),
        slippage_bps=row.slippage_bps,
        stop_loss_percent=row.stop_loss_percent,
        copy_open_positions=row.copy_open_positions,
        profit_share_bps=row.profit_share_bps,
        high_water_mark=clean(Decimal(row.high_water_mark)),
        profit_share_paid=clean(Decimal(row.profit_share_paid)),
        profit_share_owed=clean(Decimal(row.profit_share_owed)),
        final_equity=_number(row.final_equity),
        started_at=to_datetime(row.started_at),
        stopped_at=None if row.stopped_at is None else to_datetime(row.stopped_at),
        cursor=row.cursor,
    )


def _activity_row(row: Mapping[Any, Any]) -> CopyActivityRow:
    return CopyActivityRow(
        id=row["id"],
        copy_id=row["copy_id"],
        copier=row["copier"],
        kind=row["kind"],
        at=to_datetime(row["at"]),
        market=row["market"],
        side=row["side"],
        quantity=_number(row["quantity"]),
        price=_number(row["price"]),
        fee=_number(row["fee"]),
        amount=_number(row["amount"]),
        reason=row["reason"],
        leader_trade_id=row["leader_trade_id"],
        block_id=row["block_id"],
    )


def copies_by_ids(connection: Connection, ids: Sequence[str]) -> dict[str, CopyRow]:
    """The copies with these ids (unknown ids are left out)."""
    return {row.id: _copy_row(row) for row in rows_in(connection, select(copies), copies.c.id, ids)}


def copies_of(connection: Connection, copier: str, *, limit: int, live_only: bool) -> list[CopyRow]:
    """A copier's copies, newest first (the live ones only, if `live_only`)."""
    statement = select(copies).where(copies.c.copier == copier)
    if live_only:
        statement = statement.where(copies.c.live.is_(True))
    statement = statement.order_by(copies.c.cursor.desc()).limit(limit)
    return [_copy_row(row) for row in connection.execute(statement)]


def copiers_of(
    connection: Connection, leader: str, *, first: int, after: int | None = None
) -> list[CopyRow]:
    """A leader's live copies, newest first, those started before `after` (a cursor)."""
    statement = select(copies).where(copies.c.leader == leader, copies.c.live.is_(True))
    if after is not None:
        statement = statement.where(copies.c.cursor < after)
    statement = statement.order_by(copies.c.cursor.desc()).limit(first)
    return [_copy_row(row) for row in connection.execute(statement)]


def activity_of(
    connection: Connection, copy_id: str, *, first: int, after: int | None = None
) -> list[CopyActivityRow]:
    """A copy's activity, newest first, the items older than `after` (an activity id)."""
    statement = select(copy_activity).where(copy_activity.c.copy_id == copy_id)
    if after is not None:
        statement = statement.where(copy_activity.c.id < after)
    statement = statement.order_by(copy_activity.c.id.desc()).limit(first)
    return [_activity_row(row._mapping) for row in connection.execute(statement)]


def settings_of(connection: Connection, account_ids: Sequence[str]) -> dict[str, CopySettingsRow]:
    """The copy settings of these accounts, with their risk gates and live copies (those
    that never set any are left out)."""
    found: dict[str, CopySettingsRow] = {}
    rows = list(rows_in(connection, select(copy_settings), copy_settings.c.account_id, account_ids))
    if not rows:
        return found
    counted = (
        select(copies.c.leader, func.count().label("live"))
        .where(copies.c.live.is_(True))
        .group_by(copies.c.leader)
    )
    live = {
        row.leader: int(row.live)
        for row in rows_in(connection, counted, copies.c.leader, [r.account_id for r in rows])
    }
    for row in rows:
        found[row.account_id] = CopySettingsRow(
            account_id=row.account_id,
            accept_copiers=row.accept_copiers,
            profit_share_bps=row.profit_share_bps,
            min_copy_amount=clean(Decimal(row.min_copy_amount)),
            max_copiers=row.max_copiers,
            updated_at=to_datetime(row.updated_at),
            risk_score=row.risk_score,
            risk_score_as_of=row.risk_score_as_of,
            risk_gated=bool(row.risk_gated),
            live_copiers=live.get(row.account_id, 0),
        )
    return found


def leaders(connection: Connection) -> list[str]:
    """Every account with copy settings (a leader, accepting copiers or not), by id."""
    statement = select(copy_settings.c.account_id).order_by(copy_settings.c.account_id)
    return list(connection.execute(statement).scalars())


def _marks(connection: Connection, symbols: set[str]) -> dict[str, Decimal]:
    """The last trade price of these markets (those that traded)."""
    statement = select(markets.c.symbol, markets.c.tick_size, markets.c.last_price)
    return {
        row.symbol: clean(Decimal(row.tick_size) * row.last_price)
        for row in rows_in(connection, statement, markets.c.symbol, symbols)
        if row.last_price is not None
    }


def positions_of(connection: Connection, copy_ids: Sequence[str]) -> dict[str, list[PositionRow]]:
    """Each copy's positions by market (`account_id`: the copy id), marked at the last price."""
    found: dict[str, list[PositionRow]] = {copy_id: [] for copy_id in copy_ids}
    statement = select(copy_positions).order_by(copy_positions.c.copy_id, copy_positions.c.market)
    rows = list(rows_in(connection, statement, copy_positions.c.copy_id, copy_ids))
    marks = _marks(connection, {row.market for row in rows})
    for row in rows:
        quantity, cost = Decimal(row.quantity), Decimal(row.cost)
        mark = marks.get(row.market)
        with money.exact():
            unrealized = None if mark is None else clean(quantity * mark - cost)
        average = None
        if quantity:
            with decimal.localcontext() as context:
                context.prec = 28
                average = clean(cost / quantity)
        found[row.copy_id].append(
            PositionRow(
                account_id=row.copy_id,
                market=row.market,
                quantity=clean(quantity),
                average_entry_price=average,
                realized_pnl=clean(Decimal(row.realized_pnl)),
                fees_paid=clean(Decimal(row.fees_paid)),
                mark_price=mark,
                unrealized_pnl=unrealized,
            )
        )
    return found


def equity_of(connection: Connection, rows: Sequence[CopyRow]) -> dict[str, Decimal]:
    """Each copy's equity in its quote asset (see the module docstring), by copy id."""
    found: dict[str, Decimal] = {}
    live = [row for row in rows if row.status in (ACTIVE, PAUSED)]
    for row in rows:
        if row.status not in (ACTIVE, PAUSED):
            found[row.id] = ZERO if row.final_equity is None else row.final_equity
    if not live:
        return found
    quotes = {row.quote for row in live}
    prices: dict[str, dict[str, Decimal]] = {quote: {quote: Decimal(1)} for quote in quotes}
    statement = select(
        markets.c.base,
        markets.c.quote,
        markets.c.tick_size,
        markets.c.last_price,
        markets.c.reference_price,
    )
    for market in rows_in(connection, statement, markets.c.quote, quotes):
        if market.last_price is not None:
            prices[market.quote][market.base] = Decimal(market.tick_size) * market.last_price
        elif market.reference_price is not None:
            prices[market.quote][market.base] = Decimal(market.reference_price)
    held: dict[str, dict[str, Decimal]] = {row.allocation: {} for row in live}
    for balance in rows_in(connection, select(balances), balances.c.account_id, list(held)):
        held[balance.account_id][balance.asset] = balance.available + balance.reserved
    for row in live:
        marks = prices[row.quote]
        total = ZERO
        with money.exact():
            for asset, amount in held[row.allocation].items():
                price = marks.get(asset)
                if price is not None:
                    total += amount * price
        found[row.id] = clean(total)
    return found
