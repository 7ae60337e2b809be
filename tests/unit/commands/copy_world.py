"""A writer with a market, a leader, copiers and a market maker, for the copy-trading tests.

BTC-USD: tick 0.01 USD, lot 0.01 BTC, maker fee 0, taker fee 10 bps, collar 1,000 ticks
around a reference price of 100. `lea` leads; `cat`, `cal` and `cid` copy; `mmm` (MM) makes the
market. Every trader is demo-funded with 10,000 USD (the market maker with far more and BTC).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

from socialtrading.commands import dedup
from socialtrading.commands.copying import (
    ApplyCopyPlan,
    CopyLeaderFill,
    SetCopySettings,
    SizeCopyPlan,
    StartCopying,
    copy_of,
)
from socialtrading.commands.models import (
    Command,
    Deposit,
    ListMarket,
    PlaceOrder,
    RegisterTrader,
)
from socialtrading.commands.state import Outcome
from socialtrading.commands.writer import Writer
from socialtrading.domain.account import Account
from socialtrading.domain.copy.copy import Copy
from socialtrading.domain.copy.ids import block_id, fill_command_id, plan_part_command_id
from socialtrading.domain.errors import DomainError
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id
from socialtrading.engine.book import Side
from socialtrading.engine.records import KIND, SEQ, TRADE

SYMBOL = "BTC-USD"
LEA, CAT, CAL, CID, MM = (account_id(h) for h in ("lea", "cat", "cal", "cid", "mmm"))
START = 1_800_000_000_000_000
OK = "ok"


class Clock:
    """The writer's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> int:
        self.now += 1
        return self.now


class World:
    """The writer and the cast of the module's text."""

    def __init__(
        self, make_writer: Callable[..., Writer], clock: Clock, part_size: int | None = None
    ) -> None:
        self.make_writer = make_writer
        self.clock = clock
        self.part_size = part_size  # None: a fill's command settles its plan itself
        self.writer = make_writer(clock=clock, copy_part_size=part_size)
        self.n = 0
        self.run(
            ListMarket(
                command_id="list",
                actor=SYSTEM_ACTOR,
                symbol=SYMBOL,
                tick_size=Decimal("0.01"),
                lot_size=Decimal("0.01"),
                collar_ticks=1000,
                reference_price=Decimal(100),
                taker_fee_bps=10,
            )
        )
        for handle in ("lea", "cat", "cal", "cid", "mmm"):
            trader = self.run(RegisterTrader(command_id="r", handle=handle)).account_id
            assert trader is not None
            self.fund(trader, "USD", "10000")
        self.fund(MM, "USD", "1000000")
        self.fund(MM, "BTC", "10000")

    def restart(self) -> None:
        """Stop the writer and start a new one over the same store."""
        self.writer.stop()
        self.writer = self.make_writer(clock=self.clock, copy_part_size=self.part_size)

    def id(self) -> str:
        self.n += 1
        return f"c{self.n}"

    def run(self, command: Command) -> Outcome:
        return self.writer.execute(command)

    def ok(self, command: Command) -> Outcome:
        outcome = self.run(command)
        assert outcome.accepted, outcome
        return outcome

    def code(self, command: Command) -> str:
        """`ok` for an accepted command, else its refusal code."""
        try:
            outcome = self.run(command)
        except DomainError as error:
            return error.code
        return OK if outcome.accepted else str(outcome.code)

    def head(self) -> int:
        return self.writer.store.recorder.max_notification_id() or 0

    def refused(self, command: Command) -> str:
        """The refusal code of a command that must store nothing."""
        before = self.head()
        code = self.code(command)
        assert code != OK, command
        assert self.head() == before, "a refusal stored something"
        return code

    def fund(self, trader: UUID, asset: str, amount: str) -> None:
        self.ok(
            Deposit(
                command_id=self.id(),
                actor=trader,
                account=trader,
                asset=asset,
                amount=Decimal(amount),
            )
        )

    def lead(self, leader: UUID = LEA, **fields: Any) -> None:
        self.ok(SetCopySettings(command_id=self.id(), actor=leader, **fields))

    def start(self, copier: UUID, amount: str, leader: str = "lea", **fields: Any) -> UUID:
        command = StartCopying(
            command_id=self.id(), actor=copier, leader=leader, amount=Decimal(amount), **fields
        )
        self.ok(command)
        found = copy_of(command)
        assert found is not None
        return found

    def order(self, actor: UUID, side: Side, price: str, quantity: str, **fields: Any) -> Outcome:
        return self.ok(
            PlaceOrder(
                command_id=self.id(),
                actor=actor,
                market=SYMBOL,
                side=side,
                price=Decimal(price),
                quantity=Decimal(quantity),
                **fields,
            )
        )

    def trades(self, outcome: Outcome) -> list[str]:
        """The trade ids of an order's outcome."""
        return [f"{SYMBOL}:{r[SEQ]}" for r in outcome.records if r[KIND] == TRADE]

    def copy_fill(self, trade_id: str, leader: UUID = LEA) -> Outcome:
        """What the policy sends for a leader's fill: the fill, then its plan's parts."""
        outcome = self.copy_fill_plan(trade_id, leader)
        for plan in self.plans(leader):
            for part in range(plan["parts"]):
                self.size_part(plan, part)
            for part in range(plan["parts"]):
                self.apply_part(plan, part)
        return outcome

    def copy_fill_plan(self, trade_id: str, leader: UUID = LEA) -> Outcome:
        """The `CopyLeaderFill` of a leader's fill alone (its plan's parts left pending)."""
        return self.ok(
            CopyLeaderFill(
                command_id=fill_command_id(leader, trade_id),
                actor=SYSTEM_ACTOR,
                leader=leader,
                trade_id=trade_id,
            )
        )

    def plans(self, leader: UUID = LEA) -> list[dict[str, Any]]:
        """The leader's plans not settled yet."""
        block = self.writer.state.accounts.get(block_id(leader))
        return [] if block is None else [plan for _, plan in block.pending_blocks()]

    def size_part(self, plan: dict[str, Any], part: int) -> Outcome:
        """Send one sizing part of a plan, as the policy does."""
        return self.ok(self.part_command(SizeCopyPlan, "size", plan, part))

    def apply_part(self, plan: dict[str, Any], part: int) -> Outcome:
        """Send one settling part of a plan, as the policy does."""
        return self.ok(self.part_command(ApplyCopyPlan, "settle", plan, part))

    @staticmethod
    def part_command(
        kind: type[SizeCopyPlan | ApplyCopyPlan], step: str, plan: dict[str, Any], part: int
    ) -> SizeCopyPlan | ApplyCopyPlan:
        leader, reference = plan["leader"], plan["reference"]
        return kind(
            command_id=plan_part_command_id(leader, reference, step, part),
            actor=SYSTEM_ACTOR,
            leader=UUID(leader),
            trade_id=reference,
            part=part,
        )

    def copy(self, copy_id: UUID) -> Copy:
        found = self.writer.state.copies.get(copy_id)
        assert found is not None
        return found

    def allocation(self, copy_id: UUID) -> Account:
        return self.writer.state.by_text[self.copy(copy_id).allocation]

    def account(self, account: UUID) -> Account:
        return self.writer.state.accounts[account]

    def events(self, copy_id: UUID) -> list[Any]:
        """The copy's stored events."""
        return list(self.writer.store.events.get(copy_id))

    def totals(self) -> dict[str, Decimal]:
        """Per asset, available + reserved over every account."""
        sums: dict[str, Decimal] = {}
        for account in self.writer.state.accounts.values():
            for asset in account.assets():
                sums[asset] = (
                    sums.get(asset, Decimal(0)) + account.available(asset) + account.reserved(asset)
                )
        return sums

    def index_agrees(self) -> None:
        """The command index says what the log says (checked after a restart)."""
        assert dedup.disagreements(self.writer.store) == []
