"""The compliance commands: raising a surveillance alert, and working its case.

`RaiseAlert` is the surveillance process's (the system actor only): a detector's finding with
its evidence. Its alert's id derives from the finding's key (`alert_id`), so a finding sent
again is accepted and stores nothing; a repeated command id (`raise_command_id(key)`) is
answered by the writer's command index as usual.

`AcknowledgeAlert`, `EscalateAlert`, `DismissAlert`, `CloseAlert` and `AddAlertNote` are an
analyst's: an account holding the COMPLIANCE or ADMIN role, never the system (a case decision
names a person), never about the analyst's own account. The transitions and their codes are
the `Alert` aggregate's (`domain/compliance/alert.py`).

Codes: `not_authorized`, `unknown_actor`, `own_alert`, `alert_resolved`,
`invalid_transition`, `too_many_notes` (Refused); `unknown_alert`, `unknown_account`,
`unknown_market`, `invalid_reason`, `invalid_finding`, `invalid_note`, `invalid_summary`
(InvalidCommand). Every refusal stores nothing.

Raw texts are bounded at the edge at four times their limit (the exact limits are counted
after NFC by the aggregate), as the social commands do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from hashlib import blake2b
from typing import Annotated, Any, Final, Literal, Self, get_args
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from socialtrading.commands.models import Command, Symbol
from socialtrading.commands.state import Outcome, State, find_account, find_market
from socialtrading.domain.account import ADMIN, COMPLIANCE
from socialtrading.domain.compliance.alert import (
    EVIDENCE_KINDS,
    KINDS,
    MAX_EVIDENCE,
    MAX_FINDING,
    MAX_KEY,
    MAX_NOTE,
    MAX_REASON,
    MAX_SCORE,
    MAX_SUMMARY,
    Alert,
    alert_id,
)
from socialtrading.domain.errors import InvalidCommand, Refused
from socialtrading.domain.ids import SYSTEM_ACTOR

# ---------------------------------------------------------------------- models

_RAW = 4  # raw texts: four times the limit in code points (the aggregate counts after NFC)
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
_TRADE_REF = re.compile(r"^[A-Z][A-Z0-9]{1,9}-[A-Z][A-Z0-9]{1,9}:[1-9][0-9]{0,17}$")
MAX_TIME_US: Final = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z

AlertKind = Literal[
    "wash_trading",
    "spoofing",
    "order_to_trade",
    "marking_the_close",
    "pump_and_dump",
    "against_own_recommendation",
    "front_running_copiers",
]
EvidenceKind = Literal["order", "trade", "post", "comment", "event", "account"]
assert get_args(AlertKind) == KINDS
assert get_args(EvidenceKind) == EVIDENCE_KINDS


class EvidenceRef(BaseModel):
    """One piece of an alert's evidence: what it is, its id, and the log position of the
    event that shows it. A trade is named `SYMBOL:SEQ`; an account, post or comment by its
    id (stored in its canonical form); an order by its id; an event by any label."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: EvidenceKind
    ref: Annotated[str, Field(min_length=1, max_length=100, pattern=_PRINTABLE)]
    position: Annotated[int, Field(ge=1, le=2**63 - 1)]

    @model_validator(mode="after")
    def _ref_fits_its_kind(self) -> Self:
        if self.kind == "trade" and not _TRADE_REF.match(self.ref):
            raise ValueError("a trade is named SYMBOL:SEQ")
        if self.kind in ("account", "post", "comment"):
            try:
                canonical = str(UUID(self.ref))
            except ValueError:
                raise ValueError(f"{self.kind} evidence is named by its id") from None
            object.__setattr__(self, "ref", canonical)
        return self


class RaiseAlert(Command):
    """Raise the alert of a surveillance finding (the system only: the surveillance process).

    `key` is the detector's de-duplication key: the same key is the same alert.
    `detected_at` is the sequencer time (µs) of the event that triggered the finding.
    """

    actor: UUID = SYSTEM_ACTOR
    kind: AlertKind
    key: Annotated[str, Field(min_length=1, max_length=MAX_KEY, pattern=_PRINTABLE)]
    account: UUID
    market: Symbol | None = None
    score: Annotated[int, Field(ge=0, le=MAX_SCORE)]
    summary: Annotated[str, Field(min_length=1, max_length=_RAW * MAX_SUMMARY)]
    evidence: list[EvidenceRef] = Field(default_factory=list, max_length=MAX_EVIDENCE)
    detected_at: Annotated[int, Field(ge=0, le=MAX_TIME_US)]


class _AboutAlert(Command):
    alert_id: UUID


class AcknowledgeAlert(_AboutAlert):
    """Take an open alert (OPEN -> ACKNOWLEDGED)."""


class EscalateAlert(_AboutAlert):
    """Hand an alert to senior review (-> ESCALATED), optionally saying why."""

    reason: Annotated[str, Field(max_length=_RAW * MAX_REASON)] | None = None


class DismissAlert(_AboutAlert):
    """Resolve an alert as no abuse (-> DISMISSED), saying why."""

    reason: Annotated[str, Field(max_length=_RAW * MAX_REASON)]


class CloseAlert(_AboutAlert):
    """Resolve an alert with the analyst's finding (-> CLOSED)."""

    finding: Annotated[str, Field(max_length=_RAW * MAX_FINDING)]


class AddAlertNote(_AboutAlert):
    """Keep a working note on an open alert."""

    note: Annotated[str, Field(max_length=_RAW * MAX_NOTE)]


def raise_command_id(key: str) -> str:
    """The command id to raise the alert of a finding's `key` with (a command id holds at
    most 100 characters, a key 200): sent again after a crash, it is a repeat the writer
    answers from its command index."""
    return "alert:" + blake2b(key.encode(), digest_size=16).hexdigest()


def wanted(command: Command) -> list[UUID]:
    """The alert a compliance command's handler asks for first (the writer learns in one
    query per batch which are not stored)."""
    if isinstance(command, RaiseAlert):
        return [alert_id(command.key)]
    if isinstance(command, _AboutAlert):
        return [command.alert_id]
    return []


def alert_of(command: Command) -> UUID | None:
    """The alert a compliance command raises or acts on."""
    found = wanted(command)
    return found[0] if found else None


# ---------------------------------------------------------------------- helpers

_ANALYSTS = (COMPLIANCE, ADMIN)


def _done(command: Command, stored: bool = True) -> Outcome:
    return Outcome(command.command_id, True, stored=stored)


def _analyst(state: State, actor: UUID) -> str:
    """The acting analyst's id text: an account with the compliance or admin role."""
    if actor == SYSTEM_ACTOR:
        raise Refused("not_authorized", "cases are worked by analysts, not by the system")
    account = state.accounts.get(actor)
    if account is None:
        raise Refused("unknown_actor", "the acting account does not exist")
    if not any(account.has_role(role) for role in _ANALYSTS):
        raise Refused("not_authorized", "this needs the compliance or admin role")
    return state.text(actor)


def _alert(state: State, command: _AboutAlert) -> Alert:
    found = state.social.get(command.alert_id, Alert)
    if found is None:
        raise InvalidCommand("unknown_alert", f"no alert {command.alert_id}")
    return found


# ---------------------------------------------------------------------- handlers


def raise_alert(state: State, command: RaiseAlert, ts: int) -> Outcome:
    """Raise a finding's alert; a key raised already stores nothing."""
    if command.actor != SYSTEM_ACTOR:
        raise Refused("not_authorized", "alerts are raised by the surveillance process")
    account = find_account(state, command.account)
    if command.market is not None:
        find_market(state, command.market)
    new_id = alert_id(command.key)
    if state.social.get(new_id, Alert) is not None:
        return _done(command, False)
    alert = Alert.raise_alert(
        command.kind,
        command.key,
        state.text(account.id),
        command.market,
        command.score,
        command.summary,
        [piece.model_dump() for piece in command.evidence],
        command.detected_at,
        state.text(command.actor),
        command.command_id,
        ts,
    )
    state.social.add(alert)
    state.touch(alert)
    return _done(command)


# How each case command asks the alert for its step (each answers whether it stored one).
_STEPS: dict[type[Command], Callable[[Alert, str, Any, int], bool]] = {
    AcknowledgeAlert: lambda alert, by, c, ts: alert.acknowledge(by, c.command_id, ts),
    EscalateAlert: lambda alert, by, c, ts: alert.escalate(by, c.reason, c.command_id, ts),
    DismissAlert: lambda alert, by, c, ts: alert.dismiss(by, c.reason, c.command_id, ts),
    CloseAlert: lambda alert, by, c, ts: alert.close(by, c.finding, c.command_id, ts),
    AddAlertNote: lambda alert, by, c, ts: alert.add_note(by, c.note, c.command_id, ts),
}


def work_case(state: State, command: _AboutAlert, ts: int) -> Outcome:
    """Take a step of an alert's case (the alert decides; a repeat of the status it is in
    stores nothing)."""
    analyst = _analyst(state, command.actor)
    alert = _alert(state, command)
    changed = _STEPS[type(command)](alert, analyst, command, ts)
    if changed:
        state.touch(alert)
    return _done(command, changed)


COMPLIANCE_HANDLERS: dict[type[Command], Callable[[State, Any, int], Outcome]] = {
    RaiseAlert: raise_alert,
    **dict.fromkeys(_STEPS, work_case),
}
