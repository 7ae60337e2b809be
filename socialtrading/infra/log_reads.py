"""Reading the stored events at given log positions, in a few queries.

`EventStore.read(after, limit)` reads a stretch of the log. Evidence, trails and the like
name scattered positions: `read_at(store, positions)` reads them with one `IN (...)` per 500
positions on SQLite (by rowid, the notification id there) and one `= ANY(...)` on PostgreSQL
(by `notification_id`), over the library's events table as `EventStore.read` does. The rows
come back in log order as `EventStore.read`'s `Row`s; positions with no event (beyond the
head, or a gap of the PostgreSQL sequence) are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg import sql

from socialtrading.infra.store import EventStore, Row

_CHUNK = 500  # positions per statement on SQLite (its limit on variables is 32,766)
_COLUMNS = "originator_id, originator_version, topic, state"


def read_at(store: EventStore, positions: Sequence[int]) -> list[Row]:
    """The stored events at `positions` (distinct, any order), in log order."""
    wanted = sorted({position for position in positions if 0 < position < 2**63})
    if not wanted:
        return []
    recorder = store.recorder
    if isinstance(recorder, SQLiteApplicationRecorder):
        fetched: list[Any] = []
        with recorder.datastore.transaction(commit=False) as cursor:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                cursor.execute(
                    f"SELECT rowid, {_COLUMNS} FROM {recorder.events_table_name} "
                    f"WHERE rowid IN ({', '.join('?' * len(chunk))}) ORDER BY rowid",
                    chunk,
                )
                fetched.extend(cursor.fetchall())
        convert = recorder.convert_originator_id
        return [Row(row[0], convert(row[1]), row[2], row[3], row[4]) for row in fetched]
    if isinstance(recorder, PostgresApplicationRecorder):
        datastore = recorder.datastore
        statement = sql.SQL(
            "SELECT notification_id, {} FROM {} WHERE notification_id = ANY(%s) "
            "ORDER BY notification_id"
        ).format(sql.SQL(_COLUMNS), sql.Identifier(datastore.schema, recorder.events_table_name))
        with datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement, (wanted,))
            return [
                Row(
                    row["notification_id"],
                    row["originator_id"],
                    row["originator_version"],
                    row["topic"],
                    bytes(row["state"]),
                )
                for row in cursor.fetchall()
            ]
    # another recorder (the in-memory one of unit tests): a stretch read per position
    return [
        row for position in wanted for row in store.read(position - 1, 1)[:1] if row.id == position
    ]
