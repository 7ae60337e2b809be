"""Tokens on each backend: valid tokens authenticate and are listed; revoked and expired ones
do neither; a read store made before the `tokens` table rebuilds the accounts; an account
snapshotted before tokens were tracked recovers them from its events."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eventsourcing.domain import Aggregate
from sqlalchemy import Engine, Table, text

from socialtrading.commands.models import IssueToken, RegisterTrader, RevokeToken
from socialtrading.commands.writer import Writer
from socialtrading.domain.ids import account_id
from socialtrading.domain.time import to_datetime
from socialtrading.domain.tokens import hash_token, token_id
from socialtrading.infra.readstore import open_read_store
from socialtrading.infra.settings import Settings
from socialtrading.projections.accounts import account_for_token, api_tokens, tokens_of
from socialtrading.projections.base import metadata
from socialtrading.projections.registry import all_projections
from socialtrading.projections.runner import ProjectionRunner
from tests.integration.projection_scenario import Clock

ALICE = account_id("alice")
BOB = account_id("bob")


@pytest.fixture
def read_engine(store_settings: Settings, tmp_path: Any) -> Iterator[Engine]:
    settings = store_settings
    if settings.store.startswith("sqlite"):
        settings = settings.model_copy(update={"read_store": f"sqlite:///{tmp_path}/read.db"})
    engine = open_read_store(settings)
    yield engine
    engine.dispose()


def _tokens(writer: Writer, clock: Clock) -> dict[str, str]:
    """alice: `plain`, `labelled` (expires 10 s after `clock.now` at the start), `revoked`;
    bob: `bobs`. Name -> hash, and "expires" -> the expiry in microseconds."""
    hashes = {name: hash_token(name) for name in ("plain", "labelled", "revoked", "bobs")}
    assert writer.execute(
        RegisterTrader(command_id="a", handle="alice", token_hash=hashes["plain"])
    ).accepted
    assert writer.execute(
        RegisterTrader(command_id="b", handle="bob", token_hash=hashes["bobs"])
    ).accepted
    expiry = clock.now + 10_000_000
    hashes["expires"] = str(expiry)
    expires = to_datetime(expiry)
    for name, label, expires_at in (("labelled", "ci", expires), ("revoked", None, None)):
        issue = IssueToken(
            command_id=name,
            actor=ALICE,
            account=ALICE,
            token_hash=hashes[name],
            label=label,
            expires_at=expires_at,
        )
        assert writer.execute(issue).accepted
    revoke = RevokeToken(command_id="r", actor=ALICE, token_id=token_id(hashes["revoked"]))
    assert writer.execute(revoke).accepted
    return hashes


def test_revoked_and_expired_tokens_neither_authenticate_nor_are_listed(
    make_writer: Callable[..., Writer], read_engine: Engine
) -> None:
    clock = Clock()
    writer = make_writer(clock=clock)
    hashes = _tokens(writer, clock)
    runner = ProjectionRunner(writer.store, read_engine, all_projections())
    runner.setup()
    runner.catch_up()
    now = clock.now
    later = int(hashes["expires"]) + 1
    with read_engine.connect() as connection:
        listed = tokens_of(connection, str(ALICE), now)
        assert [(row.id, row.label) for row in listed] == [
            (token_id(hashes["plain"]), None),
            (token_id(hashes["labelled"]), "ci"),
        ]
        assert listed[1].expires_at == to_datetime(int(hashes["expires"]))
        assert listed[0].expires_at is None
        assert [row.id for row in tokens_of(connection, str(ALICE), later)] == [
            token_id(hashes["plain"])
        ]
        found = account_for_token(connection, hashes["labelled"], now)
        assert found is not None and found[0].handle == "alice"
        assert found[1] == token_id(hashes["labelled"])
        assert account_for_token(connection, hashes["labelled"], later) is None
        assert account_for_token(connection, hashes["revoked"], now) is None
        bobs = account_for_token(connection, hashes["bobs"], later)
        assert bobs is not None and bobs[0].handle == "bob"


def test_a_read_store_made_before_the_tokens_table_rebuilds_the_accounts(
    make_writer: Callable[..., Writer], read_engine: Engine
) -> None:
    clock = Clock()
    writer = make_writer(clock=clock)
    hashes = _tokens(writer, clock)
    runner = ProjectionRunner(writer.store, read_engine, all_projections())
    runner.setup()
    runner.catch_up()
    # as before: the accounts at the head of the log, but no `tokens` table
    with read_engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {api_tokens.name}"))
    assert isinstance(metadata.tables[api_tokens.name], Table)

    again = ProjectionRunner(writer.store, read_engine, all_projections())
    again.setup()
    accounts = next(s for s in again.status() if s.name == "accounts")
    assert accounts.position == 0 and accounts.lag > 0
    assert all(s.lag == 0 for s in again.status() if s.name != "accounts")
    again.catch_up()
    with read_engine.connect() as connection:
        found = account_for_token(connection, hashes["plain"], clock.now)
        assert found is not None and found[0].handle == "alice"
        assert len(tokens_of(connection, str(ALICE), clock.now)) == 2


def test_an_account_snapshotted_before_tokens_were_tracked_recovers_them(
    make_writer: Callable[..., Writer],
) -> None:
    clock = Clock()
    writer = make_writer(clock=clock)
    hashes = _tokens(writer, clock)
    writer.stop()
    store = writer.store
    account = writer.state.accounts[ALICE]
    snapshot_class = type(store).snapshot_class or Aggregate.Snapshot
    snapshot = snapshot_class.take(account)
    old_state = {k: v for k, v in snapshot.state.items() if k != "tokens"}
    object.__setattr__(snapshot, "state", old_state)  # as code before tokens took it
    store.put_snapshots([snapshot])
    assert "tokens" not in store.repository.get(ALICE).__dict__

    restarted = make_writer(clock=clock)
    alice = restarted.state.accounts[ALICE]
    assert set(alice.token_book()) == {token_id(hashes["plain"]), token_id(hashes["labelled"])}
    revoke = RevokeToken(command_id="r2", actor=ALICE, token_id=token_id(hashes["plain"]))
    assert restarted.execute(revoke).accepted
