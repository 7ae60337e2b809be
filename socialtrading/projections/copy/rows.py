"""What the copy read model's queries return (plain immutable rows, Decimal amounts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class CopyRow:
    id: str
    leader: str  # account ids
    copier: str
    allocation: str  # the copy's allocation account
    quote: str  # the asset of its amounts
    status: str  # ACTIVE PAUSED STOPPED STOPPED_BY_LOSS
    pause_reason: str | None
    stop_reason: str | None
    invested: Decimal  # net contributions: start + top-ups - withdrawals
    sizing: str  # PROPORTIONAL FIXED_RATIO FIXED_AMOUNT
    ratio: Decimal | None
    fixed_amount: Decimal | None
    max_order_notional: Decimal | None
    slippage_bps: int
    stop_loss_percent: int | None
    copy_open_positions: bool
    profit_share_bps: int
    high_water_mark: Decimal
    profit_share_paid: Decimal
    profit_share_owed: Decimal
    final_equity: Decimal | None  # what went back to the copier at the stop
    started_at: datetime
    stopped_at: datetime | None
    cursor: int  # notification id of its start: newer copies have larger cursors


@dataclass(frozen=True, slots=True)
class CopyActivityRow:
    id: int  # its event's notification id x 4 + its place among the event's rows: newer is larger
    copy_id: str
    copier: str
    kind: str  # see copies.KINDS
    at: datetime
    market: str | None = None
    side: str | None = None  # buy | sell
    quantity: Decimal | None = None
    price: Decimal | None = None
    fee: Decimal | None = None
    amount: Decimal | None = None  # funds moved, a fill's cost, a profit share paid
    reason: str | None = None
    leader_trade_id: str | None = None
    block_id: str | None = None


@dataclass(frozen=True, slots=True)
class CopySettingsRow:
    account_id: str
    accept_copiers: bool
    profit_share_bps: int
    min_copy_amount: Decimal
    max_copiers: int
    updated_at: datetime
    risk_score: int | None = None  # the last recorded risk score (None: never scored)
    risk_score_as_of: int | None = None  # the UTC day it is as of (days since the epoch)
    risk_gated: bool = False  # the risk gate is closed: no new copiers
    live_copiers: int = 0  # live (active or paused) copies of this leader

    @property
    def copyable(self) -> bool:
        """Whether a new copy may start now: the leader accepts copiers, is not full, and
        its risk gate is open."""
        return self.accept_copiers and self.live_copiers < self.max_copiers and not self.risk_gated
