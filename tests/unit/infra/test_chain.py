"""The hash chain's definition: the bytes a link hashes, batches hashed as single events are,
segments split on gaps, and when anchors fall due."""

from __future__ import annotations

import hashlib
from uuid import UUID, uuid4

from eventsourcing.persistence import StoredEvent
from hypothesis import given
from hypothesis import strategies as st

from socialtrading.infra.chain import (
    GENESIS,
    Segment,
    due,
    id_bytes,
    link_events,
    link_of,
    link_rows,
    segments,
)


def test_a_link_hashes_the_documented_bytes() -> None:
    originator = UUID("12345678-1234-5678-1234-567812345678")
    previous = bytes(range(32))
    topic = "socialtrading.domain.market:Market.OrderAccepted"
    state = b'{"records":[]}'
    # written out field by field, as infra/chain.py's docstring defines them
    message = (
        previous
        + (7).to_bytes(8, "big", signed=True)
        + originator.bytes
        + (3).to_bytes(8, "big", signed=True)
        + len(topic.encode()).to_bytes(4, "big")
        + len(state).to_bytes(4, "big")
        + topic.encode()
        + state
    )
    assert link_of(previous, 7, originator.bytes, 3, topic, state) == (
        hashlib.sha256(message).digest()
    )


def test_the_length_prefixes_keep_a_topic_and_state_split_apart() -> None:
    originator = uuid4().bytes
    assert link_of(GENESIS, 1, originator, 1, "ab", b"c") != link_of(
        GENESIS, 1, originator, 1, "a", b"bc"
    )


@given(
    st.lists(
        st.tuples(st.uuids(), st.integers(1, 2**40), st.text(max_size=30), st.binary(max_size=60)),
        min_size=1,
        max_size=30,
    ),
    st.integers(1, 2**40),
)
def test_a_batch_links_as_its_events_one_by_one(
    events: list[tuple[UUID, int, str, bytes]], first: int
) -> None:
    stored = [
        StoredEvent(originator_id=o, originator_version=v, topic=t, state=s)
        for o, v, t, s in events
    ]
    positions = range(first, first + len(stored))
    expected = []
    link = GENESIS
    for position, (originator, version, topic, state) in zip(positions, events, strict=True):
        link = link_of(link, position, originator.bytes, version, topic, state)
        expected.append(link)
    assert link_events(GENESIS, positions, stored) == expected
    # and as the start-up reads them back: SQLite's text ids, PostgreSQL's UUIDs
    rows = [(p, o.hex, v, t, s) for p, (o, v, t, s) in zip(positions, events, strict=True)]
    assert link_rows(GENESIS, rows) == expected


def test_originator_ids_hash_the_same_whatever_form_they_are_stored_in() -> None:
    originator = uuid4()
    assert id_bytes(originator) == originator.bytes
    assert id_bytes(originator.hex) == originator.bytes
    assert id_bytes(str(originator)) == originator.bytes
    assert id_bytes("not an id") == b"not an id"


def test_segments_split_where_positions_jump() -> None:
    links = [bytes([n]) * 32 for n in range(5)]
    assert segments(3, [4, 5, 6, 9, 10], links) == [
        Segment(4, 6, 3, b"".join(links[:3])),
        Segment(9, 10, 6, b"".join(links[3:])),
    ]
    assert segments(0, [1], links[:1]) == [Segment(1, 1, 0, links[0])]


def test_an_anchor_falls_due_when_a_batch_reaches_another_multiple() -> None:
    assert due(9_990, 10_000, 10_000)
    assert due(9_990, 10_500, 10_000)
    assert not due(10_000, 19_999, 10_000)
    assert due(10_000, 35_000, 10_000)  # one anchor, however many multiples a batch passes
    assert not due(0, 9_999, 10_000)
