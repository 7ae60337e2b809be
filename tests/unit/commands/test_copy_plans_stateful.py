"""Copied fills sized and settled in parts, as a state machine through the real writer
(SQLite).

The leader trades against a market maker and each fill opens a plan; the plan's sizing and
settling parts are sent at random (in any order, repeated, or not at all), while the copiers
top up, withdraw, pause, resume, stop and settle their copies, and the writer restarts. After
every step:

- no balance is negative; the money over all accounts is what was deposited plus the credit
  the leader's block account drew and has not repaid, which is exactly what its placed
  pending plans still owe (a plan being sized has drawn none); and the block account holds
  exactly what they still hand out (nothing at all once no plan is pending);
- each copy's events hold one `OrderExecuted` per copied fill at most (exactly once);
- a restart rebuilds the same balances, copies and pending plans.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from socialtrading.commands.copying import (
    AddCopyFunds,
    PauseCopying,
    ResumeCopying,
    SettleCopyProfitShare,
    StopCopying,
    WithdrawCopyFunds,
)
from socialtrading.commands.writer import Writer
from socialtrading.domain.copy.copy import Copy
from socialtrading.domain.copy.plan import SIZING, OrderItem, item, phase
from socialtrading.domain.ids import SYSTEM_ACTOR
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import EventStore, open_store
from tests.unit.commands.copy_world import CAL, CAT, CID, LEA, MM, SYMBOL, Clock, World

COPIERS = (CAT, CAL, CID)
ZERO = Decimal(0)


def _total_deposits() -> dict[str, Decimal]:
    # what `World` deposits: 10,000 USD to each of five traders, more to the market maker
    return {"USD": Decimal(4 * 10_000 + 10_000 + 1_000_000), "BTC": Decimal(10_000)}


class PlansMachine(RuleBasedStateMachine):
    """See the module docstring."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.stores: list[EventStore] = []
        self.writers: list[Writer] = []
        url = f"sqlite:///{directory}/events.db"

        def make_writer(**options: Any) -> Writer:
            store = open_store(Settings(store=url))
            self.stores.append(store)
            writer = Writer(store, demo_funding=True, batch_ms=1.0, **options).start()
            self.writers.append(writer)
            return writer

        self.world = World(make_writer, Clock(), part_size=1)
        self.world.lead()
        self.world.order(MM, "sell", "100", "200")
        self.world.order(MM, "buy", "99", "200")
        self.copies = [self.world.start(copier, "2000") for copier in COPIERS]
        self.trades: list[str] = []

    @property
    def state(self) -> Any:
        return self.world.writer.state

    def _plans(self) -> list[dict[str, Any]]:
        return self.world.plans()

    @rule(buy=st.booleans(), lots=st.integers(1, 300))
    def leader_trades(self, buy: bool, lots: int) -> None:
        """The leader takes liquidity; the fill is planned and its parts left pending."""
        price = "100" if buy else "99"
        quantity = str(Decimal(lots) / 100)
        try:
            outcome = self.world.order(LEA, "buy" if buy else "sell", price, quantity)
        except AssertionError:
            return  # the leader cannot afford it (refused, nothing stored)
        for trade_id in self.world.trades(outcome):
            self.trades.append(trade_id)
            self.world.copy_fill_plan(trade_id)

    @precondition(lambda self: bool(self.trades))
    @rule(data=st.data())
    def fill_again(self, data: st.DataObject) -> None:
        """A resent fill is its first outcome: nothing is planned twice."""
        trade_id = data.draw(st.sampled_from(self.trades[-3:]))
        self.world.copy_fill_plan(trade_id)

    @precondition(lambda self: bool(self._plans()))
    @rule(data=st.data(), settle=st.booleans(), repeat=st.booleans())
    def plan_part(self, data: st.DataObject, settle: bool, repeat: bool) -> None:
        """A sizing or settling part, any of them, maybe twice."""
        plan = data.draw(st.sampled_from(self._plans()))
        part = data.draw(st.integers(0, plan["parts"] - 1))
        send = self.world.apply_part if settle else self.world.size_part
        send(plan, part)
        if repeat:
            send(plan, part)

    @rule(
        index=st.integers(0, len(COPIERS) - 1),
        action=st.sampled_from(["add", "withdraw", "pause", "resume", "stop", "settle"]),
        amount=st.integers(1, 3000),
    )
    def manage(self, index: int, action: str, amount: int) -> None:
        copier, copy_id = COPIERS[index], self.copies[index]
        common: dict[str, Any] = {"command_id": self.world.id(), "copy_id": copy_id}
        command = {
            "add": AddCopyFunds(actor=copier, amount=Decimal(amount), **common),
            "withdraw": WithdrawCopyFunds(actor=copier, amount=Decimal(amount), **common),
            "pause": PauseCopying(actor=copier, **common),
            "resume": ResumeCopying(actor=copier, **common),
            "stop": StopCopying(actor=copier, **common),
            "settle": SettleCopyProfitShare(actor=SYSTEM_ACTOR, **common),
        }[action]
        self.world.code(command)  # accepted or refused, both fine; the invariants decide

    @rule()
    def restart(self) -> None:
        live = self._comparable()
        self.world.restart()
        assert self._comparable() == live

    def _comparable(self) -> dict[str, Any]:
        state = self.state
        return {
            "balances": {str(a.id): a.state()["balances"] for a in state.accounts.values()},
            "plans": {str(a.id): a.blocks for a in state.accounts.values() if a.blocks},
            "copies": {
                str(c.id): (c.status, c.invested, c.skip_streak)
                for c in state.copies.by_id.values()
            },
        }

    @invariant()
    def money_is_deposits_plus_outstanding_credit(self) -> None:
        state = self.state
        owed: dict[str, Decimal] = defaultdict(Decimal)
        handed: dict[str, Decimal] = defaultdict(Decimal)
        market = state.markets[SYMBOL]
        unit, lot = market.settlement.quote_unit, market.settlement.base_unit
        block = None
        for account in state.accounts.values():
            if account.blocks is not None:
                block = account
        for start, plan in [] if block is None else block.pending_blocks():
            if phase(plan) == SIZING:
                continue  # nothing placed yet: no credit drawn, nothing to hand out
            for stored in plan["items"][start:]:
                entry = item(stored)
                if isinstance(entry, OrderItem):
                    buy = plan["side"] == "buy"
                    owed["USD" if buy else "BTC"] += unit * entry.net if buy else lot * entry.lots
                    handed["BTC" if buy else "USD"] += lot * entry.lots if buy else unit * entry.net
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for account in state.accounts.values():
            assert not account.has_pending_entries
            for asset in ("USD", "BTC"):
                assert account.available(asset) >= 0 and account.reserved(asset) >= 0
                totals[asset] += account.available(asset) + account.reserved(asset)
        deposits = _total_deposits()
        for asset in ("USD", "BTC"):
            assert totals[asset] == deposits[asset] + owed[asset], (asset, dict(owed))
            if block is not None:
                assert block.available(asset) == handed[asset], (asset, dict(handed))
                assert block.reserved(asset) == 0

    @invariant()
    def each_fill_is_executed_once_per_copy(self) -> None:
        for copy_id in self.copies:
            executed = Counter(
                event.leader_trade_id
                for event in self.world.events(copy_id)
                if isinstance(event, Copy.OrderExecuted)
            )
            assert all(count == 1 for count in executed.values()), executed

    def teardown(self) -> None:
        for writer in self.writers:
            writer.stop()
        for store in self.stores:
            store.close()


def test_plans_settled_in_parts_keep_the_ledger_exact(tmp_path: Path) -> None:
    runs = itertools.count()

    class InThisDirectory(PlansMachine):
        def __init__(self) -> None:
            directory = tmp_path / str(next(runs))
            directory.mkdir()
            super().__init__(directory)

    run_state_machine_as_test(
        InThisDirectory,
        settings=settings(
            max_examples=30,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
