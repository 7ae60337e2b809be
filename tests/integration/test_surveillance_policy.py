"""The surveillance process over a real store and read store (both backends): it sends each
finding once, follows the log as the writer commits, resumes from its checkpoint (or from
the start without one) without sending anything again, and sends again what failed to send
before it moves on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from uuid import UUID

import pytest
from sqlalchemy import Engine, select, update

from socialtrading.commands.writer import Writer
from socialtrading.domain.compliance.alert import OPEN, Alert, alert_id
from socialtrading.domain.errors import InvalidCommand
from socialtrading.policies.surveillance.findings import (
    SPOOFING,
    WASH_TRADING,
    Finding,
    alert_command_id,
)
from socialtrading.policies.surveillance.policy import (
    Send,
    SurveillancePolicy,
    alerts_through,
    positions,
)
from tests.integration.surveillance_world import Watched, kinds
from tests.unit.commands.copy_world import Clock


@pytest.fixture
def world(make_writer: Callable[..., Writer]) -> Watched:
    return Watched(make_writer, Clock())


@pytest.fixture
def make_policy(world: Watched, read_engine: Engine) -> Iterator[Callable[..., SurveillancePolicy]]:
    made: list[SurveillancePolicy] = []

    def make(send: Send, **options: object) -> SurveillancePolicy:
        policy = SurveillancePolicy(
            world.writer.store,
            read_engine,
            send,
            **options,  # type: ignore[arg-type]
        )
        policy.setup()
        made.append(policy)
        return policy

    yield make
    for policy in made:
        policy.stop()


def _wash(world: Watched, first: str, second: str) -> tuple[UUID, UUID]:
    a, b = world.trader(first), world.trader(second)
    for seller, buyer in [(a, b), (b, a), (a, b), (b, a)]:
        world.place(seller, "sell", "100", "1")
        world.order(buyer, "buy", "100", "1")
    return a, b


def _spoof(world: Watched, start: int) -> UUID:
    spo = world.trader("spo")
    world.quote("99", "101")
    world.at(start)
    spoof = world.place(spo, "buy", "98.99", "20")
    world.order(spo, "sell", "99", "2")
    world.cancel(spo, spoof)
    return spo


def test_each_finding_is_sent_once_as_the_log_grows_and_never_again_after_a_restart(
    world: Watched, make_policy: Callable[..., SurveillancePolicy], read_engine: Engine
) -> None:
    sent: list[Finding] = []
    policy = make_policy(sent.append).start()
    world.writer.add_listener(policy.wake)
    ana, bob = _wash(world, "ana", "bob")
    assert policy.wait_for(world.head(), 30)
    assert sorted(kinds(sent)) == sorted([(WASH_TRADING, ana), (WASH_TRADING, bob)])
    spo = _spoof(world, 600)
    assert policy.wait_for(world.head(), 30)
    assert kinds(sent[2:]) == [(SPOOFING, spo)]
    policy.stop()  # stores a checkpoint
    with read_engine.connect() as connection:
        row = connection.execute(select(positions)).one()
    assert row.position == row.checkpoint_position == world.head()
    again: list[Finding] = []
    resumed = make_policy(again.append)
    assert resumed.position == world.head()  # from the checkpoint, nothing to read again
    resumed.catch_up()
    assert again == []
    cyd, dan = _wash(world, "cyd", "dan")
    resumed.catch_up()
    assert sorted(kinds(again)) == sorted([(WASH_TRADING, cyd), (WASH_TRADING, dan)])
    assert len({alert_command_id(f) for f in sent + again}) == 5


def test_without_a_checkpoint_the_log_is_scanned_again_sending_nothing_twice(
    world: Watched, make_policy: Callable[..., SurveillancePolicy], read_engine: Engine
) -> None:
    sent: list[Finding] = []
    first = make_policy(sent.append)
    _wash(world, "ana", "bob")
    first.catch_up()
    assert len(sent) == 2
    first.stop()
    with read_engine.begin() as connection:  # a checkpoint of another version, say
        connection.execute(update(positions).values(checkpoint=b"O{}", checkpoint_position=1))
    again: list[Finding] = []
    rescanned = make_policy(again.append)
    assert rescanned.position == 0
    rescanned.catch_up()
    assert again == []
    spo = _spoof(world, 600)
    rescanned.catch_up()
    assert kinds(again) == [(SPOOFING, spo)]


def test_small_chunks_and_restarts_send_what_one_pass_finds(
    world: Watched, make_policy: Callable[..., SurveillancePolicy]
) -> None:
    _wash(world, "ana", "bob")
    _spoof(world, 600)
    _wash(world, "cyd", "dan")
    whole = world.findings()
    assert len(whole) == 5
    sent: list[Finding] = []
    for _ in range(8):  # a restart every 3 chunks of 7 events, a checkpoint every 10
        step = make_policy(sent.append, chunk=7, checkpoint_every=10)
        for _ in range(3):
            step.run_once()
        step.stop()
    make_policy(sent.append, chunk=7, checkpoint_every=10).catch_up()
    assert sent == whole


def test_a_finding_that_fails_to_send_is_sent_again_before_the_position_moves(
    world: Watched, make_policy: Callable[..., SurveillancePolicy]
) -> None:
    sent: list[Finding] = []
    failures = [RuntimeError("the writer did not commit")]

    class Ack:
        def __init__(self, found: Finding) -> None:
            self.found = found

        def result(self, timeout: float | None = None) -> object:
            if failures:
                raise failures.pop()
            if self.found.account == refused:
                raise InvalidCommand("refused", "a refusal is an outcome")
            sent.append(self.found)
            return None

    refused, other = _wash(world, "ana", "bob")
    policy = make_policy(Ack)
    with pytest.raises(RuntimeError):
        policy.run_once()
    assert policy.position == 0
    assert policy.run_once() > 0  # the same findings again; the refusal is its outcome
    assert kinds(sent) == [(WASH_TRADING, other)]
    assert policy.position == world.head()


def test_findings_are_raised_as_alerts_through_the_writer_once(
    world: Watched, make_policy: Callable[..., SurveillancePolicy]
) -> None:
    """The sink `serve` uses: each finding becomes a stored `Alert` with the finding's kind,
    account, score and evidence; sending the same findings again stores nothing."""
    send = alerts_through(world.writer.submit)
    sent: list[Finding] = []

    def record(found: Finding) -> object:
        sent.append(found)
        return send(found)

    policy = make_policy(record).start()
    world.writer.add_listener(policy.wake)
    ana, bob = _wash(world, "ana", "bob")
    assert policy.wait_for(world.head(), 30)
    assert sorted(kinds(sent)) == sorted([(WASH_TRADING, ana), (WASH_TRADING, bob)])
    store = world.writer.store
    for found in sent:
        alert: Alert = store.repository.get(alert_id(found.key))
        assert isinstance(alert, Alert) and alert.status == OPEN
        assert (alert.kind, alert.account, alert.score) == (
            found.kind,
            str(found.account),
            found.score,
        )
        assert [(e["kind"], e["ref"], e["position"]) for e in alert.evidence] == list(
            found.evidence
        )
    head = world.head()
    for found in sent:
        ack = send(found)
        assert ack is not None
        outcome = ack.result(10)
        assert outcome.accepted  # a repeat: answered with the first outcome, nothing stored
    assert world.head() == head
