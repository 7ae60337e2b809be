"""The Copy aggregate: one copier copying one leader, with an allocation account of its own.

A copy's money lives in its allocation (an `Account` with the role `copy`, see `ids.py`); the
copy holds the terms (sizing, guards, the profit share frozen from the leader's settings at
the start), its status and its bookkeeping (net contributions, high-water mark, profit share
paid and owed, the streak of skipped fills), and records every decision as an event the
copier can read: each copy order with what came of it (`OrderExecuted`: placed, filled,
the rest skipped, in one event, as the fan-out stores one per copy), each fill skipped
before any order (with its reason), each pause, stop and profit-share settlement.

Statuses: ACTIVE copies fills; PAUSED keeps its positions and copies nothing; STOPPED and
STOPPED_BY_LOSS are final (the allocation went back to the copier).

Every event carries the command id and the actor (`by`) of the command that stored it, so
the command index can be derived from the log.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final, NamedTuple
from uuid import UUID

from eventsourcing.domain import Aggregate

from socialtrading.domain.copy.rules import Settlement
from socialtrading.domain.errors import Refused
from socialtrading.domain.events import trigger
from socialtrading.domain.time import to_datetime, to_micros

ACTIVE: Final = "ACTIVE"
PAUSED: Final = "PAUSED"
STOPPED: Final = "STOPPED"
STOPPED_BY_LOSS: Final = "STOPPED_BY_LOSS"

# skip reasons
BELOW_MIN_SIZE: Final = "below_min_size"
INSUFFICIENT_FUNDS: Final = "insufficient_funds"
SLIPPAGE: Final = "slippage"
HALTED: Final = "halted"
SKIP_PAUSED: Final = "paused"
MAX_NOTIONAL: Final = "max_notional"

# After this many fills skipped in a row, a copy pauses itself.
MAX_SKIP_STREAK: Final = 20
DEFAULT_SLIPPAGE_BPS: Final = 50

ZERO = Decimal(0)


class Execution(NamedTuple):
    """What came of a copy order: `filled` at the average `price` (None when nothing filled)
    for `cost` and `fee`; `reason`, why the rest (if any) was not filled."""

    filled: Decimal
    price: Decimal | None
    cost: Decimal
    fee: Decimal
    reason: str


class Copy(Aggregate):
    """One copy relationship (see the module docstring)."""

    class Started(Aggregate.Created):
        leader: str
        copier: str
        allocation: str
        quote: str
        amount: Decimal
        sizing: str
        ratio: Decimal | None
        fixed_amount: Decimal | None
        max_order_notional: Decimal | None
        slippage_bps: int
        stop_loss_percent: int | None
        copy_open_positions: bool
        profit_share_bps: int
        # symbol -> the book's last record number when the copy started: only later trades
        # of the leader are copied
        from_seq: dict[str, int]
        by: str
        command_id: str

    class FundsAdded(Aggregate.Event):
        amount: Decimal
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Copy)
            aggregate.invested += self.amount

    class FundsWithdrawn(Aggregate.Event):
        amount: Decimal
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Copy)
            aggregate.invested -= self.amount

    class SizingChanged(Aggregate.Event):
        sizing: str
        ratio: Decimal | None
        fixed_amount: Decimal | None
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Copy)
            aggregate.sizing = self.sizing
            aggregate.ratio = self.ratio
            aggregate.fixed_amount = self.fixed_amount

    class Paused(Aggregate.Event):
        reason: str
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Copy)
            aggregate.status = PAUSED
            aggregate.pause_reason = self.reason

    class Resumed(Aggregate.Event):
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Copy)
            aggregate.status = ACTIVE
            aggregate.pause_reason = None
            aggregate.skip_streak = 0

    class Stopped(Aggregate.Event):
        status: str
        reason: str
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Copy)
            aggregate.status = self.status
            aggregate.stopped_at = to_micros(self.timestamp)

    # OrderPlaced and AllocationFilled: what logs written before OrderExecuted hold for a
    # copy order (with a partial Skipped for an unfilled rest); read, no longer stored.
    class OrderPlaced(Aggregate.Event):
        leader_trade_id: str
        market: str
        side: str
        quantity: Decimal
        limit_price: Decimal | None  # None: a market order (closing positions)
        block_id: str
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            pass  # the allocation's ledger holds the money; this is the copier's record

    class AllocationFilled(Aggregate.Event):
        leader_trade_id: str
        market: str
        side: str
        quantity: Decimal
        price: Decimal  # the block's average price (every copy of the block gets it)
        cost: Decimal  # price x quantity as charged or credited to this copy, before fees
        fee: Decimal
        block_id: str
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Copy)
            aggregate.skip_streak = 0

    class Skipped(Aggregate.Event):
        leader_trade_id: str
        market: str
        side: str
        reason: str
        quantity: Decimal | None  # what was not copied, when known
        partial: bool  # part of the order was filled (does not count in the skip streak)
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Copy)
            if not self.partial and self.reason != SKIP_PAUSED:
                aggregate.skip_streak += 1

    class OrderExecuted(Aggregate.Event):
        """A copy order and what came of it, in one event (the fan-out stores one per copy
        of a block): the copy's part of a block order (or a closing order of its own) for
        `quantity` at `limit_price`, `filled` of it at the block's average `price` for
        `cost` and `fee`, and the `unfilled` rest not copied for `reason`. Logs written
        before it hold OrderPlaced, AllocationFilled and Skipped(partial) instead."""

        leader_trade_id: str
        market: str
        side: str
        quantity: Decimal
        limit_price: Decimal | None  # None: a market order (closing positions)
        block_id: str
        filled: Decimal
        price: Decimal | None  # the block's average price (every copy of the block gets it)
        cost: Decimal  # price x filled as charged or credited to this copy, before fees
        fee: Decimal
        unfilled: Decimal
        reason: str | None  # why the unfilled rest was not copied
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Copy)
            if self.filled:
                aggregate.skip_streak = 0
            elif self.reason != SKIP_PAUSED:
                aggregate.skip_streak += 1  # nothing copied: a skip as Skipped counts it

    class ProfitShareSettled(Aggregate.Event):
        equity: Decimal
        invested: Decimal
        gain: Decimal
        high_water_mark_before: Decimal
        share: Decimal
        high_water_mark_after: Decimal
        paid: Decimal
        owed: Decimal
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Copy)
            aggregate.high_water_mark = self.high_water_mark_after
            aggregate.profit_share_paid += self.paid
            aggregate.owed = self.owed
            aggregate.settled_at = to_micros(self.timestamp)

    pause_reason: str | None = None
    stopped_at: int | None = None

    def __init__(
        self,
        leader: str,
        copier: str,
        allocation: str,
        quote: str,
        amount: Decimal,
        sizing: str,
        ratio: Decimal | None,
        fixed_amount: Decimal | None,
        max_order_notional: Decimal | None,
        slippage_bps: int,
        stop_loss_percent: int | None,
        copy_open_positions: bool,
        profit_share_bps: int,
        from_seq: dict[str, int],
        by: str,
        command_id: str,
    ) -> None:
        self.leader = leader
        self.copier = copier
        self.allocation = allocation
        self.quote = quote
        self.sizing = sizing
        self.ratio = ratio
        self.fixed_amount = fixed_amount
        self.max_order_notional = max_order_notional
        self.slippage_bps = slippage_bps
        self.stop_loss_percent = stop_loss_percent
        self.copy_open_positions = copy_open_positions
        self.profit_share_bps = profit_share_bps
        self.from_seq = dict(from_seq)
        self.status = ACTIVE
        self.invested = amount
        self.high_water_mark = ZERO
        self.profit_share_paid = ZERO
        self.owed = ZERO
        self.skip_streak = 0
        self.started_at = to_micros(self.created_on)
        self.settled_at = self.started_at

    @classmethod
    def start(cls, copy: UUID, ts: int, **fields: Any) -> Copy:
        """Start a copy (the handler checked the rules and moves the money)."""
        return cls._create(cls.Started, id=copy, timestamp=to_datetime(ts), **fields)

    # ------------------------------------------------------------------ queries

    @property
    def live(self) -> bool:
        """Whether the copy is ACTIVE or PAUSED (not stopped)."""
        return self.status in (ACTIVE, PAUSED)

    def copies_trade(self, symbol: str, seq: int) -> bool:
        """Whether a leader trade (`symbol`, record `seq`) happened after the copy started."""
        return seq > self.from_seq.get(symbol, 0)

    # ------------------------------------------------------------------ decisions

    def _check_live(self) -> None:
        if not self.live:
            raise Refused("copy_stopped", "this copy has stopped")

    def add_funds(self, amount: Decimal, by: str, command_id: str, ts: int) -> None:
        """Record a top-up (the handler moves the money)."""
        self._check_live()
        self._event(self.FundsAdded, ts, amount=amount, by=by, command_id=command_id)

    def withdraw_funds(self, amount: Decimal, by: str, command_id: str, ts: int) -> None:
        """Record a withdrawal from the allocation (the handler moves the money)."""
        self._check_live()
        self._event(self.FundsWithdrawn, ts, amount=amount, by=by, command_id=command_id)

    def change_sizing(
        self,
        sizing: str,
        ratio: Decimal | None,
        fixed_amount: Decimal | None,
        by: str,
        command_id: str,
        ts: int,
    ) -> bool:
        """Change how fills are sized; False, storing nothing, when unchanged."""
        self._check_live()
        if (sizing, ratio, fixed_amount) == (self.sizing, self.ratio, self.fixed_amount):
            return False
        self._event(
            self.SizingChanged,
            ts,
            sizing=sizing,
            ratio=ratio,
            fixed_amount=fixed_amount,
            by=by,
            command_id=command_id,
        )
        return True

    def pause(self, reason: str, by: str, command_id: str, ts: int) -> bool:
        """Pause; False, storing nothing, when paused already."""
        self._check_live()
        if self.status == PAUSED:
            return False
        self._event(self.Paused, ts, reason=reason, by=by, command_id=command_id)
        return True

    def resume(self, by: str, command_id: str, ts: int) -> bool:
        """Resume a paused copy; False, storing nothing, when active already."""
        self._check_live()
        if self.status == ACTIVE:
            return False
        self._event(self.Resumed, ts, by=by, command_id=command_id)
        return True

    def stop(self, status: str, reason: str, by: str, command_id: str, ts: int) -> None:
        """Stop for good (the handler closed positions, settled and returned the money)."""
        self._check_live()
        self._event(self.Stopped, ts, status=status, reason=reason, by=by, command_id=command_id)

    def executed(
        self,
        trade_id: str,
        market: str,
        side: str,
        quantity: Decimal,
        limit_price: Decimal | None,
        block: str,
        fill: Execution,
        by: str,
        command_id: str,
        ts: int,
    ) -> None:
        """Record a copy order of `quantity` and what came of it (`fill`); pause the copy
        when nothing filled and that makes MAX_SKIP_STREAK skips in a row."""
        self._fast(
            self.OrderExecuted,
            ts,
            {
                "leader_trade_id": trade_id,
                "market": market,
                "side": side,
                "quantity": quantity,
                "limit_price": limit_price,
                "block_id": block,
                "filled": fill.filled,
                "price": fill.price,
                "cost": fill.cost,
                "fee": fill.fee,
                "unfilled": quantity - fill.filled,
                "reason": fill.reason if fill.filled < quantity else None,
                "by": by,
                "command_id": command_id,
            },
        )
        self._pause_after_skips(fill.reason, by, command_id, ts)

    def skipped(
        self,
        trade_id: str,
        market: str,
        side: str,
        reason: str,
        quantity: Decimal | None,
        by: str,
        command_id: str,
        ts: int,
        *,
        partial: bool = False,
    ) -> None:
        """Record a fill not copied (or the part of one not copied, `partial`), and pause the
        copy when that makes MAX_SKIP_STREAK in a row."""
        self._fast(
            self.Skipped,
            ts,
            {
                "leader_trade_id": trade_id,
                "market": market,
                "side": side,
                "reason": reason,
                "quantity": quantity,
                "partial": partial,
                "by": by,
                "command_id": command_id,
            },
        )
        self._pause_after_skips(reason, by, command_id, ts)

    def _pause_after_skips(self, reason: str, by: str, command_id: str, ts: int) -> None:
        if self.skip_streak >= MAX_SKIP_STREAK and self.status == ACTIVE:
            self.pause(f"skipped {self.skip_streak} fills in a row: {reason}", by, command_id, ts)

    def settled(self, figures: Settlement, by: str, command_id: str, ts: int) -> None:
        """Record a profit-share settlement (the handler moves what was paid)."""
        self._event(
            self.ProfitShareSettled,
            ts,
            equity=figures.equity,
            invested=figures.invested,
            gain=figures.gain,
            high_water_mark_before=figures.high_water_mark_before,
            share=figures.share,
            high_water_mark_after=figures.high_water_mark_after,
            paid=figures.paid,
            owed=figures.owed,
            by=by,
            command_id=command_id,
        )

    def _event(self, event: type[Aggregate.Event], ts: int, **fields: Any) -> None:
        self.trigger_event(event, timestamp=to_datetime(ts), **fields)

    def _fast(self, event: type[Aggregate.Event], ts: int, fields: dict[str, Any]) -> None:
        """Trigger an event of the fan-out (thousands per leader fill) the light way."""
        fields["timestamp"] = to_datetime(ts)
        trigger(self, event, fields)
