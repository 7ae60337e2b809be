"""The compliance commands through the real writer on SQLite: only the system raises alerts,
a finding's key makes raising idempotent, only analysts (compliance, admin) work cases, every
refusal stores nothing, and alerts are loaded from the store when needed (restarts, batches).

mallory and bob are traders; ana holds the compliance role (and trades); mod is a moderator;
root is an admin without the trader role.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from socialtrading.commands import dedup
from socialtrading.commands.compliance import (
    AcknowledgeAlert,
    AddAlertNote,
    CloseAlert,
    DismissAlert,
    EscalateAlert,
    EvidenceRef,
    RaiseAlert,
    alert_of,
    raise_command_id,
)
from socialtrading.commands.models import (
    Command,
    CreateAdmin,
    GrantRole,
    ListMarket,
    RegisterTrader,
)
from socialtrading.commands.writer import Writer
from socialtrading.domain.compliance.alert import (
    ACKNOWLEDGED,
    CLOSED,
    ESCALATED,
    MAX_EVIDENCE,
    OPEN,
    Alert,
    alert_id,
)
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id
from socialtrading.infra.command_index import ALERT
from tests.unit.commands.test_social import Clock, Social, one_batch

SYMBOL = "BTC-USD"
MALLORY, BOB, ANA, MOD = (account_id(h) for h in ("mallory", "bob", "ana", "mod"))
ROOT = account_id("root")
OK = "ok"
TRADE_ID = f"{SYMBOL}:3"


@pytest.fixture
def backend() -> str:
    """These tests run on SQLite only (the writer is the same on both stores)."""
    return "sqlite"


class Desk(Social):
    """A writer with the cast of the module's text (the social tests' helpers)."""

    def __init__(self, make_writer: Callable[..., Writer]) -> None:
        super().__init__(make_writer, Clock())

    def raise_alert(self, key: str = "wash:mallory:1", **fields: Any) -> RaiseAlert:
        values: dict[str, Any] = {
            "command_id": f"raise:{key}",
            "kind": "wash_trading",
            "key": key,
            "account": MALLORY,
            "market": SYMBOL,
            "score": 70,
            "summary": "mallory and bob traded back and forth",
            "evidence": [
                {"kind": "trade", "ref": TRADE_ID, "position": 9},
                {"kind": "account", "ref": str(BOB).upper(), "position": 4},
            ],
            "detected_at": 1_800_000_000_000_000,
        }
        values.update(fields)
        return RaiseAlert.model_validate(values)

    def alert(self, alert: UUID) -> Alert:
        """The alert as stored (read from the store, not the writer's memory)."""
        found: Any = self.writer.store.repository.get(alert)
        assert isinstance(found, Alert)
        return found


@pytest.fixture
def desk(make_writer: Callable[..., Writer]) -> Iterator[Desk]:
    desk = Desk(make_writer)
    desk.run(
        ListMarket(
            command_id="list",
            actor=SYSTEM_ACTOR,
            symbol=SYMBOL,
            tick_size="0.01",  # type: ignore[arg-type]  # pydantic reads the text
            lot_size="0.01",  # type: ignore[arg-type]
        )
    )
    for handle in ("mallory", "bob", "ana", "mod"):
        assert desk.run(RegisterTrader(command_id="r", handle=handle)).accepted
    desk.run(GrantRole(command_id="g", actor=SYSTEM_ACTOR, account=ANA, role="compliance"))
    desk.run(GrantRole(command_id="g", actor=SYSTEM_ACTOR, account=MOD, role="moderator"))
    desk.run(CreateAdmin(command_id="root", actor=SYSTEM_ACTOR, handle="root", token_hash="a" * 64))
    yield desk


# ---------------------------------------------------------------------- raising


def test_the_system_raises_an_alert_with_its_evidence(desk: Desk) -> None:
    command = desk.raise_alert()
    outcome = desk.run(command)
    assert outcome.accepted and outcome.stored and outcome.position == desk.head()
    alert = desk.alert(alert_id("wash:mallory:1"))
    assert alert_of(command) == alert.id
    assert (alert.status, alert.kind, alert.account, alert.market, alert.score) == (
        OPEN,
        "wash_trading",
        str(MALLORY),
        SYMBOL,
        70,
    )
    assert alert.evidence == [
        {"kind": "trade", "ref": TRADE_ID, "position": 9},
        {"kind": "account", "ref": str(BOB), "position": 4},  # its canonical form
    ]
    assert alert.raised_at == desk.clock.now and alert.detected_at == 1_800_000_000_000_000
    assert [kind for id_, kind in desk.writer.store.aggregates() if id_ == alert.id] == [ALERT]


@pytest.mark.parametrize("actor", [MALLORY, ANA, ROOT, MOD])
def test_only_the_system_raises_alerts(desk: Desk, actor: UUID) -> None:
    assert desk.refused(desk.raise_alert(actor=actor)) == "not_authorized"


def test_a_finding_raised_again_is_the_same_alert_and_stores_nothing(desk: Desk) -> None:
    first = desk.run(desk.raise_alert())
    head = desk.head()
    again = desk.run(desk.raise_alert(command_id="another", score=99, summary="other words"))
    assert again.accepted and not again.stored and desk.head() == head
    repeat = desk.run(desk.raise_alert())  # the same command id: its first outcome
    assert (repeat.accepted, repeat.stored) == (first.accepted, first.stored)
    assert desk.alert(alert_id("wash:mallory:1")).score == 70
    desk.restart()  # the key is found in the store, not in memory
    after = desk.run(desk.raise_alert(command_id="after-restart"))
    assert after.accepted and not after.stored and desk.head() == head
    assert desk.run(desk.raise_alert("wash:mallory:2", command_id="next")).stored


def test_a_finding_about_an_unknown_account_or_market_raises_nothing(desk: Desk) -> None:
    assert desk.refused(desk.raise_alert(account=account_id("ghost"))) == "unknown_account"
    assert desk.refused(desk.raise_alert(market="ETH-USD")) == "unknown_market"
    assert desk.refused(desk.raise_alert(summary=" \x00 ")) == "invalid_summary"
    assert desk.run(desk.raise_alert(market=None)).accepted


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "insider_dealing"},
        {"key": ""},
        {"key": "k" * 201},
        {"key": "line\nbreak"},
        {"score": 101},
        {"score": -1},
        {"summary": "x" * 2001},
        {"detected_at": -1},
        {"detected_at": 10**18},
        {"market": "btc-usd"},
        {"evidence": [{"kind": "order", "ref": "o", "position": 1}] * (MAX_EVIDENCE + 1)},
        {"evidence": [{"kind": "trade", "ref": "BTC-USD:0", "position": 1}]},
        {"evidence": [{"kind": "trade", "ref": "42", "position": 1}]},
        {"evidence": [{"kind": "post", "ref": "not-an-id", "position": 1}]},
        {"evidence": [{"kind": "order", "ref": "o", "position": 0}]},
        {"evidence": [{"kind": "order", "ref": "o", "position": 2**63}]},
        {"evidence": [{"kind": "order", "ref": "x" * 101, "position": 1}]},
        {"evidence": [{"kind": "rumour", "ref": "o", "position": 1}]},
        {"evidence": [{"kind": "order", "ref": "o", "position": 1, "extra": 1}]},
    ],
)
def test_a_malformed_finding_is_refused_at_the_edge(desk: Desk, fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        desk.raise_alert(**fields)


def test_a_findings_command_id_fits_and_is_the_same_for_the_same_key(desk: Desk) -> None:
    long_key = "spoofing:" + "x" * 191
    command_id = raise_command_id(long_key)
    assert command_id == raise_command_id(long_key) != raise_command_id(long_key + "!")
    assert len(command_id) <= 100
    first = desk.run(desk.raise_alert(long_key, command_id=command_id))
    head = desk.head()
    desk.restart()
    again = desk.run(desk.raise_alert(long_key, command_id=command_id))
    assert (again.accepted, again.stored, again.position) == (True, True, head)  # a repeat
    assert first.stored and desk.head() == head


def test_evidence_names_what_it_shows() -> None:
    post = UUID(int=7)
    assert EvidenceRef(kind="post", ref=str(post).replace("-", ""), position=3).ref == str(post)
    assert EvidenceRef(kind="event", ref="Market.BookChanged", position=3).ref == (
        "Market.BookChanged"
    )


# ---------------------------------------------------------------------- cases


def _about(kind: type[Command], actor: UUID, alert: UUID, n: str, **fields: Any) -> Command:
    return kind.model_validate({"command_id": n, "actor": actor, "alert_id": alert, **fields})


CASE_COMMANDS: list[tuple[type[Command], dict[str, Any]]] = [
    (AcknowledgeAlert, {}),
    (EscalateAlert, {"reason": "for the MLRO"}),
    (DismissAlert, {"reason": "hedging"}),
    (CloseAlert, {"finding": "STOR filed"}),
    (AddAlertNote, {"note": "called the client"}),
]


@pytest.mark.parametrize(("kind", "fields"), CASE_COMMANDS)
def test_only_analysts_work_cases(desk: Desk, kind: type[Command], fields: dict[str, Any]) -> None:
    desk.run(desk.raise_alert())
    alert = alert_id("wash:mallory:1")
    for actor, code in (
        (BOB, "not_authorized"),  # a trader
        (MOD, "not_authorized"),  # a moderator
        (SYSTEM_ACTOR, "not_authorized"),  # a decision names a person
        (account_id("ghost"), "unknown_actor"),
        (MALLORY, "not_authorized"),  # not an analyst, and the alert is about them
    ):
        assert desk.refused(_about(kind, actor, alert, desk.id(), **fields)) == code
    # an analyst learns nothing of an id that names no alert
    assert desk.refused(_about(kind, ANA, UUID(int=9), desk.id(), **fields)) == "unknown_alert"
    assert desk.code(_about(kind, ANA, alert, desk.id(), **fields)) == OK


@pytest.mark.parametrize("analyst", [ANA, ROOT])
def test_a_case_from_raise_to_close_with_every_step_in_the_log(desk: Desk, analyst: UUID) -> None:
    desk.run(desk.raise_alert())
    alert = alert_id("wash:mallory:1")
    assert desk.run(_about(AcknowledgeAlert, analyst, alert, "a1")).stored
    assert desk.run(_about(AcknowledgeAlert, analyst, alert, "a2")).stored is False
    assert desk.run(_about(AddAlertNote, analyst, alert, "n1", note="same IP")).stored
    assert desk.run(_about(EscalateAlert, analyst, alert, "e1")).stored
    assert desk.run(_about(EscalateAlert, analyst, alert, "e2")).stored is False
    refused = _about(AcknowledgeAlert, analyst, alert, "a3")
    assert desk.refused(refused) == "invalid_transition"
    assert desk.run(_about(CloseAlert, analyst, alert, "x1", finding="STOR filed")).stored
    for kind, fields in CASE_COMMANDS:
        assert desk.refused(_about(kind, analyst, alert, desk.id(), **fields)) == "alert_resolved"
    stored = desk.alert(alert)
    assert stored.status == CLOSED
    events: list[Any] = list(desk.writer.store.events.get(alert))
    assert [type(e).__qualname__ for e in events] == [
        "Alert.Raised",
        "Alert.Acknowledged",
        "Alert.NoteAdded",
        "Alert.Escalated",
        "Alert.Closed",
    ]
    assert {e.by for e in events[1:]} == {str(analyst)}
    assert [e.command_id for e in events[1:]] == ["a1", "n1", "e1", "x1"]
    assert dedup.check(desk.writer.store).disagreements == []


def test_an_analyst_does_not_work_an_alert_about_themselves(desk: Desk) -> None:
    desk.run(desk.raise_alert("ana", account=ANA))
    alert = alert_id("ana")
    for kind, fields in CASE_COMMANDS:
        assert desk.refused(_about(kind, ANA, alert, desk.id(), **fields)) == "own_alert"
    assert desk.run(_about(DismissAlert, ROOT, alert, "d", reason="reviewed by root")).stored


@pytest.mark.parametrize(
    ("kind", "fields", "code"),
    [
        (DismissAlert, {"reason": " "}, "invalid_reason"),
        (DismissAlert, {"reason": "x" * 501}, "invalid_reason"),
        (CloseAlert, {"finding": ""}, "invalid_finding"),
        (EscalateAlert, {"reason": "\x1b[2J"}, "invalid_reason"),
        (AddAlertNote, {"note": "\u202eevil"}, "invalid_note"),
    ],
)
def test_case_texts_are_checked_by_the_writer(
    desk: Desk, kind: type[Command], fields: dict[str, Any], code: str
) -> None:
    desk.run(desk.raise_alert())
    assert desk.refused(_about(kind, ANA, alert_id("wash:mallory:1"), "t", **fields)) == code


def test_raw_case_texts_are_bounded_at_the_edge() -> None:
    alert = UUID(int=1)
    with pytest.raises(ValidationError):
        _about(DismissAlert, ANA, alert, "d", reason="x" * 2001)
    with pytest.raises(ValidationError):
        _about(CloseAlert, ANA, alert, "c", finding="x" * 16_001)
    with pytest.raises(ValidationError):
        _about(AddAlertNote, ANA, alert, "n", note="x" * 8001)
    with pytest.raises(ValidationError):
        _about(DismissAlert, ANA, alert, "d")  # a dismissal says why


def test_alerts_are_loaded_when_needed_after_a_restart(desk: Desk) -> None:
    desk.run(desk.raise_alert())
    alert = alert_id("wash:mallory:1")
    desk.run(_about(AcknowledgeAlert, ANA, alert, "a1"))
    desk.restart()
    assert len(desk.writer.state.social) == 0  # nothing loaded at start-up
    assert all(kind != ALERT for _, kind in desk.writer.store.loaded_aggregates())
    assert desk.run(_about(AcknowledgeAlert, ANA, alert, "a2")).stored is False
    assert desk.run(_about(EscalateAlert, ANA, alert, "e1", reason="big")).stored
    assert desk.alert(alert).status == ESCALATED
    assert dedup.check(desk.writer.store).disagreements == []


def test_one_batch_raises_once_and_works_the_new_alert(desk: Desk) -> None:
    alert = alert_id("wash:mallory:1")
    outcomes = one_batch(
        desk.writer,
        [
            desk.raise_alert(),
            desk.raise_alert(command_id="dup"),
            _about(AcknowledgeAlert, ANA, alert, "a1"),
            _about(AddAlertNote, ANA, alert, "n1", note="looking"),
        ],
    )
    assert [(o.accepted, o.stored) for o in outcomes] == [
        (True, True),
        (True, False),
        (True, True),
        (True, True),
    ]
    assert desk.alert(alert).status == ACKNOWLEDGED
    assert len(list(desk.writer.store.events.get(alert))) == 3
    assert dedup.check(desk.writer.store).disagreements == []
