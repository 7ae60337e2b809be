"""One aggregate's stored events by version, and the log's events by position: the reads time
travel needs, in SQL over the library's tables.

The library's recorders read an aggregate's events by version range only, without their
notification ids, and the log by position only. Time travel asks "which version of this
aggregate was the last at or before position P", "what did these versions record", and
"which event is the last at or before P", each with an index: the events table's primary key
(originator_id, originator_version) and its notification id (SQLite's rowid; PostgreSQL's
`notification_id` column with its unique index). The tables' layout is the library's
(eventsourcing 9.5: tests/integration/test_time_travel.py pins it through these reads).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg import sql

from socialtrading.infra.store import EventStore, Row

_COLUMNS = "originator_id, originator_version, topic, state"


class Stream:
    """Reads of one event store's log by aggregate and version, and by position, and of its
    snapshots; inside `reading()`, all in one transaction."""

    def __init__(self, store: EventStore) -> None:
        self._local = threading.local()  # the transaction of `reading`, per thread
        snapshots = store.snapshots
        self._snapshots: Any = None if snapshots is None else snapshots.recorder
        recorder = store.recorder
        self._sqlite = isinstance(recorder, SQLiteApplicationRecorder)
        if self._sqlite:
            assert isinstance(recorder, SQLiteApplicationRecorder)
            self._datastore: Any = recorder.datastore
            table = recorder.events_table_name
            self._position = "rowid"
            self._table: Any = table
            self._convert: Callable[[Any], Any] | None = recorder.convert_originator_id
        elif isinstance(recorder, PostgresApplicationRecorder):
            self._datastore = recorder.datastore
            self._position = "notification_id"
            self._table = sql.Identifier(recorder.datastore.schema, recorder.events_table_name)
            self._convert = None
        else:
            raise TypeError(f"time travel needs SQLite or PostgreSQL, not {type(recorder)}")
        if self._snapshots is not None and getattr(self._snapshots, "datastore", None) is not (
            self._datastore
        ):
            raise TypeError("time travel reads the snapshots in the log's database")

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Run the reads inside in one transaction: one connection, and on PostgreSQL two
        round trips fewer per read (BEGIN and ROLLBACK each)."""
        if getattr(self._local, "cursor", None) is not None:
            yield
            return
        with self._datastore.transaction(commit=False) as cursor:
            self._local.cursor = cursor
            try:
                yield
            finally:
                self._local.cursor = None

    # ------------------------------------------------------------------ by aggregate

    def last_version(self, aggregate_id: UUID) -> int:
        """The aggregate's newest version (0: no event stored)."""
        found = self._query(
            "SELECT max(originator_version) AS v FROM {table} WHERE originator_id = {p}",
            [self._id(aggregate_id)],
        )
        value = found[0]["v"] if found else None
        return int(value) if value is not None else 0

    def positions(self, aggregate_id: UUID, versions: Sequence[int]) -> dict[int, int]:
        """The notification id of each of these versions of the aggregate."""
        return {
            int(row["originator_version"]): int(row["position"])
            for row in self._versions(
                "originator_version, {position} AS position", aggregate_id, versions
            )
        }

    def states(self, aggregate_id: UUID, versions: Sequence[int]) -> dict[int, Row]:
        """The stored events of these versions of the aggregate, by version."""
        rows = self._versions(f"{{position}} AS position, {_COLUMNS}", aggregate_id, versions)
        return {int(row["originator_version"]): self._row(row) for row in rows}

    def events(
        self,
        aggregate_id: UUID,
        after: int,
        upto: int,
        *,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> list[Row]:
        """The aggregate's stored events with versions in (after, upto], oldest first (or
        newest first), at most `limit` of them."""
        statement = (
            f"SELECT {{position}} AS position, {_COLUMNS} FROM {{table}} "
            "WHERE originator_id = {p} AND originator_version > {p} AND originator_version <= {p} "
            f"ORDER BY originator_version {'DESC' if newest_first else 'ASC'}"
        )
        parameters: list[Any] = [self._id(aggregate_id), after, upto]
        if limit is not None:
            statement += " LIMIT {p}"
            parameters.append(limit)
        rows = self._query(statement, parameters)
        if not rows:
            return []
        originator = self._row(rows[0]).originator_id  # one aggregate: its id converted once
        return [
            Row(
                int(row["position"]),
                originator,
                int(row["originator_version"]),
                row["topic"],
                bytes(row["state"]),
            )
            for row in rows
        ]

    def snapshot(self, aggregate_id: UUID, upto: int) -> StoredEvent | None:
        """The aggregate's newest snapshot at or before version `upto`, as stored."""
        if self._snapshots is None:
            return None
        table = self._snapshots.events_table_name
        found = self._query(
            f"SELECT {_COLUMNS} FROM {{snapshots}} WHERE originator_id = {{p}} "
            "AND originator_version <= {p} ORDER BY originator_version DESC LIMIT 1",
            [self._id(aggregate_id), upto],
            snapshots=table if self._sqlite else sql.Identifier(self._datastore.schema, table),
        )
        if not found:
            return None
        row = found[0]
        stored_id = row["originator_id"]
        return StoredEvent(
            originator_id=self._convert(stored_id) if self._convert is not None else stored_id,
            originator_version=int(row["originator_version"]),
            topic=row["topic"],
            state=bytes(row["state"]),
        )

    # ------------------------------------------------------------------ by position

    def head(self) -> int:
        """The newest notification id (0: the log is empty)."""
        found = self._query("SELECT max({position}) AS head FROM {table}", [])
        value = found[0]["head"] if found else None
        return int(value) if value is not None else 0

    def last_at(self, position: int) -> Row | None:
        """The log's last stored event at or before `position` (None: there is none)."""
        found = self._query(
            f"SELECT {{position}} AS position, {_COLUMNS} FROM {{table}} "
            "WHERE {position} <= {p} ORDER BY {position} DESC LIMIT 1",
            [position],
        )
        return self._row(found[0]) if found else None

    # ------------------------------------------------------------------ SQL

    def _versions(self, columns: str, aggregate_id: UUID, versions: Sequence[int]) -> list[Any]:
        if not versions:
            return []
        marks = ", ".join(["{p}"] * len(versions))
        return self._query(
            f"SELECT {columns} FROM {{table}} "
            f"WHERE originator_id = {{p}} AND originator_version IN ({marks})",
            [self._id(aggregate_id), *versions],
        )

    def _id(self, aggregate_id: UUID) -> Any:
        return aggregate_id.hex if self._sqlite else aggregate_id

    def _row(self, row: Any) -> Row:
        stored_id = row["originator_id"]
        return Row(
            int(row["position"]),
            self._convert(stored_id) if self._convert is not None else stored_id,
            int(row["originator_version"]),
            row["topic"],
            bytes(row["state"]),
        )

    def _query(self, template: str, parameters: list[Any], **names: Any) -> list[Any]:
        """Run a SELECT written with {table}, {position}, {p} (a parameter) and `names`."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            with self._datastore.transaction(commit=False) as cursor:
                return self._run(cursor, template, parameters, names)
        return self._run(cursor, template, parameters, names)

    def _run(self, cursor: Any, template: str, parameters: list[Any], names: Any) -> list[Any]:
        if self._sqlite:
            text = template.format(table=self._table, position=self._position, p="?", **names)
            cursor.execute(text, parameters)
        else:
            statement = sql.SQL(template).format(
                table=self._table,
                position=sql.Identifier(self._position),
                p=sql.Placeholder(),
                **names,
            )
            cursor.execute(statement, parameters)
        return list(cursor.fetchall())
