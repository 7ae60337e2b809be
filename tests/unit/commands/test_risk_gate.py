"""The risk gate through the real writer on SQLite: `RecordRiskScore` and its refusals, a gated
leader refused new copiers (`leader_risk_too_high`) while its running copies go on, the gate
lifted below 7, resends and restarts, and for any sequence of scores a start refused exactly
while the gate is closed. The cast is `copy_world.py`'s."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from socialtrading.commands.copying import (
    AddCopyFunds,
    PauseCopying,
    RecordRiskScore,
    ResumeCopying,
    StartCopying,
    StopCopying,
)
from socialtrading.commands.models import RegisterTrader
from socialtrading.commands.writer import Writer
from socialtrading.domain.account import Account
from socialtrading.domain.copy.copy import ACTIVE, Copy
from socialtrading.domain.copy.ids import risk_command_id
from socialtrading.domain.copy.risk import GATE_AT, LIFT_BELOW, MAX_SCORE, MIN_SCORE
from socialtrading.domain.ids import SYSTEM_ACTOR
from socialtrading.domain.time import DAY_US
from tests.unit.commands.copy_world import CAL, CAT, CID, LEA, MM, OK, START, Clock, World

D = Decimal
TODAY = START // DAY_US


@pytest.fixture
def backend() -> str:
    """These tests run on SQLite only (the writer is the same on both stores)."""
    return "sqlite"


@pytest.fixture
def world(make_writer: Callable[..., Writer]) -> Iterator[World]:
    yield World(make_writer, Clock())


def _score(leader: UUID, score: int, day: int = TODAY - 1, **fields: Any) -> RecordRiskScore:
    fields.setdefault("actor", SYSTEM_ACTOR)
    return RecordRiskScore(
        command_id=fields.pop("command_id", risk_command_id(leader, day, score)),
        leader=leader,
        score=score,
        as_of_day=day,
        **fields,
    )


def _start(world: World, copier: UUID, leader: str = "lea") -> StartCopying:
    return StartCopying(command_id=world.id(), actor=copier, leader=leader, amount=D(1000))


def _risk_events(world: World, leader: UUID) -> list[Account.RiskScoreRecorded]:
    return [
        e for e in world.writer.store.events.get(leader) if isinstance(e, Account.RiskScoreRecorded)
    ]


def test_bad_scores_and_days_are_refused_by_the_model() -> None:
    for score, day in ((0, TODAY), (11, TODAY), (-3, TODAY), (9, -1), (9, 10**7)):
        with pytest.raises(ValidationError):
            RecordRiskScore(
                command_id="r", actor=SYSTEM_ACTOR, leader=LEA, score=score, as_of_day=day
            )


def test_record_risk_score_refusals_store_nothing(world: World) -> None:
    world.lead()
    # only the system sends scores: not the leader, not another trader
    assert world.refused(_score(LEA, 9, actor=LEA)) == "not_authorized"
    assert world.refused(_score(LEA, 9, actor=CAT)) == "not_authorized"
    assert world.refused(_score(UUID(int=7), 9)) == "unknown_account"
    assert world.refused(_score(CAT, 9)) == "not_a_leader"  # no copy settings
    assert world.refused(_score(LEA, 9, day=TODAY + 1)) == "risk_day_in_future"
    assert not world.account(LEA).risk_gated
    assert world.code(_score(LEA, 9, day=TODAY)) == OK  # today's is allowed


def test_a_gated_leader_takes_no_new_copiers_while_its_copies_go_on(world: World) -> None:
    world.lead()
    running = world.start(CAT, "1000")
    paused = world.start(CAL, "1000")
    world.ok(PauseCopying(command_id=world.id(), actor=CAL, copy_id=paused))
    outcome = world.ok(_score(LEA, 9))
    assert outcome.stored
    (recorded,) = _risk_events(world, LEA)
    assert (recorded.score, recorded.as_of_day, recorded.gated) == (9, TODAY - 1, True)
    assert recorded.by == str(SYSTEM_ACTOR)

    assert world.refused(_start(world, CID)) == "leader_risk_too_high"
    # the running copies: top-ups, pause and resume, and the leader's fills are still copied
    world.ok(AddCopyFunds(command_id=world.id(), actor=CAT, copy_id=running, amount=D(500)))
    world.ok(ResumeCopying(command_id=world.id(), actor=CAL, copy_id=paused))
    world.order(MM, "sell", "100", "10")
    (trade,) = world.trades(world.order(LEA, "buy", "100", "2"))
    world.copy_fill(trade)
    for copy_id in (running, paused):
        assert world.copy(copy_id).status == ACTIVE
        assert any(
            isinstance(e, Copy.OrderExecuted) and e.filled > 0 for e in world.events(copy_id)
        )

    # 7 keeps the gate; 6 lifts it
    assert world.ok(_score(LEA, 7, day=TODAY)).stored
    assert world.refused(_start(world, CID)) == "leader_risk_too_high"
    world.clock.now += DAY_US
    assert world.ok(_score(LEA, 6, day=TODAY + 1)).stored
    assert not world.account(LEA).risk_gated
    assert world.code(_start(world, CID)) == OK


def test_a_score_sent_again_or_late_stores_nothing_and_survives_a_restart(world: World) -> None:
    world.lead()
    first = world.ok(_score(LEA, 9))
    head = world.head()
    again = world.ok(_score(LEA, 9))  # the same command id: its first outcome
    assert (again.accepted, again.stored) == (first.accepted, first.stored) and world.head() == head
    unchanged = world.ok(_score(LEA, 9, day=TODAY))  # a new day, the same score
    assert unchanged.accepted and not unchanged.stored and world.head() == head
    late = world.ok(_score(LEA, 3, day=TODAY - 2))  # older than the recorded day
    assert late.accepted and not late.stored and world.head() == head
    assert world.account(LEA).risk_gated
    world.restart()
    leader = world.account(LEA)
    assert (leader.risk_score, leader.risk_score_as_of, leader.risk_gated) == (9, TODAY - 1, True)
    assert world.refused(_start(world, CID)) == "leader_risk_too_high"
    world.writer.stop()
    world.index_agrees()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scores=st.lists(st.integers(MIN_SCORE, MAX_SCORE), min_size=1, max_size=8))
def test_a_start_is_refused_exactly_while_the_gate_is_closed(
    world: World, scores: list[int]
) -> None:
    # a fresh leader and copier per example (the world is shared by the examples)
    n = world.n
    leader = world.ok(RegisterTrader(command_id="r", handle=f"lead{n}")).account_id
    copier = world.ok(RegisterTrader(command_id="r", handle=f"copy{n}")).account_id
    assert leader is not None and copier is not None
    world.lead(leader)
    world.fund(copier, "USD", "100000")
    running = world.start(CID, "100", leader=f"lead{n}")
    day = TODAY - 1
    gated = False
    for score in scores:
        world.ok(_score(leader, score, day=day))
        gated = True if score >= GATE_AT else False if score < LIFT_BELOW else gated
        assert world.account(leader).risk_gated == gated
        start = _start(world, copier, f"lead{n}")
        code = world.code(start)
        assert code == ("leader_risk_too_high" if gated else OK)
        if code == OK:
            copy_id = world.writer.state.copies.copying(str(copier), str(leader))
            assert copy_id is not None
            world.ok(StopCopying(command_id=world.id(), actor=copier, copy_id=copy_id))
        assert world.copy(running).status == ACTIVE  # the running copy is never touched
        day += 1
        world.clock.now += DAY_US
