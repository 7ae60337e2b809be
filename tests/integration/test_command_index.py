"""The command index on each backend: repeats answered from it, start-ups that never read the
log, a store written before the index existed getting it from its log, and `store verify`
finding where the index and the log disagree."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Literal
from unittest import mock
from uuid import UUID

from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql
from typer.testing import CliRunner

from socialtrading.commands import dedup
from socialtrading.commands.models import Deposit, ListMarket, PlaceOrder, RegisterTrader, Withdraw
from socialtrading.commands.writer import Writer
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id
from socialtrading.entrypoints.cli import app
from socialtrading.infra.command_index import ACCOUNT, MARKET
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import EventStore


def _trade(writer: Writer) -> tuple[UUID, UUID]:
    """A market, two traders, one trade, one withdrawal refused for funds (stored), and one
    deposit into another's account refused for want of the admin role (stored nothing)."""
    listed = writer.execute(
        ListMarket(
            command_id="list",
            actor=SYSTEM_ACTOR,
            symbol="BTC-USD",
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.0001"),
        )
    )
    assert listed.accepted, listed
    alice = writer.execute(RegisterTrader(command_id="r", handle="alice")).account_id
    bob = writer.execute(RegisterTrader(command_id="r", handle="bob")).account_id
    assert alice is not None and bob is not None
    for actor, asset in ((alice, "USD"), (bob, "BTC")):
        writer.execute(
            Deposit(command_id="d", actor=actor, account=actor, asset=asset, amount=Decimal(100))
        )
    sides: tuple[tuple[UUID, Literal["buy", "sell"]], ...] = ((bob, "sell"), (alice, "buy"))
    for actor, side in sides:
        placed = writer.execute(
            PlaceOrder(
                command_id=side,
                actor=actor,
                market="BTC-USD",
                side=side,
                price=Decimal("10"),
                quantity=Decimal("1"),
            )
        )
        assert placed.accepted, placed
    too_much = writer.execute(
        Withdraw(command_id="w", actor=bob, asset="USD", amount=Decimal("1e6"))
    )
    assert not too_much.accepted and too_much.stored
    not_admin = writer.execute(
        Deposit(command_id="credit", actor=bob, account=alice, asset="USD", amount=Decimal(5))
    )
    assert not not_admin.accepted and not not_admin.stored
    return alice, bob


def _commands() -> list[tuple[UUID, str]]:
    """The (actor, command_id) of every command `_trade` sends."""
    return [
        (SYSTEM_ACTOR, "list"),
        (account_id("alice"), "r"),
        (account_id("bob"), "r"),
        (account_id("alice"), "d"),
        (account_id("bob"), "d"),
        (account_id("bob"), "sell"),
        (account_id("alice"), "buy"),
        (account_id("bob"), "w"),
        (account_id("bob"), "credit"),
    ]


def _on_tables(store: EventStore, statement: str, *tables: str) -> None:
    """Run `statement` (its `{}` the table's name) on each of the index's tables."""
    recorder = store.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        with recorder.datastore.transaction(commit=True) as cursor:
            for table in tables:
                name = sql.Identifier(recorder.datastore.schema, table)
                cursor.execute(sql.SQL(statement).format(name))
        return
    with recorder.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
        for table in tables:
            cursor.execute(statement.format(table))


def _drop_index(store: EventStore) -> None:
    """Make the store look as one written before the command index existed."""
    _on_tables(store, "DROP TABLE {}", store.index.commands, store.index.aggregates)


def test_a_restart_reads_no_log_and_answers_every_repeat_with_its_first_outcome(
    make_writer: Callable[..., Writer],
) -> None:
    writer = make_writer()
    _trade(writer)
    keys = _commands()
    first = {key: writer.outcome(*key) for key in keys}
    assert all(outcome is not None for outcome in first.values())
    assert {(row.actor, row.command_id) for row in writer.store.all_commands()} == set(keys)
    head = writer.store.recorder.max_notification_id()
    writer.stop()

    # A start-up loads accounts and markets from the aggregates table, never the whole log.
    with mock.patch.object(EventStore, "read", side_effect=AssertionError("read the log")):
        restarted = make_writer()
    assert [kind for _, kind in restarted.store.aggregates()] == [
        ACCOUNT,  # the fee account, opened by the first listing
        MARKET,
        ACCOUNT,
        ACCOUNT,
    ]
    assert restarted.state.accounts[account_id("alice")].available("BTC") == 1
    for key in keys:
        outcome = first[key]
        assert outcome is not None
        command = _resend(key, outcome.command_id)
        assert restarted.execute(command) == outcome, key
    # ...and nothing was stored for the repeats, not even for the refusal that stored nothing.
    assert restarted.store.recorder.max_notification_id() == head
    assert len(restarted.store.all_commands()) == len(keys)


def _resend(key: tuple[UUID, str], command_id: str) -> Deposit:
    """A command under a remembered key: its content does not matter, only (actor, id)."""
    actor = key[0]
    return Deposit(
        command_id=command_id, actor=actor, account=actor, asset="USD", amount=Decimal(1)
    )


def test_a_store_without_the_index_gets_it_from_its_log(
    make_writer: Callable[..., Writer],
) -> None:
    writer = make_writer()
    _trade(writer)
    before = writer.store.all_commands()
    aggregates = writer.store.aggregates()
    state = {a.handle: a.state() for a in writer.state.accounts.values()}
    writer.stop()
    _drop_index(writer.store)

    restarted = make_writer()
    # Every stored command is remembered again, as it was; the refusal that stored nothing
    # left no trace in the log, so it is the one command forgotten.
    assert set(restarted.store.all_commands()) == {row for row in before if row.stored}
    assert [row.command_id for row in before if not row.stored] == ["credit"]
    assert restarted.store.aggregates() == aggregates
    assert {a.handle: a.state() for a in restarted.state.accounts.values()} == state
    derived, created = dedup.derive(restarted.store)
    assert set(derived) == set(restarted.store.all_commands())
    assert created == aggregates


def test_a_batch_of_refusals_that_store_nothing_writes_only_their_rows(
    make_writer: Callable[..., Writer],
) -> None:
    writer = make_writer()
    _trade(writer)
    head = writer.store.recorder.max_notification_id()
    alice, bob = account_id("alice"), account_id("bob")
    refused = writer.execute(
        Deposit(command_id="again", actor=bob, account=alice, asset="USD", amount=Decimal(5))
    )
    assert (refused.accepted, refused.code, refused.stored) == (False, "not_authorized", False)
    assert refused.position == 0
    assert writer.store.recorder.max_notification_id() == head
    (row,) = writer.store.find_commands([(bob, "again")])
    assert (row.accepted, row.stored, row.code) == (False, False, "not_authorized")


def test_store_verify_says_where_the_index_and_the_log_disagree(
    make_writer: Callable[..., Writer], store_settings: Settings
) -> None:
    env = {"SOCIALTRADING_STORE": store_settings.store}
    if store_settings.postgres_schema:
        env["SOCIALTRADING_POSTGRES_SCHEMA"] = store_settings.postgres_schema
    runner = CliRunner()
    before = runner.invoke(app, ["store", "verify"], env=env)
    assert before.exit_code == 0, before.output
    assert "no command index yet" in before.output

    writer = make_writer()
    _trade(writer)
    writer.stop()
    store = writer.store
    assert dedup.disagreements(store) == []
    agreed = runner.invoke(app, ["store", "verify"], env=env)
    assert agreed.exit_code == 0, agreed.output
    assert "agrees with the log: 9 commands, 4 aggregates" in agreed.output

    commands = store.index.commands
    _on_tables(store, "UPDATE {} SET accepted = NOT accepted WHERE command_id = 'buy'", commands)
    _on_tables(store, "DELETE FROM {} WHERE command_id = 'w'", commands)
    found = dedup.disagreements(store)
    assert len(found) == 2, found
    assert any("'buy'): the index says" in line for line in found), found
    assert any("'w') is in the log, not in the index" in line for line in found), found
    broken = runner.invoke(app, ["store", "verify"], env=env)
    assert broken.exit_code == 1
    assert "'w') is in the log, not in the index" in broken.output
