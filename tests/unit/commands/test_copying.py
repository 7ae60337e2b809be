"""Copy trading's commands through the real writer on SQLite: every rule and refusal code,
block fills allocated pro rata at one average price, sells, skips and their reasons, the
pause after 20 skips, stop with and without closing, profit share with a high-water mark,
the stop-loss, resends and restarts. The cast is `copy_world.py`'s."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from uuid import UUID

import pytest

from socialtrading.commands.copying import (
    AddCopyFunds,
    ChangeCopySizing,
    CheckCopyGuards,
    CopyLeaderFill,
    PauseCopying,
    ResumeCopying,
    SetCopySettings,
    SettleCopyProfitShare,
    StartCopying,
    StopCopying,
    WithdrawCopyFunds,
)
from socialtrading.commands.models import HaltMarket, ResumeMarket
from socialtrading.commands.writer import Writer
from socialtrading.domain.copy.copy import (
    ACTIVE,
    MAX_SKIP_STREAK,
    PAUSED,
    STOPPED,
    STOPPED_BY_LOSS,
    Copy,
)
from socialtrading.domain.copy.ids import block_id
from socialtrading.domain.ids import SYSTEM_ACTOR
from tests.unit.commands.copy_world import CAL, CAT, CID, LEA, MM, SYMBOL, Clock, World

D = Decimal


@pytest.fixture
def backend() -> str:
    """These tests run on SQLite only (the writer is the same on both stores)."""
    return "sqlite"


@pytest.fixture(params=[None, 1], ids=["whole", "parts"])
def world(make_writer: Callable[..., Writer], request: pytest.FixtureRequest) -> Iterator[World]:
    """A world whose fills settle in their own command, and one settling them in parts of
    one copy each (the part commands sent as the policy sends them)."""
    yield World(make_writer, Clock(), part_size=request.param)


def _kinds(world: World, copy_id: UUID) -> list[str]:
    return [type(e).__name__ for e in world.events(copy_id)]


def test_a_leader_with_three_copiers_trades_and_each_copy_gets_its_share_at_one_price(
    world: World,
) -> None:
    world.lead()
    copies = [world.start(CAT, "1000"), world.start(CAL, "2000"), world.start(CID, "3000")]
    totals = world.totals()
    # asks: 13 BTC at 100.00, 2 BTC at 100.20; the leader takes 10 BTC at 100.00 first
    world.order(MM, "sell", "100.00", "13")
    world.order(MM, "sell", "100.20", "2")
    (trade,) = world.trades(world.order(LEA, "buy", "100.00", "10"))
    # The leader's equity is 10,000 less a 1.00 fee: each copy buys 10% of its own equity
    # (1, 2 and 3 BTC asked, 6 in all): the book has 3 at 100.00 and 2 at 100.20 left.
    outcome = world.copy_fill(trade)
    assert outcome.stored
    filled = {}
    for copy_id in copies:
        events = world.events(copy_id)
        (executed,) = [e for e in events if isinstance(e, Copy.OrderExecuted)]
        assert executed.limit_price == D("100.50")  # 50 bps over the leader's price
        filled[copy_id] = executed
    asked = [D(1), D(2), D(3)]
    assert [filled[c].quantity for c in copies] == asked
    got = [filled[c].filled for c in copies]
    assert sum(got) == D(5)  # what the book had up to the limit
    # pro rata by largest remainder: 5 x 1/6, 2/6, 3/6 = 83.33, 166.67, 250 lots
    assert got == [D("0.83"), D("1.67"), D("2.50")]
    # one average price for all: (3 x 100.00 + 2 x 100.20) / 5
    assert {filled[c].price for c in copies} == {D("100.08")}
    for copy_id, quantity, want in zip(copies, got, asked, strict=True):
        allocation = world.allocation(copy_id)
        assert allocation.available("BTC") == quantity
        fill = filled[copy_id]
        # to within two quote units (0.0001 USD each) of the exact shares
        assert abs(fill.fee - fill.cost / 1000) <= D("0.0002")
        assert abs(fill.cost - quantity * D("100.08")) <= D("0.0002")
        assert (fill.reason, fill.unfilled) == ("slippage", want - quantity)
        assert not [e for e in world.events(copy_id) if isinstance(e, Copy.Skipped)]
    # the block account is flat, and money only moved
    block = world.account(block_id(str(LEA)))
    assert all(block.available(a) == 0 and block.reserved(a) == 0 for a in block.assets())
    assert world.totals() == totals
    # a resend (the policy after a crash) is the same command: nothing again
    head = world.head()
    assert world.copy_fill(trade) == outcome or world.head() == head
    assert world.head() == head


def test_leader_settings_and_start_refusals(world: World) -> None:
    start = StartCopying(command_id="s1", actor=CAT, leader="lea", amount=D(500))
    assert world.refused(start) == "not_accepting_copiers"
    world.lead(min_copy_amount=D(200), max_copiers=2, profit_share_bps=2000)

    def refused(**update: object) -> str:
        return world.refused(start.model_copy(update={"command_id": world.id(), **update}))

    assert refused(leader="cat") == "cannot_copy_self"
    assert refused(leader="nobody") == "unknown_account"
    assert refused(amount=D(100)) == "below_min_copy_amount"
    assert refused(amount=D(20000)) == "insufficient_funds"
    assert refused(asset="EUR") == "invalid_copy_settings"
    for bad in (
        {"sizing": "FIXED_RATIO"},
        {"sizing": "FIXED_AMOUNT"},
        {"ratio": D(1)},
        {"fixed_amount": D(5)},
    ):
        assert refused(**bad) == "invalid_copy_settings"
    copy_id = world.start(CAT, "500")
    assert refused() == "already_copying"
    world.start(CAL, "300")
    assert refused(actor=CID) == "leader_full"
    world.lead(accept_copiers=False)
    assert refused(actor=MM) == "not_accepting_copiers"
    # the same settings again change nothing
    outcome = world.run(SetCopySettings(command_id=world.id(), actor=LEA, accept_copiers=False))
    assert outcome.accepted and not outcome.stored
    # the profit share is frozen at the start
    assert world.copy(copy_id).profit_share_bps == 2000


def test_copier_commands_rules_and_codes(world: World) -> None:
    world.lead()
    copy_id = world.start(CAT, "1000")
    copier = world.account(CAT)
    allocation = world.allocation(copy_id)
    assert copier.available("USD") == D(9000) and allocation.available("USD") == D(1000)
    world.ok(AddCopyFunds(command_id=world.id(), actor=CAT, copy_id=copy_id, amount=D(500)))
    assert world.copy(copy_id).invested == D(1500) and copier.available("USD") == D(8500)
    add = AddCopyFunds(command_id=world.id(), actor=CAT, copy_id=copy_id, amount=D(9000))
    assert world.refused(add) == "insufficient_funds"
    take = WithdrawCopyFunds(command_id=world.id(), actor=CAT, copy_id=copy_id, amount=D(2000))
    assert world.refused(take) == "insufficient_funds"
    world.ok(take.model_copy(update={"amount": D(200), "command_id": world.id()}))
    assert world.copy(copy_id).invested == D(1300) and allocation.available("USD") == D(1300)
    again_id = {"command_id": world.id()}
    assert world.refused(take.model_copy(update={"actor": CAL, **again_id})) == "not_your_copy"
    unknown = {"copy_id": block_id("x"), "command_id": world.id()}
    assert world.refused(take.model_copy(update=unknown)) == "unknown_copy"
    sizing = ChangeCopySizing(
        command_id=world.id(), actor=CAT, copy_id=copy_id, sizing="FIXED_RATIO"
    )
    assert world.refused(sizing) == "invalid_copy_settings"
    world.ok(sizing.model_copy(update={"ratio": D("0.5"), "command_id": world.id()}))
    assert world.copy(copy_id).sizing == "FIXED_RATIO"
    again = world.run(sizing.model_copy(update={"ratio": D("0.5"), "command_id": world.id()}))
    assert again.accepted and not again.stored
    pause = PauseCopying(command_id=world.id(), actor=CAT, copy_id=copy_id)
    world.ok(pause)
    assert world.copy(copy_id).status == PAUSED
    assert not world.run(pause.model_copy(update={"command_id": world.id()})).stored
    world.ok(ResumeCopying(command_id=world.id(), actor=CAT, copy_id=copy_id))
    assert world.copy(copy_id).status == ACTIVE
    stop = StopCopying(command_id=world.id(), actor=CAT, copy_id=copy_id)
    assert world.refused(stop.model_copy(update={"actor": CAL})) == "not_your_copy"
    stop = stop.model_copy(update={"command_id": world.id()})
    world.ok(stop)
    assert world.copy(copy_id).status == STOPPED
    assert copier.available("USD") == D(10000) and allocation.available("USD") == 0
    for command in (
        stop.model_copy(update={"command_id": world.id()}),
        pause.model_copy(update={"command_id": world.id()}),
        add.model_copy(update={"command_id": world.id(), "amount": D(1)}),
    ):
        assert world.refused(command) == "copy_stopped"
    # a new copy of the same leader may start once the old one stopped
    world.start(CAT, "1000")


def test_system_commands_are_for_the_system_only(world: World) -> None:
    world.lead()
    copy_id = world.start(CAT, "1000")
    for command in (
        CopyLeaderFill(command_id="f", actor=LEA, leader=LEA, trade_id=f"{SYMBOL}:1"),
        SettleCopyProfitShare(command_id="s", actor=CAT, copy_id=copy_id),
        CheckCopyGuards(command_id="g", actor=CAT, market=SYMBOL),
    ):
        assert world.refused(command) == "not_authorized"
    fill = CopyLeaderFill(command_id="f", actor=SYSTEM_ACTOR, leader=LEA, trade_id=f"{SYMBOL}:1")
    assert world.refused(fill) == "unknown_trade"
    (trade,) = world.trades(
        world.order(MM, "sell", "100", "1") and world.order(CAT, "buy", "100", "1")
    )
    # a trade that is not the leader's
    assert world.refused(fill.model_copy(update={"trade_id": trade})) == "unknown_trade"


def test_copies_started_after_a_trade_do_not_copy_it(world: World) -> None:
    world.lead()
    world.order(MM, "sell", "100", "5")
    (trade,) = world.trades(world.order(LEA, "buy", "100", "1"))
    copy_id = world.start(CAT, "1000")
    outcome = world.copy_fill(trade)
    assert outcome.accepted and not outcome.stored
    assert _kinds(world, copy_id) == ["Started"]


def test_a_leader_sell_sells_the_same_fraction_of_each_copy(world: World) -> None:
    world.lead()
    cat, cal = world.start(CAT, "1000"), world.start(CAL, "2000")
    world.order(MM, "sell", "100", "10")
    world.copy_fill(world.trades(world.order(LEA, "buy", "100", "4"))[0])
    held = {c: world.allocation(c).available("BTC") for c in (cat, cal)}
    assert held == {cat: D("0.40"), cal: D("0.80")}  # 4% of their equity, rounded down
    world.order(CID, "buy", "100", "10")
    # the leader sells 1.5 of its 4 BTC: each copy 37.5% of its own, rounded down
    (trade,) = world.trades(world.order(LEA, "sell", "100", "1.5"))
    world.copy_fill(trade)
    assert world.allocation(cat).available("BTC") == D("0.40") - D("0.15")
    assert world.allocation(cal).available("BTC") == D("0.80") - D("0.30")


def test_skip_reasons(world: World) -> None:
    world.lead()
    small = world.start(CAT, "100")  # 1% of the leader's equity
    capped = world.start(CAL, "5000", max_order_notional=D(50))
    fixed = world.start(CID, "100", sizing="FIXED_AMOUNT", fixed_amount=D(500))
    world.order(MM, "sell", "100", "10")
    world.copy_fill(world.trades(world.order(LEA, "buy", "100", "0.5"))[0])
    reasons = {
        c: [e.reason for e in world.events(c) if isinstance(e, Copy.Skipped)]
        for c in (small, capped, fixed)
    }
    # 0.5% of 100 USD is less than a lot (0.01 BTC ~ 1 USD); 0.5% of 5,000 is 25 USD but the
    # cap is 50; the fixed 500 USD is more than the allocation's 100
    assert reasons[small] == ["below_min_size"]
    assert reasons[capped] == []
    assert reasons[fixed] == []  # what its funds allow: 0.99 BTC
    assert world.allocation(fixed).available("BTC") == D("0.99")
    world.copy_fill(world.trades(world.order(LEA, "buy", "100", "2"))[0])
    assert [e.reason for e in world.events(capped) if isinstance(e, Copy.Skipped)] == [
        "max_notional"
    ]
    assert [e.reason for e in world.events(fixed) if isinstance(e, Copy.Skipped)] == [
        "insufficient_funds"
    ]
    world.ok(PauseCopying(command_id=world.id(), actor=CAT, copy_id=small))
    world.ok(HaltMarket(command_id=world.id(), actor=SYSTEM_ACTOR, market=SYMBOL))
    world.ok(ResumeMarket(command_id=world.id(), actor=SYSTEM_ACTOR, market=SYMBOL))
    (trade,) = world.trades(world.order(LEA, "buy", "100", "0.5"))
    world.ok(HaltMarket(command_id=world.id(), actor=SYSTEM_ACTOR, market=SYMBOL))
    world.copy_fill(trade)
    assert [e.reason for e in world.events(small) if isinstance(e, Copy.Skipped)][-1] == "paused"
    assert [e.reason for e in world.events(capped) if isinstance(e, Copy.Skipped)][-1] == "halted"


def test_twenty_skips_in_a_row_pause_the_copy_with_the_reason(world: World) -> None:
    world.lead()
    copy_id = world.start(CAT, "100")
    world.order(MM, "sell", "100", "50")
    for _ in range(MAX_SKIP_STREAK):
        assert world.copy(copy_id).status == ACTIVE
        world.copy_fill(world.trades(world.order(LEA, "buy", "100", "0.01"))[0])
    copy = world.copy(copy_id)
    assert copy.status == PAUSED
    assert copy.pause_reason is not None and "below_min_size" in copy.pause_reason


def test_stop_closes_positions_settles_and_returns_everything(world: World) -> None:
    world.lead(profit_share_bps=1000)
    copy_id = world.start(CAT, "1000")
    totals = world.totals()
    world.order(MM, "sell", "100", "5.5")
    world.copy_fill(world.trades(world.order(LEA, "buy", "100", "5"))[0])
    assert world.allocation(copy_id).available("BTC") == D("0.5")
    world.order(CAL, "buy", "110", "1")  # the price rose: closing makes a profit
    leader_before = world.account(LEA).available("USD")
    world.ok(StopCopying(command_id=world.id(), actor=CAT, copy_id=copy_id))
    allocation = world.allocation(copy_id)
    assert all(allocation.available(a) == 0 for a in allocation.assets())
    events = world.events(copy_id)
    (settled,) = [e for e in events if isinstance(e, Copy.ProfitShareSettled)]
    assert settled.gain > 0 and settled.share == (settled.gain / 10).quantize(D("1e-8"))
    assert world.account(LEA).available("USD") == leader_before + settled.paid
    assert world.account(CAT).available("BTC") == 0
    assert isinstance(events[-1], Copy.Stopped) and events[-1].status == STOPPED
    assert world.totals() == totals


def test_stop_without_closing_returns_the_positions(world: World) -> None:
    world.lead(profit_share_bps=0)
    copy_id = world.start(CAT, "1000")
    world.order(MM, "sell", "100", "10")
    world.copy_fill(world.trades(world.order(LEA, "buy", "100", "5"))[0])
    held = world.allocation(copy_id).available("BTC")
    world.ok(StopCopying(command_id=world.id(), actor=CAT, copy_id=copy_id, close_positions=False))
    assert world.account(CAT).available("BTC") == held


def test_profit_share_with_a_high_water_mark_gain_loss_recovery(world: World) -> None:
    world.lead(profit_share_bps=1000)
    copy_id = world.start(CAT, "1000", sizing="FIXED_RATIO", ratio=D(1))
    world.order(MM, "sell", "100", "10")
    world.copy_fill(world.trades(world.order(LEA, "buy", "100", "5"))[0])

    def settle() -> Copy.ProfitShareSettled:
        world.ok(SettleCopyProfitShare(command_id=world.id(), actor=SYSTEM_ACTOR, copy_id=copy_id))
        found = [e for e in world.events(copy_id) if isinstance(e, Copy.ProfitShareSettled)]
        return found[-1]

    def mark(price: str) -> None:  # a trade between others sets the last price
        world.order(MM, "sell", price, "0.01")
        world.order(CAL, "buy", price, "0.01")

    mark("110")  # 5 BTC bought at ~100 now worth 110: a gain of ~50
    gain = settle()
    assert gain.gain > D(49) and gain.share == (gain.gain / 10).quantize(D("1e-8"))
    assert gain.paid == gain.share and gain.high_water_mark_after == gain.gain - gain.share
    mark("105")  # a loss: nothing charged, the mark stays
    loss = settle()
    assert loss.gain == 0 and loss.share == 0
    assert loss.high_water_mark_after == gain.high_water_mark_after
    mark("112")  # recovered beyond the mark: only the part above it is charged
    recovered = settle()
    assert 0 < recovered.gain < D(20)
    assert recovered.high_water_mark_before == gain.high_water_mark_after
    copy = world.copy(copy_id)
    assert copy.profit_share_paid == gain.paid + recovered.paid
    assert (
        world.refused(
            SettleCopyProfitShare(command_id=world.id(), actor=SYSTEM_ACTOR, copy_id=block_id("x"))
        )
        == "unknown_copy"
    )


def test_stop_loss_stops_the_copy_by_loss(world: World) -> None:
    world.lead()
    guarded = world.start(CAT, "1000", sizing="FIXED_RATIO", ratio=D(2), stop_loss_percent=95)
    free = world.start(CAL, "1000", sizing="FIXED_RATIO", ratio=D(2))
    world.order(MM, "sell", "100", "20")
    world.copy_fill(world.trades(world.order(LEA, "buy", "100", "4"))[0])
    guards = CheckCopyGuards(command_id=world.id(), actor=SYSTEM_ACTOR, market=SYMBOL)
    assert not world.ok(guards).stored  # nothing to stop yet
    # the price falls 10%: 8 BTC bought at 100 worth 720; equity ~920 of 1,000: below 95%
    world.order(MM, "buy", "90", "20")
    world.order(LEA, "sell", "90", "0.01")
    world.ok(guards.model_copy(update={"command_id": world.id()}))
    assert world.copy(guarded).status == STOPPED_BY_LOSS
    assert world.copy(free).status == ACTIVE
    assert world.allocation(guarded).available("BTC") == 0


def test_copy_open_positions_at_start(world: World) -> None:
    world.lead()
    world.order(MM, "sell", "100", "25")
    world.order(LEA, "buy", "100", "20")  # 2,000 of the leader's ~10,000 in BTC
    copy_id = world.start(CAT, "1000", copy_open_positions=True)
    fills = [e for e in world.events(copy_id) if isinstance(e, Copy.OrderExecuted)]
    assert [(f.leader_trade_id, f.filled) for f in fills] == [("open:BTC-USD", D("2.00"))]


def test_a_restart_rebuilds_copies_and_the_index_agrees_with_the_log(world: World) -> None:
    world.lead()
    copies = [world.start(CAT, "1000"), world.start(CAL, "2000")]
    world.order(MM, "sell", "100", "10")
    (trade,) = world.trades(world.order(LEA, "buy", "100", "2"))
    world.copy_fill(trade)
    world.ok(PauseCopying(command_id=world.id(), actor=CAT, copy_id=copies[0]))
    world.ok(StopCopying(command_id=world.id(), actor=CAL, copy_id=copies[1]))
    before = {c: vars(world.copy(c)) for c in copies}
    balances = {a: acc.state() for a, acc in world.writer.state.accounts.items()}
    world.restart()
    assert {c: vars(world.copy(c)) for c in copies} == before
    assert {a: acc.state() for a, acc in world.writer.state.accounts.items()} == balances
    assert world.writer.state.copies.live_count(str(LEA)) == 1
    world.writer.stop()
    world.index_agrees()


def test_a_leader_sell_copies_nothing_to_copies_that_hold_nothing(world: World) -> None:
    world.lead()
    world.order(MM, "sell", "100", "5")
    world.order(LEA, "buy", "100", "2")
    copy_id = world.start(CAT, "1000")
    world.order(MM, "buy", "99", "5")
    (trade,) = world.trades(world.order(LEA, "sell", "99", "1"))
    head = world.head()
    outcome = world.copy_fill(trade)
    assert outcome.accepted and not outcome.stored and world.head() == head
    assert _kinds(world, copy_id) == ["Started"]
