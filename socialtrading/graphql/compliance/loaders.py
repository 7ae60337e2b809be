"""The compliance DataLoaders, made per request with the others (graphql/loaders.py): alerts,
their evidence and history by alert id, and what evidence names: trades by `SYMBOL:SEQ`,
posts and comments whatever their status (hidden ones too: analysts review them), and the
logged event at a log position (read from the event store: it holds what the read models
dropped, such as a deleted post)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import orjson
from strawberry.dataloader import DataLoader

from socialtrading.infra.decoding import EventDecoder
from socialtrading.infra.log_reads import read_at
from socialtrading.infra.store import EventStore
from socialtrading.projections import trades
from socialtrading.projections.rows import TradeRow
from socialtrading.projections.social import queries
from socialtrading.projections.social.rows import CommentRow, PostRow
from socialtrading.projections.surveillance import alerts
from socialtrading.projections.surveillance.alerts import AlertRow, CaseEventRow, EvidenceRow

if TYPE_CHECKING:
    from socialtrading.graphql.loaders import Reader

# The most characters of a logged event's fields shown (a market event of a large copy
# block holds thousands of records).
MAX_EVENT_DATA = 16_000
_NOT_FIELDS = ("originator_id", "originator_version", "timestamp")


@dataclass(frozen=True, slots=True)
class LoggedEventRow:
    """One stored event as an analyst reads it."""

    position: int
    type: str  # the event class's qualified name, e.g. `Post.Published`
    aggregate_id: str
    version: int
    at: datetime
    data: str  # its fields as JSON (cut to MAX_EVENT_DATA characters)
    truncated: bool


@dataclass(eq=False)
class ComplianceLoaders:
    """Alerts, evidence and history by alert id; trades, posts, comments and logged events
    that evidence names."""

    alerts: DataLoader[str, AlertRow | None]
    evidence: DataLoader[str, list[EvidenceRow]]
    history: DataLoader[str, list[CaseEventRow]]
    trades: DataLoader[str, TradeRow | None]
    posts: DataLoader[str, PostRow | None]
    comments: DataLoader[str, CommentRow | None]
    events: DataLoader[int, LoggedEventRow | None]


def logged_events(store: EventStore, positions: Sequence[int]) -> dict[int, LoggedEventRow]:
    """The stored events at these log positions (a few queries: `infra/log_reads.py`)."""
    rows = read_at(store, positions)
    found: dict[int, LoggedEventRow] = {}
    for row, (position, event) in zip(rows, EventDecoder(store.mapper).decode(rows), strict=True):
        fields = {k: v for k, v in vars(event).items() if k not in _NOT_FIELDS}
        # what orjson does not write itself (Decimal amounts) as text
        data = orjson.dumps(fields, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        found[position] = LoggedEventRow(
            position=position,
            type=type(event).__qualname__,
            aggregate_id=str(row.originator_id),
            version=row.originator_version,
            at=event.timestamp,
            data=data[:MAX_EVENT_DATA],
            truncated=len(data) > MAX_EVENT_DATA,
        )
    return found


def make_compliance_loaders(
    read: Reader, store: EventStore | None, *, cache: bool = True
) -> ComplianceLoaders:
    """New compliance loaders over `read` and the event store (`events` finds nothing
    without one)."""

    async def load_alerts(ids: list[str]) -> list[AlertRow | None]:
        found = await read(alerts.alerts_by_ids, ids)
        return [found.get(i) for i in ids]

    async def load_evidence(ids: list[str]) -> list[list[EvidenceRow]]:
        found = await read(alerts.evidence_of, ids)
        return [found.get(i, []) for i in ids]

    async def load_history(ids: list[str]) -> list[list[CaseEventRow]]:
        found = await read(alerts.history_of, ids)
        return [found.get(i, []) for i in ids]

    async def load_trades(ids: list[str]) -> list[TradeRow | None]:
        found = await read(trades.trades_by_ids, ids)
        return [found.get(i) for i in ids]

    async def load_posts(ids: list[str]) -> list[PostRow | None]:
        found = await read(queries.posts_by_ids, ids, every_status=True)
        return [found.get(i) for i in ids]

    async def load_comments(ids: list[str]) -> list[CommentRow | None]:
        found = await read(queries.comments_by_ids, ids, every_status=True)
        return [found.get(i) for i in ids]

    async def load_events(positions: list[int]) -> list[LoggedEventRow | None]:
        if store is None:
            return [None] * len(positions)
        found = await asyncio.to_thread(logged_events, store, positions)
        return [found.get(p) for p in positions]

    return ComplianceLoaders(
        alerts=DataLoader(load_alerts, cache=cache),
        evidence=DataLoader(load_evidence, cache=cache),
        history=DataLoader(load_history, cache=cache),
        trades=DataLoader(load_trades, cache=cache),
        posts=DataLoader(load_posts, cache=cache),
        comments=DataLoader(load_comments, cache=cache),
        events=DataLoader(load_events, cache=cache),
    )
