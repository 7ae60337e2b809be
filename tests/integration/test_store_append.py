"""`EventStore.append`: one transaction per batch, the last notification id, nothing partial."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from socialtrading.infra.store import EventStore


def _event(originator: UUID, version: int, state: bytes = b"{}") -> StoredEvent:
    return StoredEvent(
        originator_id=originator, originator_version=version, topic="t:Event", state=state
    )


def test_a_batch_is_stored_in_order_and_answers_its_last_id(
    open_event_store: Callable[[], EventStore],
) -> None:
    store = open_event_store()
    first, second = uuid4(), uuid4()
    batch = [_event(first, 1, b'{"a":1}'), _event(second, 1), _event(first, 2, b"\x00\xff")]
    last = store.append(batch)
    assert last == store.recorder.max_notification_id()
    again = store.append([_event(second, 2)])
    assert again == last + 1
    stored = store.recorder.select_notifications(None, 10, inclusive_of_start=True)
    assert [(n.originator_id, n.originator_version, n.topic, n.state) for n in stored] == [
        (e.originator_id, e.originator_version, e.topic, e.state)
        for e in [*batch, _event(second, 2)]
    ]
    assert [n.id for n in stored][-1] == again


def test_a_batch_with_a_taken_version_stores_nothing(
    open_event_store: Callable[[], EventStore],
) -> None:
    store = open_event_store()
    aggregate = uuid4()
    store.append([_event(aggregate, 1)])
    before = store.recorder.max_notification_id()
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        store.append([_event(uuid4(), 1), _event(aggregate, 1)])
    assert store.recorder.max_notification_id() == before
    assert len(store.recorder.select_notifications(None, 10, inclusive_of_start=True)) == 1
    with pytest.raises(ValueError, match="nothing"):
        store.append([])
