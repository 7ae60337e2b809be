"""Acknowledgements: each command's Ack resolves once its batch has committed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from decimal import Decimal

import pytest

from socialtrading.commands.models import CancelOrder, Deposit, ListMarket, RegisterTrader
from socialtrading.commands.writer import Ack, Writer, WriterStopped
from socialtrading.domain.errors import InvalidCommand
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id


def _open(writer: Writer) -> None:
    """List USD-EUR (deposits are of listed assets only) and register alice."""
    listed = writer.execute(
        ListMarket(
            command_id="m",
            actor=SYSTEM_ACTOR,
            symbol="USD-EUR",
            tick_size=Decimal("0.0001"),
            lot_size=Decimal("0.01"),
        )
    )
    assert listed.accepted
    writer.execute(RegisterTrader(command_id="r", handle="alice"))


def _deposits(count: int) -> list[Deposit]:
    alice = account_id("alice")
    return [
        Deposit(command_id=f"d{n}", actor=alice, account=alice, asset="USD", amount=Decimal(n + 1))
        for n in range(count)
    ]


def test_a_burst_is_acknowledged_after_commit_with_each_outcome(
    make_writer: Callable[..., Writer],
) -> None:
    writer = make_writer(batch_max=50, batch_ms=50.0)
    _open(writer)
    acks = [writer.submit(command) for command in _deposits(200)]
    outcomes = [ack.result(30) for ack in acks]
    assert all(ack.done() for ack in acks)
    assert all(outcome.accepted for outcome in outcomes)
    assert all(ack.acknowledged >= ack.submitted > 0 for ack in acks)
    # every outcome was stored before it was acknowledged
    head = writer.store.recorder.max_notification_id()
    assert head is not None
    assert all(0 < outcome.position <= head for outcome in outcomes)
    assert writer.state.accounts[account_id("alice")].available("USD") == sum(range(1, 201))
    assert writer.stats.batches < 200  # they shared batches
    used = writer.cpu_seconds()
    assert used > 0
    writer.stop()
    assert writer.cpu_seconds() == 0.0  # not running


def test_callbacks_run_once_from_the_writer_and_a_failing_one_stops_nothing(
    make_writer: Callable[..., Writer],
) -> None:
    writer = make_writer()
    _open(writer)
    seen: list[tuple[Ack, str]] = []

    def broken(_: Ack) -> None:
        raise RuntimeError("a caller's bug")

    acks = [writer.submit(command) for command in _deposits(20)]
    for ack in acks:
        ack.add_done_callback(broken)
        ack.add_done_callback(lambda done: seen.append((done, threading.current_thread().name)))
    for ack in acks:
        ack.result(30)
    writer.execute(RegisterTrader(command_id="r", handle="bob"))  # the writer still runs
    assert sorted(id(ack) for ack, _ in seen) == sorted(id(ack) for ack in acks)
    late: list[Ack] = []
    acks[0].add_done_callback(late.append)  # already done: called at once, here
    assert late == [acks[0]]


def test_errors_reach_the_waiter(make_writer: Callable[..., Writer]) -> None:
    writer = make_writer()
    alice = writer.execute(RegisterTrader(command_id="r", handle="alice")).account_id
    assert alice is not None
    ack = writer.submit(CancelOrder(command_id="c", actor=alice, order_id="nothing"))
    error = ack.exception(30)
    assert isinstance(error, InvalidCommand) and error.code == "unknown_order"
    with pytest.raises(InvalidCommand):
        ack.result(0)


def test_awaiting_on_an_event_loop(make_writer: Callable[..., Writer]) -> None:
    writer = make_writer()
    _open(writer)

    async def scenario() -> None:
        outcomes = await asyncio.gather(*(writer.submit(c).wait_async() for c in _deposits(30)))
        assert [o.command_id for o in outcomes] == [f"d{n}" for n in range(30)]
        # an awaiting task cancelled by its timeout leaves the writer and the loop unharmed
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(writer.submit(_deposits(31)[-1]).wait_async(), 0)
        again = await writer.submit(_deposits(31)[-1]).wait_async()  # a repeat: first outcome
        assert again.accepted

    asyncio.run(scenario())


def test_waiting_for_an_ack_nobody_resolves_times_out() -> None:
    ack = Ack(RegisterTrader(command_id="r", handle="xyz"), threading.Condition())
    with pytest.raises(TimeoutError):
        ack.result(0.01)  # nobody resolves it


def test_submitting_to_a_writer_not_running(make_writer: Callable[..., Writer]) -> None:
    writer = make_writer()
    writer.stop()
    ack = writer.submit(RegisterTrader(command_id="r", handle="alice"))
    assert ack.done()
    assert isinstance(ack.exception(0), WriterStopped)
