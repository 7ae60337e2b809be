"""The writer against poison (issue 10), on each backend.

- A command that breaks its batch before the append (here: an event the encoder refuses) is
  refused alone with `command_failed`; the other commands of its batch are stored and
  acknowledged, and the ledger stays exact, also after a restart.
- Numbers outside the documented bounds are refused before anything is stored.
- The writer thread computes balances exactly: a deposit 1e-18 above the balance limit is
  refused, where the default 28-digit context would have rounded it away.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from socialtrading.commands.models import (
    Command,
    Deposit,
    ListMarket,
    PlaceOrder,
    RegisterTrader,
    Withdraw,
)
from socialtrading.commands.registry import HANDLERS
from socialtrading.commands.state import Outcome, State
from socialtrading.commands.writer import COMMAND_FAILED, Writer
from socialtrading.domain import money
from socialtrading.domain.errors import InvalidCommand
from socialtrading.domain.ids import SYSTEM_ACTOR
from socialtrading.domain.money import MAX_AMOUNT, MAX_BALANCE
from socialtrading.engine.spec import MAX_NOTIONAL_UNITS

POISON = "poison"


def _setup(writer: Writer) -> dict[str, UUID]:
    """BTC-USD (tick 0.01, lot 0.0001, fees 10/20 bps) and three funded traders."""
    listed = writer.execute(
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
    assert listed.accepted, listed
    traders = {}
    for handle in ("alice", "bob", "mallory"):
        trader = writer.execute(RegisterTrader(command_id="r", handle=handle)).account_id
        assert trader is not None
        for asset, amount in (("USD", "10000"), ("BTC", "10")):
            writer.execute(
                Deposit(
                    command_id=f"d-{asset}",
                    actor=trader,
                    account=trader,
                    asset=asset,
                    amount=Decimal(amount),
                )
            )
        traders[handle] = trader
    return traders


def _order(actor: UUID, command_id: str, side: str, price: str, qty: str) -> PlaceOrder:
    return PlaceOrder.model_validate(
        {
            "command_id": command_id,
            "actor": actor,
            "market": "BTC-USD",
            "side": side,
            "price": price,
            "quantity": qty,
        }
    )


def _totals(writer: Writer) -> dict[str, Decimal]:
    totals: defaultdict[str, Decimal] = defaultdict(Decimal)
    for account in writer.state.accounts.values():
        for asset in account.assets():
            totals[asset] += account.available(asset) + account.reserved(asset)
    return dict(totals)


def test_a_command_that_cannot_be_encoded_is_refused_alone_and_the_batch_is_stored(
    make_writer: Callable[..., Writer], caplog: pytest.LogCaptureFixture
) -> None:
    writer = make_writer()
    traders = _setup(writer)
    store = writer.store
    encode = store.to_stored
    gate = threading.Event()
    batches: list[set[str]] = []

    def to_stored(events: Sequence[Any]) -> Any:
        if not gate.is_set():
            gate.wait(10)  # holds the writer until the batch under test is queued
        ids = {getattr(event, "command_id", "") for event in events}
        batches.append(ids)
        if POISON in ids:
            raise OverflowError("int too big to convert")  # what a 2**64-tick price did
        return encode(events)

    store.to_stored = to_stored  # type: ignore[method-assign]
    opener = writer.submit(
        Deposit(
            command_id="opener",
            actor=traders["alice"],
            account=traders["alice"],
            asset="USD",
            amount=Decimal(1),
        )
    )
    alice = writer.submit(_order(traders["alice"], "a1", "buy", "100", "1"))
    poison = writer.submit(_order(traders["mallory"], POISON, "buy", "99", "1"))
    bob = writer.submit(_order(traders["bob"], "b1", "sell", "100", "0.5"))
    gate.set()

    assert opener.result(10).accepted
    failed = next(ids for ids in batches if POISON in ids)
    assert {"a1", "b1"} <= failed  # they shared a batch with the poison, which failed
    refused = poison.result(10)
    assert (refused.accepted, refused.code, refused.stored) == (False, COMMAND_FAILED, False)
    bought, sold = alice.result(10), bob.result(10)
    assert bought.accepted and sold.accepted and bought.position and sold.position
    assert [r[0] for r in sold.records] == ["accepted", "trade"]
    assert sum(POISON in message for message in caplog.messages) == 1  # logged once
    store.to_stored = encode  # type: ignore[method-assign]
    book = writer.state.markets["BTC-USD"].book
    assert {order.account for order in book.live_orders()} == {str(traders["alice"])}
    mallory = writer.state.accounts[traders["mallory"]]
    assert (mallory.available("USD"), mallory.reserved("USD")) == (Decimal(10000), Decimal(0))
    expected = {"USD": Decimal(30001), "BTC": Decimal(30)}
    assert _totals(writer) == expected
    writer.stop()

    restarted = make_writer()
    assert _totals(restarted) == expected
    assert restarted.outcome(traders["mallory"], POISON) is None  # nothing of it was stored
    again = restarted.execute(_order(traders["mallory"], POISON, "buy", "99", "1"))
    assert again.accepted  # once it can be stored, the same command goes through


def test_a_handler_that_fails_half_way_leaves_nothing_of_its_command(
    make_writer: Callable[..., Writer], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = make_writer()
    traders = _setup(writer)
    real = HANDLERS[Deposit]

    def deposit(state: State, command: Any, ts: int) -> Outcome:
        outcome = real(state, command, ts)  # the account is credited in memory...
        if command.command_id == POISON:
            raise RuntimeError("a defect after the deposit")  # ...and then the handler fails
        return outcome

    kind: type[Command] = Deposit
    monkeypatch.setitem(HANDLERS, kind, deposit)
    alice, mallory = traders["alice"], traders["mallory"]
    acks = [
        writer.submit(
            Deposit(command_id=command_id, actor=actor, account=actor, asset="USD", amount=amount)
        )
        for command_id, actor, amount in (
            ("x1", alice, Decimal(5)),
            (POISON, mallory, Decimal(1000)),
            ("x2", alice, Decimal(7)),
        )
    ]
    outcomes = [ack.result(10) for ack in acks]

    assert [(o.accepted, o.code) for o in outcomes] == [
        (True, None),
        (False, COMMAND_FAILED),
        (True, None),
    ]
    assert writer.state.accounts[alice].available("USD") == 10012
    assert writer.state.accounts[mallory].available("USD") == 10000  # nothing of it kept
    writer.stop()
    restarted = make_writer()
    assert restarted.state.accounts[mallory].available("USD") == 10000
    assert restarted.state.accounts[alice].available("USD") == 10012


@pytest.mark.parametrize(
    ("price", "quantity", "stop_price", "code"),
    [
        ("92233720368547758.08", "0.0001", None, "price_out_of_range"),  # 2**63 ticks
        ("184467440737095516.17", "0.0001", None, "price_out_of_range"),  # 2**64 + 1 ticks
        ("100", "0.0001", "92233720368547758.08", "price_out_of_range"),
        ("100", "100000000000.0001", None, "quantity_out_of_range"),
        ("10000000", "1000000", None, "notional_out_of_range"),
    ],
)
def test_an_order_out_of_range_is_refused_and_stores_nothing(
    make_writer: Callable[..., Writer],
    price: str,
    quantity: str,
    stop_price: str | None,
    code: str,
) -> None:
    writer = make_writer()
    traders = _setup(writer)
    head = writer.store.recorder.max_notification_id()
    command = _order(traders["mallory"], "o", "buy", price, quantity)
    if stop_price is not None:
        command = command.model_copy(update={"stop_price": Decimal(stop_price)})

    with pytest.raises(InvalidCommand) as raised:
        writer.execute(command)

    assert raised.value.code == code
    assert writer.store.recorder.max_notification_id() == head
    assert writer.outcome(traders["mallory"], "o") is None


def test_money_at_its_limits_is_exact_in_the_writer(make_writer: Callable[..., Writer]) -> None:
    writer = make_writer()
    traders = _setup(writer)
    alice = traders["alice"]
    head = writer.store.recorder.max_notification_id()

    def deposit(command_id: str, amount: Decimal) -> Command:
        return Deposit(
            command_id=command_id, actor=alice, account=alice, asset="USD", amount=amount
        )

    refusals = []
    for command in (
        deposit("huge", MAX_AMOUNT + 1),
        Deposit(command_id="zzz", actor=alice, account=alice, asset="ZZZ", amount=Decimal(1)),
    ):
        with pytest.raises(InvalidCommand) as raised:
            writer.execute(command)
        refusals.append(raised.value.code)
    assert refusals == ["amount_out_of_range", "unknown_asset"]
    assert writer.store.recorder.max_notification_id() == head

    overdraw = writer.execute(
        Withdraw(command_id="w", actor=alice, asset="USD", amount=Decimal(10010))
    )
    assert (overdraw.accepted, overdraw.code) == (False, "insufficient_funds")
    assert writer.state.accounts[alice].available("USD") == Decimal(10000)

    # Up to MAX_BALANCE to the last 1e-18, in one batch: the default context would round
    # 10**18 - 10**4 + 1e-18 to a whole number.
    acks = [writer.submit(deposit(f"fill{i}", MAX_AMOUNT)) for i in range(999)]
    acks.append(writer.submit(deposit("last", Decimal("999999999989999.999999999999999999"))))
    assert all(ack.result(30).accepted for ack in acks)
    with money.exact():  # here too, or 10**18 - 1e-18 would round to 10**18
        assert writer.state.accounts[alice].available("USD") == MAX_BALANCE - Decimal("1e-18")
    assert writer.execute(deposit("tiny", Decimal("1e-18"))).accepted
    with pytest.raises(InvalidCommand) as raised:
        writer.execute(deposit("over", Decimal("1e-18")))
    assert raised.value.code == "balance_limit"
    writer.stop()

    restarted = make_writer()
    assert restarted.state.accounts[alice].available("USD") == MAX_BALANCE


def test_the_largest_notional_trades_and_settles_exactly(
    make_writer: Callable[..., Writer],
) -> None:
    writer = make_writer()
    traders = _setup(writer)
    alice, bob = traders["alice"], traders["bob"]
    usd = Decimal(2 * 10**12)
    writer.execute(Deposit(command_id="u", actor=alice, account=alice, asset="USD", amount=usd))
    writer.execute(
        Deposit(command_id="b", actor=bob, account=bob, asset="BTC", amount=Decimal(10**6))
    )
    # 10**8 ticks of 0.01 x 10**10 lots of 0.0001 = MAX_NOTIONAL_UNITS: 10**12 USD
    assert MAX_NOTIONAL_UNITS == 10**8 * 10**10
    sold = writer.execute(_order(bob, "s", "sell", "1000000", "1000000"))
    bought = writer.execute(_order(alice, "b", "buy", "1000000", "1000000"))
    assert sold.accepted and bought.accepted
    assert [r[0] for r in bought.records] == ["accepted", "trade"]
    state = writer.state
    assert state.accounts[alice].available("BTC") == 10**6 + 10
    assert state.accounts[alice].available("USD") == usd + 10000 - Decimal("1.002e12")
    assert state.accounts[bob].available("USD") == 10000 + Decimal("0.999e12")
    totals = _totals(writer)
    assert totals == {"USD": 30000 + usd, "BTC": Decimal(30 + 10**6)}
    writer.stop()
    assert _totals(make_writer()) == totals
