"""Times into log positions, by the events' recorded (sequencer) times.

The sequencer's time never goes backwards from one command to the next, so the log is in
time order from one write batch to the next. Within a batch, events are stored aggregate by
aggregate, so two commands' events of the same batch may interleave: times there are within
the batch's few milliseconds, not sorted. `bound` finds the position by bisection, reading
one event per step (about 40 reads for a billion events), never the log itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from socialtrading.infra.decoding import EventDecoder
from socialtrading.infra.store import EventStore


class LogRange(NamedTuple):
    """The events after position `after`, up to and including position `last`."""

    after: int
    last: int

    @property
    def size(self) -> int:
        """How many positions it spans (events, but for gaps in the numbering)."""
        return max(0, self.last - self.after)


def bound(store: EventStore, moment: datetime, head: int | None = None) -> int:
    """The position just before the first event recorded at or after `moment` (`head`, the
    newest position, when every event is older)."""
    decoder = EventDecoder(store.mapper)
    if head is None:
        head = store.recorder.max_notification_id() or 0
    low, high = 0, head
    while low < high:
        middle = (low + high) // 2
        rows = store.read(middle, 1)
        if not rows:
            high = middle
            continue
        (position, event), *_ = decoder.decode(rows)
        if event.timestamp >= moment:
            high = middle
        else:  # that event is before `moment`: the bound is at or after it
            low = position
    return low


def log_range(store: EventStore, start: datetime | None, end: datetime | None) -> LogRange:
    """The positions of the events recorded from `start` (included; None: the beginning) to
    `end` (excluded; None: now)."""
    head = store.recorder.max_notification_id() or 0
    after = 0 if start is None else bound(store, start, head)
    last = head if end is None else bound(store, end, head)
    return LogRange(after, max(after, last))
