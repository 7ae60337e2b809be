"""The `stats` read model: one equity point per trader per UTC day, for statistics,
leaderboards and equity curves (docs/stats.md).

It follows, in log order:

- every account's balances (available + reserved) from deposits, withdrawals and the ledger
  entries (`reserve` and `release` move money inside an account and are skipped);
- the mark of every asset that has a market quoted in the reference asset (`reference`, USD
  by default): the price of its last trade there. An asset without such a market is not
  valued (it adds nothing to equity, and flows of it count as 0);
- each trader's positions by `domain/positions.fill` (realized PnL, round trips) and fees;
- the copies, from the `Copy.*` events, matched by class name (the copy-trading module is
  not imported: a store without copies works the same).

For every account whose balances, flows or trades changed, it writes the point of the open
day (the day of the latest event) at the end of each chunk: the day's flows, fills, realized
PnL, fees and round trips, with 0 for the equity and the copy figures. When an event of a
later day arrives, the open day is closed: the points of that day, and those of every holder
of an asset whose mark moved that day, are written with the equity at the closing marks and
the leaders' copy figures. So a closed day's point holds its close, and no row depends on
where the log was cut into batches; a day without a point carries the previous close
forward (nothing moved the equity). Queries mark the open day live.

Amounts in the reference asset are rounded half-even to `QUANTUM` (10^-8): equity when it
is computed, and each flow, realized PnL and fee as it happens (so the points never depend
on how the log was cut into batches).
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import uuid5

from sqlalchemy import Connection, Table, select

from socialtrading.domain import money
from socialtrading.domain import positions as rule
from socialtrading.domain.account import Account
from socialtrading.domain.ids import NAMESPACE
from socialtrading.domain.market import Market
from socialtrading.domain.money import CONTEXT as EXACT
from socialtrading.engine.book import BUY
from socialtrading.engine.records import (
    KIND,
    TRADE,
    TRADE_MAKER_ACCOUNT,
    TRADE_PRICE,
    TRADE_QTY,
    TRADE_TAKER_ACCOUNT,
    TRADE_TAKER_SIDE,
    TS,
)
from socialtrading.projections.base import Item, Projection
from socialtrading.projections.market_specs import MarketDirectory, Spec
from socialtrading.projections.sql import bulk_upsert
from socialtrading.projections.stats.tables import (
    COPY,
    OTHER,
    TABLES,
    TRADER,
    stats_accounts,
    stats_balances,
    stats_clock,
    stats_copies,
    stats_market_assets,
    stats_markets,
    stats_marks,
    stats_points,
    stats_positions,
    stats_transfers,
)

DAY_US = 86_400_000_000
QUANTUM = Decimal("1e-8")
DEFAULT_REFERENCE = "USD"
COPY_ROLE = "copy"
ZERO = Decimal(0)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BPS = 10_000
_INTERNAL = frozenset({"reserve", "release"})  # ledger kinds that keep an account's total
# Products of amounts and prices: wide enough to be exact, then rounded to QUANTUM.
_WIDE = decimal.Context(prec=120, rounding=decimal.ROUND_HALF_EVEN)
# Forget cached accounts beyond this many (read again when next needed).
_CACHE_ACCOUNTS = 100_000

# The open day's figures of an account: [flow, inflow, trades, realized, fees, wins, closed]
_FLOW, _INFLOW, _TRADES, _REALIZED, _FEES, _WINS, _CLOSED = range(7)

# Copy events, by class name (see the module docstring).
COPY_STARTED = "Copy.Started"
COPY_STOPPED = "Copy.Stopped"
COPY_EVENTS = frozenset(
    {
        COPY_STARTED,
        "Copy.FundsAdded",
        "Copy.FundsWithdrawn",
        COPY_STOPPED,
        "Copy.ProfitShareSettled",
    }
)

_upsert_points = bulk_upsert(stats_points, ["account_id", "day"])
_upsert_balances = bulk_upsert(stats_balances, ["account_id", "asset"])
_upsert_positions = bulk_upsert(stats_positions, ["account_id", "market"])
_upsert_accounts = bulk_upsert(stats_accounts, ["account_id"])
_upsert_marks = bulk_upsert(stats_marks, ["asset"])
_upsert_copies = bulk_upsert(stats_copies, ["copy_id"])
_upsert_transfers = bulk_upsert(stats_transfers, ["reference", "account_id"])
_upsert_clock = bulk_upsert(stats_clock, ["id"])


_add = EXACT.add
ONE = Decimal(1)


def _worth(unit: Decimal, units: int, rate: Decimal) -> Decimal:
    """`units` quote units of `unit` each, at `rate` reference per quote, rounded."""
    amount = _WIDE.multiply(unit, units)
    if rate is not ONE:
        amount = _WIDE.multiply(amount, rate)
    return amount.quantize(QUANTUM, context=_WIDE)


def value(amount: Decimal, price: Decimal) -> Decimal:
    """`amount` x `price`, rounded half-even to QUANTUM."""
    return _WIDE.multiply(amount, price).quantize(QUANTUM, context=_WIDE)


def day_of(moment: datetime) -> int:
    """The UTC day (days since the epoch) of an aware datetime."""
    return (moment - _EPOCH).days


def allocation_id(copy_id: str) -> str:
    """The id of a copy's allocation account (copy trading's design: uuid5 of the copy)."""
    return str(uuid5(NAMESPACE, "allocation:" + copy_id))


def _remember(kind: type, book: set[type], other: set[type]) -> bool:
    """Whether events of `kind` carry engine records (`Market.BookChanged`), remembered."""
    if issubclass(kind, Market.BookChanged):
        book.add(kind)
        return True
    other.add(kind)
    return False


class _Trader:
    """What the read model holds of one account."""

    __slots__ = ("balances", "first_day", "kind", "positions", "today")

    def __init__(self, kind: str, first_day: int | None = None) -> None:
        self.kind = kind
        self.first_day = first_day
        self.balances: dict[str, Decimal] = {}
        self.positions: dict[str, list[int]] = {}  # symbol -> [quantity, cost, trip]
        self.today: list[Any] | None = None  # the open day's figures, once it has a point


class _Copy:
    __slots__ = ("active", "allocation", "copier", "leader")

    def __init__(self, leader: str, copier: str, allocation: str, active: bool) -> None:
        self.leader = leader
        self.copier = copier
        self.allocation = allocation
        self.active = active


class _Changes:
    """What a chunk changed, to write at its end (or when the day closes)."""

    __slots__ = (
        "accounts",
        "copies",
        "marks",
        "points",
        "positions",
        "sums",
        "transfers",
        "units",
    )

    def __init__(self) -> None:
        self.accounts: set[str] = set()
        self.sums: dict[tuple[str, str], list[Any]] = {}  # amounts to add to a balance
        # (account, market) -> [unit, realized units, fee units] to add to the open day
        self.units: dict[tuple[str, str], list[Any]] = {}
        self.positions: set[tuple[str, str]] = set()
        self.points: set[str] = set()
        self.marks: set[str] = set()
        self.copies: set[str] = set()
        self.transfers: set[tuple[str, str]] = set()

    def clear(self) -> None:
        """Forget everything (once written)."""
        for name in self.__slots__:
            getattr(self, name).clear()


class StatsProjection(Projection):
    """Daily equity points, balances, positions, marks and copies (see the module
    docstring)."""

    name: ClassVar[str] = "stats"
    tables: ClassVar[tuple[Table, ...]] = TABLES

    def __init__(self, reference: str = DEFAULT_REFERENCE) -> None:
        self.reference = reference
        self.markets = MarketDirectory(stats_markets)
        self._loaded = False
        self._assets: dict[str, tuple[str, str]] = {}  # market id -> (base, quote)
        self._marks: dict[str, list[Any]] = {}  # asset -> [price, day]
        self._day: int | None = None
        self._traders: dict[str, _Trader] = {}
        self._copies: dict[str, _Copy] = {}
        self._led: dict[str, list[str]] = {}  # leader -> its copies
        self._allocations: dict[str, str] = {}  # allocation account -> copy
        self._transfers: dict[tuple[str, str], Decimal] = {}  # (reference, account) -> net
        self._book_events: set[type] = set()  # event classes carrying engine records
        self._other_events: set[type] = set()

    def reset(self) -> None:
        self.markets.reset()
        self._loaded = False
        self._traders = {}

    # ------------------------------------------------------------------ loading

    def _load(self, connection: Connection) -> None:
        """Read the small tables whole (after a reset)."""
        self._assets = {
            row.market_id: (row.base, row.quote)
            for row in connection.execute(select(stats_market_assets))
        }
        self._marks = {
            row.asset: [row.price, row.day] for row in connection.execute(select(stats_marks))
        }
        self._day = connection.execute(select(stats_clock.c.day)).scalar()
        self._copies, self._led, self._allocations = {}, {}, {}
        for row in connection.execute(select(stats_copies)):
            self._add_copy(row.copy_id, _Copy(row.leader, row.copier, row.allocation, row.active))
        self._transfers = {
            (row.reference, row.account_id): row.net
            for row in connection.execute(select(stats_transfers))
        }
        self._loaded = True

    def _add_copy(self, copy_id: str, copy: _Copy) -> None:
        self._copies[copy_id] = copy
        led = self._led.setdefault(copy.leader, [])
        if copy_id not in led:
            led.append(copy_id)
        self._allocations[copy.allocation] = copy_id

    def _trader(self, connection: Connection, account: str) -> _Trader:
        """The account's state, read from the tables when not held."""
        trader = self._traders.get(account)
        if trader is not None:
            return trader
        row = connection.execute(
            select(stats_accounts).where(stats_accounts.c.account_id == account)
        ).first()
        trader = _Trader(OTHER) if row is None else _Trader(row.kind, row.first_day)
        for found in connection.execute(
            select(stats_balances).where(stats_balances.c.account_id == account)
        ):
            trader.balances[found.asset] = found.total
        for found in connection.execute(
            select(stats_positions).where(stats_positions.c.account_id == account)
        ):
            trader.positions[found.market] = [found.quantity, found.cost, found.trip]
        if self._day is not None:
            point = connection.execute(
                select(stats_points).where(
                    stats_points.c.account_id == account, stats_points.c.day == self._day
                )
            ).first()
            if point is not None:
                trader.today = [
                    point.flow,
                    point.inflow,
                    point.trades,
                    point.realized,
                    point.fees,
                    point.wins,
                    point.closed,
                ]
        self._traders[account] = trader
        return trader

    # ------------------------------------------------------------------ applying

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        if not self._loaded:
            self._load(connection)
        if len(self._traders) > _CACHE_ACCOUNTS:
            self._traders = {}  # (everything is written at the end of each chunk)
        changes = _Changes()
        book_events, other_events = self._book_events, self._other_events
        for _, event in items:
            kind = type(event)
            if kind in book_events or (
                kind not in other_events and _remember(kind, book_events, other_events)
            ):
                trades = [record for record in event.records if record[KIND] == TRADE]
                if trades:
                    market = event.originator_id
                    base, quote = self._assets[str(market)]
                    spec = self.markets.load(connection)[market]
                    self._trades(connection, spec, base, quote, trades, changes)
            elif kind is Account.LedgerPosted:
                self._advance(connection, day_of(event.timestamp), changes)
                self._posted(connection, str(event.originator_id), event.entries, changes)
            elif kind is Account.FundsDeposited or kind is Account.FundsWithdrawn:
                self._advance(connection, day_of(event.timestamp), changes)
                amount = Decimal(event.amount)
                if kind is Account.FundsWithdrawn:
                    amount = -amount
                account = str(event.originator_id)
                changes.sums.setdefault((account, event.asset), []).append(amount)
                changes.points.add(account)
                self._flow(self._trader(connection, account), event.asset, amount)
            elif kind is Account.Registered:
                account = str(event.originator_id)
                roles = set(event.roles)
                if COPY_ROLE in roles or event.handle.startswith("~"):
                    role = COPY
                else:
                    role = TRADER if "trader" in roles else OTHER
                self._traders[account] = _Trader(role)
                changes.accounts.add(account)
            elif kind is Account.RoleGranted:
                account = str(event.originator_id)
                trader = self._trader(connection, account)
                if event.role == COPY_ROLE:
                    trader.kind = COPY
                elif event.role == "trader" and trader.kind == OTHER:
                    trader.kind = TRADER
                changes.accounts.add(account)
            elif kind is Market.Listed:
                self.markets.listed(connection, event)
                market_id = str(event.originator_id)
                if market_id not in self._assets:
                    self._assets[market_id] = (event.base, event.quote)
                    connection.execute(
                        stats_market_assets.insert(),
                        {"market_id": market_id, "base": event.base, "quote": event.quote},
                    )
            elif kind.__qualname__ in COPY_EVENTS:
                self._advance(connection, day_of(event.timestamp), changes)
                self._copy_event(connection, kind.__qualname__, event, changes)
        self._write(connection, changes)

    def _advance(self, connection: Connection, day: int, changes: _Changes) -> None:
        """Close the open day when `day` is later (an earlier day counts in the open one)."""
        if self._day is None:
            self._day = day
            _upsert_clock.run(connection, [(1, day, self.reference)])
        elif day > self._day:
            self._write(connection, changes)
            self._close(connection, self._day)
            self._day = day
            _upsert_clock.run(connection, [(1, day, self.reference)])
            for trader in self._traders.values():
                trader.today = None

    @staticmethod
    def _today(trader: _Trader) -> list[Any]:
        today = trader.today
        if today is None:
            today = trader.today = [ZERO, ZERO, 0, ZERO, ZERO, 0, 0]
        return today

    def _trades(
        self,
        connection: Connection,
        spec: Spec,
        base: str,
        quote: str,
        trades: list[Sequence[Any]],
        changes: _Changes,
    ) -> None:
        """Move positions, count fills, realized PnL, fees and round trips; mark `base`."""
        symbol = spec.symbol
        unit = spec.quote(1)
        quoted = quote == self.reference
        # In the reference asset with a unit of at most 8 decimals, every amount is exact:
        # sum the units and convert once (the same result as fill by fill).
        pending = changes.units if quoted and unit == unit.quantize(QUANTUM) else None
        traders = self._traders
        taker_bps, maker_bps = spec.taker_fee_bps, spec.maker_fee_bps
        positions, points = changes.positions, changes.points
        fill = rule.fill
        price = 0
        for record in trades:
            day = record[TS] // DAY_US
            if day != self._day:
                self._advance(connection, day, changes)
            price, qty = record[TRADE_PRICE], record[TRADE_QTY]
            if quoted:
                rate: Decimal | None = ONE
            else:
                mark = self._marks.get(quote)
                rate = None if mark is None else mark[0]
            notional = price * qty
            bought = qty if record[TRADE_TAKER_SIDE] == BUY else -qty
            for account, delta, bps in (
                (record[TRADE_TAKER_ACCOUNT], bought, taker_bps),
                (record[TRADE_MAKER_ACCOUNT], -bought, maker_bps),
            ):
                trader = traders.get(account) or self._trader(connection, account)
                position = trader.positions.get(symbol)
                if position is None:
                    position = trader.positions[symbol] = [0, 0, 0]
                before = position[0]
                after, cost, realized = fill(before, position[1], price, delta)
                today = trader.today
                if today is None:
                    today = trader.today = [ZERO, ZERO, 0, ZERO, ZERO, 0, 0]
                today[_TRADES] += 1
                if pending is not None:
                    summed = pending.get((account, symbol))
                    if summed is None:
                        summed = pending[(account, symbol)] = [unit, 0, 0]
                    summed[1] += realized
                    summed[2] += notional * bps // _BPS
                elif rate is not None:
                    if realized:
                        today[_REALIZED] = _add(today[_REALIZED], _worth(unit, realized, rate))
                    fee = notional * bps // _BPS
                    if fee:
                        today[_FEES] = _add(today[_FEES], _worth(unit, fee, rate))
                trip = position[2] + realized
                if before and (after == 0 or (after > 0) != (before > 0)):
                    today[_CLOSED] += 1
                    if trip > 0:
                        today[_WINS] += 1
                    trip = 0
                position[0], position[1], position[2] = after, cost, trip
                positions.add((account, symbol))
                points.add(account)
        if quoted:  # one command's trades: the last one's price is the mark
            mark = self._marks.get(base)
            if mark is None:
                mark = self._marks[base] = [ZERO, 0]
            mark[0] = spec.price(price)
            mark[1] = self._day
            changes.marks.add(base)

    def _posted(
        self, connection: Connection, account: str, entries: list[Any], changes: _Changes
    ) -> None:
        sums = changes.sums
        for kind, _market, reference, asset, available, reserved in entries:
            if kind in _INTERNAL:
                continue  # inside the account: its total does not change
            key = (account, asset)
            amounts = sums.get(key)
            if amounts is None:
                amounts = sums[key] = []
            if available != "0":
                amounts.append(available)
            if reserved != "0":
                amounts.append(reserved)
            if kind == "transfer":
                amount = _add(Decimal(available), Decimal(reserved))
                trader = self._trader(connection, account)
                moved = self._flow(trader, asset, amount)
                if trader.kind != COPY:
                    pair = (reference, account)
                    self._transfers[pair] = _add(self._transfers.get(pair, ZERO), moved)
                    changes.transfers.add(pair)
                    copy = self._copies.get(reference)
                    if copy is not None:
                        changes.points.add(copy.leader)
        changes.points.add(account)

    def _flow(self, trader: _Trader, asset: str, amount: Decimal) -> Decimal:
        """Count a flow of `amount` of `asset` (> 0: in) and return its value."""
        price = self._price(asset)
        worth = ZERO if price is None else value(amount, price)
        if trader.kind != OTHER:
            today = self._today(trader)
            today[_FLOW] = _add(today[_FLOW], worth)
            if worth > 0:
                today[_INFLOW] = _add(today[_INFLOW], worth)
        return worth

    def _price(self, asset: str) -> Decimal | None:
        if asset == self.reference:
            return Decimal(1)
        mark = self._marks.get(asset)
        return None if mark is None else mark[0]

    def _copy_event(self, connection: Connection, name: str, event: Any, changes: _Changes) -> None:
        copy_id = str(event.originator_id)
        copy = self._copies.get(copy_id)
        if name == COPY_STARTED:
            allocation = getattr(event, "allocation", None) or allocation_id(copy_id)
            copy = _Copy(str(event.leader), str(event.copier), str(allocation), True)
            self._add_copy(copy_id, copy)
            changes.copies.add(copy_id)
        elif copy is not None and name == COPY_STOPPED:
            copy.active = False
            changes.copies.add(copy_id)
        if copy is not None:
            changes.points.add(copy.leader)

    # ------------------------------------------------------------------ writing

    def _equity(self, trader: _Trader) -> Decimal:
        total = ZERO
        for asset, amount in trader.balances.items():
            if amount:
                price = self._price(asset)
                if price is not None:
                    total = _add(total, value(amount, price))
        return total

    def _leader_figures(self, connection: Connection, leader: str) -> tuple[int, Decimal, Decimal]:
        """(active copies, their allocations' equity, the PnL of all its copies)."""
        copiers = 0
        under = pnl = ZERO
        for copy_id in self._led.get(leader, ()):
            copy = self._copies[copy_id]
            equity = self._equity(self._trader(connection, copy.allocation))
            if copy.active:
                copiers += 1
                under = _add(under, equity)
            pnl = _add(pnl, _add(equity, self._transfers.get((copy_id, copy.copier), ZERO)))
        return copiers, under, pnl

    def _write(self, connection: Connection, changes: _Changes, close: bool = False) -> None:
        """Write what `changes` names and forget it. The points of the open day get their
        equity and copy figures when it closes (`close`): until then they hold 0 there (the
        queries mark the open day live), so no row depends on where the log was cut."""
        traders = self._traders
        day = self._day
        balances = []
        with money.exact():  # sums in C, in log order, exactly
            for (account, asset), amounts in sorted(changes.sums.items()):
                held = self._trader(connection, account).balances
                total = held[asset] = sum(map(Decimal, amounts), held.get(asset, ZERO))
                balances.append((account, asset, total))
            for (account, _), (unit, realized, fees) in changes.units.items():
                today = self._today(self._trader(connection, account))
                if realized:
                    today[_REALIZED] += unit * realized
                if fees:
                    today[_FEES] += unit * fees
        for account in list(changes.points):
            copy_id = self._allocations.get(account)
            if copy_id is not None:
                changes.points.add(self._copies[copy_id].leader)
        points = []
        for account in sorted(changes.points):
            trader = self._trader(connection, account)
            if trader.kind == OTHER or day is None:
                continue
            today = self._today(trader)
            equity, copiers, under, pnl = ZERO, 0, ZERO, ZERO
            if close:
                equity = self._equity(trader)
                if account in self._led:
                    copiers, under, pnl = self._leader_figures(connection, account)
            if trader.first_day is None:
                trader.first_day = day
                changes.accounts.add(account)
            points.append((account, day, equity, *today, copiers, under, pnl))
        _upsert_points.run(connection, points)
        _upsert_accounts.run(
            connection,
            [
                (account, traders[account].kind, traders[account].first_day)
                for account in sorted(changes.accounts)
            ],
        )
        _upsert_balances.run(connection, balances)
        _upsert_positions.run(
            connection,
            [
                (account, symbol, *traders[account].positions[symbol])
                for account, symbol in sorted(changes.positions)
            ],
        )
        _upsert_marks.run(
            connection, [(asset, *self._marks[asset]) for asset in sorted(changes.marks)]
        )
        _upsert_copies.run(
            connection,
            [
                (c, copy.leader, copy.copier, copy.allocation, copy.active)
                for c in sorted(changes.copies)
                for copy in (self._copies[c],)
            ],
        )
        _upsert_transfers.run(
            connection, [(*key, self._transfers[key]) for key in sorted(changes.transfers)]
        )
        changes.clear()

    def _close(self, connection: Connection, day: int) -> None:
        """Write the closing equity and copy figures of `day` for every account with a point
        that day and every holder of an asset whose mark moved that day."""
        changes = _Changes()
        statement = select(stats_points.c.account_id).where(stats_points.c.day == day)
        changes.points.update(row.account_id for row in connection.execute(statement))
        moved = sorted(asset for asset, mark in self._marks.items() if mark[1] == day)
        if moved:
            statement = select(stats_balances.c.account_id, stats_balances.c.total).where(
                stats_balances.c.asset.in_(moved)
            )
            changes.points.update(
                row.account_id for row in connection.execute(statement) if row.total
            )
        self._write(connection, changes, close=True)
