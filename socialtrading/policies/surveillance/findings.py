"""What the detectors find: a `Finding` of one kind about one account, with its evidence.

A finding is what the surveillance process sends (as a `RaiseAlert` command, whose id
`alert_command_id` derives from the finding's `key`: sending it again is a no-op). Its
fields are bounded here, where findings are made, so whatever receives them can store them:
the key is at most `MAX_KEY` characters, the summary `MAX_SUMMARY`, the evidence
`MAX_EVIDENCE` items, the score 0..100.
"""

from __future__ import annotations

from typing import NamedTuple
from uuid import UUID

from socialtrading.commands.compliance import RaiseAlert, raise_command_id
from socialtrading.domain.compliance.alert import (  # the kinds and bounds an alert takes
    ACCOUNT,
    AGAINST_OWN_RECOMMENDATION,
    COMMENT,
    EVENT,
    EVIDENCE_KINDS,
    FRONT_RUNNING_COPIERS,
    KINDS,
    MARKING_THE_CLOSE,
    MAX_EVIDENCE,
    MAX_KEY,
    MAX_SUMMARY,
    ORDER,
    ORDER_TO_TRADE,
    POST,
    PUMP_AND_DUMP,
    SPOOFING,
    TRADE,
    WASH_TRADING,
)

__all__ = [
    "ACCOUNT",
    "AGAINST_OWN_RECOMMENDATION",
    "COMMENT",
    "EVENT",
    "EVIDENCE_KINDS",
    "FRONT_RUNNING_COPIERS",
    "KINDS",
    "MARKING_THE_CLOSE",
    "MAX_EVIDENCE",
    "MAX_KEY",
    "MAX_SUMMARY",
    "ORDER",
    "ORDER_TO_TRADE",
    "POST",
    "PUMP_AND_DUMP",
    "SPOOFING",
    "TRADE",
    "WASH_TRADING",
    "Evidence",
    "Finding",
    "alert_command",
    "alert_command_id",
    "finding",
    "score",
]


class Evidence(NamedTuple):
    """One thing a finding rests on: an order id, a trade id (`SYMBOL:SEQ`), a post id or an
    account id, and the log position of the event that shows it."""

    kind: str
    ref: str
    position: int


class Finding(NamedTuple):
    """A suspicion about one account (and market), as a detector states it."""

    kind: str
    key: str  # deterministic: the same log gives the same key (de-duplication)
    account: UUID
    market: str | None
    score: int  # 0..100
    summary: str
    evidence: tuple[Evidence, ...]
    detected_at: int  # sequencer time (µs) of the event that completed the pattern


def finding(
    kind: str,
    key: str,
    account: str,
    market: str | None,
    score: int,
    summary: str,
    evidence: list[Evidence],
    detected_at: int,
) -> Finding:
    """A finding with every field within its bounds (the evidence kept: the first ones)."""
    assert kind in KINDS, kind
    return Finding(
        kind,
        f"{kind}:{key}"[:MAX_KEY],
        UUID(account),
        market,
        max(0, min(100, score)),
        summary[:MAX_SUMMARY],
        tuple(_unique(evidence)[:MAX_EVIDENCE]),
        detected_at,
    )


def alert_command_id(found: Finding) -> str:
    """The id of the command that raises `found` as an alert: the same key, the same id."""
    return raise_command_id(found.key)


def alert_command(found: Finding) -> RaiseAlert:
    """The command that raises `found` as an alert (as the system)."""
    return RaiseAlert.model_validate(  # validated: a finding's kinds are plain strings
        {
            "command_id": alert_command_id(found),
            "kind": found.kind,
            "key": found.key,
            "account": found.account,
            "market": found.market,
            "score": found.score,
            "summary": found.summary,
            "evidence": [e._asdict() for e in found.evidence],
            "detected_at": found.detected_at,
        }
    )


def score(observed: int, threshold: int) -> int:
    """50 at the threshold, rising towards 100 as `observed` passes it (integers only):
    twice the threshold scores 75, four times 88."""
    if threshold <= 0 or observed <= 0:
        return 100 if observed > 0 else 0
    return max(0, min(100, 100 - (50 * threshold) // observed))


def _unique(evidence: list[Evidence]) -> list[Evidence]:
    """The evidence without repeats, in order."""
    return list(dict.fromkeys(evidence))
