"""The alerts read model: every surveillance alert with its status, its evidence and its case
history, from the `Alert` events (`domain/compliance/alert.py`).

- `alerts`: one row per alert (kind, the account and market it is about, score, summary,
  status, when it was detected, raised and last changed, the resolution: a dismissal's
  reason or the closing finding, and who resolved it), keyed by id, listed newest first by
  the log position of its raise (`cursor`), filtered by status, kind, account or market.
- `alert_evidence`: the evidence of each alert, in the order the detector gave it.
- `alert_history`: every step of each case (raised, acknowledged, escalated, dismissed,
  closed, note added), keyed by the event's log position, with the actor (the system or the
  analyst), the time, the text and the command id. An alert keeps at most a hundred notes
  (the aggregate refuses more), so its history is short and read whole.

Publishes `alerts` with the batch's raised or changed alerts (`AlertRow`s, as they are after
the batch) after each commit: the `alerts` subscription.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Final

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    Select,
    String,
    Table,
    select,
)

from socialtrading.domain.compliance.alert import (
    ACKNOWLEDGED,
    CLOSED,
    DISMISSED,
    ESCALATED,
    MAX_FINDING,
    MAX_KEY,
    MAX_SUMMARY,
    OPEN,
    Alert,
)
from socialtrading.domain.time import to_datetime, to_micros
from socialtrading.infra.bus import Bus
from socialtrading.projections.base import Item, Projection, metadata
from socialtrading.projections.sql import bulk_insert, rows_in, upsert

TOPIC: Final = "alerts"

# the case history's actions
RAISED: Final = "RAISED"
NOTE_ADDED: Final = "NOTE_ADDED"
ACTIONS: Final = (RAISED, ACKNOWLEDGED, ESCALATED, DISMISSED, CLOSED, NOTE_ADDED)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("key", String(MAX_KEY), nullable=False),
    Column("account", String(36), nullable=False),
    Column("market", String(32)),
    Column("score", Integer, nullable=False),
    Column("summary", String(MAX_SUMMARY), nullable=False),
    Column("status", String(16), nullable=False),
    Column("detected_at", BigInteger, nullable=False),  # microseconds since the epoch, UTC
    Column("raised_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("resolution", String(MAX_FINDING)),  # a dismissal's reason, a closing finding
    Column("resolved_by", String(36)),
    Column("evidence_count", Integer, nullable=False),
    Column("note_count", Integer, nullable=False),
    Column("cursor", BigInteger, nullable=False, unique=True),  # notification id of Raised
    Index("ix_alerts_status", "status", "cursor"),
    Index("ix_alerts_kind", "kind", "cursor"),
    Index("ix_alerts_account", "account", "cursor"),
    Index("ix_alerts_market", "market", "cursor"),
)

alert_evidence = Table(
    "alert_evidence",
    metadata,
    Column("alert_id", String(36), primary_key=True),
    Column("n", Integer, primary_key=True, autoincrement=False),  # the detector's order
    Column("kind", String(16), nullable=False),
    Column("ref", String(100), nullable=False),
    Column("position", BigInteger, nullable=False),
)

alert_history = Table(
    "alert_history",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),  # the notification id
    Column("alert_id", String(36), nullable=False),
    Column("action", String(16), nullable=False),
    Column("actor", String(36), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("text", String(MAX_FINDING)),
    Column("command_id", String(100), nullable=False),
    Index("ix_alert_history_alert", "alert_id", "id"),
)

_insert_evidence = bulk_insert(alert_evidence)
_insert_history = bulk_insert(alert_history)


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: str
    kind: str
    key: str
    account: str
    market: str | None
    score: int
    summary: str
    status: str
    detected_at: datetime
    raised_at: datetime
    updated_at: datetime
    resolution: str | None
    resolved_by: str | None
    evidence_count: int
    note_count: int
    cursor: int  # the log position of its raise


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    alert_id: str
    kind: str
    ref: str
    position: int


@dataclass(frozen=True, slots=True)
class CaseEventRow:
    position: int
    alert_id: str
    action: str
    actor: str
    at: datetime
    text: str | None
    command_id: str


# A case event's type -> (the history's action, the status it sets, its text's field)
_CASE: Final[dict[type, tuple[str, str | None, str | None]]] = {
    Alert.Acknowledged: (ACKNOWLEDGED, ACKNOWLEDGED, None),
    Alert.Escalated: (ESCALATED, ESCALATED, "reason"),
    Alert.Dismissed: (DISMISSED, DISMISSED, "reason"),
    Alert.Closed: (CLOSED, CLOSED, "finding"),
    Alert.NoteAdded: (NOTE_ADDED, None, "note"),
}


class AlertsProjection(Projection):
    """Alerts, their evidence and their case history."""

    name: ClassVar[str] = "alerts"
    tables: ClassVar[tuple[Table, ...]] = (alerts, alert_evidence, alert_history)

    def __init__(self, bus: Bus | None = None) -> None:
        self.bus = bus
        self._held: dict[str, dict[str, Any]] = {}  # alert id -> its row, this batch
        self._changed: dict[str, None] = {}  # alert ids changed this batch, in log order
        self._evidence: list[tuple[Any, ...]] = []
        self._history: list[tuple[Any, ...]] = []
        self._committing: list[AlertRow] = []

    def reset(self) -> None:
        self._held = {}
        self._changed = {}
        self._evidence = []
        self._history = []
        self._committing = []

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        found = [(position, event) for position, event in items if type(event) in _EVENTS]
        if not found:
            return
        wanted = {
            str(event.originator_id)
            for _, event in found
            if type(event) is not Alert.Raised and str(event.originator_id) not in self._held
        }
        for row in rows_in(connection, select(alerts), alerts.c.id, wanted):
            self._held[row.id] = dict(row._mapping)
        for position, event in found:
            if type(event) is Alert.Raised:
                self._raised(position, event)
            else:
                self._case(position, event)

    def flush(self, connection: Connection) -> None:
        held, changed = self._held, self._changed
        self._held, self._changed = {}, {}
        if changed:
            upsert(connection, alerts, [held[alert] for alert in changed], ["id"])
        evidence, self._evidence = self._evidence, []
        _insert_evidence.run(connection, evidence)
        history, self._history = self._history, []
        _insert_history.run(connection, history)
        if self.bus is not None:
            self._committing = [_alert_row(held[alert]) for alert in changed]

    def after_commit(self) -> None:
        committing, self._committing = self._committing, []
        if committing and self.bus is not None and self.bus.subscriber_count(TOPIC):
            self.bus.publish(TOPIC, committing)

    # ------------------------------------------------------------------ applying

    def _raised(self, position: int, event: Any) -> None:
        alert = str(event.originator_id)
        at = to_micros(event.timestamp)
        self._held[alert] = {
            "id": alert,
            "kind": event.kind,
            "key": event.key,
            "account": event.account,
            "market": event.market,
            "score": int(event.score),
            "summary": event.summary,
            "status": OPEN,
            "detected_at": int(event.detected_at),
            "raised_at": at,
            "updated_at": at,
            "resolution": None,
            "resolved_by": None,
            "evidence_count": len(event.evidence),
            "note_count": 0,
            "cursor": position,
        }
        self._changed[alert] = None
        self._evidence.extend(
            (alert, n, piece["kind"], piece["ref"], int(piece["position"]))
            for n, piece in enumerate(event.evidence)
        )
        self._history.append((position, alert, RAISED, event.by, at, None, event.command_id))

    def _case(self, position: int, event: Any) -> None:
        alert = str(event.originator_id)
        row = self._held[alert]
        action, status, field = _CASE[type(event)]
        at = to_micros(event.timestamp)
        text = None if field is None else getattr(event, field)
        row["updated_at"] = at
        if status is not None:
            row["status"] = status
        if action == NOTE_ADDED:
            row["note_count"] += 1
        elif action in (DISMISSED, CLOSED):
            row["resolution"] = text
            row["resolved_by"] = event.by
        self._changed[alert] = None
        self._history.append((position, alert, action, event.by, at, text, event.command_id))


_EVENTS: Final = frozenset({Alert.Raised, *_CASE})


# ---------------------------------------------------------------------- queries


def _alert_row(row: Any) -> AlertRow:
    """An AlertRow from a row of `alerts` (a mapping)."""
    return AlertRow(
        id=row["id"],
        kind=row["kind"],
        key=row["key"],
        account=row["account"],
        market=row["market"],
        score=row["score"],
        summary=row["summary"],
        status=row["status"],
        detected_at=to_datetime(row["detected_at"]),
        raised_at=to_datetime(row["raised_at"]),
        updated_at=to_datetime(row["updated_at"]),
        resolution=row["resolution"],
        resolved_by=row["resolved_by"],
        evidence_count=row["evidence_count"],
        note_count=row["note_count"],
        cursor=row["cursor"],
    )


def alerts_page(
    connection: Connection,
    *,
    statuses: Sequence[str] = (),
    kind: str | None = None,
    account: str | None = None,
    market: str | None = None,
    min_score: int | None = None,
    first: int,
    after: int | None = None,
) -> list[AlertRow]:
    """Alerts newest first (by the position of their raise), those raised before `after` (a
    cursor), filtered by any of: statuses (one of them), kind, account, market, least score."""
    statement: Select[Any] = select(alerts)
    if statuses:
        statement = statement.where(alerts.c.status.in_(sorted(set(statuses))))
    if kind is not None:
        statement = statement.where(alerts.c.kind == kind)
    if account is not None:
        statement = statement.where(alerts.c.account == account)
    if market is not None:
        statement = statement.where(alerts.c.market == market)
    if min_score is not None:
        statement = statement.where(alerts.c.score >= min_score)
    if after is not None:
        statement = statement.where(alerts.c.cursor < after)
    statement = statement.order_by(alerts.c.cursor.desc()).limit(max(first, 0))
    return [_alert_row(row._mapping) for row in connection.execute(statement)]


def alerts_by_ids(connection: Connection, ids: Sequence[str]) -> dict[str, AlertRow]:
    """The alerts with these ids (unknown ids are left out)."""
    return {
        row.id: _alert_row(row._mapping)
        for row in rows_in(connection, select(alerts), alerts.c.id, ids)
    }


def evidence_of(connection: Connection, ids: Sequence[str]) -> dict[str, list[EvidenceRow]]:
    """Each alert's evidence, in the detector's order."""
    found: dict[str, list[EvidenceRow]] = {alert: [] for alert in ids}
    statement = select(alert_evidence).order_by(alert_evidence.c.alert_id, alert_evidence.c.n)
    for row in rows_in(connection, statement, alert_evidence.c.alert_id, ids):
        found[row.alert_id].append(EvidenceRow(row.alert_id, row.kind, row.ref, row.position))
    return found


def history_of(connection: Connection, ids: Sequence[str]) -> dict[str, list[CaseEventRow]]:
    """Each alert's case history, oldest first."""
    found: dict[str, list[CaseEventRow]] = {alert: [] for alert in ids}
    statement = select(alert_history).order_by(alert_history.c.alert_id, alert_history.c.id)
    for row in rows_in(connection, statement, alert_history.c.alert_id, ids):
        found[row.alert_id].append(
            CaseEventRow(
                position=row.id,
                alert_id=row.alert_id,
                action=row.action,
                actor=row.actor,
                at=to_datetime(row.at),
                text=row.text,
                command_id=row.command_id,
            )
        )
    return found
