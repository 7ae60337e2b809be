"""The event store's transcoder: the library's JSON format, written and read with orjson.

`eventsourcing.persistence.JSONTranscoder` stores an event's state as compact JSON in which
every value of a registered type becomes `{"_type_": name, "_data_": ...}`. It does so with
the standard library's `json`, whose Python-level encoder loop and per-object hook cost more
per event than the rest of storing it, and most of what a projection spends decoding
(figures: docs/decisions.md). This transcoder writes and reads the same bytes
with orjson, so stores written by either can be read by the other.

orjson writes `uuid.UUID` values itself, as plain strings, where the library would write
`{"_type_": "uuid_hex", ...}`; such a value would come back as a `str`. Events and snapshots
therefore carry ids as text (a test checks every event class), and the registered UUID
transcoding is kept only to read values the library wrote.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoding,
    TranscodingNotRegisteredError,
)

# datetimes and dataclasses go through the registered transcodings, not orjson's own forms;
# non-string keys become strings, as the standard library writes them.
_DUMP_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_NON_STR_KEYS
)
MARK = b'"_type_"'  # how many typed values stored JSON holds: data.count(MARK)
# Larger documents holding typed values are read as the library reads them: the standard
# parser calls the library's hook on each dict only, where reviving orjson's result walks
# every nested list (a market snapshot's live orders); at 370 KB that is half the time.
LARGE = 65_536


class OrjsonTranscoder(JSONTranscoder):
    """`JSONTranscoder`'s format, encoded and decoded with orjson."""

    def __init__(self) -> None:
        super().__init__()
        # Decimals and datetimes are most of the values orjson hands back (every event's
        # timestamp, every ledger amount): while the library's own transcodings are the ones
        # registered for them, they are written inline, without the lookups.
        self._inline: dict[type, str] = {}
        # The last datetime encoded and its encoding: the events of one command share their
        # timestamp object (`domain.time.to_datetime`), written once per command.
        self._moment: tuple[Any, dict[str, Any] | None] = (None, None)

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        inline = {Decimal: DecimalAsStr, datetime: DatetimeAsISO}.get(transcoding.type)
        if inline is not None and type(transcoding) is inline:
            self._inline[transcoding.type] = transcoding.name
        else:
            self._inline.pop(transcoding.type, None)

    def _encode_obj(self, o: Any) -> dict[str, Any]:
        kind = type(o)
        if kind is Decimal:
            name = self._inline.get(kind)
            if name is not None:
                return {"_type_": name, "_data_": str(o)}
        elif kind is datetime:
            moment, encoded = self._moment
            if o is moment and encoded is not None:
                return encoded
            name = self._inline.get(kind)
            if name is not None:
                encoded = {"_type_": name, "_data_": o.isoformat()}
                self._moment = (o, encoded)
                return encoded
        return super()._encode_obj(o)

    def encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(obj, default=self._encode_obj, option=_DUMP_OPTIONS)
        except orjson.JSONEncodeError as error:
            # raise what the library's transcoder raises for a type it does not know
            if isinstance(error.__cause__, TranscodingNotRegisteredError):
                raise error.__cause__ from None
            raise

    def decode(self, data: bytes) -> Any:
        marks = data.count(MARK)
        if marks and len(data) > LARGE:
            return super().decode(data)
        return self.revive(orjson.loads(data), marks)

    def revive(self, obj: Any, marks: int) -> Any:
        """`obj`, parsed from JSON that holds `marks` typed values, with those decoded."""
        if not marks:
            return obj
        if type(obj) is dict:
            # An event's typed values (its timestamp, its Decimal amounts) are nearly always
            # top-level strings: revive those, and walk the rest only when marks are left.
            for key, value in obj.items():
                if type(value) is dict and type(value.get("_data_")) is str:
                    # a string holds nothing nested to revive first
                    revived = self._decode_obj(value)
                    if revived is not value:
                        obj[key] = revived
                        marks -= 1
            if not marks:
                return obj
        return self._revive(obj)

    def _revive(self, obj: Any) -> Any:
        """`obj` with every `{"_type_", "_data_"}` object decoded, at any depth."""
        kind = type(obj)
        if kind is dict:
            for key, value in obj.items():
                if type(value) in (dict, list):
                    obj[key] = self._revive(value)
            return self._decode_obj(obj)
        if kind is list:
            for index, value in enumerate(obj):
                if type(value) in (dict, list):
                    obj[index] = self._revive(value)
        return obj
