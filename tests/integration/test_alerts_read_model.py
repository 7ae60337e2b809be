"""The alerts read model over a real store and read store (both backends): every alert's
status, evidence and case history agree with the aggregates in the store; the queries
filter and page; a rebuild from zero, or following one event at a time, gives the same
rows."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine, select

from socialtrading.commands.compliance import (
    AcknowledgeAlert,
    AddAlertNote,
    CloseAlert,
    DismissAlert,
    EscalateAlert,
    RaiseAlert,
)
from socialtrading.commands.models import Command, GrantRole, ListMarket, RegisterTrader
from socialtrading.commands.writer import Writer
from socialtrading.domain.compliance.alert import KINDS, STATUSES, Alert, alert_id
from socialtrading.domain.errors import DomainError
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id
from socialtrading.domain.time import to_micros
from socialtrading.projections.runner import ProjectionRunner
from socialtrading.projections.surveillance import alerts
from socialtrading.projections.surveillance.alerts import AlertsProjection
from tests.unit.commands.test_social import Clock

TRADERS = [account_id(h) for h in ("mallory", "bob", "carol")]
ANA, ROOT = account_id("ana"), account_id("root")
MARKETS = ("BTC-USD", "ETH-USD")


class Desk:
    """A writer with two markets, three traders and an analyst."""

    def __init__(self, make_writer: Callable[..., Writer]) -> None:
        self.writer = make_writer(clock=Clock())
        self.n = 0
        for symbol in MARKETS:
            self.ok(
                ListMarket(
                    command_id=f"list-{symbol}",
                    actor=SYSTEM_ACTOR,
                    symbol=symbol,
                    tick_size="0.01",  # type: ignore[arg-type]  # pydantic reads the text
                    lot_size="0.01",  # type: ignore[arg-type]
                )
            )
        for handle in ("mallory", "bob", "carol", "ana"):
            self.ok(RegisterTrader(command_id="r", handle=handle))
        self.ok(GrantRole(command_id="g", actor=SYSTEM_ACTOR, account=ANA, role="compliance"))

    def ok(self, command: Command) -> None:
        assert self.writer.execute(command).accepted, command

    def id(self) -> str:
        self.n += 1
        return f"c{self.n}"

    def raise_alert(
        self, key: str, account: UUID, kind: str, market: str | None, score: int
    ) -> UUID:
        self.ok(
            RaiseAlert(
                command_id=f"raise:{key}",
                kind=kind,  # type: ignore[arg-type]  # one of KINDS
                key=key,
                account=account,
                market=market,
                score=score,
                summary=f"{kind} by {account}",
                evidence=[
                    {"kind": "order", "ref": f"{key}-o", "position": 3},  # type: ignore[list-item]
                    {"kind": "account", "ref": str(account), "position": 2},  # type: ignore[list-item]
                ],
                detected_at=1_000 + score,
            )
        )
        return alert_id(key)

    def act(self, command: Command) -> bool:
        """Run a case command; whether it was accepted (refusals are part of the test)."""
        try:
            return self.writer.execute(command).accepted
        except DomainError:
            return False

    def alert(self, alert: UUID) -> Any:
        return self.writer.store.repository.get(alert)

    def events(self, alert: UUID) -> list[Any]:
        return list(self.writer.store.events.get(alert))


ACTION_OF: dict[type, str] = {
    Alert.Raised: "RAISED",
    Alert.Acknowledged: "ACKNOWLEDGED",
    Alert.Escalated: "ESCALATED",
    Alert.Dismissed: "DISMISSED",
    Alert.Closed: "CLOSED",
    Alert.NoteAdded: "NOTE_ADDED",
}


@pytest.fixture
def desk(make_writer: Callable[..., Writer]) -> Desk:
    return Desk(make_writer)


def _runner(desk: Desk, engine: Engine, **options: Any) -> ProjectionRunner:
    runner = ProjectionRunner(desk.writer.store, engine, [AlertsProjection()], **options)
    runner.setup()
    return runner


def _dump(engine: Engine) -> list[list[Any]]:
    with engine.connect() as connection:
        return [
            [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key))]
            for table in AlertsProjection.tables
        ]


def _case(desk: Desk) -> tuple[UUID, UUID, UUID]:
    """Three alerts: one closed after every step, one dismissed, one left open."""
    closed = desk.raise_alert("k1", TRADERS[0], "wash_trading", "BTC-USD", 90)
    dismissed = desk.raise_alert("k2", TRADERS[1], "spoofing", "ETH-USD", 40)
    still_open = desk.raise_alert("k3", TRADERS[0], "pump_and_dump", None, 60)
    assert desk.act(AcknowledgeAlert(command_id="a", actor=ANA, alert_id=closed))
    assert desk.act(AddAlertNote(command_id="n", actor=ANA, alert_id=closed, note="same IP"))
    assert desk.act(EscalateAlert(command_id="e", actor=ANA, alert_id=closed, reason="big"))
    assert desk.act(CloseAlert(command_id="x", actor=ROOT, alert_id=closed, finding="STOR"))
    assert desk.act(DismissAlert(command_id="d", actor=ANA, alert_id=dismissed, reason="MM"))
    return closed, dismissed, still_open


def test_alerts_evidence_and_history_agree_with_the_store(
    desk: Desk, read_engine: Engine, make_writer: Callable[..., Writer]
) -> None:
    root = desk.writer.execute(
        RegisterTrader(command_id="r", handle="root")  # an analyst who is an admin, below
    )
    assert root.accepted
    desk.ok(GrantRole(command_id="g-root", actor=SYSTEM_ACTOR, account=ROOT, role="admin"))
    closed, dismissed, still_open = _case(desk)
    runner = _runner(desk, read_engine)
    runner.catch_up()
    assert runner.dead_letters() == []
    ids = [str(closed), str(dismissed), str(still_open)]
    with read_engine.connect() as connection:
        rows = alerts.alerts_by_ids(connection, [*ids, str(UUID(int=1))])
        evidence = alerts.evidence_of(connection, ids)
        history = alerts.history_of(connection, ids)
    assert set(rows) == set(ids)
    row = rows[str(closed)]
    stored = desk.alert(closed)
    assert (row.kind, row.key, row.account, row.market, row.score, row.summary) == (
        stored.kind,
        "k1",
        str(TRADERS[0]),
        "BTC-USD",
        90,
        stored.summary,
    )
    assert (row.status, row.resolution, row.resolved_by) == ("CLOSED", "STOR", str(ROOT))
    assert (row.evidence_count, row.note_count) == (2, 1)
    events = desk.events(closed)
    assert to_micros(row.raised_at) == to_micros(events[0].timestamp)
    assert to_micros(row.updated_at) == to_micros(events[-1].timestamp)
    assert to_micros(row.detected_at) == 1_090
    assert [(e.kind, e.ref, e.position) for e in evidence[str(closed)]] == [
        ("order", "k1-o", 3),
        ("account", str(TRADERS[0]), 2),
    ]
    steps = history[str(closed)]
    assert [(s.action, s.actor, s.text, s.command_id) for s in steps] == [
        ("RAISED", str(SYSTEM_ACTOR), None, "raise:k1"),
        ("ACKNOWLEDGED", str(ANA), None, "a"),
        ("NOTE_ADDED", str(ANA), "same IP", "n"),
        ("ESCALATED", str(ANA), "big", "e"),
        ("CLOSED", str(ROOT), "STOR", "x"),
    ]
    assert [to_micros(s.at) for s in steps] == [to_micros(e.timestamp) for e in events]
    assert steps == sorted(steps, key=lambda s: s.position)
    assert (rows[str(dismissed)].status, rows[str(dismissed)].resolution) == ("DISMISSED", "MM")
    assert (rows[str(still_open)].status, rows[str(still_open)].market) == ("OPEN", None)

    # rebuilt from zero, and followed one notification at a time: the same rows
    live_rows = _dump(read_engine)
    runner.rebuild()
    assert _dump(read_engine) == live_rows
    one_by_one = _runner(desk, read_engine, batch_size=1, read_size=1)
    one_by_one.rebuild()
    assert _dump(read_engine) == live_rows


def test_queries_filter_and_page(desk: Desk, read_engine: Engine) -> None:
    made: dict[UUID, tuple[str, UUID, str | None, int]] = {}
    for n in range(14):
        account, kind = TRADERS[n % 3], KINDS[n % len(KINDS)]
        market = None if n % 4 == 3 else MARKETS[n % 2]
        score = (n * 37) % 101
        made[desk.raise_alert(f"q{n}", account, kind, market, score)] = (
            kind,
            account,
            market,
            score,
        )
    order = list(made)  # raised in this order: newest last
    acknowledged = order[1::3]
    for alert in acknowledged:
        assert desk.act(AcknowledgeAlert(command_id=desk.id(), actor=ANA, alert_id=alert))
    runner = _runner(desk, read_engine)
    runner.catch_up()

    def page(**filters: Any) -> list[str]:
        with read_engine.connect() as connection:
            return [row.id for row in alerts.alerts_page(connection, first=100, **filters)]

    newest_first = [str(alert) for alert in reversed(order)]
    assert page() == newest_first
    assert page(statuses=["ACKNOWLEDGED"]) == [a for a in newest_first if UUID(a) in acknowledged]
    assert page(statuses=["OPEN", "ACKNOWLEDGED"]) == newest_first
    assert page(statuses=["CLOSED"]) == []
    for kind in KINDS[:3]:
        assert page(kind=kind) == [a for a in newest_first if made[UUID(a)][0] == kind]
    bob = str(TRADERS[1])
    assert page(account=bob) == [a for a in newest_first if str(made[UUID(a)][1]) == bob]
    assert page(market="ETH-USD", min_score=50) == [
        a for a in newest_first if made[UUID(a)][2] == "ETH-USD" and made[UUID(a)][3] >= 50
    ]
    # pages of 5 by cursor: the same alerts, each once
    seen: list[str] = []
    after = None
    while True:
        with read_engine.connect() as connection:
            rows = alerts.alerts_page(connection, first=5, after=after)
        seen += [row.id for row in rows]
        if len(rows) < 5:
            break
        after = rows[-1].cursor
    assert seen == newest_first


def test_a_random_case_load_ends_as_the_aggregates_say(desk: Desk, read_engine: Engine) -> None:
    """Many alerts worked at random (refused steps included): every row, count and history
    matches the alert's stored events."""
    rng = random.Random(14)
    made = [
        desk.raise_alert(f"r{n}", rng.choice(TRADERS), rng.choice(KINDS), None, n)
        for n in range(20)
    ]
    kinds: tuple[type[Command], ...] = (
        AcknowledgeAlert,
        EscalateAlert,
        DismissAlert,
        CloseAlert,
        AddAlertNote,
    )
    texts: dict[type[Command], str] = {
        DismissAlert: "reason",
        CloseAlert: "finding",
        AddAlertNote: "note",
    }
    runner = _runner(desk, read_engine, batch_size=7)
    for step in range(90):
        kind = rng.choices(kinds, weights=(4, 2, 1, 1, 4))[0]
        fields = {texts[kind]: f"text {step}"} if kind in texts else {}
        command = kind.model_validate(
            {"command_id": desk.id(), "actor": ANA, "alert_id": rng.choice(made), **fields}
        )
        desk.act(command)
        if step % 25 == 0:
            runner.run_once()  # follow part of the way meanwhile
    runner.catch_up()
    assert runner.dead_letters() == []
    with read_engine.connect() as connection:
        rows = alerts.alerts_by_ids(connection, [str(a) for a in made])
        history = alerts.history_of(connection, [str(a) for a in made])
    statuses = set()
    for alert in made:
        stored, events, row = desk.alert(alert), desk.events(alert), rows[str(alert)]
        statuses.add(stored.status)
        assert (row.status, row.note_count) == (stored.status, stored.notes)
        steps = history[str(alert)]
        assert [step.command_id for step in steps] == [e.command_id for e in events]
        assert [step.action for step in steps] == [ACTION_OF[type(e)] for e in events]
    assert statuses <= set(STATUSES) and len(statuses) >= 3
