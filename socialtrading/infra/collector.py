"""How the processes that run a writer tune Python's cyclic garbage collector.

The writer keeps every live order, account and past outcome in memory, and a batch keeps
thousands of young objects (commands, events, records) alive until it commits. With the
default thresholds (700, 10, 10) those young objects outlive several young collections, get
promoted, and set off full collections that walk the whole state, each one a pause for every
command waiting (figures: docs/decisions.md). Our objects are freed by reference
counting (the writer and projections make no cycles on their hot paths), so collecting
cycles rarely costs little memory.
"""

from __future__ import annotations

import gc

# young objects per young collection, young collections per middle one, middle per full
THRESHOLDS = (100_000, 50, 100)


def tune_collector() -> None:
    """Collect cycles rarely enough that a batch's objects die young (process-wide)."""
    gc.set_threshold(*THRESHOLDS)
