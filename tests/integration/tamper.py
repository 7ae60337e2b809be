"""What an attacker with write access to the database does to the log, in plain SQL, on either
backend: edit, delete, swap and insert rows of the events table, and recompute the chain."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql

from socialtrading.infra.store import EventStore


class Tamper:
    """SQL on the events table of `store` (SQLite: `rowid`; PostgreSQL: `notification_id`)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        recorder = store.recorder
        self.postgres = isinstance(recorder, PostgresApplicationRecorder)
        if isinstance(recorder, PostgresApplicationRecorder):
            self.schema = recorder.datastore.schema
            self.table = f'"{self.schema}"."{recorder.events_table_name}"'
            self.id = "notification_id"
        else:
            self.table = recorder.events_table_name  # type: ignore[attr-defined]
            self.id = "rowid"

    def run(self, *statements: tuple[str, tuple[Any, ...]]) -> None:
        """Run statements written with `?` placeholders and {t} (the table), {id} (its
        position column), in one transaction."""
        datastore: Any = self.store.recorder.datastore  # type: ignore[attr-defined]
        with datastore.transaction(commit=True) as cursor:
            for statement, args in statements:
                text = statement.format(t=self.table, id=self.id)
                if self.postgres:
                    cursor.execute(sql.SQL(text.replace("?", "%s")), args)
                else:
                    cursor.execute(text, args)

    def row(self, position: int) -> tuple[Any, int, str, bytes]:
        """(originator id, version, topic, state) at `position`."""
        (found,) = self.store.log_rows(position - 1, position, 1)
        return found[1], found[2], found[3], bytes(found[4])

    def edit_state(self, position: int, state: bytes) -> None:
        self.run(("UPDATE {t} SET state = ? WHERE {id} = ?", (state, position)))

    def delete(self, position: int) -> None:
        self.run(("DELETE FROM {t} WHERE {id} = ?", (position,)))

    def swap(self, one: int, other: int) -> None:
        self.run(
            ("UPDATE {t} SET {id} = -1 WHERE {id} = ?", (one,)),
            ("UPDATE {t} SET {id} = ? WHERE {id} = ?", (one, other)),
            ("UPDATE {t} SET {id} = ? WHERE {id} = -1", (other,)),
        )

    def insert(self, position: int, topic: str, state: bytes) -> None:
        """A new event at `position` (moving the later ones up by one, as a row inserted in
        the middle of the log must)."""
        self.run(
            ("UPDATE {t} SET {id} = -{id} - 1 WHERE {id} >= ?", (position,)),
            ("UPDATE {t} SET {id} = -{id} WHERE {id} < 0", ()),
            (
                "INSERT INTO {t} ({id}, originator_id, originator_version, topic, state) "
                "VALUES (?, ?, 1, ?, ?)",
                (position, self._new_id(), topic, state),
            ),
        )

    def append(self, topic: str, state: bytes) -> int:
        """A new event after the log's last; its position."""
        position = (self.store.recorder.max_notification_id() or 0) + 1
        self.run(
            (
                "INSERT INTO {t} ({id}, originator_id, originator_version, topic, state) "
                "VALUES (?, ?, 1, ?, ?)",
                (position, self._new_id(), topic, state),
            )
        )
        return position

    def rechain(self) -> None:
        """Recompute the whole chain over the log as it now is (what an attacker who knows
        the chain's definition does after editing an event)."""
        tables = self.store.chain_tables
        names = (tables.chain, tables.anchors)
        if self.postgres:
            self.run(*((f'DROP TABLE "{self.schema}"."{name}"', ()) for name in names))
        else:
            self.run(*((f"DROP TABLE {name}", ()) for name in names))
        self.store.open_chain()

    def _new_id(self) -> UUID | str:
        new = uuid4()
        return new if self.postgres else new.hex
