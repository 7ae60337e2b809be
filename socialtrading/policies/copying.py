"""The copy-trading process: follows the log and sends the copy commands to the writer.

- For every trade in which a leader (an account that has, or had, a copy) took or gave
  liquidity: one `CopyLeaderFill(leader, SYMBOL:SEQ)` with the command id
  `fill_command_id(leader, trade id)`. The writer's handler decides everything from its state
  at that point of the log (which copies copy it, how much, at what price) and records it as
  a plan on the leader's block account (`Account.BlockPlanned`).
- For every plan opened with parts: its `SizeCopyPlan(leader, trade, part)` then its
  `ApplyCopyPlan(leader, trade, part)` commands, all at once (the writer takes one per batch,
  in order), ids from `plan_part_command_id`.
- After a chunk whose trades moved a market, if any live copy has a stop-loss:
  `CheckCopyGuards(market)`, at most once per chunk and market (id from the last trade seq).
- When a live copy's settlement period has passed in log time (the newest event's time):
  `SettleCopyProfitShare(copy)`, id from the copy and the time it was last settled.

**Exactly once.** Commands of a chunk are submitted in log order; the chunk's end is recorded
as the policy's position (a row of `copy_policy_position` in the read store) only after the
writer acknowledged every one of them. After a crash the chunk is read and sent again: each
command is a repeat the writer answers with its first outcome and stores nothing for
(at-least-once sending + idempotent commands = exactly once in effect).

What the policy knows of copies (leaders, stop-losses, settlement times) it reads from the
copies in the store at start-up and keeps current from `Copy` events in the log. Only the
rows it needs are decoded (market, copy start, settlement and stop events).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.utils import resolve_topic
from sqlalchemy import BigInteger, Column, Engine, MetaData, String, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from socialtrading.commands.copying import (
    ApplyCopyPlan,
    CheckCopyGuards,
    CopyLeaderFill,
    SettleCopyProfitShare,
    SizeCopyPlan,
)
from socialtrading.commands.models import Command
from socialtrading.domain.account import Account
from socialtrading.domain.copy.copy import Copy
from socialtrading.domain.copy.ids import fill_command_id, plan_part_command_id
from socialtrading.domain.errors import InvalidCommand
from socialtrading.domain.ids import NAMESPACE, SYSTEM_ACTOR
from socialtrading.domain.market import Market
from socialtrading.domain.time import to_micros
from socialtrading.engine.records import (
    KIND,
    SEQ,
    TRADE,
    TRADE_MAKER_ACCOUNT,
    TRADE_TAKER_ACCOUNT,
)
from socialtrading.infra.command_index import COPY, MARKET
from socialtrading.infra.decoding import EventDecoder
from socialtrading.infra.store import EventStore
from socialtrading.policies.following import Acknowledgement, LogFollower

log = logging.getLogger(__name__)

NAME = "copy_trading"
# Profit share is settled this often by default (log time, microseconds): weekly.
SETTLEMENT_PERIOD_US = 7 * 24 * 3600 * 1_000_000

metadata = MetaData()
positions = Table(
    "copy_policy_position",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)


Submit = Callable[[Command], Acknowledgement]


def load_position(engine: Engine, name: str) -> int:
    """The position recorded under `name` in `copy_policy_position` (0: none)."""
    with engine.connect() as connection:
        found = connection.execute(
            select(positions.c.position).where(positions.c.name == name)
        ).scalar()
    return int(found or 0)


def save_position(engine: Engine, name: str, position: int) -> None:
    """Record `position` under `name` in `copy_policy_position`."""
    insert: Any = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    statement = insert(positions).values(name=name, position=position)
    statement = statement.on_conflict_do_update(
        index_elements=[positions.c.name], set_={"position": position}
    )
    with engine.begin() as connection:
        connection.execute(statement)


_DECODED = (
    Account.BlockPlanned,
    Market.BookChanged,
    Market.Listed,
    Copy.Started,
    Copy.ProfitShareSettled,
    Copy.Stopped,
)


class CopyPolicy(LogFollower):
    """Follows the log from its recorded position and sends copy commands (module text)."""

    thread_name = "copy-policy"

    def __init__(
        self,
        store: EventStore,
        read_engine: Engine,
        submit: Submit,
        *,
        settlement_period_us: int = SETTLEMENT_PERIOD_US,
        chunk: int = 2000,
        poll_seconds: float = 0.5,
        timeout: float = 120.0,
    ) -> None:
        super().__init__(poll_seconds)
        self.store = store
        self.engine = read_engine
        self.submit = submit
        self.settlement_period_us = settlement_period_us
        self.chunk = chunk
        self.timeout = timeout
        self.sent = 0  # commands sent (metrics, tests)
        self._decoder = EventDecoder(store.mapper)
        self._topics: dict[str, bool] = {}  # topic -> whether its rows are decoded
        self._symbols: dict[UUID, str] = {}  # market id -> symbol
        self._leaders: set[str] = set()  # accounts that lead (or led) a copy
        self._settled: dict[UUID, int] = {}  # live copy -> when last settled (µs)
        self._guarded: set[UUID] = set()  # live copies with a stop-loss
        self._quotes: dict[UUID, str] = {}  # guarded copy -> its quote asset
        self._now = 0  # log time: the newest decoded event's timestamp (µs)
        self._unsent: tuple[int, int, list[Command]] | None = None

    # ------------------------------------------------------------------ setting up

    def setup(self) -> None:
        """Create the position table if missing; learn the markets and copies in the store."""
        metadata.create_all(self.engine)
        self._position = self._load_position()
        events = self.store.events
        repository = self.store.repository
        for aggregate_id, kind in self.store.aggregates():
            if kind == MARKET:
                listed: Any = next(iter(events.get(aggregate_id, lte=1)))
                self._symbols[aggregate_id] = listed.symbol
            elif kind == COPY:
                copy: Any = repository.get(aggregate_id)
                assert isinstance(copy, Copy)
                self._leaders.add(copy.leader)
                if copy.live:
                    self._settled[copy.id] = copy.settled_at
                    if copy.stop_loss_percent is not None:
                        self._guarded.add(copy.id)
                        self._quotes[copy.id] = copy.quote

    def _load_position(self) -> int:
        return load_position(self.engine, NAME)

    def _save_position(self, position: int) -> None:
        save_position(self.engine, NAME, position)

    # ------------------------------------------------------------------ one chunk

    def run_once(self) -> int:
        """Read one chunk after the position, send its commands, wait for their
        acknowledgements, record the new position; the number of events read."""
        if self._unsent is None:
            rows = self.store.read(self._position, self.chunk)
            if not rows:
                return 0
            # kept until acknowledged: a failed send sends the same commands again
            self._unsent = (rows[-1].id, len(rows), self._commands(rows))
        end, count, commands = self._unsent
        self._send(commands)
        self._unsent = None
        self._save_position(end)
        self._advanced(end)
        return count

    def _wanted(self, topic: str) -> bool:
        known = self._topics.get(topic)
        if known is None:
            known = self._topics[topic] = issubclass(resolve_topic(topic), _DECODED)
        return known

    def _commands(self, rows: Sequence[Any]) -> list[Command]:
        """The commands the chunk's events call for, in log order."""
        commands: list[Command] = []
        moved: dict[str, int] = {}  # symbol -> last trade seq in the chunk
        leaders = self._leaders
        wanted = [row for row in rows if self._wanted(row.topic)]
        for _, event in self._decoder.decode(wanted):
            self._now = max(self._now, to_micros(event.timestamp))
            if isinstance(event, Market.BookChanged):
                symbol = self._symbols.get(event.originator_id)
                if symbol is None:
                    continue
                for record in event.records:
                    if record[KIND] != TRADE:
                        continue
                    moved[symbol] = record[SEQ]
                    taker, maker = record[TRADE_TAKER_ACCOUNT], record[TRADE_MAKER_ACCOUNT]
                    if taker == maker:
                        continue
                    for account in (taker, maker):
                        if account in leaders:
                            trade_id = f"{symbol}:{record[SEQ]}"
                            commands.append(
                                CopyLeaderFill(
                                    command_id=fill_command_id(account, trade_id),
                                    actor=SYSTEM_ACTOR,
                                    leader=UUID(account),
                                    trade_id=trade_id,
                                )
                            )
            elif isinstance(event, Account.BlockPlanned):
                plan = event.plan
                leader, reference = plan["leader"], plan["reference"]
                for step, kind in (("size", SizeCopyPlan), ("settle", ApplyCopyPlan)):
                    commands += [
                        kind(
                            command_id=plan_part_command_id(leader, reference, step, part),
                            actor=SYSTEM_ACTOR,
                            leader=UUID(leader),
                            trade_id=reference,
                            part=part,
                        )
                        for part in range(plan["parts"])
                    ]
            elif isinstance(event, Market.Listed):
                self._symbols[event.originator_id] = event.symbol
            elif isinstance(event, Copy.Started):
                leaders.add(event.leader)
                self._settled.setdefault(event.originator_id, to_micros(event.timestamp))
                if event.stop_loss_percent is not None:
                    self._guarded.add(event.originator_id)
                    self._quotes[event.originator_id] = event.quote
            elif isinstance(event, Copy.ProfitShareSettled):
                if event.originator_id in self._settled:
                    self._settled[event.originator_id] = to_micros(event.timestamp)
            elif isinstance(event, Copy.Stopped):
                self._settled.pop(event.originator_id, None)
                self._guarded.discard(event.originator_id)
        if self._guarded and moved:
            quotes = {self._quotes[c] for c in self._guarded}
            for symbol, seq in sorted(moved.items()):
                if symbol.split("-")[1] in quotes:
                    commands.append(
                        CheckCopyGuards(
                            command_id=f"copy-guards:{symbol}:{seq}",
                            actor=SYSTEM_ACTOR,
                            market=symbol,
                        )
                    )
        period = self.settlement_period_us
        for copy_id, settled in sorted(self._settled.items(), key=lambda item: item[0].bytes):
            if settled + period <= self._now:
                commands.append(
                    SettleCopyProfitShare(
                        command_id=f"copy-settle:{uuid5(NAMESPACE, f'{copy_id}:{settled}')}",
                        actor=SYSTEM_ACTOR,
                        copy_id=copy_id,
                    )
                )
                # not again until its settlement comes back through the log
                self._settled[copy_id] = self._now
        return commands

    def _send(self, commands: list[Command]) -> None:
        """Submit every command, then wait for each acknowledgement. A command the writer
        refuses is done with (its refusal is its outcome); anything else (a failed commit)
        raises, and the chunk is sent again."""
        acks = [self.submit(command) for command in commands]
        for ack in acks:
            try:
                ack.result(self.timeout)
            except InvalidCommand as error:
                log.info("copy command refused: %s", error)
        self.sent += len(commands)
