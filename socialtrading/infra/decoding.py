"""Notifications into domain events, for catch-ups and start-ups: the mapper's result, cheaper.

`Mapper.to_domain_event` resolves the topic, decodes the state through the transcoder's
generic revival of typed values, finds the originator id's convertor and upcasts, for every
event. Catching up, that costs about as much as applying the event to every read model.
`EventDecoder` gives the same objects for the store's format (the library's JSON, read with
orjson, neither compressed nor encrypted) with less work per event: classes are resolved once
per topic, and an event whose only typed value is its `timestamp` (nearly all of them) has it
parsed directly; anything else is revived by the transcoder from the same parse. Originator
ids come shared from `EventStore.read`. Any other store configuration uses the mapper itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import DatetimeAsISO, Mapper, Notification, find_id_convertor
from eventsourcing.utils import resolve_topic

from socialtrading.infra.store import Row
from socialtrading.infra.transcoder import MARK, OrjsonTranscoder

_DATETIME = "datetime_iso"


class EventDecoder:
    """Decode notifications as `mapper.to_domain_event` would."""

    def __init__(self, mapper: Mapper[UUID]) -> None:
        self.mapper = mapper
        transcoder = mapper.transcoder
        self._fast = (
            isinstance(transcoder, OrjsonTranscoder)
            and mapper.cipher is None
            and mapper.compressor is None
            and isinstance(transcoder.names.get(_DATETIME), DatetimeAsISO)
        )
        # topic -> (class, its class_version, originator id convertor)
        self._classes: dict[tuple[str, type], tuple[type, int, Callable[[Any], Any]]] = {}

    def decode(self, rows: Sequence[Row]) -> list[tuple[int, Any]]:
        """(notification id, domain event) of each stored row, in order."""
        if not self._fast:
            to_event = self.mapper.to_domain_event
            return [(row.id, to_event(_notification(row))) for row in rows]
        transcoder = self.mapper.transcoder
        assert isinstance(transcoder, OrjsonTranscoder)  # `_fast` says so
        classes = self._classes
        loads = orjson.loads
        fromisoformat = datetime.fromisoformat
        new = object.__new__
        setattr_ = object.__setattr__
        items: list[tuple[int, Any]] = []
        append = items.append
        for notification_id, originator_id, originator_version, topic, data in rows:
            key = (topic, type(originator_id))
            known = classes.get(key)
            if known is None:
                known = classes[key] = self._resolve(*key)
            cls, version, convert = known
            marks = data.count(MARK)
            state = loads(data)
            if marks:
                stamp = state.get("timestamp")
                if (
                    marks == 1
                    and type(stamp) is dict
                    and len(stamp) == 2
                    and stamp.get("_type_") == _DATETIME
                    and type(stamp.get("_data_")) is str
                ):
                    state["timestamp"] = fromisoformat(stamp["_data_"])
                else:
                    state = transcoder.revive(state, marks)
            state["originator_id"] = convert(originator_id)
            state["originator_version"] = originator_version
            if version != 1 or "class_version" in state:
                self._upcast(cls, version, state)
            event: Any = new(cls)
            setattr_(event, "__dict__", state)
            append((notification_id, event))
        return items

    @staticmethod
    def _resolve(topic: str, id_type: type) -> tuple[type, int, Callable[[Any], Any]]:
        cls = resolve_topic(topic)
        return cls, getattr(cls, "class_version", 1), find_id_convertor(cls, id_type)

    @staticmethod
    def _upcast(event_class: type, version: int, state: dict[str, Any]) -> None:
        """Bring `state` from its stored class version to `version` (as the mapper does)."""
        from_version = state.pop("class_version", 1)
        while from_version < version:
            getattr(event_class, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1


def _notification(row: Row) -> Notification:
    return Notification(
        id=row.id,
        originator_id=row.originator_id,
        originator_version=row.originator_version,
        topic=row.topic,
        state=row.state,
    )
