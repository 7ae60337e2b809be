"""The Alert aggregate decides its case: the transition table of its module's text, the
bounds of what it stores, and who may not work it. An alert rebuilt from its events equals
the live one."""

from __future__ import annotations

from typing import Any, cast

import pytest
from eventsourcing.domain import Aggregate
from hypothesis import given
from hypothesis import strategies as st

from socialtrading.domain.compliance.alert import (
    ACKNOWLEDGE,
    ACKNOWLEDGED,
    CLOSE,
    CLOSED,
    DISMISS,
    DISMISSED,
    ESCALATE,
    ESCALATED,
    KINDS,
    MAX_EVIDENCE,
    MAX_FINDING,
    MAX_KEY,
    MAX_NOTE,
    MAX_NOTES,
    MAX_REASON,
    MAX_SUMMARY,
    NOTE,
    OPEN,
    SPOOFING,
    STATUSES,
    WASH_TRADING,
    Alert,
    alert_id,
)
from socialtrading.domain.errors import DomainError, InvalidCommand, Refused
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id
from socialtrading.domain.time import to_datetime

T0 = 1_800_000_000_000_000
SUSPECT = str(account_id("mallory"))
ANALYST = str(account_id("ana"))
SYSTEM = str(SYSTEM_ACTOR)
EVIDENCE = [
    {"kind": "order", "ref": "ab" * 16, "position": 10},
    {"kind": "trade", "ref": "BTC-USD:7", "position": 11},
]


def _alert(key: str = "wash:mallory:10", **fields: Any) -> Alert:
    values: dict[str, Any] = {
        "kind": WASH_TRADING,
        "key": key,
        "account": SUSPECT,
        "market": "BTC-USD",
        "score": 80,
        "summary": "mallory traded 40 lots back and forth with mallory2",
        "evidence": list(EVIDENCE),
        "detected_at": T0 - 5,
        "by": SYSTEM,
        "command_id": "raise-1",
        "ts": T0,
    }
    values.update(fields)
    return Alert.raise_alert(**values)


def _replayed(aggregate: Aggregate) -> Aggregate:
    """`aggregate` rebuilt from every event it ever triggered (collected or pending)."""
    copy: Aggregate | None = None
    for event in aggregate.collect_events():
        copy = event.mutate(copy)
    assert copy is not None
    return copy


def _act(alert: Alert, action: str, by: str = ANALYST, n: int = 1) -> bool | None:
    """Apply a case action (with valid texts); its answer (False: no change)."""
    command_id, ts = f"c{n}", T0 + n
    if action == ACKNOWLEDGE:
        return alert.acknowledge(by, command_id, ts)
    if action == ESCALATE:
        return alert.escalate(by, "needs the desk's view", command_id, ts)
    if action == DISMISS:
        alert.dismiss(by, "market maker hedging", command_id, ts)
    elif action == CLOSE:
        alert.close(by, "reported to the regulator", command_id, ts)
    else:
        alert.add_note(by, "called the client", command_id, ts)
    return None


# How to reach each status from OPEN.
PATHS = {
    OPEN: [],
    ACKNOWLEDGED: [ACKNOWLEDGE],
    ESCALATED: [ESCALATE],
    DISMISSED: [DISMISS],
    CLOSED: [ACKNOWLEDGE, CLOSE],
}
# The transition table of the module's text: the status after the action, "same" for a
# success that stores nothing, or the refusal's code.
TABLE = {
    OPEN: {
        ACKNOWLEDGE: ACKNOWLEDGED,
        ESCALATE: ESCALATED,
        DISMISS: DISMISSED,
        CLOSE: CLOSED,
        NOTE: OPEN,
    },
    ACKNOWLEDGED: {
        ACKNOWLEDGE: "same",
        ESCALATE: ESCALATED,
        DISMISS: DISMISSED,
        CLOSE: CLOSED,
        NOTE: ACKNOWLEDGED,
    },
    ESCALATED: {
        ACKNOWLEDGE: "invalid_transition",
        ESCALATE: "same",
        DISMISS: DISMISSED,
        CLOSE: CLOSED,
        NOTE: ESCALATED,
    },
    DISMISSED: dict.fromkeys((ACKNOWLEDGE, ESCALATE, DISMISS, CLOSE, NOTE), "alert_resolved"),
    CLOSED: dict.fromkeys((ACKNOWLEDGE, ESCALATE, DISMISS, CLOSE, NOTE), "alert_resolved"),
}
ACTIONS = (ACKNOWLEDGE, ESCALATE, DISMISS, CLOSE, NOTE)


def _reach(status: str) -> Alert:
    alert = _alert()
    for n, action in enumerate(PATHS[status], start=1):
        _act(alert, action, n=n)
    assert alert.status == status
    return alert


def test_a_raised_alert_is_open_with_its_finding() -> None:
    alert = _alert()
    assert alert.id == alert_id("wash:mallory:10")
    assert (alert.status, alert.kind, alert.account, alert.market) == (
        OPEN,
        WASH_TRADING,
        SUSPECT,
        "BTC-USD",
    )
    assert (alert.score, alert.evidence, alert.detected_at, alert.raised_at) == (
        80,
        EVIDENCE,
        T0 - 5,
        T0,
    )
    (raised,) = alert.collect_events()
    assert isinstance(raised, Alert.Raised)
    assert (raised.by, raised.command_id) == (SYSTEM, "raise-1")


def test_the_same_key_is_the_same_alert_and_another_key_another() -> None:
    assert alert_id("k") == alert_id("k") != alert_id("k2")
    assert _alert("k").id == _alert("k").id


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", ACTIONS)
def test_the_transition_table(status: str, action: str) -> None:
    alert = _reach(status)
    alert.collect_events()
    expected = TABLE[status][action]
    if expected in STATUSES:
        answer = _act(alert, action, n=9)
        assert answer in (None, True)
        assert alert.status == expected
        (event,) = cast(list[Any], alert.collect_events())
        assert (event.by, event.command_id, event.timestamp) == (
            ANALYST,
            "c9",
            alert.modified_on,
        )
    elif expected == "same":
        assert _act(alert, action, n=9) is False
        assert alert.status == status
        assert alert.collect_events() == []
    else:
        with pytest.raises(Refused) as refused:
            _act(alert, action, n=9)
        assert refused.value.code == expected
        assert alert.status == status
        assert alert.collect_events() == []


@pytest.mark.parametrize("action", ACTIONS)
def test_nobody_works_an_alert_about_their_own_account(action: str) -> None:
    alert = _alert()
    alert.collect_events()
    with pytest.raises(Refused) as refused:
        _act(alert, action, by=SUSPECT)
    assert refused.value.code == "own_alert"
    assert alert.status == OPEN and alert.collect_events() == []


def test_each_case_event_records_its_text_and_the_analyst() -> None:
    alert = _alert()
    alert.acknowledge(ANALYST, "a", T0 + 1)
    alert.add_note(ANALYST, "  Checked the IPs:\nsame device  ", "n", T0 + 2)
    assert alert.escalate(ANALYST, None, "e", T0 + 3)
    alert.close(ANALYST, "Same owner; STOR filed", "x", T0 + 4)
    events = cast(list[Any], alert.collect_events())[1:]
    assert [type(e) for e in events] == [
        Alert.Acknowledged,
        Alert.NoteAdded,
        Alert.Escalated,
        Alert.Closed,
    ]
    assert events[1].note == "Checked the IPs:\nsame device"
    assert events[2].reason is None
    assert events[3].finding == "Same owner; STOR filed"
    assert [e.timestamp for e in events] == [to_datetime(T0 + n) for n in (1, 2, 3, 4)]
    assert alert.notes == 1


def test_an_alert_rebuilt_from_its_events_equals_the_live_one() -> None:
    alert = _alert()
    alert.acknowledge(ANALYST, "a", T0 + 1)
    alert.add_note(ANALYST, "note", "n", T0 + 2)
    alert.dismiss(ANALYST, "hedging", "d", T0 + 3)
    pending = list(alert.pending_events)
    rebuilt = _replayed(alert)
    assert len(pending) == 4
    assert vars(rebuilt) == vars(alert)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"kind": "insider_dealing"}, "invalid_alert_kind"),
        ({"key": ""}, "invalid_key"),
        ({"key": "k" * (MAX_KEY + 1)}, "invalid_key"),
        ({"score": -1}, "invalid_score"),
        ({"score": 101}, "invalid_score"),
        ({"evidence": [EVIDENCE[0]] * (MAX_EVIDENCE + 1)}, "too_much_evidence"),
        ({"evidence": [{"kind": "rumour", "ref": "x", "position": 1}]}, "invalid_evidence"),
        ({"evidence": [{"kind": "order", "ref": "x"}]}, "invalid_evidence"),
        ({"summary": "  "}, "invalid_summary"),
        ({"summary": "x" * (MAX_SUMMARY + 1)}, "invalid_summary"),
        ({"summary": "bell\x07"}, "invalid_summary"),
    ],
)
def test_a_finding_out_of_bounds_raises_no_alert(fields: dict[str, Any], code: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        _alert(**fields)
    assert refused.value.code == code


def test_the_bounds_themselves_are_allowed() -> None:
    alert = _alert(
        key="k" * MAX_KEY,
        score=100,
        evidence=[EVIDENCE[0]] * MAX_EVIDENCE,
        summary="e\u0301" * MAX_SUMMARY,  # NFC makes each pair one code point
        kind=SPOOFING,
        market=None,
    )
    assert alert.summary == "\u00e9" * MAX_SUMMARY
    assert {_alert(kind=kind).kind for kind in KINDS} == set(KINDS)
    assert _alert(score=0, evidence=[]).score == 0


@pytest.mark.parametrize(
    ("action", "limit", "code"),
    [(DISMISS, MAX_REASON, "invalid_reason"), (CLOSE, MAX_FINDING, "invalid_finding")],
)
def test_a_reason_or_finding_is_one_to_its_limit_of_characters(
    action: str, limit: int, code: str
) -> None:
    def resolve(alert: Alert, value: str) -> None:
        if action == DISMISS:
            alert.dismiss(ANALYST, value, "r", T0 + 1)
        else:
            alert.close(ANALYST, value, "r", T0 + 1)

    for bad in ("", " \n ", "x" * (limit + 1), "esc\x1b[2J"):
        alert = _alert()
        with pytest.raises(InvalidCommand) as refused:
            resolve(alert, bad)
        assert refused.value.code == code
        assert alert.status == OPEN
    alert = _alert()
    resolve(alert, "x" * limit)
    assert alert.status in (DISMISSED, CLOSED)


def test_an_escalation_reason_is_optional_but_bounded() -> None:
    alert = _alert()
    with pytest.raises(InvalidCommand) as refused:
        alert.escalate(ANALYST, "x" * (MAX_REASON + 1), "e", T0 + 1)
    assert refused.value.code == "invalid_reason"
    assert alert.escalate(ANALYST, "for the MLRO", "e", T0 + 1)
    assert cast(Any, alert.collect_events()[-1]).reason == "for the MLRO"


def test_notes_are_bounded_in_length_and_in_number() -> None:
    alert = _alert()
    with pytest.raises(InvalidCommand) as invalid:
        alert.add_note(ANALYST, "x" * (MAX_NOTE + 1), "n", T0)
    assert invalid.value.code == "invalid_note"
    for n in range(MAX_NOTES):
        alert.add_note(ANALYST, "x" * MAX_NOTE if n == 0 else f"note {n}", f"n{n}", T0 + n)
    with pytest.raises(Refused) as refused:
        alert.add_note(ANALYST, "one more", "n-last", T0 + MAX_NOTES)
    assert refused.value.code == "too_many_notes"
    assert alert.notes == MAX_NOTES


@given(st.lists(st.sampled_from(ACTIONS), max_size=12))
def test_any_sequence_of_actions_follows_the_table(actions: list[str]) -> None:
    alert = _alert()
    status = OPEN
    stored = 1  # Raised
    for n, action in enumerate(actions, start=1):
        expected = TABLE[status][action]
        try:
            _act(alert, action, n=n)
        except DomainError as error:
            assert error.code == expected
            continue
        if expected in STATUSES:
            status = expected
            stored += 1
        else:
            assert expected == "same"
        assert alert.status == status
    assert alert.status == status
    assert len(alert.pending_events) == stored
    assert vars(_replayed(alert)) == vars(alert)
