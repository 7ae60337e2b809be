"""A realistic command sequence for the read-model tests, and helpers to compare read models.

The sequence, on BTC-USD and ETH-USD: orders that rest, trade, partially fill and fill; IOC,
FOK and market remainders; user cancels; amends that keep priority and that re-queue (and
trade); an STP decrement; a GTD order that expires; a stop order that triggers; a halt with a
refused order; an auction with a queued market order and an uncross; deposits and
withdrawals (one refused).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, select

from socialtrading.commands.models import (
    AmendOrder,
    CancelOrder,
    Command,
    Deposit,
    HaltMarket,
    ListMarket,
    PlaceOrder,
    RegisterTrader,
    ResumeMarket,
    StartAuction,
    Uncross,
    Withdraw,
)
from socialtrading.commands.state import Outcome
from socialtrading.commands.writer import Writer
from socialtrading.domain.ids import SYSTEM_ACTOR
from socialtrading.domain.time import to_datetime
from socialtrading.engine.records import TRADE
from socialtrading.projections.base import metadata

START_US = 1_800_000_000_000_000  # 2027-01-15T08:00:00Z


class Clock:
    """The writer's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = START_US

    def __call__(self) -> int:
        self.now += 1_000  # every command a millisecond later
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1_000_000)


class Scenario:
    """Runs commands through a writer and remembers every outcome."""

    def __init__(self, writer: Writer, clock: Clock) -> None:
        self.writer = writer
        self.clock = clock
        self.outcomes: list[Outcome] = []
        self.accounts: dict[str, UUID] = {}
        self._count = 0

    def run(self, command: Command) -> Outcome:
        outcome = self.writer.execute(command)
        self.outcomes.append(outcome)
        return outcome

    def cid(self) -> str:
        self._count += 1
        return f"c{self._count}"

    def order(
        self, who: str, market: str, side: str, price: str | None, qty: str, **extra: Any
    ) -> Outcome:
        return self.run(
            PlaceOrder(
                command_id=self.cid(),
                actor=self.accounts[who],
                market=market,
                side=side,  # type: ignore[arg-type]
                type="limit" if price is not None else "market",
                price=None if price is None else Decimal(price),
                quantity=Decimal(qty),
                **extra,
            )
        )

    def trades(self) -> list[tuple[Any, ...]]:
        """Every trade record of every outcome, as (market, record)."""
        found = []
        for outcome in self.outcomes:
            for record in outcome.records:
                if record[0] == TRADE:
                    found.append((outcome.market, *record))
        return found

    @property
    def position(self) -> int:
        return max((o.position for o in self.outcomes), default=0)


def list_markets(scenario: Scenario) -> None:
    for symbol, reference, collar in (("BTC-USD", "100", 2_000), ("ETH-USD", "20", 500)):
        outcome = scenario.run(
            ListMarket(
                command_id=f"list-{symbol}",
                actor=SYSTEM_ACTOR,
                symbol=symbol,
                tick_size=Decimal("0.01"),
                lot_size=Decimal("0.001"),
                collar_ticks=collar,
                reference_price=Decimal(reference),
                maker_fee_bps=10,
                taker_fee_bps=20,
            )
        )
        assert outcome.accepted, outcome


def open_accounts(scenario: Scenario, handles: tuple[str, ...] = ("alice", "bob", "carol")) -> None:
    for handle in handles:
        outcome = scenario.run(RegisterTrader(command_id="register", handle=handle))
        assert outcome.account_id is not None
        scenario.accounts[handle] = outcome.account_id
        for asset, amount in (("USD", "100000"), ("BTC", "50"), ("ETH", "500")):
            account = outcome.account_id
            scenario.run(
                Deposit(
                    command_id=f"fund-{asset}",
                    actor=account,
                    account=account,
                    asset=asset,
                    amount=Decimal(amount),
                )
            )


def run_scenario(scenario: Scenario) -> dict[str, str]:
    """The whole sequence; returns order ids by a name the assertions use."""
    ids: dict[str, str] = {}

    def placed(name: str, outcome: Outcome) -> None:
        assert outcome.order_id is not None
        ids[name] = outcome.order_id

    list_markets(scenario)
    open_accounts(scenario)
    order = scenario.order
    # resting, then a partial fill of the maker and a full fill of the taker
    placed("bob_ask", order("bob", "BTC-USD", "sell", "100", "1.5"))
    placed("alice_buy", order("alice", "BTC-USD", "buy", "101", "1"))
    placed("carol_bid", order("carol", "BTC-USD", "buy", "99", "2"))
    placed("carol_bid2", order("carol", "BTC-USD", "buy", "98.5", "1"))
    # an amend that keeps priority, then one that re-queues and trades
    scenario.run(
        AmendOrder(
            command_id=scenario.cid(),
            actor=scenario.accounts["carol"],
            order_id=ids["carol_bid"],
            quantity=Decimal("1.2"),
        )
    )
    placed("alice_ask", order("alice", "BTC-USD", "sell", "102", "0.8"))
    scenario.run(
        AmendOrder(
            command_id=scenario.cid(),
            actor=scenario.accounts["alice"],
            order_id=ids["alice_ask"],
            price=Decimal("99"),
        )
    )
    # IOC partly filled, FOK unfilled, market sell sweeping the bids
    placed("bob_ioc", order("bob", "BTC-USD", "sell", "98", "2", time_in_force="IOC"))
    placed("carol_fok", order("carol", "BTC-USD", "sell", "90", "5", time_in_force="FOK"))
    placed("bob_bid", order("bob", "BTC-USD", "buy", "97", "3"))
    placed("alice_mkt", order("alice", "BTC-USD", "sell", None, "0.5"))
    # a user cancel
    placed("bob_bid_low", order("bob", "BTC-USD", "buy", "95", "1"))
    scenario.run(
        CancelOrder(
            command_id=scenario.cid(), actor=scenario.accounts["bob"], order_id=ids["bob_bid_low"]
        )
    )
    # STP decrement: bob sells into his own bid
    placed("bob_stp", order("bob", "BTC-USD", "sell", "97", "1", stp="decrement"))
    # a GTD order that expires
    expires = to_datetime(scenario.clock.now) + timedelta(seconds=5)
    placed(
        "carol_gtd",
        order("carol", "BTC-USD", "sell", "105", "0.3", time_in_force="GTD", expires_at=expires),
    )
    # a stop order that triggers later
    placed("alice_stop", order("alice", "BTC-USD", "buy", "106", "0.2", stop_price=Decimal("104")))
    scenario.clock.advance(10)
    placed("bob_ask2", order("bob", "BTC-USD", "sell", "104", "0.5"))  # expires carol_gtd
    # takes bob_ask's rest at 100 and part of bob_ask2 at 104, which triggers alice's stop
    placed("carol_take", order("carol", "BTC-USD", "buy", "104", "0.7"))
    # ETH-USD: a halt with a refused order, then an auction with a queued market order
    placed("eth_ask", order("bob", "ETH-USD", "sell", "20", "10"))
    placed("eth_bid", order("alice", "ETH-USD", "buy", "19.5", "4"))
    scenario.run(HaltMarket(command_id="halt-eth", actor=SYSTEM_ACTOR, market="ETH-USD"))
    placed("eth_halted", order("carol", "ETH-USD", "buy", "20", "1"))
    assert not scenario.outcomes[-1].accepted
    scenario.run(ResumeMarket(command_id="resume-eth", actor=SYSTEM_ACTOR, market="ETH-USD"))
    scenario.run(StartAuction(command_id="auction-eth", actor=SYSTEM_ACTOR, market="ETH-USD"))
    placed("eth_auction_bid", order("carol", "ETH-USD", "buy", "20.5", "3"))
    placed("eth_auction_mkt", order("alice", "ETH-USD", "buy", None, "2"))
    placed("eth_auction_ask", order("carol", "ETH-USD", "sell", "19", "1"))
    scenario.run(Uncross(command_id="uncross-eth", actor=SYSTEM_ACTOR, market="ETH-USD"))
    placed("eth_after", order("bob", "ETH-USD", "buy", "19", "1"))
    # withdrawals: one paid, one refused
    scenario.run(
        Withdraw(
            command_id=scenario.cid(),
            actor=scenario.accounts["bob"],
            asset="USD",
            amount=Decimal("10"),
        )
    )
    refused = scenario.run(
        Withdraw(
            command_id=scenario.cid(),
            actor=scenario.accounts["carol"],
            asset="BTC",
            amount=Decimal("1000"),
        )
    )
    assert not refused.accepted
    # an insufficient-funds refusal of a new order
    placed("too_big", order("carol", "BTC-USD", "buy", "100", "100000"))
    assert not scenario.outcomes[-1].accepted
    return ids


def random_flow(scenario: Scenario, count: int, seed: int) -> None:
    """`count` more generated orders and cancels over both markets (for crash tests)."""
    import random

    rng = random.Random(seed)
    live: list[tuple[str, str]] = []
    handles = list(scenario.accounts)
    for n in range(count):
        who = handles[rng.randrange(len(handles))]
        if live and rng.random() < 0.2:
            owner, order_id = live.pop(rng.randrange(len(live)))
            if scenario.writer.state.market_of_order(order_id) is None:
                continue  # filled meanwhile
            scenario.run(
                CancelOrder(command_id=f"rc{n}", actor=scenario.accounts[owner], order_id=order_id)
            )
            continue
        market, mid = ("BTC-USD", 100) if rng.random() < 0.6 else ("ETH-USD", 20)
        side = "buy" if rng.random() < 0.5 else "sell"
        offset = Decimal(rng.randint(-30, 60)) / 100
        price = Decimal(mid) - offset if side == "buy" else Decimal(mid) + offset
        tif = "IOC" if rng.random() < 0.2 else "GTC"
        outcome = scenario.order(
            who, market, side, str(price), str(Decimal(rng.randint(1, 50)) / 100), time_in_force=tif
        )
        if outcome.accepted and outcome.order_id and tif == "GTC":
            live.append((who, outcome.order_id))


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model table's rows, sorted: for comparing whole read models."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            rows = connection.execute(select(table)).all()
            out[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return out


# (status, reason) of every order of `run_scenario`, by name
EXPECTED: dict[str, tuple[str, str | None]] = {
    "bob_ask": ("FILLED", None),
    "alice_buy": ("FILLED", None),
    "carol_bid": ("FILLED", None),
    "carol_bid2": ("FILLED", None),
    "alice_ask": ("FILLED", None),
    "bob_ioc": ("CANCELLED", "ioc_remaining"),
    "carol_fok": ("CANCELLED", "fok_unfilled"),
    "bob_bid": ("PARTIALLY_FILLED", None),
    "alice_mkt": ("FILLED", None),
    "bob_bid_low": ("CANCELLED", "user"),
    "bob_stp": ("CANCELLED", "stp_decrement"),
    "carol_gtd": ("EXPIRED", None),
    "alice_stop": ("FILLED", None),
    "bob_ask2": ("PARTIALLY_FILLED", None),
    "carol_take": ("FILLED", None),
    "eth_ask": ("PARTIALLY_FILLED", None),
    "eth_bid": ("OPEN", None),
    "eth_halted": ("REJECTED", "halted"),
    "eth_auction_bid": ("FILLED", None),
    "eth_auction_mkt": ("FILLED", None),
    "eth_auction_ask": ("FILLED", None),
    "eth_after": ("OPEN", None),
    "too_big": ("REJECTED", "insufficient_funds"),
}
