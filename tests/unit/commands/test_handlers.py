"""Command handlers driven directly through a State: authorization, refusals and the ledger.

The market is BTC-USD with a tick of 0.01 USD, a lot of 0.01 BTC, maker/taker fees of 10/20
bps, a reference price of 100.00 and a collar of 10.00. A buy reserves, per lot, its price plus
0.2% rounded up to 0.0001 USD: 1 BTC at 100.00 reserves 100.20.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialtrading.commands.accounts import open_system_account
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
from socialtrading.commands.registry import HANDLERS
from socialtrading.commands.state import Outcome, State
from socialtrading.domain.account import COMPLIANCE, Account
from socialtrading.domain.errors import DomainError, InvalidCommand, Refused
from socialtrading.domain.ids import FEE_ACCOUNT_HANDLE, SYSTEM_ACTOR, account_id, order_id
from socialtrading.domain.market import Market
from socialtrading.engine.book import Side
from socialtrading.engine.records import ACCEPTED, AMENDED, CANCELLED, REJECTED, TRADE

SYMBOL = "BTC-USD"
USD = "USD"
BTC = "BTC"
ALICE = account_id("alice")  # buys: 10,000 USD
BOB = account_id("bob")  # sells: 100 BTC
CAROL = account_id("carol")  # both: 10,000 USD and 100 BTC
ROOT = account_id("root")  # an admin
GHOST = account_id("ghost")  # never registered
FEES = account_id(FEE_ACCOUNT_HANDLE)
ASK = order_id(BOB, "ask")  # bob's resting sell: 1 BTC at 101.00
BID = order_id(ALICE, "bid")  # alice's resting buy: 1 BTC at 99.00
ZERO = Decimal(0)
TOKEN = "ab" * 32  # the SHA-256 hex of an API token


class Desk:
    """The writer's state driven by hand: one command at a time at increasing times."""

    def __init__(self, demo_funding: bool = True, **market: Any) -> None:
        self.state = State(demo_funding=demo_funding)
        self.ts = 0
        self.net: defaultdict[str, Decimal] = defaultdict(Decimal)  # deposits - withdrawals
        market.setdefault("reference_price", Decimal("100"))
        market.setdefault("collar_ticks", 1_000)
        self.run(
            ListMarket(
                command_id="list",
                actor=SYSTEM_ACTOR,
                symbol=SYMBOL,
                tick_size=Decimal("0.01"),
                lot_size=Decimal("0.01"),
                maker_fee_bps=10,
                taker_fee_bps=20,
                **market,
            )
        )

    def run(self, command: Command) -> Outcome:
        """Apply one command as the writer would, one microsecond after the last."""
        self.ts += 1
        outcome = HANDLERS[type(command)](self.state, command, self.ts)
        if outcome.accepted and isinstance(command, Deposit):
            self.net[command.asset] += command.amount
        if outcome.accepted and isinstance(command, Withdraw):
            self.net[command.asset] -= command.amount
        return outcome

    def trader(self, handle: str, **funds: str) -> UUID:
        """Register a trader and deposit `funds` (asset=amount) on its account."""
        trader = account_id(handle)
        self.run(RegisterTrader(command_id="register", handle=handle))
        for asset, amount in funds.items():
            self.run(
                Deposit(
                    command_id=f"fund-{asset}",
                    actor=SYSTEM_ACTOR,
                    account=trader,
                    asset=asset,
                    amount=Decimal(amount),
                )
            )
        return trader

    def order(
        self,
        actor: UUID,
        side: Side,
        price: str | None,
        quantity: str,
        *,
        command_id: str | None = None,
        **options: Any,
    ) -> Outcome:
        """Place an order (a market order when `price` is None)."""
        if price is None:
            options["type"] = "market"
        return self.run(
            PlaceOrder(
                command_id=command_id or f"o{self.ts}",
                actor=actor,
                market=SYMBOL,
                side=side,
                price=None if price is None else Decimal(price),
                quantity=Decimal(quantity),
                **options,
            )
        )

    def balance(self, account: UUID, asset: str) -> tuple[Decimal, Decimal]:
        """(available, reserved), pending ledger entries included."""
        found = self.state.accounts[account]
        return found.available(asset), found.reserved(asset)

    @property
    def market(self) -> Market:
        """The BTC-USD market."""
        return self.state.markets[SYMBOL]

    def settle(self) -> list[Any]:
        """End the batch as the writer does: flush the accounts; return every pending event."""
        events: list[Any] = []
        for account in self.state.accounts.values():
            account.flush(self.ts)
            events.extend(account.collect_events())
        for market in self.state.markets.values():
            events.extend(market.collect_events())
        self.state.touched = {}
        return events

    def fingerprint(self) -> Any:
        """Everything a command may change in memory."""
        return (
            {a.handle: a.state() for a in self.state.accounts.values()},
            {s: (m.book.snapshot(), dict(m.live_orders)) for s, m in self.state.markets.items()},
            set(self.state.touched),
        )


def trading_desk(**market: Any) -> Desk:
    """A desk with alice, bob, carol (demo-funded traders) and root (an admin), book empty."""
    desk = Desk(**market)
    desk.trader("alice", USD="10000")
    desk.trader("bob", BTC="100")
    desk.trader("carol", USD="10000", BTC="100")
    desk.trader("root")
    desk.run(GrantRole(command_id="grant", actor=SYSTEM_ACTOR, account=ROOT, role="admin"))
    return desk


@pytest.fixture
def desk() -> Desk:
    """The trading desk with bob's ask (1 BTC at 101.00) and alice's bid (1 BTC at 99.00)."""
    desk = trading_desk()
    desk.order(BOB, "sell", "101", "1", command_id="ask")
    desk.order(ALICE, "buy", "99", "1", command_id="bid")
    desk.settle()
    return desk


def assert_leaves_no_trace(
    desk: Desk, command: Command, error: type[DomainError], code: str
) -> None:
    """`command` raises `error` with `code` and changes nothing, stores nothing."""
    desk.settle()
    before = desk.fingerprint()

    with pytest.raises(error) as raised:
        desk.run(command)

    assert type(raised.value) is error
    assert raised.value.code == code
    assert desk.fingerprint() == before
    assert desk.settle() == []


def reserves_of_open_orders(desk: Desk) -> dict[tuple[UUID, str], Decimal]:
    """What the open orders need, per (account, asset), by the market's ledger rules."""
    ledger = desk.state.markets[SYMBOL].settlement
    needs: defaultdict[tuple[UUID, str], Decimal] = defaultdict(Decimal)
    for order in desk.market.book.live_orders():
        asset, need = ledger.need(order.side, order.price, order.open)
        needs[UUID(order.account), asset] += need
    return needs


def assert_ledger_is_consistent(desk: Desk) -> None:
    """No negative balance; reserves equal open orders' needs; money only moves around."""
    needs = reserves_of_open_orders(desk)
    totals: defaultdict[str, Decimal] = defaultdict(Decimal)
    for account in desk.state.accounts.values():
        for asset in account.assets():
            available, reserved = account.available(asset), account.reserved(asset)
            assert available >= 0 and reserved >= 0, (account.handle, asset)
            assert reserved == needs.pop((account.id, asset), ZERO), (account.handle, asset)
            totals[asset] += available + reserved
    assert not any(needs.values())
    assert dict(totals) == {asset: amount for asset, amount in desk.net.items() if amount}


def market_events(events: list[Any]) -> list[Any]:
    """The market events among `events`."""
    return [e for e in events if isinstance(e, Market.BookChanged)]


def ledger_entries(events: list[Any], account: UUID) -> list[list[str]]:
    """The ledger entries `account` stored among `events`."""
    return [
        entry
        for e in events
        if isinstance(e, Account.LedgerPosted) and e.originator_id == account
        for entry in e.entries
    ]


# ====================================================================== InvalidCommand


def _place(**changes: Any) -> PlaceOrder:
    data: dict[str, Any] = {
        "command_id": "new",
        "actor": ALICE,
        "market": SYMBOL,
        "side": "buy",
        "price": "100",
        "quantity": "1",
    }
    return PlaceOrder.model_validate({**data, **changes})


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (_place(market="ETH-USD"), "unknown_market"),
        (HaltMarket(command_id="h", actor=ROOT, market="ETH-USD"), "unknown_market"),
        (Uncross(command_id="u", actor=SYSTEM_ACTOR, market="ETH-USD"), "unknown_market"),
        (_place(price="100.005"), "price_not_on_tick"),
        (_place(price="99.99", stop_price="99.995"), "price_not_on_tick"),
        (_place(quantity="0.005"), "qty_not_on_lot"),
        (_place(quantity="1.001", side="sell", actor=BOB), "qty_not_on_lot"),
        (_place(command_id="bid", price="98"), "duplicate_order"),  # alice's bid is live
        (VerifyKyc(command_id="k", actor=ROOT, account=GHOST, level=1), "unknown_account"),
        (GrantRole(command_id="g", actor=ROOT, account=GHOST, role="admin"), "unknown_account"),
        (
            Deposit(command_id="d", actor=ROOT, account=GHOST, asset=USD, amount=Decimal(1)),
            "unknown_account",
        ),
        (CancelOrder(command_id="c", actor=ALICE, order_id="no-such-order"), "unknown_order"),
        (
            AmendOrder(command_id="a", actor=ALICE, order_id="no-such-order", price=Decimal(100)),
            "unknown_order",
        ),
        (
            AmendOrder(command_id="a", actor=ALICE, order_id=BID, price=Decimal("99.001")),
            "price_not_on_tick",
        ),
        (
            AmendOrder(command_id="a", actor=ALICE, order_id=BID, quantity=Decimal("0.999")),
            "qty_not_on_lot",
        ),
        # Numbers are bounded before anything is stored (issue 10: 2**63 ticks poisoned the
        # read models, above 2**64 the event encoder).
        (_place(price="92233720368547758.08"), "price_out_of_range"),  # 2**63 ticks
        (_place(price="184467440737095516.17"), "price_out_of_range"),  # 2**64 + 1 ticks
        (_place(price="10000000000000.01"), "price_out_of_range"),  # MAX_PRICE_TICKS + 1
        (_place(price="99", stop_price="92233720368547758.08"), "price_out_of_range"),
        (_place(quantity="10000000000000.01"), "quantity_out_of_range"),  # MAX_LOTS + 1
        (_place(quantity="1000000000000000000"), "quantity_out_of_range"),
        (_place(price="1000000000", quantity="1000000.01"), "notional_out_of_range"),
        (
            AmendOrder(
                command_id="a", actor=ALICE, order_id=BID, price=Decimal("92233720368547758.08")
            ),
            "price_out_of_range",
        ),
        (
            AmendOrder(
                command_id="a", actor=ALICE, order_id=BID, quantity=Decimal("10000000000000.01")
            ),
            "quantity_out_of_range",
        ),
        (
            AmendOrder(command_id="a", actor=ALICE, order_id=BID, quantity=Decimal(2 * 10**12)),
            "notional_out_of_range",  # 9,900 ticks x 2 * 10**14 lots
        ),
        (
            Deposit(
                command_id="d", actor=ROOT, account=ALICE, asset=USD, amount=Decimal(10**15 + 1)
            ),
            "amount_out_of_range",
        ),
        (
            Deposit(command_id="d", actor=ROOT, account=ALICE, asset="ZZZ", amount=Decimal(1)),
            "unknown_asset",
        ),
        (
            Withdraw(command_id="w", actor=ALICE, asset=USD, amount=Decimal("1e15") + 1),
            "amount_out_of_range",
        ),
        # Someone else's live order answers exactly as an unknown one does.
        (CancelOrder(command_id="c", actor=ALICE, order_id=ASK), "unknown_order"),
        (
            AmendOrder(command_id="a", actor=ALICE, order_id=ASK, price=Decimal(102)),
            "unknown_order",
        ),
    ],
)
def test_a_command_invalid_for_the_state_raises_and_changes_nothing(
    desk: Desk, command: Command, code: str
) -> None:
    assert_leaves_no_trace(desk, command, InvalidCommand, code)


def test_a_deposit_beyond_the_balance_limit_is_refused_and_changes_nothing() -> None:
    desk = trading_desk()
    for i in range(1000):  # 1,000 deposits of 10**15 reach MAX_BALANCE exactly
        amount = Decimal(10**15) - (Decimal(10000) if i == 0 else 0)  # alice holds 10,000
        desk.run(Deposit(command_id=f"d{i}", actor=ROOT, account=ALICE, asset=USD, amount=amount))
    assert desk.balance(ALICE, USD) == (Decimal(10**18), ZERO)
    too_much = Deposit(
        command_id="over", actor=ROOT, account=ALICE, asset=USD, amount=Decimal("1e-18")
    )

    assert_leaves_no_trace(desk, too_much, InvalidCommand, "balance_limit")


def test_a_deposit_counts_reserved_funds_towards_the_balance_limit(desk: Desk) -> None:
    # alice's bid reserves 99.198 USD of her 10,000: her total is still 10,000
    desk.run(
        Deposit(
            command_id="d",
            actor=ROOT,
            account=ALICE,
            asset=USD,
            amount=Decimal(10**15),
        )
    )
    available, reserved = desk.balance(ALICE, USD)
    assert reserved > 0 and available + reserved == Decimal(10**15) + 10000


def test_a_market_buy_is_protected_at_most_at_the_maximum_price() -> None:
    desk = trading_desk(max_price=Decimal("105"))
    desk.order(BOB, "sell", "101", "1", command_id="ask")

    outcome = desk.order(ALICE, "buy", None, "1")  # reference 100 + collar 10 > 105

    assert outcome.accepted
    (accepted,) = [r for r in outcome.records if r[0] == ACCEPTED]
    assert accepted[7] == 10_500  # reserved at the market's maximum price
    assert_ledger_is_consistent(desk)


def test_cancelling_a_filled_order_is_an_unknown_order(desk: Desk) -> None:
    desk.order(CAROL, "buy", "101", "1")  # fills bob's ask

    command = CancelOrder(command_id="c", actor=BOB, order_id=ASK)

    assert_leaves_no_trace(desk, command, InvalidCommand, "unknown_order")


@pytest.mark.parametrize(
    "spec",
    [
        {"min_qty": Decimal("0.015")},  # not a whole number of lots
        {"max_qty": Decimal("1"), "min_qty": Decimal("2")},
        {"reference_price": Decimal("100.005")},  # off the tick
        {"reference_price": Decimal(10**14)},  # 10**16 ticks: beyond the price cap
        {"max_price": Decimal("100.001")},  # off the tick
        {"min_qty": Decimal(10**14)},  # 10**16 lots: beyond the quantity cap
        {"tick_size": Decimal(10**7)},  # sizes lie in [1e-18, 1e6]
        {"lot_size": Decimal("1000000.01")},
    ],
)
def test_listing_an_invalid_market_spec_raises_and_changes_nothing(
    desk: Desk, spec: dict[str, Any]
) -> None:
    command = ListMarket(
        command_id="l",
        actor=ROOT,
        symbol="ETH-USD",
        **{"tick_size": Decimal("0.01"), "lot_size": Decimal("0.01"), **spec},
    )

    assert_leaves_no_trace(desk, command, InvalidCommand, "invalid_market_spec")


def test_listing_a_market_of_one_asset_against_itself_is_invalid(desk: Desk) -> None:
    command = ListMarket(
        command_id="l",
        actor=ROOT,
        symbol="BTC-BTC",
        tick_size=Decimal("0.01"),
        lot_size=Decimal("0.01"),
    )

    assert_leaves_no_trace(desk, command, InvalidCommand, "invalid_market_spec")


# ====================================================================== Refused


_AS_ALICE: list[Command] = [
    ListMarket(
        command_id="l",
        actor=ALICE,
        symbol="ETH-USD",
        tick_size=Decimal("0.01"),
        lot_size=Decimal("0.01"),
    ),
    HaltMarket(command_id="h", actor=ALICE, market=SYMBOL),
    ResumeMarket(command_id="r", actor=ALICE, market=SYMBOL),
    StartAuction(command_id="s", actor=ALICE, market=SYMBOL),
    Uncross(command_id="u", actor=ALICE, market=SYMBOL),
    VerifyKyc(command_id="k", actor=ALICE, account=ALICE, level=3),
    GrantRole(command_id="g", actor=ALICE, account=ALICE, role="admin"),
    Deposit(command_id="d", actor=ALICE, account=BOB, asset=USD, amount=Decimal(1)),
]


@pytest.mark.parametrize("command", _AS_ALICE, ids=lambda c: type(c).__name__)
def test_admin_commands_by_a_trader_are_not_authorized(desk: Desk, command: Command) -> None:
    assert_leaves_no_trace(desk, command, Refused, "not_authorized")


@pytest.mark.parametrize(
    "command",
    [
        _place(actor=GHOST),
        Withdraw(command_id="w", actor=GHOST, asset=USD, amount=Decimal(1)),
        Deposit(command_id="d", actor=GHOST, account=ALICE, asset=USD, amount=Decimal(1)),
        HaltMarket(command_id="h", actor=GHOST, market=SYMBOL),
        CancelOrder(command_id="c", actor=GHOST, order_id=ASK),
    ],
    ids=lambda c: type(c).__name__,
)
def test_commands_by_an_unknown_account_are_refused(desk: Desk, command: Command) -> None:
    assert_leaves_no_trace(desk, command, Refused, "unknown_actor")


@pytest.mark.parametrize(
    "command",
    [
        _place(actor=SYSTEM_ACTOR),
        Withdraw(command_id="w", actor=SYSTEM_ACTOR, asset=USD, amount=Decimal(1)),
    ],
    ids=lambda c: type(c).__name__,
)
def test_the_system_actor_neither_trades_nor_withdraws(desk: Desk, command: Command) -> None:
    assert_leaves_no_trace(desk, command, Refused, "not_authorized")


def test_a_compliance_analyst_cannot_trade(desk: Desk) -> None:
    analyst = open_system_account(desk.state, "analyst", [COMPLIANCE], "open", desk.ts)
    analyst.verify_kyc(3, ROOT, "kyc", desk.ts)
    analyst.deposit(USD, Decimal(1000), ROOT, "fund", desk.ts)

    for command in (
        _place(actor=analyst.id),
        CancelOrder(command_id="c", actor=analyst.id, order_id=ASK),
    ):
        assert_leaves_no_trace(desk, command, Refused, "not_authorized")


def test_without_demo_funding_traders_have_no_kyc_and_cannot_fund_themselves() -> None:
    desk = Desk(demo_funding=False)
    dave = desk.trader("dave")
    assert desk.state.accounts[dave].kyc_level == 0

    for command, code in [
        (
            Deposit(command_id="d", actor=dave, account=dave, asset=USD, amount=Decimal(1)),
            "not_authorized",
        ),
        (_place(actor=dave), "kyc_required"),
        (Withdraw(command_id="w", actor=dave, asset=USD, amount=Decimal(1)), "kyc_required"),
    ]:
        assert_leaves_no_trace(desk, command, Refused, code)


def test_with_demo_funding_a_trader_may_fund_only_its_own_account(desk: Desk) -> None:
    own = desk.run(
        Deposit(command_id="d", actor=ALICE, account=ALICE, asset=BTC, amount=Decimal("0.5"))
    )

    assert own.accepted
    assert desk.balance(ALICE, BTC) == (Decimal("0.5"), ZERO)


def test_a_taken_handle_is_refused_whatever_its_case(desk: Desk) -> None:
    assert_leaves_no_trace(
        desk, RegisterTrader(command_id="r", handle="ALICE"), Refused, "handle_taken"
    )


def test_the_fee_accounts_handle_is_taken_even_before_the_first_listing() -> None:
    state = State(demo_funding=True)

    with pytest.raises(Refused) as refused:
        HANDLERS[RegisterTrader](state, RegisterTrader(command_id="r", handle="Fees"), 1)

    assert refused.value.code == "handle_taken"
    assert state.accounts == {}


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (
            CreateAdmin(command_id="a", actor=ROOT, handle="boss", token_hash=TOKEN),
            "not_authorized",
        ),
        (
            CreateAdmin(command_id="a", actor=SYSTEM_ACTOR, handle="Root", token_hash=TOKEN),
            "handle_taken",
        ),
        (IssueToken(command_id="t", actor=ALICE, account=BOB, token_hash=TOKEN), "not_authorized"),
        (IssueToken(command_id="t", actor=GHOST, account=GHOST, token_hash=TOKEN), "unknown_actor"),
    ],
)
def test_admins_are_made_by_the_system_and_tokens_go_to_oneself_or_by_admins(
    desk: Desk, command: Command, code: str
) -> None:
    assert_leaves_no_trace(desk, command, Refused, code)


def test_a_token_for_an_unknown_account_is_invalid(desk: Desk) -> None:
    command = IssueToken(command_id="t", actor=ROOT, account=GHOST, token_hash=TOKEN)

    assert_leaves_no_trace(desk, command, InvalidCommand, "unknown_account")


def test_the_system_creates_admins_and_tokens_are_stored_as_hashes(desk: Desk) -> None:
    created = desk.run(
        CreateAdmin(command_id="a", actor=SYSTEM_ACTOR, handle="boss", token_hash=TOKEN)
    )
    boss = created.account_id
    assert boss == account_id("boss")
    assert desk.state.accounts[boss].roles == ["admin"]
    assert desk.run(
        IssueToken(command_id="t", actor=ALICE, account=ALICE, token_hash="cd" * 32)
    ).accepted
    assert desk.run(
        IssueToken(command_id="t", actor=boss, account=BOB, token_hash="ef" * 32)
    ).accepted

    tokens = {
        (e.originator_id, e.token_hash, e.by)
        for e in desk.settle()
        if isinstance(e, Account.TokenIssued)
    }
    assert tokens == {
        (boss, TOKEN, str(SYSTEM_ACTOR)),
        (ALICE, "cd" * 32, str(ALICE)),
        (BOB, "ef" * 32, str(boss)),
    }
    assert desk.run(HaltMarket(command_id="h", actor=boss, market=SYMBOL)).accepted


def test_listing_a_market_twice_is_refused(desk: Desk) -> None:
    command = ListMarket(
        command_id="l2", actor=ROOT, symbol=SYMBOL, tick_size=Decimal(1), lot_size=Decimal(1)
    )

    assert_leaves_no_trace(desk, command, Refused, "market_exists")


@pytest.mark.parametrize(
    "market",
    [{"reference_price": None}, {"collar_ticks": None}],
    ids=["no-reference-price", "no-collar"],
)
def test_a_market_buy_without_reference_price_or_collar_is_refused(
    market: dict[str, Any],
) -> None:
    desk = trading_desk(**market)

    command = _place(type="market", price=None)

    assert_leaves_no_trace(desk, command, Refused, "no_reference_price")


# ====================================================================== refusals stored


def assert_stored_refusal(
    desk: Desk, outcome: Outcome, event: type[Market.BookChanged], reason: str
) -> None:
    """The market refused the command: one `event` whose last record is the refusal."""
    assert (outcome.accepted, outcome.code) == (False, reason)
    events = desk.settle()
    (stored,) = market_events(events)
    assert type(stored) is event
    assert stored.records[-1][0] == REJECTED
    assert stored.records[-1][6] == reason
    assert not any(isinstance(e, Account.LedgerPosted) for e in events)  # nothing reserved


def test_a_buy_beyond_the_available_funds_is_stored_as_rejected_and_reserves_nothing() -> None:
    desk = trading_desk()
    dave = desk.trader("dave", USD="100.19")
    desk.settle()

    outcome = desk.order(dave, "buy", "100", "1")  # needs 100.20

    assert_stored_refusal(desk, outcome, Market.OrderRejected, "insufficient_funds")
    assert desk.balance(dave, USD) == (Decimal("100.19"), ZERO)
    assert desk.market.live_orders == {}


def test_a_buy_that_needs_exactly_the_available_funds_is_accepted() -> None:
    desk = trading_desk()
    dave = desk.trader("dave", USD="100.20")

    assert desk.order(dave, "buy", "100", "1").accepted

    assert desk.balance(dave, USD) == (ZERO, Decimal("100.20"))


def test_a_sell_beyond_the_available_base_is_stored_as_rejected(desk: Desk) -> None:
    dave = desk.trader("dave", BTC="0.5")
    desk.settle()

    outcome = desk.order(dave, "sell", "101", "0.51")

    assert_stored_refusal(desk, outcome, Market.OrderRejected, "insufficient_funds")
    assert desk.balance(dave, BTC) == (Decimal("0.5"), ZERO)


@pytest.mark.parametrize(
    ("price", "quantity"),
    [(Decimal("100.01"), None), (None, Decimal("1.02"))],
    ids=["higher-price", "more-lots"],
)
def test_an_amend_that_needs_more_than_the_available_funds_is_stored_as_rejected(
    price: Decimal | None, quantity: Decimal | None
) -> None:
    desk = trading_desk()
    dave = desk.trader("dave", USD="100.20")
    desk.order(dave, "buy", "99", "1", command_id="bid")  # reserves 99.20, leaves 1.00
    desk.settle()
    book = desk.market.book.snapshot()

    outcome = desk.run(
        AmendOrder(
            command_id="a",
            actor=dave,
            order_id=order_id(dave, "bid"),
            price=price,
            quantity=quantity,
        )
    )

    assert_stored_refusal(desk, outcome, Market.RequestRejected, "insufficient_funds")
    assert desk.balance(dave, USD) == (Decimal("1.00"), Decimal("99.20"))
    assert desk.market.book.snapshot()["resting"] == book["resting"]


def test_an_amend_that_needs_exactly_the_available_funds_is_accepted() -> None:
    desk = trading_desk()
    dave = desk.trader("dave", USD="100.20")
    desk.order(dave, "buy", "99", "1", command_id="bid")

    outcome = desk.run(
        AmendOrder(command_id="a", actor=dave, order_id=order_id(dave, "bid"), price=Decimal("100"))
    )

    assert outcome.accepted
    assert desk.balance(dave, USD) == (ZERO, Decimal("100.20"))


def test_orders_on_a_halted_market_are_stored_as_rejected_until_it_resumes(desk: Desk) -> None:
    assert desk.run(HaltMarket(command_id="h", actor=ROOT, market=SYMBOL)).accepted
    desk.settle()

    refused = desk.order(CAROL, "buy", "101", "1")
    assert_stored_refusal(desk, refused, Market.OrderRejected, "halted")
    amend = desk.run(AmendOrder(command_id="a", actor=ALICE, order_id=BID, price=Decimal(98)))
    assert_stored_refusal(desk, amend, Market.RequestRejected, "halted")
    assert desk.run(CancelOrder(command_id="c", actor=ALICE, order_id=BID)).accepted  # allowed

    assert desk.run(ResumeMarket(command_id="r", actor=ROOT, market=SYMBOL)).accepted
    assert desk.order(CAROL, "buy", "101", "1").accepted
    assert_ledger_is_consistent(desk)


def test_a_post_only_order_that_would_take_is_stored_as_rejected(desk: Desk) -> None:
    outcome = desk.order(CAROL, "buy", "101", "0.5", post_only=True)

    assert_stored_refusal(desk, outcome, Market.OrderRejected, "post_only_would_take")
    assert desk.balance(CAROL, USD) == (Decimal("10000"), ZERO)


def test_an_order_outside_the_collar_is_stored_as_rejected(desk: Desk) -> None:
    outcome = desk.order(CAROL, "buy", "110.01", "1")

    assert_stored_refusal(desk, outcome, Market.OrderRejected, "price_outside_collar")


@pytest.mark.parametrize("kind", ["cancel", "amend"])
def test_touching_another_traders_order_answers_as_for_an_unknown_order(
    desk: Desk, kind: str
) -> None:
    def command(order: str) -> Command:
        if kind == "cancel":
            return CancelOrder(command_id="c", actor=ALICE, order_id=order)
        return AmendOrder(command_id="a", actor=ALICE, order_id=order, price=Decimal(102))

    other = f"{ASK[:-4]}ffff" if not ASK.endswith("ffff") else f"{ASK[:-4]}0000"
    answers = []
    for order in (ASK, other):  # bob's live ask, and an id of the same shape that is no order
        with pytest.raises(InvalidCommand) as raised:
            desk.run(command(order))
        answers.append((raised.value.code, raised.value.message.replace(order, "<id>")))

    assert answers[0] == answers[1] == ("unknown_order", "no live order <id>")
    assert desk.market.book.order(ASK) is not None  # bob's ask is untouched
    assert desk.settle() == []
    assert desk.market.book.order(ASK) is not None
    assert desk.balance(BOB, BTC) == (Decimal("99"), Decimal("1"))


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (ResumeMarket(command_id="r", actor=ROOT, market=SYMBOL), "not_halted"),
        (Uncross(command_id="u", actor=ROOT, market=SYMBOL), "not_in_auction"),
    ],
)
def test_a_market_control_that_does_not_apply_is_stored_as_rejected(
    desk: Desk, command: Command, reason: str
) -> None:
    outcome = desk.run(command)

    assert_stored_refusal(desk, outcome, Market.RequestRejected, reason)


def test_a_withdrawal_beyond_the_balance_is_stored_as_refused_and_changes_nothing(
    desk: Desk,
) -> None:
    outcome = desk.run(Withdraw(command_id="w", actor=ALICE, asset=USD, amount=Decimal("9900.81")))

    assert (outcome.accepted, outcome.code, outcome.account_id) == (
        False,
        "insufficient_funds",
        ALICE,
    )
    (event,) = desk.settle()
    assert isinstance(event, Account.WithdrawalRefused)
    assert (event.amount, event.reason) == (Decimal("9900.81"), "insufficient_funds")
    assert desk.balance(ALICE, USD) == (Decimal("9900.80"), Decimal("99.20"))  # 99.20 reserved


def test_a_withdrawal_within_the_available_balance_debits_it(desk: Desk) -> None:
    outcome = desk.run(Withdraw(command_id="w", actor=ALICE, asset=USD, amount=Decimal("9900.80")))

    assert outcome.accepted
    assert desk.balance(ALICE, USD) == (ZERO, Decimal("99.20"))
    assert_ledger_is_consistent(desk)


# ====================================================================== accounts, admin


def test_demo_registration_verifies_kyc_and_the_first_listing_opens_the_fee_account() -> None:
    desk = trading_desk()

    assert desk.state.accounts[ALICE].state() == {
        "handle": "alice",
        "kyc_level": 1,
        "roles": ["trader"],
        "balances": {USD: [Decimal("10000"), ZERO]},
        "tokens": {},
    }
    fees = desk.state.accounts[FEES]
    assert (fees.handle, fees.roles, fees.kyc_level) == (FEE_ACCOUNT_HANDLE, [], 0)


def test_an_admin_verifies_kyc_grants_roles_and_credits_other_accounts(desk: Desk) -> None:
    assert desk.run(VerifyKyc(command_id="k", actor=ROOT, account=BOB, level=3)).accepted
    assert desk.run(GrantRole(command_id="g", actor=ROOT, account=BOB, role="merchant")).accepted
    credit = Deposit(command_id="d", actor=ROOT, account=BOB, asset=USD, amount=Decimal(5))
    assert desk.run(credit).account_id == BOB

    bob = desk.state.accounts[BOB]
    assert (bob.kyc_level, bob.roles, bob.available(USD)) == (3, ["merchant", "trader"], Decimal(5))
    kinds = [type(e) for e in desk.settle()]
    assert kinds == [Account.KycVerified, Account.RoleGranted, Account.FundsDeposited]


def test_an_admin_runs_halts_and_auctions(desk: Desk) -> None:
    for command, event in [
        (HaltMarket(command_id="h", actor=ROOT, market=SYMBOL), Market.Halted),
        (ResumeMarket(command_id="r", actor=ROOT, market=SYMBOL), Market.Resumed),
        (StartAuction(command_id="s", actor=ROOT, market=SYMBOL), Market.AuctionStarted),
        (Uncross(command_id="u", actor=ROOT, market=SYMBOL), Market.AuctionUncrossed),
    ]:
        assert desk.run(command).accepted
        assert [type(e) for e in desk.settle()] == [event]


# ====================================================================== reserves, trades


def test_placing_reserves_exactly_what_the_order_needs(desk: Desk) -> None:
    outcome = desk.order(CAROL, "buy", "99.50", "2", command_id="b")

    assert (outcome.accepted, outcome.order_id) == (True, order_id(CAROL, "b"))
    # per lot of 0.01 BTC: 0.99699 rounded up to 0.9970
    assert desk.balance(CAROL, USD) == (Decimal("9800.60"), Decimal("199.40"))
    events = desk.settle()
    assert [type(e) for e in market_events(events)] == [Market.OrderAccepted]
    ((kind, market, reference, asset, available, reserved),) = ledger_entries(events, CAROL)
    assert (kind, market, reference, asset) == ("reserve", SYMBOL, order_id(CAROL, "b"), USD)
    assert (Decimal(available), Decimal(reserved)) == (Decimal("-199.40"), Decimal("199.40"))
    assert_ledger_is_consistent(desk)


def test_cancelling_releases_exactly_what_was_reserved(desk: Desk) -> None:
    outcome = desk.run(CancelOrder(command_id="c", actor=ALICE, order_id=BID))

    assert outcome.accepted
    assert desk.balance(ALICE, USD) == (Decimal("10000"), ZERO)
    assert desk.market.live_orders == {ASK: (str(BOB), "sell", 10_100)}
    assert [type(e) for e in market_events(desk.settle())] == [Market.OrderCancelled]


@pytest.mark.parametrize(
    ("price", "quantity", "reserved"),
    [
        (Decimal(100), None, Decimal("100.20")),  # up
        (Decimal(95), None, Decimal("95.19")),  # down
        (None, Decimal("0.4"), Decimal("39.68")),  # fewer lots, same price
        (Decimal("98.50"), Decimal(3), Decimal("296.10")),  # both
    ],
)
def test_amending_re_reserves_for_the_new_price_and_quantity(
    desk: Desk, price: Decimal | None, quantity: Decimal | None, reserved: Decimal
) -> None:
    outcome = desk.run(
        AmendOrder(command_id="a", actor=ALICE, order_id=BID, price=price, quantity=quantity)
    )

    assert outcome.accepted
    assert [r[0] for r in outcome.records] == [AMENDED]
    assert desk.balance(ALICE, USD) == (Decimal(10_000) - reserved, reserved)
    assert_ledger_is_consistent(desk)


def test_a_trade_settles_both_sides_and_pays_the_fees_to_the_fee_account(desk: Desk) -> None:
    outcome = desk.order(CAROL, "buy", "101", "0.5")

    assert [r[0] for r in outcome.records] == [ACCEPTED, TRADE]
    # 0.5 BTC at 101.00 = 50.50; carol (taker) pays 0.1010, bob (maker) 0.0505
    assert desk.balance(CAROL, USD) == (Decimal("9949.399"), ZERO)
    assert desk.balance(CAROL, BTC) == (Decimal("100.5"), ZERO)
    assert desk.balance(BOB, BTC) == (Decimal("99"), Decimal("0.5"))
    assert desk.balance(BOB, USD) == (Decimal("50.4495"), ZERO)
    assert desk.balance(FEES, USD) == (Decimal("0.1515"), ZERO)
    assert_ledger_is_consistent(desk)


def test_a_buyer_taking_below_its_limit_gets_the_unused_reserve_back(desk: Desk) -> None:
    outcome = desk.order(CAROL, "buy", "105", "1.5")  # 1 BTC fills at 101.00, 0.5 rests

    assert [r[0] for r in outcome.records] == [ACCEPTED, TRADE, "rested"]
    # paid 101.00 + 0.202 fee; 0.5 BTC at 105.00 reserves 52.605
    assert desk.balance(CAROL, USD) == (Decimal("9846.193"), Decimal("52.605"))
    assert_ledger_is_consistent(desk)


def test_a_market_buy_is_reserved_at_the_reference_price_plus_the_collar(desk: Desk) -> None:
    outcome = desk.order(CAROL, "buy", None, "2")  # 1 BTC at 101.00, then nothing to buy

    accepted = outcome.records[0]
    assert (accepted[0], accepted[7]) == (ACCEPTED, 11_000)  # 100.00 + 10.00
    assert outcome.records[-1][0] == CANCELLED
    entries = ledger_entries(desk.settle(), CAROL)
    assert entries[0][0] == "reserve"
    assert Decimal(entries[0][5]) == Decimal("220.44")  # 2 x 110.22
    assert desk.balance(CAROL, USD) == (Decimal("9898.798"), ZERO)  # paid 101.00 + 0.202
    assert_ledger_is_consistent(desk)


def test_a_market_buy_is_bounded_by_the_last_trade_price_once_there_is_one(desk: Desk) -> None:
    desk.order(BOB, "sell", "99", "0.5")  # trades with alice's bid: the reference is now 99.00

    outcome = desk.order(CAROL, "buy", None, "0.1")

    assert outcome.records[0][7] == 10_900


def test_a_market_buy_with_just_enough_funds_never_overdraws() -> None:
    desk = trading_desk()
    desk.order(BOB, "sell", "101", "1")
    desk.order(BOB, "sell", "110", "1")  # at the collar
    dave = desk.trader("dave", USD="220.44")  # 2 BTC at 110.22

    outcome = desk.order(dave, "buy", None, "2")

    assert outcome.accepted
    assert [r[3] for r in outcome.records if r[0] == TRADE] == [10_100, 11_000]
    assert desk.balance(dave, USD) == (Decimal("9.018"), ZERO)  # 211.00 + 0.422 fees paid
    assert desk.balance(dave, BTC) == (Decimal(2), ZERO)
    assert_ledger_is_consistent(desk)


def test_a_market_buy_beyond_its_funds_at_the_protection_price_is_rejected() -> None:
    desk = trading_desk()
    desk.order(BOB, "sell", "101", "1")
    dave = desk.trader("dave", USD="110.21")

    outcome = desk.order(dave, "buy", None, "1")  # would cost 101.20, but needs 110.22

    assert (outcome.accepted, outcome.code) == (False, "insufficient_funds")


def auction_with_an_ask_above_the_collar() -> tuple[Desk, UUID]:
    """An auction whose only ask (110.00) lies above the collar of the last price (99.00)."""
    desk = trading_desk()
    desk.order(CAROL, "sell", "110", "1")
    desk.order(ALICE, "buy", "99", "1")
    desk.order(BOB, "sell", "99", "1")  # the last price is 99.00: the collar ends at 109.00
    desk.run(StartAuction(command_id="s", actor=ROOT, market=SYMBOL))
    return desk, desk.trader("dave", USD="110.22")


def test_a_market_buy_queued_for_an_auction_never_pays_above_its_protection_price() -> None:
    desk, dave = auction_with_an_ask_above_the_collar()

    queued = desk.order(dave, "buy", None, "1")

    assert queued.accepted
    assert desk.balance(dave, USD) == (Decimal("1.00"), Decimal("109.22"))  # 109.00 + 0.2%
    uncrossed = desk.run(Uncross(command_id="u", actor=ROOT, market=SYMBOL))
    assert [r for r in uncrossed.records if r[0] == TRADE] == []  # the only ask is at 110.00
    assert [(r[3], r[6]) for r in uncrossed.records if r[0] == "cancelled"] == [
        (queued.order_id, "auction_unmatched")
    ]
    assert desk.balance(dave, USD) == (Decimal("110.22"), ZERO)
    assert_ledger_is_consistent(desk)


def test_a_market_buy_in_an_auction_without_funds_for_its_protection_price_is_rejected() -> None:
    desk, _ = auction_with_an_ask_above_the_collar()
    erin = desk.trader("erin", USD="109.21")

    outcome = desk.order(erin, "buy", None, "1")

    assert (outcome.accepted, outcome.code) == (False, "insufficient_funds")


def test_money_only_moves_between_accounts_over_a_trading_session(desk: Desk) -> None:
    dave = desk.trader("dave", USD="500", BTC="3")
    steps: list[Command] = [
        _place(command_id="1", actor=CAROL, price="100.50", quantity="2"),
        _place(command_id="2", actor=dave, side="sell", price="99", quantity="2.5"),
        AmendOrder(command_id="3", actor=ALICE, order_id=BID, price=Decimal("99.5")),
        _place(command_id="4", actor=ALICE, price="101", quantity="1", stop_price="100"),
        _place(command_id="5", actor=dave, type="market", price=None, quantity="0.7"),
        _place(command_id="6", actor=CAROL, side="sell", type="market", price=None, quantity="1.2"),
        _place(
            command_id="7", actor=BOB, side="sell", price="98", quantity="3", time_in_force="IOC"
        ),
        Withdraw(command_id="8", actor=dave, asset=USD, amount=Decimal("100")),
        _place(command_id="9", actor=BOB, side="sell", price="102", quantity="1"),
        CancelOrder(command_id="10", actor=BOB, order_id=order_id(BOB, "9")),
        _place(command_id="11", actor=CAROL, side="sell", price="100", quantity="2"),
        _place(command_id="12", actor=dave, price="100.50", quantity="1"),
        Withdraw(command_id="13", actor=BOB, asset=USD, amount=Decimal("50")),
    ]

    for step in steps:
        desk.run(step)
        assert_ledger_is_consistent(desk)

    assert dict(desk.net) == {USD: Decimal(20_350), BTC: Decimal(203)}
    trades = [r for m in market_events(desk.settle()) for r in m.records if r[0] == TRADE]
    assert len(trades) == 7
    fees = sum(
        (Decimal("0.0001") * (t[3] * t[4] * 20 // 10_000 + t[3] * t[4] * 10 // 10_000))
        for t in trades
    )
    assert desk.balance(FEES, USD) == (fees, ZERO)


DAVE = account_id("dave")  # in the property below: little money, so reserves run out
_traders = st.sampled_from([ALICE, BOB, CAROL, DAVE, DAVE])
_steps = st.lists(
    st.tuples(
        _traders,
        st.sampled_from(
            ["limit", "market", "ioc", "cancel", "amend", "withdraw", "auction", "uncross"]
        ),
        st.sampled_from(["buy", "sell"]),
        st.integers(min_value=-1_000, max_value=1_000),  # ticks from 100.00
        st.integers(min_value=1, max_value=300),  # lots
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(steps=_steps)
def test_no_sequence_of_commands_breaks_the_ledger(
    steps: list[tuple[UUID, str, str, int, int]],
) -> None:
    desk = trading_desk()
    desk.trader("dave", USD="150", BTC="1.5")
    for trader, kind, side, ticks, lots in steps:
        price = Decimal(10_000 + ticks) / 100
        quantity = Decimal(lots) / 100
        own = sorted(o.id for o in desk.market.book.resting_orders() if o.account == str(trader))
        command: Command
        if kind in ("cancel", "amend") and not own:
            continue
        if kind == "cancel":
            command = CancelOrder(command_id=str(desk.ts), actor=trader, order_id=own[0])
        elif kind == "amend":
            command = AmendOrder(
                command_id=str(desk.ts),
                actor=trader,
                order_id=own[-1],
                price=price,
                quantity=quantity,
            )
        elif kind == "auction":
            command = StartAuction(command_id=str(desk.ts), actor=ROOT, market=SYMBOL)
        elif kind == "uncross":
            command = Uncross(command_id=str(desk.ts), actor=ROOT, market=SYMBOL)
        elif kind == "withdraw":
            command = Withdraw(
                command_id=str(desk.ts), actor=trader, asset=USD, amount=quantity * 10
            )
        else:
            command = _place(
                command_id=str(desk.ts),
                actor=trader,
                side=side,
                type="market" if kind == "market" else "limit",
                price=None if kind == "market" else price,
                quantity=quantity,
                time_in_force="IOC" if kind == "ioc" else "GTC",
            )
        desk.run(command)
        assert_ledger_is_consistent(desk)
