"""The writer's background commands: at most one per batch, after the others, in their order."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import ClassVar

import pytest

from socialtrading.commands.models import Command
from socialtrading.commands.registry import HANDLERS
from socialtrading.commands.state import Handler, Outcome, State
from socialtrading.commands.writer import Writer
from socialtrading.domain.ids import SYSTEM_ACTOR


class Ordinary(Command):
    """A command that stores nothing."""


class Background(Command):
    """A background command that stores nothing."""

    background: ClassVar[bool] = True


class Gate(Command):
    """Holds the writer until the test opens the gate."""


def _handle(monkeypatch: pytest.MonkeyPatch, kind: type[Command], handler: Handler) -> None:
    monkeypatch.setitem(HANDLERS, kind, handler)


@pytest.fixture
def backend() -> str:
    return "sqlite"


def test_background_commands_go_one_per_batch_after_the_others(
    make_writer: Callable[..., Writer], monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()
    entered = threading.Event()

    def hold(state: State, command: Command, ts: int) -> Outcome:
        entered.set()
        assert gate.wait(10)
        return Outcome(command.command_id, True, stored=False)

    def nothing(state: State, command: Command, ts: int) -> Outcome:
        return Outcome(command.command_id, True, stored=False)

    _handle(monkeypatch, Gate, hold)
    _handle(monkeypatch, Ordinary, nothing)
    _handle(monkeypatch, Background, nothing)
    writer = make_writer(batch_ms=50.0)
    batches: list[list[str]] = []
    writer.add_batch_observer(lambda results, _: batches.append([c.command_id for c, _ in results]))
    held = writer.submit(Gate(command_id="gate", actor=SYSTEM_ACTOR))
    assert entered.wait(10)
    # while the writer is held: background commands first, then ordinary ones
    acks = [writer.submit(Background(command_id=f"b{i}", actor=SYSTEM_ACTOR)) for i in range(3)]
    acks += [writer.submit(Ordinary(command_id=f"o{i}", actor=SYSTEM_ACTOR)) for i in range(3)]
    gate.set()
    held.result(10)
    for ack in acks:
        ack.result(10)
    assert batches == [["gate"], ["o0", "o1", "o2", "b0"], ["b1"], ["b2"]]
    assert writer.stats.background_seconds > 0  # three batches held a background command


def test_a_command_waits_behind_one_background_command_at_most(
    make_writer: Callable[..., Writer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """While background commands queue up, every batch that follows one carrying a
    background command and has other commands waiting carries none."""
    started = threading.Event()
    release = threading.Event()

    def slow(state: State, command: Command, ts: int) -> Outcome:
        if command.command_id == "b0":
            started.set()
            assert release.wait(10)
        return Outcome(command.command_id, True, stored=False)

    def nothing(state: State, command: Command, ts: int) -> Outcome:
        return Outcome(command.command_id, True, stored=False)

    _handle(monkeypatch, Ordinary, nothing)
    _handle(monkeypatch, Background, slow)
    writer = make_writer(batch_ms=50.0)
    batches: list[list[str]] = []
    writer.add_batch_observer(lambda results, _: batches.append([c.command_id for c, _ in results]))
    acks = [writer.submit(Background(command_id=f"b{i}", actor=SYSTEM_ACTOR)) for i in range(3)]
    assert started.wait(10)  # b0 is being applied; b1 and b2 wait
    acks += [writer.submit(Ordinary(command_id=f"o{i}", actor=SYSTEM_ACTOR)) for i in range(2)]
    release.set()
    for ack in acks:
        ack.result(10)
    assert batches == [["b0"], ["o0", "o1"], ["b1"], ["b2"]]
