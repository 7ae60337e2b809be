"""The hash chain over the notification log: each stored event's link, and where links live.

The link of the event at log position `p` is

    link(p) = SHA-256( link(previous) || p || originator id || version || len(topic)
                       || len(state) || topic || state )

over exactly these bytes, in this order:

    link(previous)  32 bytes: the link of the chained event before this one in the log
                    (for the log's first event, 32 zero bytes: `GENESIS`)
    p               8 bytes, big-endian, signed: the event's notification id
    originator id   16 bytes: the aggregate's UUID (`UUID.bytes`)
    version         8 bytes, big-endian, signed: the originator version
    len(topic)      4 bytes, big-endian, unsigned: the topic's length in bytes
    len(state)      4 bytes, big-endian, unsigned: the state's length in bytes
    topic           the topic, UTF-8
    state           the stored state, the bytes as they are in the events table

Every field before the two variable ones has a fixed size, and their lengths come first, so
no two different events hash the same bytes. Changing anything of an event (its state,
topic, aggregate, version or position), removing it, inserting one, or swapping two changes
the links from there on: a verifier who recomputes them finds the first position that
disagrees with what was stored (`audit/verify.py`).

Tables, beside the log and named after the application (like the command index's):

- `<app>_chain`: the links, one row per contiguous run of positions a writer's batch stored
  (a "segment": its first and last position, the position chained before its first, and its
  links concatenated, 32 bytes each). One row per batch rather than per event keeps the
  write path's cost to the hashing (docs/decisions.md).
- `<app>_chain_anchors`: anchors, rows recording the chain's head at a position (its link,
  why it was taken, and the head before the run it ends), from which a verifier can start.
  The writer takes one at the end of the batch that reaches each multiple of
  `SOCIALTRADING_AUDIT_ANCHOR_EVERY` positions, so every anchor lies at a batch's end, where
  the ledger balances; chaining at start-up (a store written before the chain, or events
  some other program stored) ends with one too.

The writer writes a batch's segment in the batch's transaction (`EventStore.append`) and
keeps the chain's head in memory; `SQLiteChain` and `PostgresChain` run the statements on a
cursor of the caller's transaction.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from psycopg import sql

GENESIS = bytes(32)  # the link before the log's first event
LINK_SIZE = 32

# why an anchor was taken
INTERVAL = "interval"  # the writer reached another multiple of the anchor interval
UPGRADE = "upgrade"  # the start-up that chained a store written before the chain
ADOPTED = "adopted"  # a start-up chained events stored by something other than the writer

_FIXED = struct.Struct(">q16sqII")  # position, originator id, version, len(topic), len(state)
_TOPICS_KEPT = 1_000


class ChainBrokenError(RuntimeError):
    """The log and its hash chain disagree in a way that stops the writer from extending it."""


class Head(NamedTuple):
    """The chain's newest link and the position it is of (GENESIS at 0 for an empty chain)."""

    position: int
    link: bytes


EMPTY = Head(0, GENESIS)


class Segment(NamedTuple):
    """A run of consecutive positions chained together: `links` holds 32 bytes for each of
    `first`..`last`; `previous` is the position chained before `first` (0: none)."""

    first: int
    last: int
    previous: int
    links: bytes


class Anchor(NamedTuple):
    """The chain's head recorded at `position`, and the head (`since`) before the run of
    events this anchor ends (for an upgrade or adoption: the events it chained)."""

    position: int
    link: bytes
    reason: str
    since: int


def id_bytes(originator_id: Any) -> bytes:
    """The 16 bytes the link holds for an originator id as stored (a UUID, or its text on
    SQLite; any other text, which no writer stores, as its UTF-8 bytes)."""
    if type(originator_id) is UUID:
        return originator_id.bytes
    text = str(originator_id)
    if len(text) == 32:  # as the SQLite recorders store a UUID
        try:
            return UUID(hex=text).bytes
        except ValueError:
            pass
    try:
        return UUID(text).bytes
    except ValueError:
        return text.encode()


def link_of(
    previous: bytes, position: int, originator: bytes, version: int, topic: str, state: bytes
) -> bytes:
    """The link of one event (the module's definition), `originator` as `id_bytes` gives."""
    topic_bytes = topic.encode()
    fixed = _FIXED.pack(position, originator, version, len(topic_bytes), len(state))
    return hashlib.sha256(b"".join((previous, fixed, topic_bytes, state))).digest()


_topics: dict[str, bytes] = {}


def link_events(
    previous: bytes, positions: Iterable[int], events: Sequence[StoredEvent]
) -> list[bytes]:
    """The links of a batch's events at `positions`, after the link `previous`: what
    `link_of` gives for each, computed in one loop without an object per event."""
    sha256 = hashlib.sha256
    pack = _FIXED.pack
    join = b"".join
    topics = _topics
    links: list[bytes] = []
    append = links.append
    link = previous
    for position, event in zip(positions, events, strict=True):
        topic = topics.get(event.topic)
        if topic is None:
            topic = event.topic.encode()
            if len(topics) < _TOPICS_KEPT:
                topics[event.topic] = topic
        originator = event.originator_id
        state = event.state
        key = originator.bytes if type(originator) is UUID else id_bytes(originator)
        fixed = pack(position, key, event.originator_version, len(topic), len(state))
        link = sha256(join((link, fixed, topic, state))).digest()
        append(link)
    return links


def link_rows(previous: bytes, rows: Iterable[tuple[int, Any, int, str, bytes]]) -> list[bytes]:
    """The links of stored rows (position, originator id, version, topic, state) as
    `ChainTables.read_events` gives them, after the link `previous`."""
    links: list[bytes] = []
    for position, originator, version, topic, state in rows:
        previous = link_of(previous, position, id_bytes(originator), version, topic, state)
        links.append(previous)
    return links


def segments(previous: int, positions: Sequence[int], links: Sequence[bytes]) -> list[Segment]:
    """The segments of links at ascending `positions` (one, unless the positions have gaps),
    the first chained after position `previous`."""
    found: list[Segment] = []
    start = 0
    for index in range(1, len(positions) + 1):
        if index == len(positions) or positions[index] != positions[index - 1] + 1:
            found.append(
                Segment(
                    positions[start],
                    positions[index - 1],
                    previous,
                    b"".join(links[start:index]),
                )
            )
            previous = positions[index - 1]
            start = index
    return found


def due(before: int, after: int, every: int) -> bool:
    """Whether a batch taking the head from position `before` to `after` ends at or past
    another multiple of `every` (an interval anchor is taken at its end)."""
    return after // every > before // every


class ChainTables(Protocol):
    """The statements of one backend; each runs on a cursor of the caller's transaction."""

    chain: str  # the tables' names
    anchors: str

    def exists(self, cursor: Any) -> bool:
        """Whether the tables are there."""

    def create(self, cursor: Any) -> None:
        """Create the tables."""

    def head(self, cursor: Any) -> Head:
        """The newest link (EMPTY when nothing is chained)."""

    def write(self, cursor: Any, written: Sequence[Segment]) -> None:
        """Insert segments."""

    def anchor(self, cursor: Any, anchor: Anchor) -> None:
        """Insert an anchor."""

    def read_anchors(self, cursor: Any) -> list[Anchor]:
        """Every anchor, by position."""

    def segment_at(self, cursor: Any, position: int) -> Segment | None:
        """The segment starting at or before `position` that starts last."""

    def read_segments(self, cursor: Any, after: int, limit: int) -> list[Segment]:
        """Up to `limit` segments starting after position `after`, in order."""

    def read_events(
        self, cursor: Any, after: int, upto: int, limit: int
    ) -> list[tuple[int, Any, int, str, bytes]]:
        """Up to `limit` stored events at positions in (after, upto], in order, as stored:
        (position, originator id, version, topic, state)."""

    def max_position(self, cursor: Any) -> int:
        """The log's newest notification id (0 when empty)."""


def _segment(row: Sequence[Any]) -> Segment:
    first, last, previous, links = row
    return Segment(int(first), int(last), int(previous), bytes(links))


def _anchor(row: Sequence[Any]) -> Anchor:
    position, link, reason, since = row
    return Anchor(int(position), bytes(link), str(reason), int(since))


def _head(segment: Segment | None) -> Head:
    if segment is None:
        return EMPTY
    return Head(segment.last, segment.links[-LINK_SIZE:])


# ---------------------------------------------------------------------- SQLite


class SQLiteChain:
    """The chain's tables in the event store's SQLite file."""

    def __init__(self, application: str, events_table: str) -> None:
        self.chain = f"{application}_chain"
        self.anchors = f"{application}_chain_anchors"
        self._events = events_table
        self._columns = "first_position, last_position, previous, links"

    def exists(self, cursor: Any) -> bool:
        statement = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        cursor.execute(statement, (self.chain,))
        return cursor.fetchone() is not None

    def create(self, cursor: Any) -> None:
        cursor.execute(
            f"""CREATE TABLE IF NOT EXISTS {self.chain} (
                first_position INTEGER PRIMARY KEY,
                last_position INTEGER NOT NULL,
                previous INTEGER NOT NULL,
                links BLOB NOT NULL
            )"""
        )
        cursor.execute(
            f"""CREATE TABLE IF NOT EXISTS {self.anchors} (
                position INTEGER PRIMARY KEY,
                link BLOB NOT NULL,
                reason TEXT NOT NULL,
                since INTEGER NOT NULL
            )"""
        )

    def head(self, cursor: Any) -> Head:
        cursor.execute(
            f"SELECT {self._columns} FROM {self.chain} ORDER BY first_position DESC LIMIT 1"
        )
        row = cursor.fetchone()
        return _head(None if row is None else _segment(row))

    def write(self, cursor: Any, written: Sequence[Segment]) -> None:
        cursor.executemany(f"INSERT INTO {self.chain} VALUES (?, ?, ?, ?)", written)

    def anchor(self, cursor: Any, anchor: Anchor) -> None:
        cursor.execute(f"INSERT INTO {self.anchors} VALUES (?, ?, ?, ?)", anchor)

    def read_anchors(self, cursor: Any) -> list[Anchor]:
        cursor.execute(f"SELECT position, link, reason, since FROM {self.anchors} ORDER BY 1")
        return [_anchor(row) for row in cursor.fetchall()]

    def segment_at(self, cursor: Any, position: int) -> Segment | None:
        cursor.execute(
            f"SELECT {self._columns} FROM {self.chain} WHERE first_position <= ? "
            "ORDER BY first_position DESC LIMIT 1",
            (position,),
        )
        row = cursor.fetchone()
        return None if row is None else _segment(row)

    def read_segments(self, cursor: Any, after: int, limit: int) -> list[Segment]:
        cursor.execute(
            f"SELECT {self._columns} FROM {self.chain} WHERE first_position > ? "
            "ORDER BY first_position LIMIT ?",
            (after, limit),
        )
        return [_segment(row) for row in cursor.fetchall()]

    def read_events(
        self, cursor: Any, after: int, upto: int, limit: int
    ) -> list[tuple[int, Any, int, str, bytes]]:
        cursor.execute(
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {self._events} WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?",
            (after, upto, limit),
        )
        return [tuple(row) for row in cursor.fetchall()]

    def max_position(self, cursor: Any) -> int:
        cursor.execute(f"SELECT MAX(rowid) FROM {self._events}")
        (found,) = cursor.fetchone()
        return int(found or 0)


# ---------------------------------------------------------------------- PostgreSQL


class PostgresChain:
    """The chain's tables in the event store's PostgreSQL schema (rows as dicts, as the
    library's connections return them)."""

    def __init__(self, application: str, schema: str, events_table: str) -> None:
        self.chain = f"{application}_chain"
        self.anchors = f"{application}_chain_anchors"
        self._schema = schema
        self._chain = sql.Identifier(schema, self.chain)
        self._anchors = sql.Identifier(schema, self.anchors)
        self._events = sql.Identifier(schema, events_table)
        self._columns = sql.SQL("first_position, last_position, previous, links")

    def exists(self, cursor: Any) -> bool:
        name = f"{self._schema}.{self.chain}"
        row = cursor.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (name,)).fetchone()
        return bool(row and row["found"])

    def create(self, cursor: Any) -> None:
        cursor.execute(
            sql.SQL(
                """CREATE TABLE IF NOT EXISTS {} (
                first_position bigint PRIMARY KEY,
                last_position bigint NOT NULL,
                previous bigint NOT NULL,
                links bytea NOT NULL
            )"""
            ).format(self._chain)
        )
        cursor.execute(
            sql.SQL(
                """CREATE TABLE IF NOT EXISTS {} (
                position bigint PRIMARY KEY,
                link bytea NOT NULL,
                reason text NOT NULL,
                since bigint NOT NULL
            )"""
            ).format(self._anchors)
        )

    def _segments(self, cursor: Any, statement: sql.Composed, args: Sequence[Any]) -> list[Segment]:
        rows = cursor.execute(statement, args).fetchall()
        return [
            _segment((row["first_position"], row["last_position"], row["previous"], row["links"]))
            for row in rows
        ]

    def head(self, cursor: Any) -> Head:
        statement = sql.SQL("SELECT {} FROM {} ORDER BY first_position DESC LIMIT 1").format(
            self._columns, self._chain
        )
        found = self._segments(cursor, statement, ())
        return _head(found[0] if found else None)

    def write(self, cursor: Any, written: Sequence[Segment]) -> None:
        statement = sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s)").format(self._chain)
        for segment in written:
            cursor.execute(statement, segment)

    def anchor(self, cursor: Any, anchor: Anchor) -> None:
        statement = sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s)").format(self._anchors)
        cursor.execute(statement, anchor)

    def read_anchors(self, cursor: Any) -> list[Anchor]:
        statement = sql.SQL("SELECT position, link, reason, since FROM {} ORDER BY 1").format(
            self._anchors
        )
        return [
            _anchor((row["position"], row["link"], row["reason"], row["since"]))
            for row in cursor.execute(statement).fetchall()
        ]

    def segment_at(self, cursor: Any, position: int) -> Segment | None:
        statement = sql.SQL(
            "SELECT {} FROM {} WHERE first_position <= %s ORDER BY first_position DESC LIMIT 1"
        ).format(self._columns, self._chain)
        found = self._segments(cursor, statement, (position,))
        return found[0] if found else None

    def read_segments(self, cursor: Any, after: int, limit: int) -> list[Segment]:
        statement = sql.SQL(
            "SELECT {} FROM {} WHERE first_position > %s ORDER BY first_position LIMIT %s"
        ).format(self._columns, self._chain)
        return self._segments(cursor, statement, (after, limit))

    def read_events(
        self, cursor: Any, after: int, upto: int, limit: int
    ) -> list[tuple[int, Any, int, str, bytes]]:
        statement = sql.SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
            "WHERE notification_id > %s AND notification_id <= %s "
            "ORDER BY notification_id LIMIT %s"
        ).format(self._events)
        return [
            (
                row["notification_id"],
                row["originator_id"],
                row["originator_version"],
                row["topic"],
                row["state"],
            )
            for row in cursor.execute(statement, (after, upto, limit)).fetchall()
        ]

    def max_position(self, cursor: Any) -> int:
        statement = sql.SQL("SELECT MAX(notification_id) AS found FROM {}").format(self._events)
        row = cursor.execute(statement).fetchone()
        return int(row["found"] or 0)
