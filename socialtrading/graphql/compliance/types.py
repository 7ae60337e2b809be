"""The compliance GraphQL types: alerts, their evidence (resolved into orders, trades, posts,
comments, accounts and logged events) and their case history.

Every way to an `Alert` (the `alerts` and `alert` queries, the case mutations, the `alerts`
subscription) is open to compliance analysts and admins only; the fields below need no
guard of their own. Evidence shows what the analyst must see: hidden posts and comments too,
and, at its log position, the event itself, which still holds what a read model dropped (a
post its author deleted).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from socialtrading.domain.compliance.alert import (
    ACCOUNT,
    COMMENT,
    ORDER,
    POST,
    TRADE,
)
from socialtrading.graphql.compliance.loaders import LoggedEventRow
from socialtrading.graphql.context import Info
from socialtrading.graphql.markets.types import Trade
from socialtrading.graphql.social.types import Comment, Post
from socialtrading.graphql.trading.types import Order
from socialtrading.projections.surveillance.alerts import AlertRow, CaseEventRow, EvidenceRow

if TYPE_CHECKING:
    from socialtrading.graphql.accounts.types import Account

AccountType = Annotated["Account", strawberry.lazy("socialtrading.graphql.accounts.types")]

ALERT_CURSOR = "alert"


@strawberry.enum(description="What a surveillance detector found")
class AlertKind(Enum):
    WASH_TRADING = "wash_trading"
    SPOOFING = "spoofing"
    ORDER_TO_TRADE = "order_to_trade"
    MARKING_THE_CLOSE = "marking_the_close"
    PUMP_AND_DUMP = "pump_and_dump"
    AGAINST_OWN_RECOMMENDATION = "against_own_recommendation"
    FRONT_RUNNING_COPIERS = "front_running_copiers"


@strawberry.enum(
    description=(
        "Where a case stands: OPEN, ACKNOWLEDGED (taken by an analyst), ESCALATED (with "
        "senior review); DISMISSED (no abuse) and CLOSED (with a finding) are final"
    )
)
class AlertStatus(Enum):
    OPEN = "OPEN"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    ESCALATED = "ESCALATED"
    DISMISSED = "DISMISSED"
    CLOSED = "CLOSED"


@strawberry.enum(description="What a piece of evidence names")
class EvidenceKind(Enum):
    ORDER = "order"
    TRADE = "trade"
    POST = "post"
    COMMENT = "comment"
    EVENT = "event"
    ACCOUNT = "account"


@strawberry.enum(description="A step of a case")
class CaseAction(Enum):
    RAISED = "RAISED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    ESCALATED = "ESCALATED"
    DISMISSED = "DISMISSED"
    CLOSED = "CLOSED"
    NOTE_ADDED = "NOTE_ADDED"


async def _account(info: Info, account_id: str | None) -> Account | None:
    from socialtrading.graphql.accounts.types import Account

    if account_id is None:
        return None
    row = await info.context.loaders.accounts.load(account_id)
    return None if row is None else Account.from_row(row)


@strawberry.type(description="A stored event of the log, as it was recorded")
class LoggedEvent:
    position: int = strawberry.field(description="Its position in the log")
    type: str = strawberry.field(description="Its class, e.g. `Post.Published`")
    aggregate_id: strawberry.ID
    version: int = strawberry.field(description="Its version within its aggregate")
    at: datetime = strawberry.field(description="The sequencer time it was recorded at")
    data: str = strawberry.field(
        description="Its fields as JSON (amounts as decimal text), at most 16,000 characters"
    )
    truncated: bool = strawberry.field(description="Whether `data` was cut")

    @classmethod
    def from_row(cls, row: LoggedEventRow) -> LoggedEvent:
        """The GraphQL view of a logged event."""
        return cls(
            position=row.position,
            type=row.type,
            aggregate_id=strawberry.ID(row.aggregate_id),
            version=row.version,
            at=row.at,
            data=row.data,
            truncated=row.truncated,
        )


@strawberry.type(
    description=(
        "One piece of an alert's evidence: what it names, resolved (null when the read "
        "models do not hold it: `event` still shows what the log recorded)"
    )
)
class Evidence:
    kind: EvidenceKind
    ref: str = strawberry.field(
        description="An order id, a trade id `MARKET:SEQ`, a post, comment or account id"
    )
    position: int = strawberry.field(description="The log position of the event that shows it")

    @strawberry.field(description="The order (ORDER evidence)")
    async def order(self, info: Info) -> Order | None:
        if self.kind.value != ORDER:
            return None
        row = await info.context.loaders.orders.load(self.ref)
        return None if row is None else Order.from_row(row)

    @strawberry.field(description="The trade (TRADE evidence)")
    async def trade(self, info: Info) -> Trade | None:
        if self.kind.value != TRADE:
            return None
        row = await info.context.loaders.compliance.trades.load(self.ref)
        return None if row is None else Trade.from_row(row)

    @strawberry.field(description="Who bought in the trade (TRADE evidence)")
    async def buyer(self, info: Info) -> AccountType | None:
        return await self._party(info, buyer=True)

    @strawberry.field(description="Who sold in the trade (TRADE evidence)")
    async def seller(self, info: Info) -> AccountType | None:
        return await self._party(info, buyer=False)

    async def _party(self, info: Info, *, buyer: bool) -> Account | None:
        if self.kind.value != TRADE:
            return None
        row = await info.context.loaders.compliance.trades.load(self.ref)
        if row is None:
            return None
        return await _account(info, row.buyer_account if buyer else row.seller_account)

    @strawberry.field(description="The post (POST evidence), hidden ones too")
    async def post(self, info: Info) -> Post | None:
        if self.kind.value != POST:
            return None
        row = await info.context.loaders.compliance.posts.load(self.ref)
        return None if row is None else Post.from_row(row)

    @strawberry.field(description="The comment (COMMENT evidence), hidden ones too")
    async def comment(self, info: Info) -> Comment | None:
        if self.kind.value != COMMENT:
            return None
        row = await info.context.loaders.compliance.comments.load(self.ref)
        return None if row is None else Comment.from_row(row)

    @strawberry.field(description="The account (ACCOUNT evidence)")
    async def account(self, info: Info) -> AccountType | None:
        if self.kind.value != ACCOUNT:
            return None
        return await _account(info, self.ref)

    @strawberry.field(description="The event at `position`, as the log holds it (any evidence)")
    async def event(self, info: Info) -> LoggedEvent | None:
        row = await info.context.loaders.compliance.events.load(self.position)
        return None if row is None else LoggedEvent.from_row(row)

    @classmethod
    def from_row(cls, row: EvidenceRow) -> Evidence:
        """The GraphQL view of a read-model row."""
        return cls(kind=EvidenceKind(row.kind), ref=row.ref, position=row.position)


@strawberry.type(description="A step of a case: who did what, when")
class CaseEvent:
    action: CaseAction
    at: datetime = strawberry.field(description="The sequencer time of the step")
    text: str | None = strawberry.field(
        description="An escalation's or dismissal's reason, the closing finding, or the note"
    )
    command_id: str
    position: int = strawberry.field(description="The step's position in the log")
    actor_id: strawberry.Private[str]

    @strawberry.field(description="The analyst; null for the system (the surveillance process)")
    async def by(self, info: Info) -> AccountType | None:
        return await _account(info, self.actor_id)

    @classmethod
    def from_row(cls, row: CaseEventRow) -> CaseEvent:
        """The GraphQL view of a read-model row."""
        return cls(
            action=CaseAction(row.action),
            at=row.at,
            text=row.text,
            command_id=row.command_id,
            position=row.position,
            actor_id=row.actor,
        )


@strawberry.type(description="A surveillance alert and its case (compliance analysts and admins)")
class Alert:
    id: strawberry.ID
    kind: AlertKind
    key: str = strawberry.field(description="The detector's key: the same finding, one alert")
    status: AlertStatus
    score: int = strawberry.field(description="0 to 100: how strongly the detector suspects")
    summary: str
    market: str | None
    detected_at: datetime = strawberry.field(
        description="When the event that triggered the finding happened (sequencer time)"
    )
    raised_at: datetime
    updated_at: datetime = strawberry.field(description="The last step of its case")
    resolution: str | None = strawberry.field(
        description="The dismissal's reason or the closing finding"
    )
    evidence_count: int
    note_count: int
    account_id: strawberry.Private[str]
    resolved_by_id: strawberry.Private[str | None]
    cursor: strawberry.Private[int]

    @strawberry.field(description="The account the alert is about")
    async def account(self, info: Info) -> AccountType | None:
        return await _account(info, self.account_id)

    @strawberry.field(description="The analyst who dismissed or closed it")
    async def resolved_by(self, info: Info) -> AccountType | None:
        return await _account(info, self.resolved_by_id)

    @strawberry.field(description="Its evidence (at most 50), in the detector's order")
    async def evidence(self, info: Info) -> list[Evidence]:
        rows = await info.context.loaders.compliance.evidence.load(str(self.id))
        return [Evidence.from_row(row) for row in rows]

    @strawberry.field(description="Every step of its case, oldest first (at most 104)")
    async def history(self, info: Info) -> list[CaseEvent]:
        rows = await info.context.loaders.compliance.history.load(str(self.id))
        return [CaseEvent.from_row(row) for row in rows]

    @classmethod
    def from_row(cls, row: AlertRow) -> Alert:
        """The GraphQL view of a read-model row."""
        return cls(
            id=strawberry.ID(row.id),
            kind=AlertKind(row.kind),
            key=row.key,
            status=AlertStatus(row.status),
            score=row.score,
            summary=row.summary,
            market=row.market,
            detected_at=row.detected_at,
            raised_at=row.raised_at,
            updated_at=row.updated_at,
            resolution=row.resolution,
            evidence_count=row.evidence_count,
            note_count=row.note_count,
            account_id=row.account,
            resolved_by_id=row.resolved_by,
            cursor=row.cursor,
        )
