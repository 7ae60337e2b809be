"""The Alert aggregate: one finding of market-abuse surveillance, and the case analysts work.

An alert is raised by the surveillance process (the system actor) from a detector's finding:
its kind, the account it is about, the market, a score from 0 to 100, a one-paragraph
summary, and its evidence (orders, trades, posts, comments, events, accounts, each with the
log position of the event that shows it). Its id derives from the detector's key, so the
same finding raised twice is one alert.

Analysts (the COMPLIANCE or ADMIN role; the handlers check) then work the case. Every step is
an event naming the analyst (`by`), with the sequencer time and the command id:

    status        acknowledge     escalate       dismiss(reason)   close(finding)   note
    OPEN          ACKNOWLEDGED    ESCALATED      DISMISSED         CLOSED           kept
    ACKNOWLEDGED  no change       ESCALATED      DISMISSED         CLOSED           kept
    ESCALATED     refused         no change      DISMISSED         CLOSED           kept
    DISMISSED     refused         refused        refused           refused          refused
    CLOSED        refused         refused        refused           refused          refused

- OPEN, ACKNOWLEDGED and ESCALATED are the open states; DISMISSED (no abuse: a false
  positive, with the reason) and CLOSED (reviewed, with the finding: what the analyst
  concluded and did, such as a report to the regulator) are final: a resolved case is
  never changed again (`alert_resolved`), and a new finding is a new alert.
- "no change": acknowledging an acknowledged alert or escalating an escalated one is
  accepted and stores nothing (two analysts taking the same alert at once both succeed).
- An escalated alert is not taken back to ACKNOWLEDGED (`invalid_transition`): it is with
  the senior reviewer until it is dismissed or closed.
- A note (an analyst's working remark: what was checked, what is awaited) is kept in any
  open state, at most MAX_NOTES per alert (`too_many_notes`): the case history stays
  bounded.
- Nobody works a case about their own account (`own_alert`): an analyst who also trades
  cannot dismiss what the surveillance found about them.

Texts are stored in Unicode NFC, line feeds and tabs allowed, no other control character:
a reason of 1..MAX_REASON code points, a finding of 1..MAX_FINDING, a note of 1..MAX_NOTE,
an escalation's optional reason of up to MAX_REASON.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from socialtrading.domain.errors import InvalidCommand, Refused
from socialtrading.domain.ids import NAMESPACE
from socialtrading.domain.social import text
from socialtrading.domain.time import to_datetime, to_micros

# ---------------------------------------------------------------------- kinds

WASH_TRADING: Final = "wash_trading"
SPOOFING: Final = "spoofing"
ORDER_TO_TRADE: Final = "order_to_trade"
MARKING_THE_CLOSE: Final = "marking_the_close"
PUMP_AND_DUMP: Final = "pump_and_dump"
AGAINST_OWN_RECOMMENDATION: Final = "against_own_recommendation"
FRONT_RUNNING_COPIERS: Final = "front_running_copiers"
KINDS: Final = (
    WASH_TRADING,
    SPOOFING,
    ORDER_TO_TRADE,
    MARKING_THE_CLOSE,
    PUMP_AND_DUMP,
    AGAINST_OWN_RECOMMENDATION,
    FRONT_RUNNING_COPIERS,
)

# what a piece of evidence names (its `ref`): an order id, a trade id `SYMBOL:SEQ`, a post,
# comment or account id, or any event (its `position` is what counts)
ORDER: Final = "order"
TRADE: Final = "trade"
POST: Final = "post"
COMMENT: Final = "comment"
EVENT: Final = "event"
ACCOUNT: Final = "account"
EVIDENCE_KINDS: Final = (ORDER, TRADE, POST, COMMENT, EVENT, ACCOUNT)

# ---------------------------------------------------------------------- statuses

OPEN: Final = "OPEN"
ACKNOWLEDGED: Final = "ACKNOWLEDGED"
ESCALATED: Final = "ESCALATED"
DISMISSED: Final = "DISMISSED"
CLOSED: Final = "CLOSED"
STATUSES: Final = (OPEN, ACKNOWLEDGED, ESCALATED, DISMISSED, CLOSED)
RESOLVED: Final = (DISMISSED, CLOSED)

# the case actions, and the transition table of the module's text (a repeat of the status an
# action leads to is "no change": see `_target`)
ACKNOWLEDGE: Final = "acknowledge"
ESCALATE: Final = "escalate"
DISMISS: Final = "dismiss"
CLOSE: Final = "close"
NOTE: Final = "note"
TRANSITIONS: Final[dict[str, dict[str, str]]] = {
    ACKNOWLEDGE: {OPEN: ACKNOWLEDGED},
    ESCALATE: {OPEN: ESCALATED, ACKNOWLEDGED: ESCALATED},
    DISMISS: {OPEN: DISMISSED, ACKNOWLEDGED: DISMISSED, ESCALATED: DISMISSED},
    CLOSE: {OPEN: CLOSED, ACKNOWLEDGED: CLOSED, ESCALATED: CLOSED},
}

# ---------------------------------------------------------------------- bounds

MAX_KEY: Final = 200
MAX_SUMMARY: Final = 500
MAX_EVIDENCE: Final = 50
MAX_SCORE: Final = 100
MAX_REASON: Final = 500
MAX_FINDING: Final = 4000
MAX_NOTE: Final = 2000
MAX_NOTES: Final = 100

# One piece of evidence as the Raised event stores it: {"kind", "ref", "position"}.
Evidence = dict[str, Any]


def alert_id(key: str) -> UUID:
    """The id of the alert of a detector's de-duplication key."""
    return uuid5(NAMESPACE, "alert:" + key)


def _case_text(value: str, limit: int, code: str, what: str) -> str:
    """`value` in NFC, 1..`limit` code points, line feeds and tabs but no other control
    character, surrounding whitespace removed; InvalidCommand with `code` otherwise."""
    try:
        return text.body(value, limit, what)
    except InvalidCommand as error:
        raise InvalidCommand(code, error.message) from None


class Alert(Aggregate):
    """A surveillance alert and its case (see the module docstring)."""

    class Raised(Aggregate.Created):
        kind: str
        key: str
        account: str  # the account it is about (id text)
        market: str | None
        score: int
        summary: str
        evidence: list[Evidence]
        detected_at: int  # µs: the sequencer time of the event that triggered the finding
        by: str
        command_id: str

    class Step(Aggregate.Event):
        """A step of the case that leaves the alert in `STATUS` (None: as it is)."""

        STATUS: ClassVar[str | None] = None
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Alert)
            if self.STATUS is not None:
                aggregate.status = self.STATUS

    class Acknowledged(Step):
        STATUS = ACKNOWLEDGED

    class Escalated(Step):
        STATUS = ESCALATED
        reason: str | None

    class Dismissed(Step):
        STATUS = DISMISSED
        reason: str

    class Closed(Step):
        STATUS = CLOSED
        finding: str

    class NoteAdded(Step):
        note: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Alert)
            aggregate.notes += 1

    def __init__(
        self,
        kind: str,
        key: str,
        account: str,
        market: str | None,
        score: int,
        summary: str,
        evidence: list[Evidence],
        detected_at: int,
        by: str,
        command_id: str,
    ) -> None:
        self.kind = kind
        self.key = key
        self.account = account
        self.market = market
        self.score = score
        self.summary = summary
        self.evidence = evidence
        self.detected_at = detected_at
        self.status = OPEN
        self.notes = 0

    @classmethod
    def raise_alert(
        cls,
        kind: str,
        key: str,
        account: str,
        market: str | None,
        score: int,
        summary: str,
        evidence: list[Evidence],
        detected_at: int,
        by: str,
        command_id: str,
        ts: int,
    ) -> Alert:
        """Raise the alert of a finding (its id is `alert_id(key)`); the summary is normalized
        here, the rest checked against the bounds."""
        if kind not in KINDS:
            raise InvalidCommand("invalid_alert_kind", f"an alert's kind is one of {KINDS}")
        if not 0 < len(key) <= MAX_KEY:
            raise InvalidCommand("invalid_key", f"a key has 1 to {MAX_KEY} characters")
        if not 0 <= score <= MAX_SCORE:
            raise InvalidCommand("invalid_score", f"a score lies in 0..{MAX_SCORE}")
        if len(evidence) > MAX_EVIDENCE:
            raise InvalidCommand(
                "too_much_evidence", f"an alert carries at most {MAX_EVIDENCE} pieces of evidence"
            )
        for piece in evidence:
            if piece.get("kind") not in EVIDENCE_KINDS or set(piece) != {"kind", "ref", "position"}:
                raise InvalidCommand("invalid_evidence", f"evidence is one of {EVIDENCE_KINDS}")
        return cls._create(
            cls.Raised,
            id=alert_id(key),
            kind=kind,
            key=key,
            account=account,
            market=market,
            score=score,
            summary=_case_text(summary, MAX_SUMMARY, "invalid_summary", "summary"),
            evidence=evidence,
            detected_at=detected_at,
            by=by,
            command_id=command_id,
            timestamp=to_datetime(ts),
        )

    # ------------------------------------------------------------------ queries

    @property
    def raised_at(self) -> int:
        """When it was raised (the sequencer time), in microseconds."""
        return to_micros(self.created_on)

    @property
    def resolved(self) -> bool:
        """Whether the case is DISMISSED or CLOSED."""
        return self.status in RESOLVED

    # ------------------------------------------------------------------ decisions

    def _target(self, action: str, by: str) -> str | None:
        """The status `action` by `by` leads to, None for "no change"; Refused otherwise."""
        if by == self.account:
            raise Refused("own_alert", "an analyst does not work an alert about their own account")
        if self.resolved:
            raise Refused("alert_resolved", f"this alert is {self.status} already")
        if action == NOTE:
            return self.status
        target = TRANSITIONS[action].get(self.status)
        if target is None:
            if action in (ACKNOWLEDGE, ESCALATE) and self.status == _REPEAT[action]:
                return None
            raise Refused("invalid_transition", f"an {self.status} alert cannot {action}")
        return target

    def acknowledge(self, by: str, command_id: str, ts: int) -> bool:
        """Take the alert (OPEN -> ACKNOWLEDGED); False, storing nothing, when it is
        acknowledged already."""
        if self._target(ACKNOWLEDGE, by) is None:
            return False
        self._step(self.Acknowledged, by, command_id, ts)
        return True

    def escalate(self, by: str, reason: str | None, command_id: str, ts: int) -> bool:
        """Hand the alert to senior review; False, storing nothing, when it is escalated
        already."""
        if self._target(ESCALATE, by) is None:
            return False
        if reason is not None:
            reason = _case_text(reason, MAX_REASON, "invalid_reason", "reason")
        self._step(self.Escalated, by, command_id, ts, reason=reason)
        return True

    def dismiss(self, by: str, reason: str, command_id: str, ts: int) -> bool:
        """Resolve the alert as no abuse, saying why."""
        self._target(DISMISS, by)
        reason = _case_text(reason, MAX_REASON, "invalid_reason", "reason")
        self._step(self.Dismissed, by, command_id, ts, reason=reason)
        return True

    def close(self, by: str, finding: str, command_id: str, ts: int) -> bool:
        """Resolve the alert with the analyst's finding."""
        self._target(CLOSE, by)
        finding = _case_text(finding, MAX_FINDING, "invalid_finding", "finding")
        self._step(self.Closed, by, command_id, ts, finding=finding)
        return True

    def add_note(self, by: str, note: str, command_id: str, ts: int) -> bool:
        """Keep an analyst's note on an open case."""
        self._target(NOTE, by)
        if self.notes >= MAX_NOTES:
            raise Refused("too_many_notes", f"an alert keeps at most {MAX_NOTES} notes")
        note = _case_text(note, MAX_NOTE, "invalid_note", "note")
        self._step(self.NoteAdded, by, command_id, ts, note=note)
        return True

    def _step(
        self, event: type[Step], by: str, command_id: str, ts: int, **text: str | None
    ) -> None:
        self.trigger_event(event, by=by, command_id=command_id, timestamp=to_datetime(ts), **text)


# the status whose repeat of an action is "no change"
_REPEAT: Final = {ACKNOWLEDGE: ACKNOWLEDGED, ESCALATE: ESCALATED}
