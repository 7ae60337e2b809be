"""Sequencer time: integer microseconds since the epoch, UTC, turned into event timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_datetime(ts_us: int) -> datetime:
    """The UTC datetime of `ts_us` microseconds since the epoch (exact, no float)."""
    return _EPOCH + timedelta(microseconds=ts_us)


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
