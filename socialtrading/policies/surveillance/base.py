"""What a detector is: hooks the scanner calls with decoded events, and a checkpoint.

A detector overrides the hooks it needs (the scanner calls only those) and appends what it
finds to the context's `found`, through `report`. Hooks receive engine records as stored
(read by name, `engine/records.py`) with the log position of the event that carries them,
and the market's symbol. Nothing here reads a clock: time is the records' `TS` and the
events' timestamps (sequencer time, microseconds).

Windows of time are counted in buckets (`Buckets`): a window of W keeps 16 buckets of W/16,
so a sum over the window costs a few list entries whatever the number of events, and
counts the events of the last W (to within one bucket).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from socialtrading.engine.records import Record
from socialtrading.policies.surveillance.context import Context
from socialtrading.policies.surveillance.findings import Evidence, finding

BUCKETS = 16


class Detector:
    """Base of the detectors: no-op hooks, a checkpoint of nothing, `report`."""

    kind: ClassVar[str]

    def __init__(self, context: Context) -> None:
        self.context = context
        self.settings = context.settings

    # ------------------------------------------------------------------ hooks

    def accepted(self, position: int, market: str, record: Record) -> None:
        """An order was accepted (it may trade and rest in the same event)."""

    def rested(self, position: int, market: str, record: Record) -> None:
        """An order rests in the book with its open quantity."""

    def trade(self, position: int, market: str, record: Record) -> None:
        """A trade."""

    def cancelled(self, position: int, market: str, record: Record) -> None:
        """(Part of) an order was cancelled (by its owner, IOC, STP, ...: the reason says)."""

    def expired(self, position: int, market: str, record: Record) -> None:
        """A GTD order expired."""

    def amended(self, position: int, market: str, record: Record) -> None:
        """A resting order's price or open quantity changed."""

    def message(self, position: int, market: str, account: str, ts: int, order: str) -> None:
        """An order message of `account`: a new order, a cancel or an amend (stored
        whether or not the market accepted it)."""

    def published(self, position: int, event: Any) -> None:
        """A post was published (`Post.Published`)."""

    def edited(self, position: int, event: Any) -> None:
        """A post's body and sentiment changed (`Post.Edited`)."""

    def sweep(self, now: int) -> None:
        """Forget what can no longer count at `now` (it must change no finding)."""

    # ------------------------------------------------------------------ checkpoints

    def dump(self) -> dict[str, Any]:
        """The detector's state as JSON-ready values."""
        return {}

    def load(self, data: dict[str, Any]) -> None:
        """Restore the state `dump` gave."""

    # ------------------------------------------------------------------ findings

    def report(
        self,
        key: str,
        account: str,
        market: str | None,
        score: int,
        summary: str,
        evidence: list[Evidence],
        detected_at: int,
    ) -> None:
        """Record a finding of this detector's kind."""
        self.context.found.append(
            finding(self.kind, key, account, market, score, summary, evidence, detected_at)
        )


def forget_ended(by_market: dict[str, dict[str, Any]], ended: Callable[[Any], bool]) -> None:
    """Drop the entries of a market -> key -> entry map that `ended` says are over, and the
    markets left with none."""
    for market, entries in list(by_market.items()):
        for key in [key for key, entry in entries.items() if ended(entry)]:
            del entries[key]
        if not entries:
            del by_market[market]


class Buckets:
    """Sums over a sliding window of time, in `BUCKETS` buckets (module text).

    A sum is a list `[[bucket, v0, v1, ...], ...]`, oldest bucket first: JSON as it is.
    """

    __slots__ = ("width",)

    def __init__(self, window_us: int) -> None:
        self.width = max(1, -(-window_us // BUCKETS))

    def add(self, sums: list[list[int]], ts: int, values: tuple[int, ...]) -> None:
        """Add `values` at time `ts` (never earlier than the last added)."""
        bucket = ts // self.width
        if sums and sums[-1][0] == bucket:
            last = sums[-1]
            for index, value in enumerate(values, 1):
                last[index] += value
        else:
            sums.append([bucket, *values])
        oldest = bucket - BUCKETS
        while sums[0][0] <= oldest:
            del sums[0]

    def stale(self, sums: list[list[int]], ts: int) -> bool:
        """Whether nothing of `sums` counts in the window ending at `ts` any more."""
        return not sums or sums[-1][0] <= ts // self.width - BUCKETS

    def total(self, sums: list[list[int]], ts: int, count: int) -> list[int]:
        """The `count` values summed over the window ending at `ts`."""
        oldest = ts // self.width - BUCKETS
        totals = [0] * count
        for entry in sums:
            if entry[0] > oldest:
                for index in range(count):
                    totals[index] += entry[index + 1]
        return totals
