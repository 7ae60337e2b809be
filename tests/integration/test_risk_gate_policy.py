"""The risk gate's process over a real store and read store (both backends): a leader's score
is sent once per change and its gate follows; a leader that appears later is scored at once;
a replay (the position lost) sends nothing again; and over the real statistics read model,
a volatile leader is gated and lifted when the volatile days leave its D30 window."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from uuid import UUID

import pytest
from sqlalchemy import Engine, delete

from socialtrading.commands.copying import StartCopying
from socialtrading.commands.writer import Writer
from socialtrading.domain.account import Account
from socialtrading.domain.copy.risk import GATE_AT
from socialtrading.domain.time import DAY_US
from socialtrading.policies.copying import positions
from socialtrading.policies.risk_gate import RiskGatePolicy, RiskSource
from socialtrading.projections.copy import copies
from socialtrading.projections.registry import all_projections
from socialtrading.projections.runner import ProjectionRunner
from socialtrading.projections.stats.risk import LeaderRisk
from tests.unit.commands.copy_world import CAL, CID, LEA, MM, Clock, World

D = Decimal
LEA_ID, CAL_ID = str(LEA), str(CAL)


class Source:
    """What the statistics say, set by hand."""

    def __init__(self) -> None:
        self.day: int | None = None
        self.found: dict[str, int | None] = {}
        self.asked: list[tuple[list[str], int]] = []

    def closed_day(self) -> int | None:
        return self.day

    def leaders(self) -> list[str]:
        return sorted(self.found)

    def scores(self, leaders: Sequence[str], day: int) -> dict[str, int | None]:
        self.asked.append((list(leaders), day))
        return {leader: self.found[leader] for leader in leaders}


@pytest.fixture
def world(make_writer: Callable[..., Writer]) -> World:
    return World(make_writer, Clock())


@pytest.fixture
def make_policy(world: World, read_engine: Engine) -> Iterator[Callable[..., RiskGatePolicy]]:
    made: list[RiskGatePolicy] = []

    def make(source: RiskSource) -> RiskGatePolicy:
        policy = RiskGatePolicy(world.writer.store, read_engine, world.writer.submit, source)
        policy.setup()
        made.append(policy)
        return policy

    yield make
    for policy in made:
        policy.stop()


def _gate(world: World, leader: object) -> tuple[int | None, int | None, bool]:
    account = world.writer.state.accounts[leader]  # type: ignore[index]
    return account.risk_score, account.risk_score_as_of, account.risk_gated


def test_each_change_of_score_is_sent_once_and_the_gate_follows(
    world: World, make_policy: Callable[..., RiskGatePolicy], read_engine: Engine
) -> None:
    world.lead()
    day = world.clock.now // DAY_US - 1
    source = Source()
    policy = make_policy(source)
    assert policy.catch_up() == 0  # no statistics yet
    source.day, source.found = day, {LEA_ID: 9}
    policy.catch_up()
    assert policy.sent == 1 and policy.position == day
    assert _gate(world, LEA) == (9, day, True)
    head = world.head()
    policy.catch_up()  # the same day: nothing asked, nothing sent
    assert policy.sent == 1 and world.head() == head and len(source.asked) == 1

    # the next day, the same score: asked, nothing sent
    world.clock.now += DAY_US
    source.day = day + 1
    policy.catch_up()
    assert policy.sent == 1 and world.head() == head
    # a leader appears (settings set later) while the day is done: scored as of that day
    world.lead(CAL)
    source.found[CAL_ID] = GATE_AT
    policy.catch_up()
    assert source.asked[-1] == ([CAL_ID], day + 1)
    assert policy.sent == 2 and _gate(world, CAL) == (GATE_AT, day + 1, True)

    # the score falls: lea's 6 lifts the gate, cal's 7 keeps it, an unknown score sends nothing,
    # an account the store does not know is refused by the writer (and the process goes on)
    world.clock.now += DAY_US
    stranger = str(UUID(int=5))
    source.day, source.found = day + 2, {LEA_ID: 6, CAL_ID: 7, str(CID): None, stranger: 9}
    policy.catch_up()
    assert policy.sent == 5 and policy.position == day + 2
    assert _gate(world, LEA) == (6, day + 2, False)
    assert _gate(world, CAL) == (7, day + 2, True)
    events = [
        e for e in world.writer.store.events.get(LEA) if isinstance(e, Account.RiskScoreRecorded)
    ]
    assert [(e.score, e.gated) for e in events] == [(9, True), (6, False)]

    # a replay: the position lost, a new process over the same store sends nothing again
    del source.found[stranger]
    policy.stop()
    with read_engine.begin() as connection:
        connection.execute(delete(positions))
    head = world.head()
    again = make_policy(source)
    assert again.position == 0
    again.catch_up()
    assert again.sent == 0 and again.position == day + 2 and world.head() == head


def test_the_gate_follows_the_statistics_read_model(
    world: World, make_policy: Callable[..., RiskGatePolicy], read_engine: Engine
) -> None:
    source = LeaderRisk(read_engine)
    assert source.closed_day() is None  # no read model built yet
    runner = ProjectionRunner(world.writer.store, read_engine, all_projections())
    runner.setup()
    assert source.closed_day() is None  # built, no event applied yet
    world.lead()
    copier = world.start(CAL, "1000", sizing="FIXED_RATIO", ratio=D("0.01"))
    # lea holds half her equity in BTC, whose price swings 9% a day for four days
    world.order(MM, "sell", "100", "50")
    world.order(LEA, "buy", "100", "50")
    for price in ("109", "100", "109", "100", "100"):
        world.clock.now += DAY_US
        world.order(MM, "sell", price, "0.01")
        world.order(CID, "buy", price, "0.01")
    runner.catch_up()
    closed = source.closed_day()
    assert closed == world.clock.now // DAY_US - 1
    (score,) = source.scores([LEA_ID], closed).values()
    # daily returns of about +-4.5%: an annualized volatility of about 90%, a 9
    assert score == 9
    policy = make_policy(source)
    policy.catch_up()
    assert policy.sent == 1 and _gate(world, LEA) == (score, closed, True)
    refused = StartCopying(command_id=world.id(), actor=CID, leader="lea", amount=D(500))
    assert world.refused(refused) == "leader_risk_too_high"
    runner.catch_up()
    with read_engine.connect() as connection:
        (settings,) = copies.settings_of(connection, [LEA_ID]).values()
    assert (settings.risk_score, settings.risk_gated, settings.copyable) == (score, True, False)
    assert settings.live_copiers == 1 and world.copy(copier).live

    # forty calm days later the volatile days have left the window: the gate lifts
    world.clock.now += 40 * DAY_US
    world.order(MM, "sell", "100", "0.01")
    world.order(CID, "buy", "100", "0.01")
    runner.catch_up()
    policy.catch_up()
    lifted = _gate(world, LEA)
    assert policy.sent == 2 and lifted == (1, world.clock.now // DAY_US - 1, False)
    assert world.code(refused) == "leader_risk_too_high"  # a resend: its first outcome
    again = StartCopying(command_id=world.id(), actor=CID, leader="lea", amount=D(500))
    assert world.code(again) == "ok"
