"""The writer end to end on each backend: a trade settles and survives a restart."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from socialtrading.commands.models import Deposit, ListMarket, PlaceOrder, RegisterTrader
from socialtrading.commands.writer import Writer
from socialtrading.domain.ids import SYSTEM_ACTOR


def _list_btc_usd(writer: Writer, maker_fee_bps: int, taker_fee_bps: int) -> None:
    outcome = writer.execute(
        ListMarket(
            command_id="m",
            actor=SYSTEM_ACTOR,
            symbol="BTC-USD",
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.0001"),
            maker_fee_bps=maker_fee_bps,
            taker_fee_bps=taker_fee_bps,
        )
    )
    assert outcome.accepted, outcome


def test_a_trade_settles_and_a_restarted_writer_has_the_same_state(
    make_writer: Callable[..., Writer],
) -> None:
    writer = make_writer()
    _list_btc_usd(writer, 10, 20)
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
    market_id = state.markets["BTC-USD"].id
    assert bought.event == (market_id, state.markets["BTC-USD"].version)
    # remembered for repeats by its stored event, not by its records
    (row,) = writer.store.find_commands([(alice, "o")])
    assert (row.market_id, row.market_version) == bought.event
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
    assert again == bought  # the first outcome, read back from its event; nothing changed
    assert restarted.outcome(alice, "o") == bought
    assert restarted.state.accounts[alice].available("BTC") == 1


def test_a_market_is_snapshotted_after_at_least_half_its_live_orders_in_events(
    make_writer: Callable[..., Writer],
) -> None:
    """A market's snapshot holds its whole book, so with an interval of 5 a growing book is
    snapshotted after max(5, live orders // 2) events; an account every 5; a restart from
    the snapshots restores the same state."""
    writer = make_writer(snapshot_interval=5)
    _list_btc_usd(writer, 0, 0)
    alice = writer.execute(RegisterTrader(command_id="r", handle="alice")).account_id
    assert alice is not None
    writer.execute(
        Deposit(command_id="d", actor=alice, account=alice, asset="USD", amount=Decimal("1e6"))
    )
    for n in range(29):  # market versions 2..30, each with one more resting order
        writer.execute(
            PlaceOrder(
                command_id=f"o{n}",
                actor=alice,
                market="BTC-USD",
                side="buy",
                price=Decimal(100 + n),
                quantity=Decimal("0.01"),
            )
        )
    market = writer.state.markets["BTC-USD"]
    account = writer.state.accounts[alice]
    assert market.book.live_count() == 29 and market.version == 30
    snapshots = writer.store.snapshots
    assert snapshots is not None
    # v5: 4 live, due 5; v10: 9 live, due 5; v18: 17 live, due 8; the next is due at v35
    assert [s.originator_version for s in snapshots.get(market.id)] == [5, 10, 18]
    assert [s.originator_version for s in snapshots.get(alice)] == [5, 10, 15, 20, 25, 30]
    book = market.book.snapshot()
    writer.stop()
    restarted = make_writer()
    assert restarted.state.markets["BTC-USD"].book.snapshot() == book
    assert restarted.state.accounts[alice].available("USD") == account.available("USD")
