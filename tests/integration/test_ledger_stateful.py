"""The write side as a state machine: random traffic through the real writer and store.

Two markets (BTC-USD and ETH-USD, with fees, a price collar and a reference price) and four
traders. Hypothesis deposits, withdraws (sometimes too much), places limit orders of every
kind (GTC, IOC, FOK, post-only, stop-limit, each STP mode), market orders, cancels and amends
known and unknown orders, halts and resumes markets, runs call auctions, repeats earlier
commands, submits bursts of commands that share group commits, makes commits fail (sometimes
with the store unreachable for the reload too), and restarts the writer. After every step:

- no balance is negative and no ledger entry waits unflushed;
- every account's reserved balance per asset is exactly what its live orders need
  (`SettlementRules.need(side, price, open)`), and each market's `terms` mirror its live orders;
- per asset, available + reserved summed over all accounts (the fee account, copies'
  allocations and leaders' block accounts included) equals deposits minus successful
  withdrawals: trading, fees, copies and profit shares only move money around.

Copy trading: alice leads; bob, carol and dave start, top up, withdraw from, pause, resume,
stop and settle copies of her at random, and alice's fills are copied (as the policy would
send them) at random, repeats included. One example in three settles each copied fill in its
own command; the others size and settle its plan in parts of one or two copies, sent at
random (in any order, repeated, or never: a later command touching the copies settles it
first). While
a plan is pending, its leader's block account owes credit: the sums above are then deposits
minus withdrawals plus the credit drawn and not repaid, and the block account holds exactly
what the plan still hands out. Her risk score is recorded at random (as the risk
gate's process would): a start is refused with `leader_risk_too_high` exactly while the
gate is closed (8 closes it, below 7 opens it), and the gate survives restarts.

Each restart (and the end of each example) stops the writer and starts a new one over the same
store: the rebuilt accounts, books and terms equal the live ones; every command of the run is
answered with its first outcome (commit positions aside); the command index remembers exactly
the run's commands, and agrees with what the log says of them.
A failed commit stores nothing and leaves the writer's state as it was before the batch. Every
example runs on a fresh store (a new SQLite file or PostgreSQL schema) on both backends.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock
from uuid import UUID

import psycopg
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from socialtrading.commands import dedup
from socialtrading.commands.copying import (
    AddCopyFunds,
    ApplyCopyPlan,
    CopyLeaderFill,
    PauseCopying,
    RecordRiskScore,
    ResumeCopying,
    SetCopySettings,
    SettleCopyProfitShare,
    SizeCopyPlan,
    StartCopying,
    StopCopying,
    WithdrawCopyFunds,
    copy_of,
)
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
from socialtrading.commands.state import Outcome, State
from socialtrading.commands.writer import Ack, CommitFailed, Writer
from socialtrading.domain.copy.ids import block_id, fill_command_id, plan_part_command_id
from socialtrading.domain.copy.plan import SIZING, OrderItem, item, phase
from socialtrading.domain.copy.risk import MAX_SCORE, MIN_SCORE, gated_after
from socialtrading.domain.errors import InvalidCommand
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id, order_id
from socialtrading.engine.book import Side, StpMode, TimeInForce
from socialtrading.engine.records import KIND, SEQ, TRADE, TRADE_MAKER_ACCOUNT, TRADE_TAKER_ACCOUNT
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import EventStore, open_store

ZERO = Decimal(0)


@dataclass(frozen=True)
class MarketConfig:
    """One listed market and the price grid the machine draws from."""

    symbol: str
    base: str
    tick: Decimal
    lot: Decimal
    reference: Decimal
    collar: int  # ticks
    maker_bps: int
    taker_bps: int

    @property
    def step(self) -> int:
        """Ticks between the price levels drawn: the collar spans 6 steps each way."""
        return self.collar // 6

    def price(self, steps: int) -> Decimal:
        """The price `steps` levels from the listing's reference price (at least one tick)."""
        ticks = int(self.reference / self.tick) + steps * self.step
        return self.tick * max(ticks, 1)

    def qty(self, lots: int) -> Decimal:
        """`lots` lots of base."""
        return self.lot * lots


MARKETS = (
    MarketConfig("BTC-USD", "BTC", Decimal("0.5"), Decimal("0.001"), Decimal(100), 12, 10, 25),
    MarketConfig("ETH-USD", "ETH", Decimal("0.01"), Decimal("0.01"), Decimal(20), 300, 0, 30),
)
TRADERS = ("alice", "bob", "carol", "dave")
LEADER = "alice"  # takes copiers (copy trading)
COPIERS = ("bob", "carol", "dave")
# Copy commands' refusals that random traffic can meet (nothing stored).
COPY_REFUSALS = frozenset(
    {
        "insufficient_funds",
        "already_copying",
        "copy_stopped",
        "below_min_copy_amount",
        "leader_risk_too_high",
    }
)
COPY_COMMANDS = (
    StartCopying
    | AddCopyFunds
    | WithdrawCopyFunds
    | PauseCopying
    | ResumeCopying
    | StopCopying
    | SettleCopyProfitShare
    | CopyLeaderFill
    | ApplyCopyPlan
    | SizeCopyPlan
    | RecordRiskScore
)
ASSETS = ("USD", "BTC", "ETH")
RISK_DAY = 20_000  # the day the leader's risk scores are as of (2024-10-04: in the past)
UNIT = {"USD": Decimal("0.01"), "BTC": Decimal("0.001"), "ETH": Decimal("0.01")}
FIRST_DEPOSIT = {"USD": Decimal(20), "BTC": Decimal("0.05"), "ETH": Decimal("0.5")}

# Order-related refusals that random traffic can legitimately meet.
ORDER_REFUSALS = frozenset(
    {
        "insufficient_funds",
        "halted",
        "price_outside_collar",
        "post_only_would_take",
        "unknown_order",
        "order_not_resting",
        "already_halted",
        "not_halted",
        "already_in_auction",
        "not_in_auction",
        "not_allowed_in_auction",
    }
)


# ---------------------------------------------------------------------- intents


@dataclass(frozen=True)
class Limit:
    trader: str
    market: int
    side: Side
    steps: int
    lots: int
    tif: TimeInForce
    post_only: bool
    stp: StpMode
    stop_steps: int | None


@dataclass(frozen=True)
class MarketOrder:
    trader: str
    market: int
    side: Side
    lots: int
    tif: TimeInForce
    stp: StpMode


@dataclass(frozen=True)
class Cancel:
    trader: str | None  # None: the order's owner
    order: int | None  # picks a live order (even) or any order placed (odd); None: no order


@dataclass(frozen=True)
class Amend:
    trader: str | None
    order: int | None
    steps: int | None
    lots: int | None


@dataclass(frozen=True)
class Fund:
    trader: str
    asset: str
    units: int
    withdraw: bool


Intent = Limit | MarketOrder | Cancel | Amend | Fund

traders = st.sampled_from(TRADERS)
markets = st.integers(0, len(MARKETS) - 1)
sides = st.sampled_from(["buy", "sell"])
lots = st.integers(1, 40)
stp_modes = st.sampled_from(["cancel_taker", "cancel_maker", "cancel_both", "decrement"])
steps = st.integers(-7, 7)
order_refs = st.none() | st.integers(0, 1000)

limits = st.builds(
    Limit,
    trader=traders,
    market=markets,
    side=sides,
    steps=steps,
    lots=lots,
    tif=st.sampled_from(["GTC", "GTC", "GTC", "GTC", "IOC", "FOK"]),
    post_only=st.sampled_from([False, False, True]),
    stp=stp_modes,
    stop_steps=st.sampled_from([None] * 10 + [-3, 0, 3]),
)
market_orders = st.builds(
    MarketOrder,
    trader=traders,
    market=markets,
    side=sides,
    lots=lots,
    tif=st.sampled_from(["GTC", "IOC", "FOK"]),
    stp=stp_modes,
)
cancels = st.builds(Cancel, trader=st.none() | traders, order=order_refs)
amends = st.builds(
    Amend,
    trader=st.none() | traders,
    order=order_refs,
    steps=st.none() | steps,
    lots=st.none() | lots,
)
funds = st.builds(
    Fund,
    trader=traders,
    asset=st.sampled_from(ASSETS),
    units=st.integers(1, 3000),
    withdraw=st.booleans(),
)
intents: st.SearchStrategy[Intent] = st.one_of(
    limits, limits, limits, market_orders, cancels, amends, funds
)


# ---------------------------------------------------------------------- stores


class FreshStores:
    """Hands out a new, empty store per example (SQLite file or PostgreSQL schema)."""

    def __init__(self, base: Settings, directory: Path) -> None:
        self.base = base
        self.directory = directory
        self.counter = itertools.count()

    def new(self) -> tuple[int, Settings]:
        """The example's number and its store."""
        n = next(self.counter)
        if self.base.store.startswith("sqlite"):
            return n, Settings(store=f"sqlite:///{self.directory}/example-{n}.db")
        schema = f"{self.base.postgres_schema}_{n}"
        return n, Settings(store=self.base.store, postgres_schema=schema)

    @staticmethod
    def drop(store_settings: Settings) -> None:
        if store_settings.postgres_schema is None:
            Path(store_settings.store.removeprefix("sqlite:///")).unlink(missing_ok=True)
            return
        with psycopg.connect(store_settings.store, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{store_settings.postgres_schema}" CASCADE')


def _max_notification(store: EventStore) -> int | None:
    return store.recorder.max_notification_id()


def unpositioned(outcome: Outcome | None) -> Outcome | None:
    """An outcome without its commit position (a rebuild reports the store's end instead)."""
    return None if outcome is None else dataclasses.replace(outcome, position=0)


def comparable(state: State) -> dict[str, Any]:
    """What must survive a rebuild: balances, books, order terms, copies."""
    return {
        "copies": {
            copy_id: (
                copy.status,
                copy.invested,
                copy.high_water_mark,
                copy.profit_share_paid,
                copy.owed,
                copy.skip_streak,
            )
            for copy_id, copy in state.copies.by_id.items()
        },
        "accounts": {aid: account.state() for aid, account in state.accounts.items()},
        "plans": {aid: account.blocks for aid, account in state.accounts.items() if account.blocks},
        "risk": {
            aid: (account.risk_score, account.risk_score_as_of, account.risk_gated)
            for aid, account in state.accounts.items()
        },
        "books": {sym: market.book.snapshot() for sym, market in state.markets.items()},
        "terms": {
            sym: {oid: tuple(terms) for oid, terms in market.live_orders.items()}
            for sym, market in state.markets.items()
        },
    }


# ---------------------------------------------------------------------- the machine


class LedgerMachine(RuleBasedStateMachine):
    """Random traffic through one writer over one fresh store; see the module docstring."""

    def __init__(self, stores: FreshStores) -> None:
        super().__init__()
        self.ok = False  # True between steps that completed: teardown then checks a rebuild
        self.since_restart = 0
        self.stores = stores
        number, self.settings = stores.new()
        # Every other example snapshots often, so restarts load from snapshots plus later
        # events; the others never do, so restarts replay every event.
        self.snapshot_interval = 7 if number % 2 == 0 else 1_000_000
        # None: a copied fill settles in its own command; else parts of 1 or 2 copies
        self.part_size = (None, 1, 2)[number % 3]
        self.store = open_store(self.settings)
        self.writer = self._start(self.store)
        self.ids = itertools.count()
        self.deposits: dict[str, Decimal] = defaultdict(Decimal)
        self.withdrawals: dict[str, Decimal] = defaultdict(Decimal)
        self.orders: list[tuple[UUID, str]] = []  # (owner, order id), in placement order
        self.history: list[tuple[Command, Outcome]] = []
        self.trader_ids = {name: account_id(name) for name in TRADERS}
        for config in MARKETS:
            self._expect_ok(
                ListMarket(
                    command_id=f"list-{config.symbol}",
                    actor=SYSTEM_ACTOR,
                    symbol=config.symbol,
                    tick_size=config.tick,
                    lot_size=config.lot,
                    collar_ticks=config.collar,
                    reference_price=config.reference,
                    maker_fee_bps=config.maker_bps,
                    taker_fee_bps=config.taker_bps,
                )
            )
        for name in TRADERS:
            self._expect_ok(RegisterTrader(command_id="register", handle=name))
            for asset, amount in FIRST_DEPOSIT.items():
                trader = self.trader_ids[name]
                command = Deposit(
                    command_id=f"first-{asset}",
                    actor=trader,
                    account=trader,
                    asset=asset,
                    amount=amount,
                )
                self._expect_ok(command)
                self.deposits[asset] += amount
        self._expect_ok(
            SetCopySettings(
                command_id="lead",
                actor=self.trader_ids[LEADER],
                min_copy_amount=Decimal("0.5"),
                profit_share_bps=2000,
            )
        )
        self.copies: list[tuple[UUID, UUID]] = []  # (copier, copy id), started
        self.risk_gated = False  # the leader's risk gate, as the hysteresis says
        self.leader_trades: list[str] = []
        # Some liquidity to start from: resting bids and asks around each reference price.
        seeds = [
            Limit(bidder, market, "buy", -level, 5 * level, "GTC", False, "cancel_taker", None)
            for market in range(len(MARKETS))
            for level, bidder in ((1, "alice"), (2, "bob"))
        ] + [
            Limit(asker, market, "sell", level, 5 * level, "GTC", False, "cancel_taker", None)
            for market in range(len(MARKETS))
            for level, asker in ((1, "carol"), (2, "dave"))
        ]
        for outcome in self._run([self._command(seed) for seed in seeds]):
            assert isinstance(outcome, Outcome) and outcome.accepted, outcome
        self.ok = True

    def _start(self, store: EventStore) -> Writer:
        return Writer(
            store,
            demo_funding=True,
            batch_ms=2.0,
            snapshot_interval=self.snapshot_interval,
            copy_part_size=self.part_size,
        ).start()

    @property
    def state(self) -> State:
        return self.writer.state

    @contextmanager
    def step(self) -> Iterator[None]:
        """Mark the machine unhealthy until the step completes (teardown checks only then)."""
        self.ok = False
        yield
        self.since_restart += 1
        self.ok = True

    # ------------------------------------------------------------------ commands

    def _next_id(self) -> str:
        return f"c{next(self.ids)}"

    def _expect_ok(self, command: Command) -> Outcome:
        outcome = self.writer.execute(command)
        assert outcome.accepted, outcome
        self.history.append((command, outcome))
        return outcome

    def _command(self, intent: Intent) -> Command:
        """The command an intent stands for, with a fresh command id."""
        command_id = self._next_id()
        if isinstance(intent, Limit):
            config = MARKETS[intent.market]
            stop = None if intent.stop_steps is None else config.price(intent.stop_steps)
            return PlaceOrder(
                command_id=command_id,
                actor=self.trader_ids[intent.trader],
                market=config.symbol,
                side=intent.side,
                price=config.price(intent.steps),
                quantity=config.qty(intent.lots),
                time_in_force=intent.tif,
                post_only=intent.post_only and intent.tif == "GTC",
                stp=intent.stp,
                stop_price=stop,
            )
        if isinstance(intent, MarketOrder):
            config = MARKETS[intent.market]
            return PlaceOrder(
                command_id=command_id,
                actor=self.trader_ids[intent.trader],
                market=config.symbol,
                side=intent.side,
                type="market",
                quantity=config.qty(intent.lots),
                time_in_force=intent.tif,
                stp=intent.stp,
            )
        if isinstance(intent, Cancel | Amend):
            owner, target = self._order(intent.order)
            actor = owner if intent.trader is None else self.trader_ids[intent.trader]
            if isinstance(intent, Cancel):
                return CancelOrder(command_id=command_id, actor=actor, order_id=target)
            symbol = self._symbol_of(target)
            config = next(c for c in MARKETS if c.symbol == symbol)
            price = None if intent.steps is None else config.price(intent.steps)
            quantity = None if intent.lots is None else config.qty(intent.lots)
            if price is None and quantity is None:
                quantity = config.lot
            return AmendOrder(
                command_id=command_id,
                actor=actor,
                order_id=target,
                price=price,
                quantity=quantity,
            )
        trader = self.trader_ids[intent.trader]
        amount = UNIT[intent.asset] * intent.units
        if intent.withdraw:
            return Withdraw(command_id=command_id, actor=trader, asset=intent.asset, amount=amount)
        return Deposit(
            command_id=command_id, actor=trader, account=trader, asset=intent.asset, amount=amount
        )

    def _barrier(self) -> None:
        """Wait until the writer has finished everything submitted so far."""
        actor = self.trader_ids[TRADERS[0]]
        command = CancelOrder(command_id=self._next_id(), actor=actor, order_id="barrier")
        assert isinstance(self.writer.submit(command).exception(10), InvalidCommand)

    def _order(self, index: int | None) -> tuple[UUID, str]:
        """(owner, id) of a live order (even index) or of any order placed (odd index), or of
        an order that never existed (None, or nothing placed yet)."""
        live = [
            (UUID(order.account), order.id)
            for market in self.state.markets.values()
            for order in market.book.live_orders()
        ]
        pool = live if index is not None and index % 2 == 0 and live else self.orders
        if index is None or not pool:
            return self.trader_ids[TRADERS[0]], f"no-such-order-{next(self.ids)}"
        return pool[index // 2 % len(pool)]

    def _symbol_of(self, target: str) -> str:
        """The market an order was placed on (BTC-USD for unknown ids: they fail anyway)."""
        for market in self.state.markets.values():
            if target in market.live_orders:
                return market.symbol
        return MARKETS[0].symbol

    def _run(self, commands: list[Command]) -> list[Outcome | InvalidCommand]:
        """Submit every command at once (so they may share batches), wait, book the results."""
        futures: list[Ack] = [self.writer.submit(c) for c in commands]
        results: list[Outcome | InvalidCommand] = []
        booked: set[tuple[UUID, str]] = set()
        for command, future in zip(commands, futures, strict=True):
            try:
                outcome = future.result(30)
            except InvalidCommand as error:
                # Only cancels and amends of orders that are not live, or not the
                # actor's (answered alike), may be malformed here.
                assert isinstance(command, CancelOrder | AmendOrder), (command, error)
                assert error.code == "unknown_order", error
                results.append(error)
                continue
            key = (command.actor, command.command_id)
            if key not in booked:  # a repeat within the burst changed nothing
                booked.add(key)
                self._book(command, outcome)
            results.append(outcome)
        return results

    def _book(self, command: Command, outcome: Outcome) -> None:
        """Check an outcome's shape and track what the invariants need."""
        assert outcome.command_id == command.command_id
        if isinstance(command, Deposit):
            assert outcome.accepted, outcome
            self.deposits[command.asset] += command.amount
        elif isinstance(command, Withdraw):
            if outcome.accepted:
                self.withdrawals[command.asset] += command.amount
            else:
                assert outcome.code == "insufficient_funds", outcome
        elif isinstance(command, PlaceOrder):
            assert outcome.order_id == order_id(command.actor, command.command_id)
            assert outcome.stored
            assert outcome.accepted or outcome.code in ORDER_REFUSALS, outcome
            self.orders.append((command.actor, outcome.order_id))
            leader = str(self.trader_ids[LEADER])
            self.leader_trades += [
                f"{command.market}:{r[SEQ]}"
                for r in outcome.records
                if r[KIND] == TRADE
                and leader in (r[TRADE_TAKER_ACCOUNT], r[TRADE_MAKER_ACCOUNT])
                and r[TRADE_TAKER_ACCOUNT] != r[TRADE_MAKER_ACCOUNT]
            ]
        elif isinstance(command, COPY_COMMANDS):
            assert outcome.accepted or outcome.code in COPY_REFUSALS, outcome
            assert outcome.accepted or not outcome.stored
            if isinstance(command, StartCopying) and outcome.accepted:
                found = copy_of(command)
                assert found is not None
                self.copies.append((command.actor, found))
            if isinstance(command, StartCopying):
                # refused for the gate exactly while it is closed (or for an earlier check)
                assert (outcome.code == "leader_risk_too_high") <= self.risk_gated, outcome
                assert not (outcome.accepted and self.risk_gated), outcome
            if isinstance(command, RecordRiskScore):
                assert outcome.accepted, outcome
                self.risk_gated = gated_after(self.risk_gated, command.score)
        elif isinstance(
            command,
            CancelOrder | AmendOrder | HaltMarket | ResumeMarket | StartAuction | Uncross,
        ):
            assert outcome.stored
            assert outcome.accepted or outcome.code in ORDER_REFUSALS, outcome
        self.history.append((command, outcome))

    # ------------------------------------------------------------------ rules

    @rule(intent=funds)
    def fund(self, intent: Fund) -> None:
        with self.step():
            self._run([self._command(intent)])

    @rule(
        trader=traders,
        asset=st.sampled_from(ASSETS),
        how=st.sampled_from(["all", "more", "part"]),
        units=st.integers(1, 3000),
    )
    def withdraw(self, trader: str, asset: str, how: str, units: int) -> None:
        with self.step():
            account = self.state.accounts[self.trader_ids[trader]]
            available = account.available(asset)
            amount = UNIT[asset] * units
            if how == "all" and available > 0:
                amount = available
            elif how == "more":
                amount = available + amount
            command = Withdraw(
                command_id=self._next_id(), actor=account.id, asset=asset, amount=amount
            )
            before = _max_notification(self.store)
            (outcome,) = self._run([command])
            assert isinstance(outcome, Outcome)
            assert outcome.accepted == (amount <= available), (amount, available, outcome)
            assert account.available(asset) == available - (amount if outcome.accepted else 0)
            after = _max_notification(self.store)
            assert after is not None and before is not None and after > before  # stored

    @rule(intent=limits)
    def place_limit(self, intent: Limit) -> None:
        with self.step():
            self._run([self._command(intent)])

    @rule(intent=market_orders)
    def place_market(self, intent: MarketOrder) -> None:
        with self.step():
            self._run([self._command(intent)])

    @rule(intent=cancels)
    def cancel(self, intent: Cancel) -> None:
        with self.step():
            self._run([self._command(intent)])

    @rule(intent=amends)
    def amend(self, intent: Amend) -> None:
        with self.step():
            self._run([self._command(intent)])

    @rule(batch=st.lists(intents, min_size=2, max_size=8), repeat_first=st.booleans())
    def burst(self, batch: list[Intent], repeat_first: bool) -> None:
        """Many commands in flight at once: group commits, in-batch effects, in-batch dedup."""
        with self.step():
            commands = [self._command(intent) for intent in batch]
            if repeat_first:
                commands.append(commands[0])
            results = self._run(commands)
            if repeat_first and isinstance(results[0], Outcome):
                assert results[-1] == results[0]

    @rule(
        market=markets,
        batch=st.lists(intents, max_size=4),
        resume=st.sampled_from([True, True, True, False]),
    )
    def halt(self, market: int, batch: list[Intent], resume: bool) -> None:
        """Halt a market, send traffic at it while halted, maybe resume it."""
        with self.step():
            symbol = MARKETS[market].symbol
            self._run([HaltMarket(command_id=self._next_id(), actor=SYSTEM_ACTOR, market=symbol)])
            assert self.state.markets[symbol].book.halted
            self._run([self._command(intent) for intent in batch])
            if resume:
                self._run(
                    [ResumeMarket(command_id=self._next_id(), actor=SYSTEM_ACTOR, market=symbol)]
                )
                assert not self.state.markets[symbol].book.halted

    @precondition(lambda self: any(m.book.halted for m in self.state.markets.values()))
    @rule(data=st.data())
    def resume(self, data: st.DataObject) -> None:
        with self.step():
            halted = sorted(s for s, m in self.state.markets.items() if m.book.halted)
            symbol = data.draw(st.sampled_from(halted), label="market")
            (outcome,) = self._run(
                [ResumeMarket(command_id=self._next_id(), actor=SYSTEM_ACTOR, market=symbol)]
            )
            assert isinstance(outcome, Outcome) and outcome.accepted, outcome

    @rule(market=markets, batch=st.lists(intents, max_size=5))
    def auction(self, market: int, batch: list[Intent]) -> None:
        """Put a market into call-auction mode, collect orders, uncross."""
        with self.step():
            symbol = MARKETS[market].symbol
            self._run([StartAuction(command_id=self._next_id(), actor=SYSTEM_ACTOR, market=symbol)])
            self._run([self._command(intent) for intent in batch])
            self._run([Uncross(command_id=self._next_id(), actor=SYSTEM_ACTOR, market=symbol)])

    @rule(batch=st.lists(intents, min_size=1, max_size=5), outage=st.booleans())
    def failed_commit(self, batch: list[Intent], outage: bool) -> None:
        """A batch whose commit fails leaves nothing behind, in the store or in memory; with
        `outage`, the store is unreachable for the writer's first reload too."""
        with self.step():
            before = comparable(self.state)
            position = _max_notification(self.store)
            aggregates = self.store.loaded_aggregates
            down = [outage]

            def flaky_aggregates() -> Any:
                if down and down.pop():
                    raise RuntimeError("database unreachable")
                return aggregates()

            with (
                mock.patch.object(self.store, "append", side_effect=RuntimeError("disk full")),
                mock.patch.object(self.store, "loaded_aggregates", side_effect=flaky_aggregates),
            ):
                futures = [self.writer.submit(self._command(intent)) for intent in batch]
                for future in futures:
                    error = future.exception(30)
                    # A batch of only malformed commands touches nothing, so it commits.
                    assert isinstance(error, CommitFailed | InvalidCommand), error
                # The writer fails a batch's futures, then reloads: let it finish.
                self._barrier()
            assert _max_notification(self.store) == position
            assert comparable(self.state) == before

    # ------------------------------------------------------------------ copy trading

    @rule(copier=st.sampled_from(COPIERS), units=st.integers(1, 1500), mode=st.integers(0, 2))
    def start_copy(self, copier: str, units: int, mode: int) -> None:
        with self.step():
            sizing: dict[str, Any] = [
                {},
                {"sizing": "FIXED_RATIO", "ratio": Decimal("0.5")},
                {"sizing": "FIXED_AMOUNT", "fixed_amount": Decimal(2)},
            ][mode]
            self._run(
                [
                    StartCopying(
                        command_id=self._next_id(),
                        actor=self.trader_ids[copier],
                        leader=LEADER,
                        amount=UNIT["USD"] * units,
                        slippage_bps=[0, 50, 200][mode],
                        **sizing,
                    )
                ]
            )

    @precondition(lambda self: bool(self.copies))
    @rule(
        data=st.data(),
        action=st.sampled_from(["add", "withdraw", "pause", "resume", "stop", "keep", "settle"]),
        units=st.integers(1, 1500),
    )
    def manage_copy(self, data: st.DataObject, action: str, units: int) -> None:
        with self.step():
            copier, copy_id = data.draw(st.sampled_from(self.copies), label="copy")
            common: dict[str, Any] = {"command_id": self._next_id(), "copy_id": copy_id}
            amount = UNIT["USD"] * units
            command: Command = {
                "add": AddCopyFunds(actor=copier, amount=amount, **common),
                "withdraw": WithdrawCopyFunds(actor=copier, amount=amount, **common),
                "pause": PauseCopying(actor=copier, **common),
                "resume": ResumeCopying(actor=copier, **common),
                "stop": StopCopying(actor=copier, **common),
                "keep": StopCopying(actor=copier, close_positions=False, **common),
                "settle": SettleCopyProfitShare(actor=SYSTEM_ACTOR, **common),
            }[action]
            self._run([command])

    @rule(score=st.integers(MIN_SCORE, MAX_SCORE))
    def record_risk_score(self, score: int) -> None:
        """The risk gate's process records the leader's score (always as of the same day:
        another score of that day is recorded, the same one changes nothing)."""
        with self.step():
            leader = self.trader_ids[LEADER]
            self._run(
                [
                    RecordRiskScore(
                        command_id=self._next_id(),
                        actor=SYSTEM_ACTOR,
                        leader=leader,
                        score=score,
                        as_of_day=RISK_DAY,
                    )
                ]
            )
            assert self.state.accounts[leader].risk_gated == self.risk_gated

    @precondition(lambda self: bool(self.copies))
    @rule(intent=st.one_of(limits, market_orders))
    def leader_trade(self, intent: Limit | MarketOrder) -> None:
        """The leader trades and every fill is copied at once (as the policy would)."""
        with self.step():
            before = len(self.leader_trades)
            self._run([self._command(dataclasses.replace(intent, trader=LEADER))])
            leader = self.trader_ids[LEADER]
            self._run(
                [
                    CopyLeaderFill(
                        command_id=fill_command_id(leader, trade_id),
                        actor=SYSTEM_ACTOR,
                        leader=leader,
                        trade_id=trade_id,
                    )
                    for trade_id in self.leader_trades[before:]
                ]
            )

    @precondition(lambda self: bool(self.leader_trades))
    @rule(data=st.data())
    def copy_leader_fill(self, data: st.DataObject) -> None:
        """What the copy policy sends for a fill of the leader (again, sometimes)."""
        with self.step():
            trade_id = data.draw(st.sampled_from(self.leader_trades[-5:]), label="trade")
            leader = self.trader_ids[LEADER]
            self._run(
                [
                    CopyLeaderFill(
                        command_id=fill_command_id(leader, trade_id),
                        actor=SYSTEM_ACTOR,
                        leader=leader,
                        trade_id=trade_id,
                    )
                ]
            )

    def _plans(self) -> list[dict[str, Any]]:
        block = self.state.accounts.get(block_id(self.trader_ids[LEADER]))
        return [] if block is None else [plan for _, plan in block.pending_blocks()]

    @precondition(lambda self: bool(self._plans()))
    @rule(data=st.data(), settle=st.booleans(), repeat=st.booleans())
    def copy_plan_part(self, data: st.DataObject, settle: bool, repeat: bool) -> None:
        """A sizing or settling part of a pending plan, as the policy sends it (any part, in
        any order)."""
        with self.step():
            plan = data.draw(st.sampled_from(self._plans()), label="plan")
            part = data.draw(st.integers(0, plan["parts"] - 1), label="part")
            leader, reference = plan["leader"], plan["reference"]
            kind, step = (ApplyCopyPlan, "settle") if settle else (SizeCopyPlan, "size")
            command = kind(
                command_id=plan_part_command_id(leader, reference, step, part),
                actor=SYSTEM_ACTOR,
                leader=UUID(leader),
                trade_id=reference,
                part=part,
            )
            self._run([command, command] if repeat else [command])

    @precondition(lambda self: bool(self.history))
    @rule(data=st.data())
    def repeat(self, data: st.DataObject) -> None:
        """Re-sending a command returns its first outcome and stores nothing."""
        with self.step():
            command, outcome = data.draw(st.sampled_from(self.history), label="earlier")
            before = _max_notification(self.store)
            assert unpositioned(self.writer.execute(command)) == unpositioned(outcome)
            assert _max_notification(self.store) == before

    @precondition(lambda self: self.since_restart >= 8)
    @rule()
    def restart(self) -> None:
        with self.step():
            self._restart()

    def _restart(self) -> None:
        """Stop the writer, start a new one over the same store: it must see the same state."""
        self.writer.stop()
        live = self.state
        store = open_store(self.settings)
        writer = self._start(store)
        try:
            rebuilt = writer.state
            assert comparable(rebuilt) == comparable(live)
            # Every command of the live run is answered with its first outcome; the index
            # remembers those commands and no others, and its stored ones (all but refusals
            # that stored nothing) are what the log says.
            for command, outcome in self.history:
                key = (command.actor, command.command_id)
                assert unpositioned(writer.outcome(*key)) == unpositioned(outcome), key
            index = store.all_commands()
            assert {(row.actor, row.command_id) for row in index} == {
                (command.actor, command.command_id) for command, _ in self.history
            }
            derived, created = dedup.derive(store)
            assert len(derived) == len(set(derived))
            assert set(derived) == {row for row in index if row.stored}
            assert created == store.aggregates()
        except BaseException:
            writer.stop()
            store.close()
            raise
        self.store.close()
        self.store, self.writer = store, writer
        self.since_restart = 0

    # ------------------------------------------------------------------ invariants

    @invariant()
    def ledger_is_consistent(self) -> None:
        with self.step():
            state = self.state
            need: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
            for symbol, market in state.markets.items():
                ledger = state.markets[symbol].settlement
                live = {}
                for order in market.book.live_orders():
                    asset, amount = ledger.need(order.side, order.price, order.open)
                    need[(order.account, asset)] += amount
                    live[order.id] = (order.account, order.side, order.price)
                assert {oid: tuple(t) for oid, t in market.live_orders.items()} == live
            # what pending plans still owe (credit) and hand out, per asset
            owed: dict[str, Decimal] = defaultdict(Decimal)
            handed: dict[str, Decimal] = defaultdict(Decimal)
            block = state.accounts.get(block_id(self.trader_ids[LEADER]))
            for start, plan in [] if block is None else block.pending_blocks():
                if phase(plan) == SIZING:
                    continue  # nothing placed yet: no credit drawn, nothing to hand out
                market = state.markets[plan["market"]]
                unit, lot = market.settlement.quote_unit, market.settlement.base_unit
                for stored in plan["items"][start:]:
                    entry = item(stored)
                    if isinstance(entry, OrderItem):
                        net, lots = unit * entry.net, lot * entry.lots
                        if plan["side"] == "buy":
                            owed[market.quote] += net
                            handed[market.base] += lots
                        else:
                            owed[market.base] += lots
                            handed[market.quote] += net
            if block is not None:
                for asset in ASSETS:
                    assert block.reserved(asset) == 0, asset
                    assert block.available(asset) == handed[asset], (asset, handed)
            totals: dict[str, Decimal] = defaultdict(Decimal)
            for account in state.accounts.values():
                assert not account.has_pending_entries, account.handle
                for asset in set(account.assets()) | set(ASSETS):
                    available = account.available(asset)
                    reserved = account.reserved(asset)
                    assert available >= 0, (account.handle, asset, available)
                    assert reserved >= 0, (account.handle, asset, reserved)
                    expected = need.get((str(account.id), asset), ZERO)
                    assert reserved == expected, (account.handle, asset, reserved, expected)
                    totals[asset] += available + reserved
            for asset in ASSETS:
                expected = self.deposits[asset] - self.withdrawals[asset] + owed[asset]
                assert totals[asset] == expected, asset

    def teardown(self) -> None:
        try:
            if self.ok:
                self._restart()
        finally:
            self.writer.stop()
            self.store.close()
            self.stores.drop(self.settings)


def test_ledger_invariants_hold_and_a_rebuild_equals_the_live_state(
    store_settings: Settings, tmp_path: Path
) -> None:
    stores = FreshStores(store_settings, tmp_path)

    class OnThisBackend(LedgerMachine):
        def __init__(self) -> None:
            super().__init__(stores)

    run_state_machine_as_test(
        OnThisBackend,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
