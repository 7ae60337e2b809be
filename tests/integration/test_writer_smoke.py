"""The writer end to end on each backend: a trade settles and survives a restart."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from socialtrading.commands.models import Deposit, ListMarket, PlaceOrder, RegisterTrader
from socialtrading.commands.writer import Writer
from socialtrading.domain.ids import SYSTEM_ACTOR


def test_a_trade_settles_and_a_restarted_writer_has_the_same_state(
    make_writer: Callable[..., Writer],
) -> None:
    writer = make_writer()
    writer.execute(
        ListMarket(
            command_id="m",
            actor=SYSTEM_ACTOR,
            symbol="BTC-USD",
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.0001"),
            maker_fee_bps=10,
            taker_fee_bps=20,
        )
    )
    alice = writer.execute(RegisterTrader(command_id="r", handle="alice")).account_id
    bob = writer.execute(RegisterTrader(command_id="r", handle="bob")).account_id
    assert alice is not None and bob is not None
    writer.execute(
        Deposit(command_id="d", actor=alice, account=alice, asset="USD", amount=Decimal("1000"))
    )
    writer.execute(
        Deposit(command_id="d", actor=bob, account=bob, asset="BTC", amount=Decimal("2"))
    )
    writer.execute(
        PlaceOrder(
            command_id="o",
            actor=bob,
            market="BTC-USD",
            side="sell",
            price=Decimal("100"),
            quantity=Decimal("1.5"),
        )
    )
    bought = writer.execute(
        PlaceOrder(
            command_id="o",
            actor=alice,
            market="BTC-USD",
            side="buy",
            price=Decimal("101"),
            quantity=Decimal("1"),
        )
    )
    assert bought.accepted
    assert [r[0] for r in bought.records] == ["accepted", "trade"]
    state = writer.state
    assert state.accounts[alice].available("BTC") == 1
    assert state.accounts[alice].available("USD") == Decimal("899.8")  # 100 + 0.2 taker fee
    assert state.accounts[bob].available("USD") == Decimal("99.9")  # 100 - 0.1 maker fee
    assert state.accounts[bob].reserved("BTC") == Decimal("0.5")
    before = {a.handle: a.state() for a in state.accounts.values()}
    book = state.markets["BTC-USD"].book.snapshot()
    writer.stop()

    restarted = make_writer()
    assert {a.handle: a.state() for a in restarted.state.accounts.values()} == before
    assert restarted.state.markets["BTC-USD"].book.snapshot() == book
    again = restarted.execute(
        PlaceOrder(
            command_id="o",
            actor=alice,
            market="BTC-USD",
            side="buy",
            price=Decimal("101"),
            quantity=Decimal("1"),
        )
    )
    assert again == bought  # the first outcome, and nothing changed
    assert restarted.state.accounts[alice].available("BTC") == 1
