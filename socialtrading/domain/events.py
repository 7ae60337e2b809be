"""Triggering an aggregate's event on the hot path, as the library does but lighter.

`Aggregate.trigger_event` copies its keyword arguments, builds the event through the frozen
dataclass `__init__` (one `object.__setattr__` per field), checks the event against the
aggregate, applies it, and appends it to the pending events (its cost: docs/decisions.md).
`trigger` builds the event the way the library's own mapper does when it reads one from the
store (its `__dict__` set at once), then applies it, moves the version and `modified_on`, and
appends it, exactly as `mutate` and `trigger_event` do.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate


def trigger(
    aggregate: Aggregate, event_class: type[Aggregate.Event], fields: dict[str, Any]
) -> None:
    """Trigger `event_class` on `aggregate` with `fields`: every field it declares (defaults
    included) and its `timestamp`; the originator id and version are added here."""
    version = aggregate.version + 1
    fields["originator_id"] = aggregate.id
    fields["originator_version"] = version
    event = object.__new__(event_class)
    object.__setattr__(event, "__dict__", fields)
    event.apply(aggregate)
    aggregate.version = version
    aggregate.modified_on = fields["timestamp"]
    aggregate.pending_events.append(event)
