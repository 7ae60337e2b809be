"""Copy trading's GraphQL types: `Copy`, its activity, a leader's `CopySettings`, and the
copy-trading fields of `Account`.

Who may read what: a leader's copy settings are public (its terms for copiers). A copy is
readable by its copier, its leader and staff: the copier lists its `copies`, the leader its
live `copiers`, and `copy(id)` answers either.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from socialtrading.domain.copy.risk import GATE_AT, LIFT_BELOW, WINDOW
from socialtrading.graphql.context import Info
from socialtrading.graphql.errors import ApiError
from socialtrading.graphql.pagination import Connection, int_cursor, page_size, paginate
from socialtrading.graphql.permissions import IsOwnerOrStaff, requires
from socialtrading.graphql.stats.types import day_start
from socialtrading.graphql.trading.types import Position, Side
from socialtrading.projections.copy import copies
from socialtrading.projections.copy.rows import CopyActivityRow, CopyRow, CopySettingsRow

if TYPE_CHECKING:
    from socialtrading.graphql.accounts.types import Account, Balance

AccountType = Annotated["Account", strawberry.lazy("socialtrading.graphql.accounts.types")]
BalanceType = Annotated["Balance", strawberry.lazy("socialtrading.graphql.accounts.types")]

ACTIVITY_CURSOR = "copyActivity"
COPY_CURSOR = "copy"
# The most copies `Account.copies` lists (newest first).
MAX_COPIES_LISTED = 200
_BPS_PER_PERCENT = Decimal(100)


@strawberry.enum(description="ACTIVE copies fills; PAUSED keeps its positions; the rest ended")
class CopyStatus(Enum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"
    STOPPED_BY_LOSS = "STOPPED_BY_LOSS"


@strawberry.enum(
    description=(
        "How a leader's buy is sized: PROPORTIONAL (the same share of the copy's equity as "
        "of the leader's), FIXED_RATIO (ratio x the leader's quantity), FIXED_AMOUNT (a "
        "fixed notional per buy); a sell sells the share of the position the leader sold"
    )
)
class CopySizing(Enum):
    PROPORTIONAL = "PROPORTIONAL"
    FIXED_RATIO = "FIXED_RATIO"
    FIXED_AMOUNT = "FIXED_AMOUNT"


@strawberry.enum(description="What a copy recorded")
class CopyActivityKind(Enum):
    STARTED = "STARTED"
    FUNDS_ADDED = "FUNDS_ADDED"
    FUNDS_WITHDRAWN = "FUNDS_WITHDRAWN"
    SIZING_CHANGED = "SIZING_CHANGED"
    PAUSED = "PAUSED"
    RESUMED = "RESUMED"
    STOPPED = "STOPPED"
    STOPPED_BY_LOSS = "STOPPED_BY_LOSS"
    ORDER_PLACED = "ORDER_PLACED"
    FILLED = "FILLED"
    SKIPPED = "SKIPPED"
    PROFIT_SHARE_SETTLED = "PROFIT_SHARE_SETTLED"


assert {kind.value for kind in CopyActivityKind} == set(copies.KINDS)


def percent(bps: int) -> Decimal:
    """Basis points as a percent (1250 -> 12.5)."""
    value = Decimal(bps) / _BPS_PER_PERCENT
    return value.normalize() if value != value.to_integral_value() else value.quantize(1)


@strawberry.type(description="A leader's terms for copiers, and whether it takes new ones")
class CopySettings:
    accept_copiers: bool
    profit_share_percent: Decimal = strawberry.field(
        description="Of each copy's gain above its high-water mark, paid at each settlement"
    )
    min_copy_amount: Decimal = strawberry.field(description="The least a copy starts with")
    max_copiers: int = strawberry.field(description="The most live copies")
    updated_at: datetime
    copyable: bool = strawberry.field(
        description=(
            "Whether a new copy may start now: the leader accepts copiers, is not full, and "
            "its risk gate is open"
        )
    )
    risk_gated: bool = strawberry.field(
        description=(
            f"The risk gate is closed: the leader's risk score reached {GATE_AT} and has not "
            f"fallen below {LIFT_BELOW} since; it takes no new copiers (copies running go on)"
        )
    )
    risk_score: int | None = strawberry.field(
        description=(
            f"The leader's last recorded risk score (1-10, the {WINDOW} statistics' as of a "
            "closed UTC day); null: never scored"
        )
    )
    risk_score_as_of: datetime | None = strawberry.field(
        description="The day (00:00 UTC) the risk score was recorded as of"
    )

    @classmethod
    def from_row(cls, row: CopySettingsRow) -> CopySettings:
        """The GraphQL view of a read-model row."""
        return cls(
            accept_copiers=row.accept_copiers,
            profit_share_percent=percent(row.profit_share_bps),
            min_copy_amount=row.min_copy_amount,
            max_copiers=row.max_copiers,
            updated_at=row.updated_at,
            copyable=row.copyable,
            risk_gated=row.risk_gated,
            risk_score=row.risk_score,
            risk_score_as_of=(
                None if row.risk_score_as_of is None else day_start(row.risk_score_as_of)
            ),
        )


@strawberry.type(
    description=(
        "One decision of a copy: started, funds added or withdrawn, an order placed, a fill "
        "allocated (every copy of one block gets the block's average price), a fill skipped "
        "and why, paused, resumed, a profit share settled, stopped"
    )
)
class CopyActivity:
    id: strawberry.ID = strawberry.field(description="Its position in the log")
    kind: CopyActivityKind
    at: datetime
    market: str | None
    side: Side | None
    quantity: Decimal | None = strawberry.field(
        description="ORDER_PLACED and FILLED: the copy's quantity; SKIPPED: what was not copied"
    )
    price: Decimal | None = strawberry.field(
        description="FILLED: the block's average price; ORDER_PLACED: the limit (null: market)"
    )
    fee: Decimal | None = strawberry.field(description="FILLED: the copy's share of the fee")
    amount: Decimal | None = strawberry.field(
        description=(
            "STARTED, FUNDS_*: the amount moved; FILLED: the cost before the fee; "
            "PROFIT_SHARE_SETTLED: what was paid to the leader; SIZING_CHANGED: the ratio or "
            "fixed amount"
        )
    )
    reason: str | None = strawberry.field(
        description=(
            "SKIPPED: below_min_size, insufficient_funds, slippage, halted, paused or "
            "max_notional; PAUSED, STOPPED*: why; SIZING_CHANGED: the new sizing"
        )
    )
    leader_trade_id: str | None = strawberry.field(
        description="The leader's fill copied (`MARKET:SEQ`); `close:MARKET` when stopping"
    )
    block_id: str | None = strawberry.field(description="The block order the copy was part of")
    copy_id: strawberry.ID

    @classmethod
    def from_row(cls, row: CopyActivityRow) -> CopyActivity:
        """The GraphQL view of a read-model row."""
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=CopyActivityKind(row.kind),
            at=row.at,
            market=row.market,
            side=None if row.side is None else Side(row.side),
            quantity=row.quantity,
            price=row.price,
            fee=row.fee,
            amount=row.amount,
            reason=row.reason,
            leader_trade_id=row.leader_trade_id,
            block_id=row.block_id,
            copy_id=strawberry.ID(row.copy_id),
        )


async def _account(info: Info, account_id: str) -> Account:
    from socialtrading.graphql.accounts.types import Account

    row = await info.context.loaders.accounts.load(account_id)
    if row is None:
        raise ApiError("UNAVAILABLE", "The account is not readable yet; retry")
    return Account.from_row(row)


@strawberry.type(
    description=(
        "A copier copying a leader with an allocation of its own: its balances and positions "
        "are the allocation's"
    )
)
class Copy:
    row: strawberry.Private[CopyRow]
    id: strawberry.ID
    status: CopyStatus
    quote: str = strawberry.field(description="The asset of its amounts")
    invested: Decimal = strawberry.field(
        description="Net contributions: the start and top-ups less withdrawals"
    )
    sizing: CopySizing
    ratio: Decimal | None = strawberry.field(description="FIXED_RATIO: lots per leader lot")
    fixed_amount: Decimal | None = strawberry.field(description="FIXED_AMOUNT: notional per buy")
    max_order_notional: Decimal | None
    slippage_bps: int
    stop_loss_percent: int | None
    copy_open_positions: bool
    profit_share_percent: Decimal = strawberry.field(
        description="The leader's share, fixed when the copy started"
    )
    high_water_mark: Decimal = strawberry.field(
        description="The profit (equity - invested) above which a profit share is charged"
    )
    profit_share_paid: Decimal
    profit_share_owed: Decimal = strawberry.field(
        description="Charged but not paid yet (the allocation's quote was in positions)"
    )
    pause_reason: str | None
    stop_reason: str | None
    started_at: datetime
    stopped_at: datetime | None

    @strawberry.field(description="The trader copied")
    async def leader(self, info: Info) -> AccountType:
        return await _account(info, self.row.leader)

    @strawberry.field(description="The trader copying")
    async def copier(self, info: Info) -> AccountType:
        return await _account(info, self.row.copier)

    @strawberry.field(
        description=(
            "The allocation marked at the last prices, in the quote asset; once stopped, "
            "what went back to the copier"
        )
    )
    async def equity(self, info: Info) -> Decimal:
        return await info.context.loaders.copying.equity.load(self.row)

    @strawberry.field(description="equity - invested (net of profit share paid)")
    async def pnl(self, info: Info) -> Decimal:
        equity = await info.context.loaders.copying.equity.load(self.row)
        return equity - self.row.invested

    @strawberry.field(description="The allocation's balances (empty once stopped)")
    async def balances(self, info: Info) -> list[BalanceType]:
        from socialtrading.graphql.accounts.types import Balance

        rows = await info.context.loaders.balances.load(self.row.allocation)
        return [Balance.from_row(row) for row in rows if row.available or row.reserved]

    @strawberry.field(
        description="From its allocated fills, marked at the last price (flat ones included)"
    )
    async def positions(self, info: Info) -> list[Position]:
        rows = await info.context.loaders.copying.positions.load(self.row.id)
        return [Position.from_row(row) for row in rows]

    @strawberry.field(description="Everything the copy recorded, newest first")
    async def activity(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[CopyActivity]:
        size = page_size(first, info.context.services.settings.max_page_size)
        cursor = int_cursor(ACTIVITY_CURSOR, after)
        rows = await info.context.services.read(
            copies.activity_of, self.row.id, first=size + 1, after=cursor
        )
        return paginate(rows, size, ACTIVITY_CURSOR, lambda row: row.id, CopyActivity.from_row)

    @classmethod
    def from_row(cls, row: CopyRow) -> Copy:
        """The GraphQL view of a read-model row."""
        return cls(
            row=row,
            id=strawberry.ID(row.id),
            status=CopyStatus(row.status),
            quote=row.quote,
            invested=row.invested,
            sizing=CopySizing(row.sizing),
            ratio=row.ratio,
            fixed_amount=row.fixed_amount,
            max_order_notional=row.max_order_notional,
            slippage_bps=row.slippage_bps,
            stop_loss_percent=row.stop_loss_percent,
            copy_open_positions=row.copy_open_positions,
            profit_share_percent=percent(row.profit_share_bps),
            high_water_mark=row.high_water_mark,
            profit_share_paid=row.profit_share_paid,
            profit_share_owed=row.profit_share_owed,
            pause_reason=row.pause_reason,
            stop_reason=row.stop_reason,
            started_at=row.started_at,
            stopped_at=row.stopped_at,
        )


async def readable_copy(info: Info, copy_id: str) -> Copy | None:
    """The copy with this id if the caller is its copier, its leader or staff."""
    row = await info.context.loaders.copying.copies.load(copy_id)
    if row is None:
        return None
    viewer = await info.context.viewer()
    if viewer is None:
        return None
    if viewer.id in (row.copier, row.leader) or await info.context.is_staff():
        return Copy.from_row(row)
    return None


@strawberry.type
class CopyAccount:
    """The copy-trading fields of `Account` (its base class)."""

    id: strawberry.ID

    @strawberry.field(description="Its terms for copiers; null: it takes no copiers")
    async def copy_settings(self, info: Info) -> CopySettings | None:
        row = await info.context.loaders.copying.settings.load(str(self.id))
        return None if row is None else CopySettings.from_row(row)

    @strawberry.field(
        extensions=requires(IsOwnerOrStaff),
        description=f"Private; its copies of leaders, newest first (at most {MAX_COPIES_LISTED})",
    )
    async def copies(self, info: Info, include_stopped: bool = False) -> list[Copy]:
        rows = await info.context.services.read(
            copies.copies_of, str(self.id), limit=MAX_COPIES_LISTED, live_only=not include_stopped
        )
        return [Copy.from_row(row) for row in rows]

    @strawberry.field(
        extensions=requires(IsOwnerOrStaff),
        description="Private; the live copies of this leader, newest first",
    )
    async def copiers(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Copy]:
        size = page_size(first, info.context.services.settings.max_page_size)
        cursor = int_cursor(COPY_CURSOR, after)
        rows = await info.context.services.read(
            copies.copiers_of, str(self.id), first=size + 1, after=cursor
        )
        return paginate(rows, size, COPY_CURSOR, lambda row: row.cursor, Copy.from_row)
