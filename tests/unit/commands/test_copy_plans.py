"""A copied fill settled in parts: the plan, its part commands, and what settles it first.

The cast is `copy_world.py`'s; the writer settles plans in parts of one copy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from socialtrading.audit.findings import UNBALANCED, Finding
from socialtrading.audit.ledger import Ledger
from socialtrading.audit.verify import verify
from socialtrading.commands.copy_plans import pending_moves
from socialtrading.commands.copying import (
    ApplyCopyPlan,
    CheckCopyGuards,
    SizeCopyPlan,
    WithdrawCopyFunds,
)
from socialtrading.commands.models import ListMarket, PlaceOrder
from socialtrading.commands.writer import Writer
from socialtrading.domain.account import CREDIT, Account
from socialtrading.domain.copy.copy import Copy
from socialtrading.domain.copy.ids import block_id
from socialtrading.domain.ids import SYSTEM_ACTOR
from socialtrading.engine.records import KIND, SEQ, TRADE
from socialtrading.infra.decoding import EventDecoder
from tests.unit.commands.copy_world import CAL, CAT, CID, LEA, MM, SYMBOL, Clock, World

D = Decimal


@pytest.fixture
def backend() -> str:
    """SQLite only (the writer is the same on both stores)."""
    return "sqlite"


@pytest.fixture
def world(make_writer: Callable[..., Writer]) -> Iterator[World]:
    yield World(make_writer, Clock(), part_size=1)


def _executed(world: World, copy_id: UUID) -> list[Copy.OrderExecuted]:
    return [e for e in world.events(copy_id) if isinstance(e, Copy.OrderExecuted)]


def _buy(
    world: World, copies: int = 3, *, sized: bool = True
) -> tuple[list[UUID], str, dict[str, D]]:
    """Three copies (1,000, 2,000 and 3,000 USD), and a leader's buy of 10 BTC at 100 whose
    plan is opened and (`sized`) sized and placed, its settling parts pending; the totals
    before the trade."""
    world.lead()
    started = [world.start(c, str(1000 * (i + 1))) for i, c in enumerate((CAT, CAL, CID)[:copies])]
    world.order(MM, "sell", "100", "20")
    totals = world.totals()
    (trade,) = world.trades(world.order(LEA, "buy", "100", "10"))
    world.copy_fill_plan(trade)
    if sized:
        (plan,) = world.plans()
        for part in range(plan["parts"]):
            world.size_part(plan, part)
    return started, trade, totals


def test_a_plan_is_opened_then_sized_a_part_at_a_time_then_placed(world: World) -> None:
    copies, trade, totals = _buy(world, sized=False)
    block = world.account(block_id(str(LEA)))
    (plan,) = world.plans()
    assert (plan["reference"], plan["parts"], plan["phase"], plan["sized"]) == (
        trade,
        3,
        "sizing",
        [],
    )
    assert world.totals() == totals and block.available("BTC") == 0  # nothing placed
    assert world.size_part(plan, 0).stored
    (plan,) = world.plans()
    assert len(plan["sized"]) == 1 and plan["phase"] == "sizing"
    head = world.head()
    assert not world.size_part(plan, 0).stored or world.head() == head  # done: nothing again
    assert world.size_part(plan, 2).stored  # parts 1 and 2: every copy sized, then placed
    (plan,) = world.plans()
    assert plan["phase"] == "placed" and len(plan["items"]) == 3
    assert block.available("BTC") == D(6)  # one block for the three copies
    assert not world.size_part(plan, 1).stored  # sized already
    assert all(not _executed(world, c) for c in copies)


def test_the_plan_places_one_block_on_credit_and_the_parts_settle_it(world: World) -> None:
    copies, trade, totals = _buy(world)
    block = world.account(block_id(str(LEA)))
    (plan,) = world.plans()
    assert (plan["reference"], plan["parts"], plan["credit"]) == (trade, 3, "USD")
    # the copies bought 6 BTC as one block at 100: the block holds it and owes its price
    assert block.available("BTC") == D(6)
    owed = D(6) * 100 * D("1.001")  # 10 bps taker fee
    assert world.totals()["USD"] == totals["USD"] + owed  # the credit, not repaid yet
    assert all(not _executed(world, c) for c in copies)
    # items in copy id order (the fair tie-break), one per part
    in_order = [UUID(stored[1]) for stored in plan["items"]]
    assert sorted(in_order, key=lambda c: c.bytes) == in_order and set(in_order) == set(copies)
    for part, copy_id in enumerate(in_order):
        outcome = world.apply_part(plan, part)
        assert outcome.stored
        (executed,) = _executed(world, copy_id)
        bought = D(copies.index(copy_id) + 1)  # 10% of 1,000, 2,000, 3,000 USD at 100
        assert (executed.filled, executed.price) == (bought, D(100))
        assert world.allocation(copy_id).available("BTC") == bought
        assert all(not _executed(world, c) for c in in_order[part + 1 :])
    assert not world.plans() and block.blocks == {}
    assert all(block.available(a) == 0 and block.reserved(a) == 0 for a in block.assets())
    assert world.totals() == totals  # money moved, none created
    # the block account's credit entries net to zero
    credit = D(0)
    for event in world.writer.store.events.get(block.id):
        for entry in getattr(event, "entries", ()):
            if entry[0] == CREDIT:
                credit += D(entry[4])
    assert credit == 0


def test_parts_are_idempotent_and_a_later_part_settles_the_earlier_ones(world: World) -> None:
    copies, _, totals = _buy(world)
    (plan,) = world.plans()
    in_order = [UUID(stored[1]) for stored in plan["items"]]
    assert world.apply_part(plan, 1).stored  # parts 0 and 1
    assert [len(_executed(world, c)) for c in in_order] == [1, 1, 0]
    head = world.head()
    again = world.apply_part(plan, 0)  # settled already: stores nothing
    assert not again.stored and world.head() == head
    last = world.apply_part(plan, 2)
    assert last.stored
    head = world.head()
    assert world.apply_part(plan, 2) == last and world.head() == head  # a resend: no change
    assert [len(_executed(world, c)) for c in copies] == [1, 1, 1]
    assert world.totals() == totals


def test_a_withdrawal_settles_the_leaders_pending_plan_first(world: World) -> None:
    copies, _, totals = _buy(world)
    (plan,) = world.plans()
    # cal's 2,000 USD allocation owes 200.20 for its 2 BTC: only the rest can go
    withdraw = WithdrawCopyFunds(command_id="w1", actor=CAL, copy_id=copies[1], amount=D(1900))
    assert world.refused(withdraw) == "insufficient_funds"
    assert world.plans() == [plan]  # a refusal stores nothing, the plan included
    own = world.account(CAL).available("USD")
    world.ok(withdraw.model_copy(update={"command_id": "w2", "amount": D("1799.80")}))
    assert world.account(CAL).available("USD") == own + D("1799.80")
    assert not world.plans()  # settled by the withdrawal's command
    assert all(len(_executed(world, c)) == 1 for c in copies)
    head = world.head()
    assert not world.apply_part(plan, 2).stored and world.head() == head  # nothing left
    assert world.totals() == totals  # back to the copier: moved, not created
    assert world.allocation(copies[1]).available("USD") == 0


def test_the_next_fill_settles_the_previous_plan_and_a_restart_keeps_a_pending_one(
    world: World,
) -> None:
    copies, _, totals = _buy(world)
    (first,) = world.plans()
    (trade,) = world.trades(world.order(LEA, "buy", "100", "1"))
    world.copy_fill_plan(trade)
    (second,) = world.plans()
    assert second["reference"] == trade and first != second
    assert all(len(_executed(world, c)) == 1 for c in copies)  # the first one, settled
    world.restart()
    assert world.plans() == [second]
    for part in range(second["parts"]):
        world.apply_part(second, part)
    assert all(len(_executed(world, c)) == 2 for c in copies)
    assert world.totals() == totals


def test_part_commands_are_the_systems_and_bounded(world: World) -> None:
    _buy(world, copies=1)
    (plan,) = world.plans()
    for kind, step in ((SizeCopyPlan, "size"), (ApplyCopyPlan, "settle")):
        command = World.part_command(kind, step, plan, 0).model_copy(
            update={"actor": CAT, "command_id": f"{step}-probe"}
        )
        assert world.refused(command) == "not_authorized"
        system = command.model_copy(update={"actor": SYSTEM_ACTOR})
        assert world.refused(system.model_copy(update={"leader": CAT})) == "unknown_account"
        head = world.head()
        unknown = system.model_copy(update={"command_id": f"{step}-x", "trade_id": "BTC-USD:99"})
        assert not world.ok(unknown).stored and world.head() == head
        for part in (-1, 10**6):
            with pytest.raises(ValidationError):
                kind(
                    command_id="p",
                    actor=SYSTEM_ACTOR,
                    leader=LEA,
                    trade_id="BTC-USD:1",
                    part=part,
                )


def test_audit_verify_accepts_a_pending_plans_credit_and_finds_a_forged_one(
    world: World,
) -> None:
    _buy(world)
    assert world.plans()  # credit outstanding at the log's end
    report = verify(world.writer.store)
    assert report.intact and not report.findings, report.findings
    # the same sums with the credit entries taken as trading entries do not balance
    ledger = Ledger()
    store = world.writer.store
    for position, event in EventDecoder(store.mapper).decode(store.read(0, 10_000)):
        if isinstance(event, Account.LedgerPosted):
            event.entries[:] = [["transfer", *entry[1:]] for entry in event.entries]
        ledger.apply(position, event)
    assert [finding.kind for finding in ledger.check(world.head(), "the end", "the start")] == [
        UNBALANCED
    ]


def test_a_leader_buying_at_the_markets_highest_price_is_copied_within_it(world: World) -> None:
    """The block's limit is capped at the market's highest price: nothing is drawn on credit
    for an order the market would refuse, and the plan ends (review: a limit past the maximum
    once left credit drawn and a plan that never ended)."""
    world.ok(
        ListMarket(
            command_id="list-top",
            actor=SYSTEM_ACTOR,
            symbol="TOP-USD",
            tick_size=D("0.01"),
            lot_size=D("0.01"),
            max_price=D(100),
            taker_fee_bps=10,
        )
    )
    world.lead()
    copies = [world.start(CAT, "1000"), world.start(CAL, "2000")]
    world.fund(MM, "TOP", "1000")
    totals = world.totals()
    world.ok(
        PlaceOrder(
            command_id="ask", actor=MM, market="TOP-USD", side="sell", price=D(100), quantity=D(20)
        )
    )
    bought = world.ok(
        PlaceOrder(
            command_id="top", actor=LEA, market="TOP-USD", side="buy", price=D(100), quantity=D(10)
        )
    )
    (trade,) = [f"TOP-USD:{r[SEQ]}" for r in bought.records if r[KIND] == TRADE]
    world.copy_fill(trade)
    assert not world.plans()
    for copy_id in copies:
        (executed,) = [e for e in _executed(world, copy_id) if e.market == "TOP-USD"]
        assert executed.limit_price == D(100) and executed.filled > 0
    block = world.account(block_id(str(LEA)))
    assert all(block.available(a) == 0 and block.reserved(a) == 0 for a in block.assets())
    assert world.totals() == {**totals, "TOP": totals.get("TOP", D(0))}


def test_a_withdrawal_before_the_copy_is_sized_counts_what_its_block_may_take(
    world: World,
) -> None:
    """Review: a copy not sized yet counted for nothing, so a withdrawal passed the check and
    then overdrew the allocation once the plan was done (a failed command and a reload)."""
    copies, _, totals = _buy(world, sized=False)
    (plan,) = world.plans()
    assert plan["sized"] == []
    failed = world.writer.stats.failed_batches
    everything = WithdrawCopyFunds(command_id="w1", actor=CAT, copy_id=copies[0], amount=D(1000))
    assert world.refused(everything) == "insufficient_funds"
    assert world.plans() == [plan]  # refused: nothing done, the plan as it was
    # cat's 1 BTC at its block's limit (100.50) and the fee, at most: the rest may go
    pending = pending_moves(world.writer.state, world.copy(copies[0]))
    market = world.writer.state.markets[SYMBOL]
    assert pending == {"USD": -market.settlement.need("buy", 10_050, 100)[1]}  # ticks, lots
    free = world.allocation(copies[0]).available("USD") + pending["USD"]
    world.ok(everything.model_copy(update={"command_id": "w2", "amount": free}))
    assert world.writer.stats.failed_batches == failed
    assert not world.plans()  # the withdrawal did the plan first
    assert world.totals() == totals


def test_the_stop_loss_check_leaves_a_pending_plan_to_its_parts(world: World) -> None:
    """Review: the check did every pending plan of the guarded copies' leaders, so a leader
    with one stop-loss copy had its fills copied in one command (no parts at all)."""
    world.lead()
    guarded = world.start(CAT, "1000", stop_loss_percent=50)
    world.start(CAL, "2000")
    world.order(MM, "sell", "100", "20")
    (trade,) = world.trades(world.order(LEA, "buy", "100", "10"))
    world.copy_fill_plan(trade)
    (plan,) = world.plans()
    head = world.head()
    check = CheckCopyGuards(command_id="guards", actor=SYSTEM_ACTOR, market=SYMBOL)
    assert not world.ok(check).stored and world.head() == head  # nothing near the stop
    assert world.plans() == [plan]
    assert world.copy(guarded).status == "ACTIVE"


def _ledger_over(world: World, change: Callable[[Any], None]) -> list[Finding]:
    """The ledger's findings over the whole log, each event passed through `change` first."""
    ledger = Ledger()
    store = world.writer.store
    found = []
    for position, event in EventDecoder(store.mapper).decode(store.read(0, 10_000)):
        change(event)
        finding = ledger.apply(position, event)
        if finding is not None:
            found.append(finding)
    return found + ledger.check_credit(world.head(), "the end")


def test_the_audit_checks_who_draws_credit_and_that_settled_plans_owe_none(
    world: World,
) -> None:
    _, _, _ = _buy(world)
    world.copy_fill(world.plans()[0]["reference"])  # every part: settled
    assert not world.plans()
    assert _ledger_over(world, lambda event: None) == []
    block = block_id(str(LEA))

    def unrepaid(event: Any) -> None:  # the credit's repayments, gone
        if isinstance(event, Account.LedgerPosted) and event.originator_id == block:
            event.entries[:] = [e for e in event.entries if e[0] != CREDIT or e[4][0] != "-"]

    (owed,) = _ledger_over(world, unrepaid)
    assert "owed with no plan pending" in owed.message

    def drawn_elsewhere(event: Any) -> None:  # an allocation's transfer turned into credit
        if isinstance(event, Account.LedgerPosted) and event.originator_id != block:
            event.entries[:] = [[CREDIT, *entry[1:]] for entry in event.entries]

    assert any("not a block account" in f.message for f in _ledger_over(world, drawn_elsewhere))
