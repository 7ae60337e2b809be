"""The surveillance process: follows the log, runs the detectors, sends each finding once.

Chunks of the log are read after the process's position; only the events the detectors read
are decoded (market events, listings, posts and their edits, follows, copies started), and
the scanner turns them into findings. Each finding goes to `send` in log order (the
seam the alerts plug into: `alerts_through(writer.submit)` sends a `RaiseAlert` command with
`alert_command_id(finding)`, so a finding sent again is the same command and the writer
stores nothing for it); what `send`
returns, when it has a `result(timeout)`, is waited for. Then the chunk's end is recorded as
the position (a row of `surveillance_position` in the read store).

**Restarts.** The detectors' state lives in memory. Every `checkpoint_every` events, and on
`stop`, it is stored beside the position (JSON, `Scanner.dump`). A restart loads the
checkpoint and reads the log again from ITS position, sending nothing up to the recorded
position: the state is exactly what it was, and nothing found before is sent twice. Without
a usable checkpoint (none yet, another format, other thresholds), the scan starts from the
log's first event, sending nothing up to the recorded position. A send that fails (the
writer did not commit) is tried again, and the chunk is not read again until it succeeds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import BigInteger, Column, Engine, LargeBinary, MetaData, String, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from socialtrading.commands.compliance import RaiseAlert
from socialtrading.domain.errors import InvalidCommand
from socialtrading.infra.decoding import EventDecoder
from socialtrading.infra.settings import SurveillanceSettings
from socialtrading.infra.store import EventStore
from socialtrading.policies.following import Acknowledgement, LogFollower
from socialtrading.policies.surveillance.findings import Finding, alert_command
from socialtrading.policies.surveillance.scanner import Scanner

log = logging.getLogger(__name__)

NAME = "surveillance"

metadata = MetaData()
positions = Table(
    "surveillance_position",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),  # every finding up to it is sent
    Column("checkpoint_position", BigInteger, nullable=False),
    Column("checkpoint", LargeBinary, nullable=True),  # the scanner's state there
)


Send = Callable[[Finding], Acknowledgement | None]


def alerts_through(submit: Callable[[RaiseAlert], Acknowledgement]) -> Send:
    """The sink that raises each finding as an alert: its `RaiseAlert` submitted to the
    writer (`submit`). A finding the command refuses to carry (it cannot happen: findings are
    bounded where they are made) is logged and skipped, never retried for ever."""

    def send(found: Finding) -> Acknowledgement | None:
        try:
            command = alert_command(found)
        except ValidationError as error:
            log.error("surveillance finding %s cannot be raised: %s", found.key, error)
            return None
        return submit(command)

    return send


class SurveillancePolicy(LogFollower):
    """Follows the log, runs the detectors and sends their findings (module text)."""

    thread_name = "surveillance"

    def __init__(
        self,
        store: EventStore,
        read_engine: Engine,
        send: Send,
        settings: SurveillanceSettings | None = None,
        *,
        chunk: int = 5000,
        checkpoint_every: int = 500_000,
        poll_seconds: float = 0.5,
        timeout: float = 120.0,
    ) -> None:
        super().__init__(poll_seconds)
        self.store = store
        self.engine = read_engine
        self.send = send
        self.settings = settings or SurveillanceSettings()
        self.chunk = chunk
        self.checkpoint_every = checkpoint_every
        self.timeout = timeout
        self.sent = 0  # findings sent (metrics, tests)
        self.scanner = Scanner(self.settings)
        self._decoder = EventDecoder(store.mapper)
        self._sent_to = 0  # every finding up to this position has been sent
        self._checkpointed = 0  # the position of the stored checkpoint
        self._unsent: tuple[int, int, list[Finding]] | None = None

    # ------------------------------------------------------------------ setting up

    def setup(self) -> None:
        """Create the position table if missing; resume from the stored checkpoint."""
        metadata.create_all(self.engine)
        with self.engine.connect() as connection:
            row = connection.execute(
                select(
                    positions.c.position, positions.c.checkpoint_position, positions.c.checkpoint
                ).where(positions.c.name == NAME)
            ).first()
        self.scanner = Scanner(self.settings)
        self._sent_to = self._checkpointed = 0
        if row is not None:
            self._sent_to = int(row.position)
            if row.checkpoint is not None and self.scanner.load(bytes(row.checkpoint)):
                self._checkpointed = int(row.checkpoint_position)
            else:
                log.warning(
                    "surveillance: no usable checkpoint; scanning the log from its start "
                    "(sending nothing up to position %d)",
                    self._sent_to,
                )
                self.scanner = Scanner(self.settings)
        self._advanced(self._checkpointed)

    @property
    def sent_to(self) -> int:
        """The position up to which every finding has been sent (recorded)."""
        return self._sent_to

    # ------------------------------------------------------------------ one chunk

    def run_once(self) -> int:
        """Scan one chunk after the position, send its findings, record the position;
        the number of events read (0: caught up)."""
        if self._unsent is None:
            rows = self.store.read(self._position, self.chunk)
            if not rows:
                return 0
            found = self.scanner.scan_rows(rows, self._decoder.decode)
            sent_to = self._sent_to
            # kept until sent: a failed send sends the same findings again
            self._unsent = (rows[-1].id, len(rows), [f for at, f in found if at > sent_to])
        end, count, findings = self._unsent
        self._send(findings)
        self._unsent = None
        checkpoint = None
        if end - self._checkpointed >= self.checkpoint_every:
            checkpoint = self.scanner.dump()
        self._sent_to = max(self._sent_to, end)
        self._save(checkpoint, end)
        self._advanced(end)
        return count

    def _send(self, findings: list[Finding]) -> None:
        """Send every finding, then wait for what the sends returned. A refusal is the
        finding's outcome; anything else (a failed commit) raises: they are sent again."""
        acks = [self.send(found) for found in findings]
        for ack in acks:
            if ack is None:
                continue
            try:
                ack.result(self.timeout)
            except InvalidCommand as error:
                log.info("surveillance finding refused: %s", error)
        self.sent += len(findings)

    def _save(self, checkpoint: bytes | None, at: int) -> None:
        values: dict[str, Any] = {"position": self._sent_to}
        if checkpoint is not None:
            values |= {"checkpoint_position": at, "checkpoint": checkpoint}
        dialect = self.engine.dialect.name
        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(positions).values(
            {"name": NAME, "checkpoint_position": 0, "checkpoint": None, **values}
        )
        statement = statement.on_conflict_do_update(index_elements=[positions.c.name], set_=values)
        with self.engine.begin() as connection:
            connection.execute(statement)
        if checkpoint is not None:
            self._checkpointed = at

    def checkpoint(self) -> None:
        """Store the detectors' state now (nothing when findings wait to be sent)."""
        if self._unsent is None and self._position > self._checkpointed:
            self._save(self.scanner.dump(), self._position)

    def stop(self) -> None:
        """Stop following, and store a checkpoint."""
        super().stop()
        try:
            self.checkpoint()
        except Exception:  # the next start scans a little more
            log.exception("surveillance: storing the checkpoint failed")
