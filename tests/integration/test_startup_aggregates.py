"""A start-up reads the accounts and markets from the aggregates table through a partial index
over those kinds, whatever number of posts and likes the table lists beside them; a store made
before that index gets it when a writer opens it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql

from socialtrading.commands.models import RegisterTrader
from socialtrading.commands.social import LikePost, PublishPost, subject_of
from socialtrading.commands.writer import Writer
from socialtrading.infra.command_index import ACCOUNT, LIKE, LOADED, POST
from socialtrading.infra.store import EventStore


def _run(store: EventStore, statement: str) -> list[Any]:
    """Run `statement` (`{}`: the aggregates table's name) and return its rows."""
    recorder = store.recorder
    table = store.index.aggregates
    if isinstance(recorder, PostgresApplicationRecorder):
        with recorder.datastore.transaction(commit=True) as cursor:
            name = sql.Identifier(recorder.datastore.schema, table)
            cursor.execute(sql.SQL(statement).format(name))
            return list(cursor.fetchall()) if cursor.description else []
    with recorder.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
        cursor.execute(statement.format(table))
        return list(cursor.fetchall())


def _social(writer: Writer) -> None:
    """Two traders and a post of alice's that both like."""
    ids = [
        writer.execute(RegisterTrader(command_id="r", handle=handle)).account_id
        for handle in ("alice", "bob")
    ]
    actor, bob = ids
    assert actor is not None and bob is not None
    publish = PublishPost(command_id="p", actor=actor, body="hello $BTC")
    assert writer.execute(publish).accepted
    post = subject_of(publish)
    assert post is not None
    for liker in (actor, bob):
        assert writer.execute(LikePost(command_id="l", actor=liker, post_id=post)).accepted


def test_a_start_up_lists_accounts_and_markets_only(
    make_writer: Callable[..., Writer],
) -> None:
    writer = make_writer()
    _social(writer)
    writer.stop()
    kinds = [kind for _, kind in writer.store.aggregates()]
    assert kinds == [ACCOUNT, ACCOUNT, POST, LIKE, LIKE]
    assert [kind for _, kind in writer.store.loaded_aggregates()] == [ACCOUNT, ACCOUNT]

    restarted = make_writer()
    assert sorted(a.handle for a in restarted.state.accounts.values()) == ["alice", "bob"]
    assert len(restarted.state.social) == 0  # nothing social was loaded


def test_the_partial_index_is_used_and_added_to_an_older_store(
    make_writer: Callable[..., Writer],
) -> None:
    writer = make_writer()
    _social(writer)
    writer.stop()
    store = writer.store
    index_name = f"{store.index.aggregates}_loaded"
    if isinstance(store.recorder, PostgresApplicationRecorder):
        _run(store, f'DROP INDEX "{store.recorder.datastore.schema}"."{index_name}"')
    else:
        plan = _run(
            store,
            "EXPLAIN QUERY PLAN SELECT id, kind FROM {} "
            f"WHERE kind IN ({', '.join(repr(kind) for kind in LOADED)}) ORDER BY seq",
        )
        assert index_name in " ".join(str(row[-1]) for row in plan)
        _run(store, f"DROP INDEX {index_name}")
    # without the index (a store from before it) the start-up still works...
    assert [kind for _, kind in store.loaded_aggregates()] == [ACCOUNT, ACCOUNT]
    # ...and a writer opening the store adds it
    restarted = make_writer()
    assert len(restarted.state.accounts) == 2
    if isinstance(store.recorder, PostgresApplicationRecorder):
        found = _run(
            restarted.store,
            "SELECT indexname FROM pg_indexes WHERE indexname = "
            f"'{index_name}' AND schemaname = '{store.recorder.datastore.schema}'",
        )
    else:
        found = _run(restarted.store, f"SELECT name FROM sqlite_master WHERE name = '{index_name}'")
    assert len(found) == 1
