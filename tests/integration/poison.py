"""Poison events: change what the event store holds, bypassing the writer (as a bug, an old
version or a hand edit could), to test that the read models survive it."""

from __future__ import annotations

import json
from typing import Any

from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql

from socialtrading.infra.store import EventStore

# The reproduction: a price of 92233720368547758.08 at a tick of 0.01
POISON_TICKS = 2**63


def stored_state(store: EventStore, position: int) -> bytes:
    """The stored state of notification `position`."""
    rows = store.read(position - 1, 1)
    assert rows and rows[0].id == position, f"no notification {position}"
    return bytes(rows[0].state)


def rewrite(store: EventStore, position: int, state: bytes) -> None:
    """Store `state` as notification `position`'s state."""
    recorder: Any = store.recorder
    with recorder.datastore.transaction(commit=True) as cursor:
        if isinstance(recorder, PostgresApplicationRecorder):
            statement = sql.SQL("UPDATE {}.{} SET state=%s WHERE notification_id=%s").format(
                sql.Identifier(recorder.datastore.schema),
                sql.Identifier(recorder.events_table_name),
            )
            cursor.execute(statement, (state, position))
        else:
            cursor.execute(
                f"UPDATE {recorder.events_table_name} SET state=? WHERE rowid=?", (state, position)
            )


def poison_price(store: EventStore, position: int, ticks: int = POISON_TICKS) -> bytes:
    """Give the order of notification `position` (accepted or rejected) a price of `ticks`;
    return the state it had (to repair it with `rewrite`)."""
    state = stored_state(store, position)
    data = json.loads(state)
    data["terms"]["price"] = ticks
    rewrite(store, position, json.dumps(data, separators=(",", ":")).encode())
    return state
