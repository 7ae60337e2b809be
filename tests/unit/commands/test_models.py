"""Command models: every malformed command is a pydantic ValidationError, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from socialtrading.commands.models import (
    AmendOrder,
    CancelOrder,
    Command,
    CreateAdmin,
    Deposit,
    GrantRole,
    HaltMarket,
    IssueToken,
    ListMarket,
    PlaceOrder,
    RegisterTrader,
    ResumeMarket,
    StartAuction,
    Uncross,
    VerifyKyc,
    Withdraw,
)
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id

ALICE = account_id("alice")
LATER = datetime(2030, 1, 1, tzinfo=UTC)
TOKEN = "0f" * 32

# A valid example of every command; each case below spoils one field of one of them.
VALID: dict[type[Command], dict[str, Any]] = {
    RegisterTrader: {"command_id": "c", "handle": "alice", "token_hash": TOKEN},
    CreateAdmin: {"command_id": "c", "actor": SYSTEM_ACTOR, "handle": "root", "token_hash": TOKEN},
    IssueToken: {"command_id": "c", "actor": ALICE, "account": ALICE, "token_hash": TOKEN},
    VerifyKyc: {"command_id": "c", "actor": ALICE, "account": ALICE, "level": 1},
    GrantRole: {"command_id": "c", "actor": ALICE, "account": ALICE, "role": "merchant"},
    Deposit: {"command_id": "c", "actor": ALICE, "account": ALICE, "asset": "USD", "amount": "1"},
    Withdraw: {"command_id": "c", "actor": ALICE, "asset": "USD", "amount": "1"},
    ListMarket: {
        "command_id": "c",
        "actor": ALICE,
        "symbol": "BTC-USD",
        "tick_size": "0.01",
        "lot_size": "0.0001",
    },
    HaltMarket: {"command_id": "c", "actor": ALICE, "market": "BTC-USD"},
    ResumeMarket: {"command_id": "c", "actor": ALICE, "market": "BTC-USD"},
    StartAuction: {"command_id": "c", "actor": ALICE, "market": "BTC-USD"},
    Uncross: {"command_id": "c", "actor": ALICE, "market": "BTC-USD"},
    PlaceOrder: {
        "command_id": "c",
        "actor": ALICE,
        "market": "BTC-USD",
        "side": "buy",
        "price": "100",
        "quantity": "1",
    },
    CancelOrder: {"command_id": "c", "actor": ALICE, "order_id": "o1"},
    AmendOrder: {"command_id": "c", "actor": ALICE, "order_id": "o1", "price": "101"},
}


def case(model: type[Command], case_id: str, **changes: Any) -> Any:
    """A parametrize case: the valid `model` example with `changes` (None removes a field)."""
    data = {**VALID[model], **changes}
    return pytest.param(model, {k: v for k, v in data.items() if v is not None}, id=case_id)


BAD_NUMBERS = [
    *(case(Deposit, f"deposit-{v}", amount=v) for v in ("NaN", "Infinity", "-inf", "-1", "0")),
    case(Deposit, "deposit-float-nan", amount=float("nan")),
    case(Deposit, "deposit-too-many-digits", amount="1" + "0" * 30),
    case(Deposit, "deposit-not-a-number", amount="ten"),
    *(case(Withdraw, f"withdraw-{v}", amount=v) for v in ("nan", "inf", "-0.01", "0")),
    *(case(PlaceOrder, f"qty-{v}", quantity=v) for v in ("NaN", "inf", "-1", "0", "-0")),
    *(case(PlaceOrder, f"price-{v}", price=v) for v in ("NaN", "-Infinity", "-100", "0")),
    case(PlaceOrder, "stop-price-zero", stop_price="0"),
    case(PlaceOrder, "stop-price-nan", stop_price="NaN"),
    *(case(AmendOrder, f"amend-qty-{v}", quantity=v) for v in ("nan", "0", "-1")),
    *(case(AmendOrder, f"amend-price-{v}", price=v) for v in ("inf", "0", "-1")),
    *(case(ListMarket, f"tick-{v}", tick_size=v) for v in ("0", "-0.01", "NaN")),
    *(case(ListMarket, f"lot-{v}", lot_size=v) for v in ("0", "inf")),
    case(ListMarket, "min-qty-zero", min_qty="0"),
    case(ListMarket, "max-qty-negative", max_qty="-1"),
    case(ListMarket, "max-notional-nan", max_notional="NaN"),
    case(ListMarket, "reference-price-zero", reference_price="0"),
    case(ListMarket, "collar-zero", collar_ticks=0),
    case(ListMarket, "maker-fee-negative", maker_fee_bps=-1),
    case(ListMarket, "taker-fee-above-10pct", taker_fee_bps=1001),
    # Amounts are bounded: at most 10**18, at most 18 decimal places (issue 10).
    case(Deposit, "deposit-issue-10", amount="123456789012345678901234567890"),
    case(Deposit, "deposit-above-1e18", amount="1000000000000000000.5"),
    case(Deposit, "deposit-19-places", amount="0.0000000000000000001"),
    case(PlaceOrder, "price-above-1e18", price="1e19"),
    case(PlaceOrder, "qty-exponent", quantity="1e40"),
    case(AmendOrder, "amend-price-19-places", price="1.0000000000000000001"),
    case(ListMarket, "tick-19-places", tick_size="1e-19"),
    case(ListMarket, "collar-above-cap", collar_ticks=10**15 + 1),
    case(VerifyKyc, "kyc-level-0", level=0),
    case(VerifyKyc, "kyc-level-4", level=4),
]

BAD_NAMES = [
    *(
        case(ListMarket, f"symbol-{v}", symbol=v)
        for v in (
            "btc-usd",
            "BTCUSD",
            "BTC-",
            "-USD",
            "B-USD",
            "BTC-USD-EUR",
            "BTC_USD",
            "1BTC-USD",
            "ABCDEFGHIJK-USD",
        )
    ),
    case(PlaceOrder, "order-market-lowercase", market="btc-usd"),
    case(HaltMarket, "halt-market-no-quote", market="BTC"),
    *(
        case(Deposit, f"asset-{v or 'empty'}", asset=v)
        for v in ("usd", "U", "USD$", "1USD", "ABCDEFGHIJK", "")
    ),
    case(Withdraw, "withdraw-asset-lowercase", asset="btc"),
    *(
        case(RegisterTrader, f"handle-{v or 'empty'}", handle=v)
        for v in ("ab", "a" * 33, "alice!", "al ice", "ålice", "")
    ),
    case(RegisterTrader, "display-name-empty", display_name=""),
    case(RegisterTrader, "display-name-too-long", display_name="x" * 65),
    case(GrantRole, "unknown-role", role="superuser"),
    *(
        case(model, f"{model.__name__}-token-{name}", token_hash=value)
        for model in (RegisterTrader, CreateAdmin, IssueToken)
        for name, value in [("upper-hex", "0F" * 32), ("short", "0" * 63), ("not-hex", "g" * 64)]
    ),
    case(CreateAdmin, "admin-without-token", token_hash=None),
    case(PlaceOrder, "command-id-empty", command_id=""),
    case(PlaceOrder, "command-id-too-long", command_id="c" * 101),
    case(PlaceOrder, "actor-not-a-uuid", actor="alice"),
    case(PlaceOrder, "no-actor", actor=None),
    case(CancelOrder, "cancel-order-id-empty", order_id=""),
    case(AmendOrder, "amend-order-id-too-long", order_id="o" * 65),
    case(PlaceOrder, "side-unknown", side="hold"),
    case(PlaceOrder, "type-unknown", type="stop"),
    case(PlaceOrder, "tif-unknown", time_in_force="DAY"),
    case(PlaceOrder, "stp-unknown", stp="none"),
    case(PlaceOrder, "group-empty", group=""),
    case(ListMarket, "mode-unknown", mode="call"),
]

BAD_COMBINATIONS = [
    case(PlaceOrder, "limit-without-price", price=None),
    case(PlaceOrder, "market-with-price", type="market"),
    case(PlaceOrder, "gtd-without-expiry", time_in_force="GTD"),
    case(PlaceOrder, "expiry-without-gtd", expires_at=LATER),
    case(PlaceOrder, "expiry-with-ioc", expires_at=LATER, time_in_force="IOC"),
    case(PlaceOrder, "naive-expiry", time_in_force="GTD", expires_at=datetime(2030, 1, 1)),  # noqa: DTZ001
    case(PlaceOrder, "naive-expiry-text", time_in_force="GTD", expires_at="2030-01-01T00:00:00"),
    case(PlaceOrder, "post-only-ioc", post_only=True, time_in_force="IOC"),
    case(PlaceOrder, "post-only-fok", post_only=True, time_in_force="FOK"),
    case(PlaceOrder, "post-only-market", post_only=True, type="market", price=None),
    case(PlaceOrder, "stop-market", type="market", price=None, stop_price="90"),
    case(AmendOrder, "amend-nothing", price=None),
]

EXTRA_FIELDS = [case(model, f"extra-field-{model.__name__}", leverage=10) for model in VALID] + [
    case(PlaceOrder, "misspelt-field", qty="1")
]


@pytest.mark.parametrize(
    ("model", "data"), [*BAD_NUMBERS, *BAD_NAMES, *BAD_COMBINATIONS, *EXTRA_FIELDS]
)
def test_a_malformed_command_is_a_validation_error(
    model: type[Command], data: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(data)


@pytest.mark.parametrize(
    "amount", ["1000000000000000000", "0.000000000000000001", "1.000000000000000000000"]
)
def test_amounts_at_the_bounds_validate(amount: str) -> None:
    data = {**VALID[Deposit], "amount": amount}
    assert Deposit.model_validate(data).amount == Decimal(amount)


@pytest.mark.parametrize("model", list(VALID))
def test_the_valid_examples_validate(model: type[Command]) -> None:
    assert model.model_validate(VALID[model]).command_id == "c"


@pytest.mark.parametrize(
    "changes",
    [
        {"type": "market", "price": None},
        {"type": "market", "price": None, "side": "sell", "time_in_force": "FOK"},
        {"time_in_force": "GTD", "expires_at": LATER, "post_only": True},
        {"post_only": True},
        {"stop_price": "95", "time_in_force": "IOC"},
        {"quantity": "0.0001", "group": "desk-1", "stp": "decrement"},
    ],
)
def test_consistent_orders_validate(changes: dict[str, Any]) -> None:
    data = {k: v for k, v in {**VALID[PlaceOrder], **changes}.items() if v is not None}

    order = PlaceOrder.model_validate(data)

    assert order.price == (Decimal(data["price"]) if "price" in data else None)


def test_an_amend_may_change_only_the_quantity() -> None:
    amend = AmendOrder(command_id="c", actor=ALICE, order_id="o1", quantity=Decimal("2"))

    assert (amend.price, amend.quantity) == (None, Decimal("2"))


def test_a_new_trader_acts_as_its_own_account_unless_told_otherwise() -> None:
    assert RegisterTrader(command_id="c", handle="Alice").actor == account_id("alice")
    assert RegisterTrader(command_id="c", handle="bob", actor=ALICE).actor == ALICE
    assert RegisterTrader(command_id="c", handle="bob").actor != SYSTEM_ACTOR


def test_commands_are_frozen() -> None:
    order = PlaceOrder.model_validate(VALID[PlaceOrder])

    with pytest.raises(ValidationError):
        order.quantity = Decimal("2")


def test_the_expiry_keeps_its_time_zone() -> None:
    order = PlaceOrder.model_validate(
        {**VALID[PlaceOrder], "time_in_force": "GTD", "expires_at": "2030-01-01T01:00:00+01:00"}
    )

    assert order.expires_at == datetime(2030, 1, 1, tzinfo=UTC)
