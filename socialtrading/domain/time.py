"""Sequencer time: integer microseconds since the epoch, UTC, turned into event timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_US = 86_400_000_000  # microseconds in a UTC day: `ts // DAY_US` is its day since the epoch
# The last conversion: a command's events share one sequencer time (a copied fill stores
# thousands), so they share one datetime object, which the transcoder encodes once.
_last: list[tuple[int, datetime]] = [(0, _EPOCH)]


def to_datetime(ts_us: int) -> datetime:
    """The UTC datetime of `ts_us` microseconds since the epoch (exact, no float); the same
    object as the previous call's for the same `ts_us`."""
    last = _last[0]  # one read: another thread may replace it (always with a whole pair)
    if last[0] == ts_us:
        return last[1]
    moment = _EPOCH + timedelta(microseconds=ts_us)
    _last[0] = (ts_us, moment)
    return moment


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
