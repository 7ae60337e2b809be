"""What `audit verify` reports: one finding per disagreement, with where it is."""

from __future__ import annotations

from typing import NamedTuple

# checks
CHAIN = "chain"
DETERMINISM = "determinism"
LEDGER = "ledger"

# what a chain finding looks like (when it can be told)
EDITED = "edited"
REMOVED = "removed"
INSERTED = "inserted"
REORDERED = "reordered"
DAMAGED = "damaged"  # the chain's own tables disagree with themselves (an anchor, a segment)
# the other checks
RECORDS = "records"  # re-running a market gave other records
UNREADABLE = "unreadable"  # an event the check needs does not decode
UNBALANCED = "unbalanced"  # an asset's ledger does not sum to deposits minus withdrawals


class Finding(NamedTuple):
    """One disagreement: the log position it is at, the check that found it, what it looks
    like, and a sentence saying what disagreed."""

    position: int
    check: str
    kind: str
    message: str

    def __str__(self) -> str:
        return f"position {self.position}: {self.kind}: {self.message}"
