"""Loading many aggregates by id at once: what `repository.get` does for each, in a few queries.

`repository.get(id)` costs two queries (the newest snapshot, then the events after it) and a
transaction for each aggregate. `load_many(store, ids)` asks the snapshots table once for the
newest snapshot of every id, the events table once for the whole log of the ids without a
snapshot (`originator_id IN (...)`, 500 ids a statement on SQLite, one array on PostgreSQL),
and each id with a snapshot alone for its later events (rare: social aggregates seldom reach
the snapshot interval). Events are decoded by the store's mapper (upcasting, cipher and
compression as for any read) and applied in version order, as the repository's projector
does. Ids that name no stored aggregate are missing from the answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import AggregateRecorder, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder
from psycopg import sql

from socialtrading.infra.store import EventStore

# ids per statement on SQLite (its limit on variables is 32,766)
_CHUNK = 500


def load_many(store: EventStore, ids: Sequence[UUID]) -> dict[UUID, Aggregate]:
    """The stored aggregates among `ids`, by id, each as `store.repository.get` gives it."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    snapshots: dict[UUID | str, StoredEvent] = {}
    if store.snapshots is not None:
        snapshots = _newest(store.snapshots.recorder, wanted)
    plain = [id_ for id_ in wanted if id_ not in snapshots]
    logs: dict[UUID | str, list[StoredEvent]] = {}
    for stored in _events_of(store.recorder, plain):
        logs.setdefault(stored.originator_id, []).append(stored)
    for id_, newest in snapshots.items():
        logs[id_] = list(store.recorder.select_events(id_, gt=newest.originator_version))
    decode = store.mapper.to_domain_event
    found: dict[UUID, Aggregate] = {}
    for id_ in wanted:
        snapshot = snapshots.get(id_)
        stored_events: Iterable[StoredEvent] = logs.get(id_, ())
        if snapshot is not None:
            stored_events = chain((snapshot,), stored_events)
        aggregate: Any = None
        for stored in stored_events:
            event: Any = decode(stored)
            aggregate = event.mutate(aggregate)
        if aggregate is not None:
            found[id_] = aggregate
    return found


def _events_of(recorder: AggregateRecorder, ids: Sequence[UUID]) -> list[StoredEvent]:
    """Every stored event of `ids`, each id's in version order."""
    if not ids:
        return []
    columns = "originator_id, originator_version, topic, state"
    if isinstance(recorder, SQLiteAggregateRecorder):
        table = recorder.events_table_name
        rows: list[Any] = []
        with recorder.datastore.transaction(commit=False) as cursor:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                cursor.execute(
                    f"SELECT {columns} FROM {table} "
                    f"WHERE originator_id IN ({', '.join('?' * len(chunk))}) "
                    "ORDER BY originator_id, originator_version",
                    [id_.hex for id_ in chunk],
                )
                rows.extend(cursor.fetchall())
        convert = recorder.convert_originator_id
        return [
            StoredEvent(
                originator_id=convert(row[0]),
                originator_version=row[1],
                topic=row[2],
                state=row[3],
            )
            for row in rows
        ]
    if isinstance(recorder, PostgresAggregateRecorder):
        datastore = recorder.datastore
        statement = sql.SQL(
            "SELECT {} FROM {} WHERE originator_id = ANY(%s) "
            "ORDER BY originator_id, originator_version"
        ).format(sql.SQL(columns), sql.Identifier(datastore.schema, recorder.events_table_name))
        with datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement, (list(ids),))
            return [_from_postgres(row) for row in cursor.fetchall()]
    return [stored for id_ in ids for stored in recorder.select_events(id_)]


def _newest(recorder: AggregateRecorder, ids: Sequence[UUID]) -> dict[UUID | str, StoredEvent]:
    """The newest snapshot of each of `ids` that has one."""
    columns = "originator_id, originator_version, topic, state"
    found: dict[UUID | str, StoredEvent] = {}
    if isinstance(recorder, SQLiteAggregateRecorder):
        table = recorder.events_table_name
        rows: list[Any] = []
        with recorder.datastore.transaction(commit=False) as cursor:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                # SQLite takes the other columns from the row holding the MAX
                cursor.execute(
                    f"SELECT originator_id, MAX(originator_version), topic, state FROM {table} "
                    f"WHERE originator_id IN ({', '.join('?' * len(chunk))}) "
                    "GROUP BY originator_id",
                    [id_.hex for id_ in chunk],
                )
                rows.extend(cursor.fetchall())
        convert = recorder.convert_originator_id
        for row in rows:
            stored = StoredEvent(
                originator_id=convert(row[0]),
                originator_version=row[1],
                topic=row[2],
                state=row[3],
            )
            found[stored.originator_id] = stored
        return found
    if isinstance(recorder, PostgresAggregateRecorder):
        datastore = recorder.datastore
        statement = sql.SQL(
            "SELECT DISTINCT ON (originator_id) {} FROM {} WHERE originator_id = ANY(%s) "
            "ORDER BY originator_id, originator_version DESC"
        ).format(sql.SQL(columns), sql.Identifier(datastore.schema, recorder.events_table_name))
        with datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement, (list(ids),))
            for row in cursor.fetchall():
                stored = _from_postgres(row)
                found[stored.originator_id] = stored
        return found
    for id_ in ids:
        newest = recorder.select_events(id_, desc=True, limit=1)
        if newest:
            found[id_] = newest[0]
    return found


def _from_postgres(row: Any) -> StoredEvent:
    return StoredEvent(
        originator_id=row["originator_id"],
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=bytes(row["state"]),
    )
