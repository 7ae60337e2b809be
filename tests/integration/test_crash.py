"""SIGKILL a writer under load, twice; what it acknowledged survives, exactly once.

`crash_writer.py` runs in a subprocess over the test's store (both backends), with hundreds of
commands in flight, and prints an ACK line for each command once its batch has committed. The
test kills it with SIGKILL after a few hundred ACKs, starts it again (it re-runs its setup and
re-sends its whole stream from the start, so every command it had sent is now a repeat), kills
it again, and then opens a new writer over the store and checks that:

- every acknowledged command has its outcome (as acknowledged) in the rebuilt writer, and is
  stored once: each acknowledged order id is in exactly one OrderAccepted/OrderRejected event,
  and no command's events were stored twice (not even by the second run's repeats);
- no trade is stored twice (a market's record sequence numbers only increase) and no order is
  filled beyond its quantity;
- the ledger holds: per asset, available + reserved over all accounts equals the stored
  deposits minus withdrawals, and reserved equals what the live orders need;
- re-sending every acknowledged command returns its stored outcome and stores nothing.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from socialtrading.commands.models import Command, PlaceOrder
from socialtrading.commands.writer import Writer
from socialtrading.domain.account import Account
from socialtrading.domain.ids import order_id
from socialtrading.domain.market import Market
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import EventStore
from tests.integration.crash_writer import setup_commands, stream_commands, summary

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("crash_writer.py")
ROOT = SCRIPT.parents[2]
ACKS_BEFORE_KILL = 300
SETUP_IDS = {command.command_id for command in setup_commands()}

Key = tuple[UUID, str]


@dataclass
class Run:
    """What one killed run printed."""

    acks: dict[Key, str] = field(default_factory=dict)  # (actor, command id) -> summary
    invalid: set[Key] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    stream_acks: int = 0

    def take(self, line: str) -> None:
        if not line.endswith("\n"):
            return  # cut off by the kill: not printed, so not an acknowledgement
        kind, actor, command_id, detail = line.split()
        key = (UUID(actor), command_id)
        if kind == "ACK":
            assert self.acks.setdefault(key, detail) == detail, line
            self.stream_acks += command_id not in SETUP_IDS
        elif kind == "INVALID":
            self.invalid.add(key)
        else:
            self.errors.append(line)


def run_until_killed(settings: Settings, stderr: Path, stream_acks: int) -> Run:
    """Start the crash writer; SIGKILL it once it acknowledged `stream_acks` stream commands."""
    args = [sys.executable, str(SCRIPT), settings.store]
    if settings.postgres_schema:
        args.append(settings.postgres_schema)
    # The store comes from the arguments alone: no SOCIALTRADING_* setting leaks in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALTRADING_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    run = Run()
    lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
    with stderr.open("w") as errors:
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=errors, env=env, cwd=stderr.parent, text=True
        )
        assert process.stdout is not None
        stdout = process.stdout

        def read() -> None:
            for line in stdout:
                lines.put(line)
            lines.put(None)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 60
            while run.stream_acks < stream_acks:
                try:
                    line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
                except queue.Empty:
                    pytest.fail(f"{run.stream_acks} ACKs in 60 s: {stderr.read_text()}")
                assert line is not None, f"the writer exited early: {stderr.read_text()}"
                run.take(line)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            reader.join(30)
            stdout.close()
    # What it printed before it died was acknowledged too.
    while (line := lines.get(timeout=5)) is not None:
        run.take(line)
    assert process.returncode == -signal.SIGKILL
    assert not run.errors, (run.errors, stderr.read_text())
    return run


def stored_events(store: EventStore) -> Iterator[Any]:
    """Every stored domain event, in notification order."""
    position: int | None = None
    while True:
        notifications = store.recorder.select_notifications(
            position, 500, inclusive_of_start=position is None
        )
        if not notifications:
            return
        for notification in notifications:
            yield store.mapper.to_domain_event(notification)
        position = notifications[-1].id


def commands_for(keys: set[Key]) -> dict[Key, Command]:
    """The crash writer's commands with these (actor, command id) keys."""
    found = {
        (c.actor, c.command_id): c for c in setup_commands() if (c.actor, c.command_id) in keys
    }
    if len(found) < len(keys):
        for command in stream_commands():
            key = (command.actor, command.command_id)
            if key in keys:
                found[key] = command
                if len(found) == len(keys):
                    break
    assert found.keys() == keys
    return found


def test_a_killed_writer_keeps_every_acknowledged_command_exactly_once(
    store_settings: Settings, tmp_path: Path, make_writer: Callable[..., Writer]
) -> None:
    first = run_until_killed(store_settings, tmp_path / "first.stderr", ACKS_BEFORE_KILL)
    second = run_until_killed(
        store_settings, tmp_path / "second.stderr", first.stream_acks + ACKS_BEFORE_KILL
    )
    # The second run re-sent everything the first had acknowledged and got the same outcomes.
    assert first.acks.keys() <= second.acks.keys()
    assert {key: second.acks[key] for key in first.acks} == first.acks
    acks = first.acks | second.acks
    assert len(acks) >= len(setup_commands()) + 2 * ACKS_BEFORE_KILL

    writer = make_writer()
    store, state = writer.store, writer.state

    # Every acknowledged command has its outcome, as acknowledged; refused-before-storing
    # commands left nothing.
    for key, said in acks.items():
        outcome = writer.outcome(*key)
        assert outcome is not None, f"acknowledged, then lost: {key}"
        assert summary(outcome) == said, key
    for key in (first.invalid | second.invalid) - acks.keys():
        assert writer.outcome(*key) is None, key

    # Stored exactly once.
    orders: Counter[str] = Counter()  # order id -> OrderAccepted/OrderRejected events
    stored_commands: Counter[tuple[str, str, str]] = Counter()
    trades: Counter[tuple[UUID, int]] = Counter()
    last_seq: dict[UUID, int] = {}
    quantity: dict[str, int] = {}
    filled: Counter[str] = Counter()
    deposits: dict[str, Decimal] = defaultdict(Decimal)
    withdrawals: dict[str, Decimal] = defaultdict(Decimal)
    for event in stored_events(store):
        if isinstance(event, Market.OrderAccepted | Market.OrderRejected):
            assert event.order_id is not None
            orders[event.order_id] += 1
        if isinstance(event, Market.BookChanged):
            stored_commands[("book", event.actor, event.command_id)] += 1
            for record in event.records:
                assert record[1] > last_seq.get(event.originator_id, 0), record
                last_seq[event.originator_id] = record[1]
                if record[0] == "accepted":
                    quantity[record[3]] = record[8]
                elif record[0] == "trade":
                    trades[(event.originator_id, record[1])] += 1
                    filled[record[5]] += record[4]
                    filled[record[6]] += record[4]
        elif isinstance(event, Account.FundsDeposited):
            stored_commands[("deposit", event.by, event.command_id)] += 1
            deposits[event.asset] += event.amount
        elif isinstance(event, Account.FundsWithdrawn | Account.WithdrawalRefused):
            stored_commands[("withdraw", str(event.originator_id), event.command_id)] += 1
            if isinstance(event, Account.FundsWithdrawn):
                withdrawals[event.asset] += event.amount
    assert not [key for key, count in stored_commands.items() if count != 1]
    assert not [oid for oid, count in orders.items() if count != 1]
    assert not [key for key, count in trades.items() if count != 1]
    assert len(trades) > ACKS_BEFORE_KILL // 10, "too few trades to mean anything"
    for (actor, command_id), said in acks.items():
        if command_id.startswith("o"):
            assert orders[order_id(actor, command_id)] == 1, (actor, command_id, said)
    assert not [oid for oid, lots in filled.items() if lots > quantity[oid]]

    # The ledger: money is conserved, and reserved is exactly what live orders need.
    need: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for symbol, market in state.markets.items():
        for order in market.book.live_orders():
            asset, amount = state.markets[symbol].settlement.need(
                order.side, order.price, order.open
            )
            need[(order.account, asset)] += amount
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for account in state.accounts.values():
        for asset in account.assets():
            assert account.available(asset) >= 0 and account.reserved(asset) >= 0
            assert account.reserved(asset) == need.get((str(account.id), asset), Decimal(0))
            totals[asset] += account.available(asset) + account.reserved(asset)
    assert dict(totals) == {asset: deposits[asset] - withdrawals[asset] for asset in totals}
    assert totals.keys() == deposits.keys()

    # Re-sending every acknowledged command returns the stored outcome and stores nothing.
    before = store.recorder.max_notification_id()
    expected = {key: writer.outcome(*key) for key in acks}
    commands = commands_for(set(acks))
    futures = {key: writer.submit(command) for key, command in commands.items()}
    for key, future in futures.items():
        again = future.result(60)
        assert again == expected[key], key
        if isinstance(commands[key], PlaceOrder):
            assert again.order_id == order_id(*key)
    assert store.recorder.max_notification_id() == before
