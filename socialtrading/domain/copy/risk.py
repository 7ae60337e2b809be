"""The risk gate: a leader whose risk score reaches `GATE_AT` takes no new copiers until it
falls below `LIFT_BELOW` (issue 13).

The score is the statistics' 1..10 risk score (annualized volatility of daily returns, bands
in docs/stats.md) over `WINDOW`, as of a closed UTC day. The gate has hysteresis: a score
between the two bounds (7) keeps the gate as it is, so a leader hovering around one bound does
not flip from day to day. Existing copies are never touched by the gate: they keep copying,
and their copiers may top them up, pause, resume and stop them.
"""

from __future__ import annotations

from typing import Final

GATE_AT: Final = 8  # a score this high or higher closes the gate
LIFT_BELOW: Final = 7  # a score below this opens it again
MIN_SCORE: Final = 1
MAX_SCORE: Final = 10
WINDOW: Final = "D30"  # the statistics window the score is read over (the leaderboards' default)
# Days are UTC days since the epoch; the last one a command may name: 9999-12-31.
MAX_DAY: Final = 2_932_896

assert MIN_SCORE < LIFT_BELOW <= GATE_AT <= MAX_SCORE


def gated_after(gated: bool, score: int) -> bool:
    """Whether the gate is closed after a score is recorded, given whether it was."""
    if score >= GATE_AT:
        return True
    if score < LIFT_BELOW:
        return False
    return gated
