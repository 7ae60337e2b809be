"""The risk gate's feed: follows the statistics and records each leader's risk score with the
writer (`RecordRiskScore`), so its Account's gate (`domain/copy/risk.py`) follows the score.

- A day's statistics are final once the statistics read model's open day is past it. For the
  latest such day D, every leader (an account with copy settings) whose risk score over
  `risk.WINDOW` (D30) as of D differs from the score its Account last recorded gets
  `RecordRiskScore(leader, score, D)`, with the command id `risk_command_id(leader, D,
  score)`. A leader that appears after D was done (its settings came later) is scored as of
  D when the read model shows it. An unknown score (fewer than two daily returns in the
  window) sends nothing: the gate stays as it was.
- Only the latest closed day is scored: after days without events, or a pause of the
  process, the intermediate days are not (the gate follows the current score, not a history).

**Its sources.** The statistics and the leaders come through `RiskSource`, which the wiring
gives (`entrypoints/app.py` passes `projections/stats/risk.LeaderRisk`): policies import no
read model (`tests/unit/test_architecture.py`). What a leader's Account last recorded is read
from the event store (the Account, once per leader, then what the policy sent), so a lagging
read model never hides a recorded score.

**Exactly once.** A day's commands are submitted, every acknowledgement is awaited, then the
day is recorded as the process's position (row `risk_gate` of `copy_policy_position`, in the
read store). After a crash the day is scored again: the same (leader, day, score) is the same
command id, answered by the writer's command index with its first outcome, and an Account
stores nothing for a score it has already or one older than its recorded day, so a command
sent twice or late never moves the gate.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from sqlalchemy import Engine

from socialtrading.commands.copying import RecordRiskScore
from socialtrading.domain.account import Account
from socialtrading.domain.copy.ids import risk_command_id
from socialtrading.domain.errors import InvalidCommand
from socialtrading.domain.ids import SYSTEM_ACTOR
from socialtrading.infra.store import EventStore
from socialtrading.policies.copying import Submit, load_position, metadata, save_position
from socialtrading.policies.following import LogFollower

log = logging.getLogger(__name__)

NAME = "risk_gate"


class RiskSource(Protocol):
    """What the risk gate reads of the read models (`projections/stats/risk.LeaderRisk`)."""

    def closed_day(self) -> int | None:
        """The latest UTC day (days since the epoch) whose statistics are final (None: none)."""
        ...

    def leaders(self) -> list[str]:
        """Every account with copy settings, by id, sorted."""
        ...

    def scores(self, leaders: Sequence[str], day: int) -> dict[str, int | None]:
        """Each leader's risk score over `risk.WINDOW` as of `day` (None: unknown)."""
        ...


class RiskGatePolicy(LogFollower):
    """Scores leaders as the statistics close each day and sends their risk scores (module
    text). Its `position` is the last day scored (days since the epoch)."""

    thread_name = "risk-gate"

    def __init__(
        self,
        store: EventStore,
        read_engine: Engine,
        submit: Submit,
        source: RiskSource,
        *,
        poll_seconds: float = 1.0,
        timeout: float = 120.0,
    ) -> None:
        super().__init__(poll_seconds)
        self.store = store
        self.engine = read_engine
        self.submit = submit
        self.source = source
        self.timeout = timeout
        self.sent = 0  # commands sent (metrics, tests)
        self._scored: set[str] = set()  # leaders scored as of the position's day
        self._recorded: dict[str, int | None] = {}  # leader -> the score its Account holds
        self._unsent: tuple[int, list[str], list[RecordRiskScore]] | None = None

    def setup(self) -> None:
        """Create the position table if missing; resume from the recorded day."""
        metadata.create_all(self.engine)
        self._scored = set()
        self._recorded = {}
        self._unsent = None
        self._advanced(load_position(self.engine, NAME))

    def run_once(self) -> int:
        """Score the leaders a newly closed day calls for (every one), or those not yet
        scored as of the position's day; send what changed; record the day. The number of
        leaders scored, plus one when the day moved (0: nothing to do)."""
        if self._unsent is None:
            day = self.source.closed_day()
            if day is None or day < self._position:
                return 0
            leaders = self.source.leaders()
            if day == self._position:
                leaders = [leader for leader in leaders if leader not in self._scored]
                if not leaders:
                    return 0
            # kept until acknowledged: a failed send sends the same commands again
            self._unsent = (day, leaders, self._commands(leaders, day))
        day, leaders, commands = self._unsent
        self._send(commands)
        self._unsent = None
        moved = day > self._position
        if moved:
            self._scored = set()
            save_position(self.engine, NAME, day)
            self._advanced(day)
        self._scored.update(leaders)
        return len(leaders) + moved

    def _commands(self, leaders: list[str], day: int) -> list[RecordRiskScore]:
        """The scores to send: each leader's whose score differs from its Account's."""
        commands = []
        scores = self.source.scores(leaders, day) if leaders else {}
        for leader in leaders:
            score = scores.get(leader)
            if score is None or score == self._recorded_score(leader):
                continue
            commands.append(
                RecordRiskScore(
                    command_id=risk_command_id(leader, day, score),
                    actor=SYSTEM_ACTOR,
                    leader=UUID(leader),
                    score=score,
                    as_of_day=day,
                )
            )
        return commands

    def _recorded_score(self, leader: str) -> int | None:
        if leader not in self._recorded:
            try:
                account: Any = self.store.repository.get(UUID(leader))
            except AggregateNotFoundError:  # a read store of another store: the writer says
                account = None
            self._recorded[leader] = account.risk_score if isinstance(account, Account) else None
        return self._recorded[leader]

    def _send(self, commands: list[RecordRiskScore]) -> None:
        """Submit every command, then wait for each acknowledgement. A command the writer
        refuses is done with; anything else (a failed commit) raises, and the same commands
        are sent again. Each leader's recorded score is read again when next needed."""
        acks = [self.submit(command) for command in commands]
        for command, ack in zip(commands, acks, strict=True):
            try:
                ack.result(self.timeout)
            except InvalidCommand as error:
                log.info("risk score refused: %s", error)
            self._recorded.pop(str(command.leader), None)
        self.sent += len(commands)
