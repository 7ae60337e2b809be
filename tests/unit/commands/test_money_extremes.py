"""Money is conserved exactly at the extremes of every allowed range (issue 10, point 4).

Hypothesis lists one market with extreme tick and lot sizes (1e-18 to 1e6, up to 18 decimal
places, 24 significant digits) and fees up to 10%, then runs deposits and withdrawals near
MAX_AMOUNT with 18 decimal places, orders priced near the price cap and sized near the
quantity cap (the notional cap refuses what goes beyond), and cancels. After every step, per
asset, the balances of all accounts (the fee account included) sum to deposits minus
withdrawals to the last digit, no balance is negative, and each reserve is what the open
orders need. Finally every account rebuilt from its stored events equals the live one.
Everything runs in the writer's exact decimal context (conftest): a rounding would raise.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from socialtrading.commands.models import (
    CancelOrder,
    Command,
    Deposit,
    ListMarket,
    PlaceOrder,
    RegisterTrader,
    Withdraw,
)
from socialtrading.commands.registry import HANDLERS
from socialtrading.commands.state import State
from socialtrading.domain.account import Account
from socialtrading.domain.errors import DomainError
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id
from socialtrading.domain.money import MAX_AMOUNT
from socialtrading.engine.records import TRADE
from socialtrading.engine.spec import MAX_LOTS, MAX_NOTIONAL_UNITS, MAX_PRICE_TICKS

BASE, QUOTE = "AAA", "BBB"
SYMBOL = f"{BASE}-{QUOTE}"
TRADERS = ("alice", "bob", "carol")
UNITS = st.sampled_from(
    [
        "1e-18",
        "0.000000000000000007",
        "0.01",
        "1",
        "123.456789012345678",
        "999999.999999999999999999",
        "1000000",
    ]
).map(Decimal)
AMOUNTS = st.one_of(
    st.integers(0, 10**6).map(lambda k: MAX_AMOUNT - Decimal(k).scaleb(-18)),
    st.integers(1, 10**6).map(lambda k: Decimal(k).scaleb(-18)),
    st.decimals(Decimal("1e-18"), MAX_AMOUNT, places=18),
)
FUNDS = st.one_of(  # a trader's first deposits: mostly near the maximum
    st.integers(0, 10**6).map(lambda k: MAX_AMOUNT - Decimal(k).scaleb(-18)),
    st.decimals(Decimal(1), MAX_AMOUNT, places=18),
)
TICKS = st.one_of(  # the centre of an example's prices: orders cluster around it and cross
    st.sampled_from([1, 2, MAX_PRICE_TICKS - 1, MAX_PRICE_TICKS]),
    st.integers(1, MAX_PRICE_TICKS),
)
LOTS = st.one_of(
    st.sampled_from([1, MAX_LOTS, MAX_NOTIONAL_UNITS // MAX_PRICE_TICKS]),
    st.integers(1, MAX_LOTS),
)
_ORDERS = st.tuples(
    st.just("order"),
    st.sampled_from(TRADERS),
    st.sampled_from(["buy", "sell"]),
    st.integers(-2, 2),  # ticks from the example's centre price
    st.sampled_from([1, 2, 3, 1000]),  # a share of what the trader can afford
    LOTS,  # or, when the share comes to nothing, a size drawn at the extremes
)
STEPS = st.lists(
    st.one_of(
        _ORDERS,
        _ORDERS,
        _ORDERS,
        st.tuples(
            st.just("deposit"), st.sampled_from(TRADERS), st.sampled_from([BASE, QUOTE]), AMOUNTS
        ),
        st.tuples(
            st.just("withdraw"), st.sampled_from(TRADERS), st.sampled_from([BASE, QUOTE]), AMOUNTS
        ),
        st.tuples(st.just("cancel"), st.sampled_from(TRADERS), st.integers(0, 5)),
    ),
    min_size=10,
    max_size=40,
)


class Exchange:
    """The writer's state driven by hand, keeping every event each account stored."""

    def __init__(self, tick: Decimal, lot: Decimal, maker_bps: int, taker_bps: int) -> None:
        self.state = State(demo_funding=True)
        self.ts = 0
        self.net: defaultdict[str, Decimal] = defaultdict(Decimal)
        self.events: defaultdict[UUID, list[Any]] = defaultdict(list)
        self.run(
            ListMarket(
                command_id="list",
                actor=SYSTEM_ACTOR,
                symbol=SYMBOL,
                tick_size=tick,
                lot_size=lot,
                maker_fee_bps=maker_bps,
                taker_fee_bps=taker_bps,
            )
        )
        for handle in TRADERS:
            self.run(RegisterTrader(command_id="r", handle=handle))

    def run(self, command: Command) -> bool:
        """Apply a command as the writer does (a batch of one); whether it was accepted."""
        self.ts += 1
        try:
            outcome = HANDLERS[type(command)](self.state, command, self.ts)
        except DomainError as error:
            event(f"{type(command).__name__} refused: {error.code}")
            accepted = False
        else:
            accepted = outcome.accepted
            event(f"{type(command).__name__} {'accepted' if accepted else outcome.code}")
            if any(record[0] == TRADE for record in outcome.records):
                event("traded")
            if accepted and isinstance(command, Deposit):
                self.net[command.asset] += command.amount
            if accepted and isinstance(command, Withdraw):
                self.net[command.asset] -= command.amount
        for aggregate in self.state.touched.values():
            if isinstance(aggregate, Account):
                aggregate.flush(self.ts)
                self.events[aggregate.id].extend(aggregate.collect_events())
            else:
                aggregate.collect_events()
        self.state.touched = {}
        return accepted

    def affordable(self, trader: UUID, side: str, ticks: int) -> int:
        """The most lots `trader` can fund on `side` at `ticks`."""
        account = self.state.accounts[trader]
        ledger = self.state.markets[SYMBOL].settlement
        if side == "buy":
            return int(account.available(QUOTE) // (ledger.quote_unit * ledger.per_lot(ticks)))
        return int(account.available(BASE) // ledger.base_unit)

    def check(self) -> None:
        market = self.state.markets[SYMBOL]
        ledger = self.state.markets[SYMBOL].settlement
        needs: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for order in market.book.live_orders():
            asset, need = ledger.need(order.side, order.price, order.open)
            needs[order.account, asset] += need
        totals: defaultdict[str, Decimal] = defaultdict(Decimal)
        for account in self.state.accounts.values():
            for asset in account.assets():
                available, reserved = account.available(asset), account.reserved(asset)
                assert available >= 0 and reserved >= 0
                assert reserved == needs.pop((str(account.id), asset), Decimal(0))
                totals[asset] += available + reserved
        assert not any(needs.values())
        assert {a: t for a, t in totals.items() if t} == {a: n for a, n in self.net.items() if n}


@settings(max_examples=300, deadline=None)
@given(
    tick=UNITS,
    lot=UNITS,
    maker_bps=st.sampled_from([0, 1, 7, 999, 1000]),
    taker_bps=st.sampled_from([0, 3, 1000]),
    funds=st.lists(st.tuples(FUNDS, FUNDS), min_size=3, max_size=3),
    centre=TICKS,
    steps=STEPS,
)
def test_every_asset_is_conserved_exactly_at_the_extremes(
    tick: Decimal,
    lot: Decimal,
    maker_bps: int,
    taker_bps: int,
    funds: list[tuple[Decimal, Decimal]],
    centre: int,
    steps: list[tuple[Any, ...]],
) -> None:
    exchange = Exchange(tick, lot, maker_bps, taker_bps)
    book = exchange.state.markets[SYMBOL].book
    # Around a price at which every trader can afford a lot, when there is one: else no trade.
    affordable = int(
        min(quote for _, quote in funds)
        // (exchange.state.markets[SYMBOL].settlement.quote_unit * 2)
    )
    centre = min(centre, max(affordable, 1), MAX_PRICE_TICKS)
    for handle, (base, quote) in zip(TRADERS, funds, strict=True):
        trader = account_id(handle)
        for asset, amount in ((BASE, base), (QUOTE, quote)):
            exchange.run(
                Deposit(command_id=asset, actor=trader, account=trader, asset=asset, amount=amount)
            )
    for n, step in enumerate(steps):
        kind, handle = step[0], step[1]
        trader = account_id(handle)
        if kind == "deposit":
            exchange.run(
                Deposit(
                    command_id=f"d{n}", actor=trader, account=trader, asset=step[2], amount=step[3]
                )
            )
        elif kind == "withdraw":
            exchange.run(Withdraw(command_id=f"w{n}", actor=trader, asset=step[2], amount=step[3]))
        elif kind == "order":
            _, _, side, offset, share, extreme = step
            ticks = min(max(centre + offset, 1), MAX_PRICE_TICKS)
            lots = exchange.affordable(trader, side, ticks) // share
            lots = min(lots, MAX_LOTS, MAX_NOTIONAL_UNITS // ticks) if lots else extreme
            try:
                command = PlaceOrder(
                    command_id=f"o{n}",
                    actor=trader,
                    market=SYMBOL,
                    side=side,
                    price=tick * ticks,
                    quantity=lot * lots,
                )
            except ValidationError:  # beyond what any Amount may be: refused at the edge
                continue
            exchange.run(command)
        else:
            live = [o.id for o in book.live_orders() if o.account == str(trader)]
            if live:
                order = live[step[2] % len(live)]
                exchange.run(CancelOrder(command_id=f"c{n}", actor=trader, order_id=order))
        exchange.check()
    for account_id_, events in exchange.events.items():
        rebuilt: Any = None
        for stored in events:
            rebuilt = stored.mutate(rebuilt)
        assert rebuilt.state() == exchange.state.accounts[account_id_].state()
