"""The risk gate on the Account aggregate: hysteresis (closed at 8 and more, open below 7, a 7
keeps it), no event for a score that changes nothing or comes too late, and a replay from the
stored events (through the store's transcoder) that gives the same gate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper
from hypothesis import given
from hypothesis import strategies as st

from socialtrading.domain.account import TRADER, Account
from socialtrading.domain.copy.risk import GATE_AT, LIFT_BELOW, MAX_SCORE, MIN_SCORE, gated_after
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id
from socialtrading.infra.store import EventStore

DAY = 20_000  # a UTC day, days since the epoch
TS = DAY * 86_400_000_000 + 1


def _leader() -> Account:
    return Account.register(account_id("lea"), "lea", "Lea", [TRADER], "register", 1)


def _mapper() -> Mapper[UUID]:
    store = EventStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    return Mapper(transcoder=store.mapper.transcoder)


def _replayed(events: Sequence[Any]) -> Account:
    """The account rebuilt from its events as stored and read back."""
    mapper = _mapper()
    account: Any = None
    for event in events:
        stored: Any = mapper.to_domain_event(mapper.to_stored_event(event))
        account = stored.mutate(account)
    assert isinstance(account, Account)
    return account


def test_the_bounds_are_the_issues() -> None:
    assert (GATE_AT, LIFT_BELOW) == (8, 7)
    assert [gated_after(False, s) for s in range(1, 11)] == [False] * 7 + [True] * 3
    assert [gated_after(True, s) for s in range(1, 11)] == [False] * 6 + [True] * 4


def test_a_leader_scoring_8_is_gated_until_it_scores_below_7() -> None:
    account = _leader()
    gates = []
    for day, score in enumerate([5, 8, 7, 9, 7, 6, 7, 8], DAY):
        account.record_risk_score(score, day, SYSTEM_ACTOR, f"c{day}", TS)
        gates.append(account.risk_gated)
    assert gates == [False, True, True, True, True, False, False, True]
    assert (account.risk_score, account.risk_score_as_of) == (8, DAY + 7)


def test_a_score_that_changes_nothing_or_comes_late_stores_nothing() -> None:
    account = _leader()
    account.collect_events()
    assert account.record_risk_score(9, DAY, SYSTEM_ACTOR, "c1", TS)
    (recorded,) = account.collect_events()
    assert isinstance(recorded, Account.RiskScoreRecorded)
    assert (recorded.score, recorded.as_of_day, recorded.gated) == (9, DAY, True)
    assert recorded.by == str(SYSTEM_ACTOR) and recorded.command_id == "c1"
    assert not account.record_risk_score(9, DAY + 1, SYSTEM_ACTOR, "c2", TS)  # the same score
    assert not account.record_risk_score(3, DAY - 1, SYSTEM_ACTOR, "c3", TS)  # an older day
    assert account.collect_events() == []
    assert (account.risk_score, account.risk_score_as_of, account.risk_gated) == (9, DAY, True)
    # the same day again, with another score (the statistics recomputed): recorded
    assert account.record_risk_score(6, DAY, SYSTEM_ACTOR, "c4", TS)
    assert not account.risk_gated


def test_an_account_never_scored_is_not_gated() -> None:
    account = _leader()
    assert (account.risk_score, account.risk_score_as_of, account.risk_gated) == (None, None, False)


@given(st.lists(st.integers(MIN_SCORE, MAX_SCORE), max_size=30))
def test_the_gate_is_the_hysteresis_automaton_and_replays_the_same(scores: list[int]) -> None:
    account = _leader()
    gated = False
    last: int | None = None
    for day, score in enumerate(scores, DAY):
        stored = account.record_risk_score(score, day, SYSTEM_ACTOR, f"c{day}", TS + day)
        # the automaton: closed at GATE_AT and more, open below LIFT_BELOW, else unchanged
        gated = True if score >= GATE_AT else False if score < LIFT_BELOW else gated
        assert account.risk_gated == gated
        assert stored == (score != last), "an event for each change of score, none otherwise"
        last = score
    events = account.collect_events()
    changes = sum(1 for a, b in zip([None, *scores], scores, strict=False) if a != b)
    assert len(events) == 1 + changes  # Registered, then one per change
    replayed = _replayed(events)
    assert (replayed.risk_score, replayed.risk_score_as_of, replayed.risk_gated) == (
        account.risk_score,
        account.risk_score_as_of,
        account.risk_gated,
    )
