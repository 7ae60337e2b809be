"""One market's order book and its matching rules.

Rules
-----
Units. Prices are integer ticks, quantities integer lots (see `spec`). Timestamps are integer
microseconds supplied by each command; the engine never reads a clock.

Layout. Each side is a SortedDict from price to a level; a level keeps its resting orders in a
dict in arrival order (FIFO; O(1) removal from anywhere) and their total open lots. Every live
order is also indexed by id: resting orders, pending stop orders (kept apart, in acceptance
order) and, in auction mode, market orders queued for the uncross.

Time. A command's timestamp must not be earlier than the previous command's (`ts_out_of_order`).
Before anything else, GTD orders whose `expire_ts <= ts` expire, in order of expiry time and then
of acceptance. An `expire` command does only that.

Sequence. Every record carries the market's next sequence number, so the records of a market are
totally ordered. The same commands in the same order give the same records.

New orders are checked in a fixed order (the first failing rule names the rejection): halted,
duplicate live id, side, type, time in force, STP mode, quantity (> 0, min, max), price (limit
orders need one > 0; a market order may carry one, > 0, as its protection price), stop price,
GTD expiry (needed for GTD, refused otherwise, must lie after `ts`), post-only combinations
(limit only, not IOC/FOK), auction restrictions (no IOC, FOK or post-only), notional (price x
quantity; market orders at their protection price, else at the reference price), price collar
for limit orders (|price - reference| <= collar ticks; the reference is the last trade price,
else the spec's reference price), and post-only crossing the best opposite price. Stop orders
are checked for collar and post-only when they trigger, not on arrival.

Matching (continuous mode). A taker sweeps the opposite side best price first, FIFO within a
level, while its limit allows. A market order sweeps up to its protection price if it has one
and up to the collar bound (reference +- collar) if there is a reference, whichever is
tighter, else without bound. Every trade is at the maker's price. After the sweep a market
order's remainder is cancelled (`no_liquidity` or `collar_reached`), an IOC's remainder is
cancelled (`ioc_remaining`), and a GTC/GTD limit order rests at the back of its level. An FOK
order first checks, without changing anything, that it can fill completely (self-matching
makers count as lost liquidity unless its STP mode is `cancel_maker`); if not, it is cancelled
whole (`fok_unfilled`).

Self-trade prevention applies when maker and taker share an account, or both carry the same
group. The taker's mode decides: `cancel_taker` cancels the taker's remainder (earlier trades
stand); `cancel_maker` cancels that maker and goes on; `cancel_both` cancels both;
`decrement` reduces both by the smaller open quantity without a trade (each reduction is a
`cancelled` record with reason `stp_decrement` and the quantity left), removes whichever
reaches zero, and goes on while the taker has quantity.

Amend. Carries a new price and/or a new open quantity (> 0). Same price and an open quantity
no larger than before keeps time priority. Anything else takes the order out of the book,
and re-enters it as a taker at its new price (matching first if it crosses, with its own STP
mode) and then at the back of its new level. Only resting orders can be amended; a post-only
order may not be amended to a crossing price.

Stops. A stop order (market or limit with a `stop_price`) waits outside the book until the last
trade price reaches it (buy: last >= stop; sell: last <= stop), including on arrival. After
each command's matching, the first triggered stop in acceptance order enters as a new taker,
and the check repeats until no stop triggers.

Halts. A halted market rejects new orders, amends and uncrosses; cancels and expiries go on.

Auctions. In auction mode orders collect without matching (the book may be crossed); market
orders queue apart. `uncross` picks, among the resting limit prices and the reference price,
the one that maximises executed volume, then minimises imbalance, then is closest to the
reference, then is the lowest; the record names the rule that decided. A market order with a
protection price takes part only at uncross prices within it (and its protection price is a
candidate too). All matches execute at that one price, buyers and sellers each in price-time
priority (market orders first), the later-accepted order of each pair counting as taker for STP
and fees (never a post-only order, unless both are). Unmatched market orders are cancelled and
the market returns to continuous trading. If STP took away volume the price was chosen for and
the book is still crossed, the cross then trades as in continuous mode: of the best bid and the
best ask the later-accepted one (not a post-only one) takes at its limit, and keeps its place
if anything is left; this repeats while the book is crossed.

Known limits. Order ids must be unique among live orders only (the market aggregate issues
unique ids). Iceberg and trailing orders are not supported.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from operator import attrgetter
from typing import Any, Final, Literal

from sortedcontainers import SortedDict

from socialtrading.engine.records import (
    ACCEPTED,
    AMENDED,
    AUCTION_STARTED,
    CANCELLED,
    EXPIRED,
    HALTED,
    REJECTED,
    RESTED,
    RESUMED,
    TRADE,
    TRIGGERED,
    UNCROSSED,
    Reason,
    Record,
)
from socialtrading.engine.spec import AUCTION, CONTINUOUS, MarketSpec

# The values of an order's side, type, time in force and STP mode: plain strings (they are
# stored in events as they are), typed as literals so that mypy checks every use.
Side = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]
TimeInForce = Literal["GTC", "IOC", "FOK", "GTD"]
StpMode = Literal["cancel_taker", "cancel_maker", "cancel_both", "decrement"]

BUY: Final = "buy"
SELL: Final = "sell"
LIMIT: Final = "limit"
MARKET: Final = "market"
GTC: Final = "GTC"
IOC: Final = "IOC"
FOK: Final = "FOK"
GTD: Final = "GTD"
CANCEL_TAKER: Final = "cancel_taker"
CANCEL_MAKER: Final = "cancel_maker"
CANCEL_BOTH: Final = "cancel_both"
DECREMENT: Final = "decrement"

SIDES: Final[tuple[Side, ...]] = (BUY, SELL)
ORDER_TYPES: Final[tuple[OrderType, ...]] = (LIMIT, MARKET)
TIFS: Final[tuple[TimeInForce, ...]] = (GTC, IOC, FOK, GTD)
STP_MODES: Final[tuple[StpMode, ...]] = (CANCEL_TAKER, CANCEL_MAKER, CANCEL_BOTH, DECREMENT)

# Where a live order is.
_IN_FLIGHT = 0
_RESTING = 1
_STOP = 2
_AUCTION_MARKET = 3

SNAPSHOT_VERSION = 1


class Order:
    """A live order. Mutable engine state: read it, do not change it from outside."""

    __slots__ = (
        "accept_seq",
        "account",
        "expire_ts",
        "filled",
        "group",
        "id",
        "open",
        "post_only",
        "price",
        "priority",
        "side",
        "state",
        "stop_price",
        "stp",
        "tif",
        "type",
    )

    def __init__(
        self,
        order_id: str,
        account: str,
        side: str,
        type_: str,
        price: int | None,
        qty: int,
        tif: str,
        post_only: bool,
        stp: str,
        group: str | None,
        expire_ts: int | None,
        stop_price: int | None,
        seq: int,
    ) -> None:
        self.id = order_id
        self.account = account
        self.side = side
        self.type = type_
        self.price = price
        self.open = qty
        self.filled = 0
        self.tif = tif
        self.post_only = post_only
        self.stp = stp
        self.group = group
        self.expire_ts = expire_ts
        self.stop_price = stop_price
        self.accept_seq = seq
        self.priority = seq
        self.state = _IN_FLIGHT

    def to_list(self) -> list[Any]:
        """The order as a JSON-ready list (the snapshot format)."""
        return list(_order_values(self))

    @classmethod
    def from_list(cls, values: list[Any]) -> Order:
        """Rebuild an order from `to_list` output."""
        order = cls.__new__(cls)
        # one unpacking, in `_ORDER_FIELDS` order (a setattr per field costs 4 times more;
        # a list of another length raises, as a strict zip would)
        (
            order.id,
            order.account,
            order.side,
            order.type,
            order.price,
            order.open,
            order.filled,
            order.tif,
            order.post_only,
            order.stp,
            order.group,
            order.expire_ts,
            order.stop_price,
            order.accept_seq,
            order.priority,
            order.state,
        ) = values
        return order


_ORDER_FIELDS = (
    "id",
    "account",
    "side",
    "type",
    "price",
    "open",
    "filled",
    "tif",
    "post_only",
    "stp",
    "group",
    "expire_ts",
    "stop_price",
    "accept_seq",
    "priority",
    "state",
)
_order_values = attrgetter(*_ORDER_FIELDS)


class _Level:
    __slots__ = ("orders", "total")

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.total = 0


class OrderBook:
    """Deterministic price-time matching for one market. Every command returns its records."""

    def __init__(self, spec: MarketSpec) -> None:
        self.spec = spec
        self._bids: SortedDict = SortedDict()  # price -> _Level; best bid is the last key
        self._asks: SortedDict = SortedDict()  # price -> _Level; best ask is the first key
        # Live views of the prices: made once, because making a view costs more than using it.
        self._bid_prices = self._bids.keys()
        self._ask_prices = self._asks.keys()
        self._orders: dict[str, Order] = {}
        self._stops: dict[str, Order] = {}
        self._auction_market: dict[str, Order] = {}
        self._expiries: list[tuple[int, int, str]] = []  # (expire_ts, accept_seq, id), lazy
        self._seq = 0
        self._ts = 0
        self._last_price: int | None = None
        self._halted = False
        self._mode = spec.mode

    # ------------------------------------------------------------------ state, read-only

    @property
    def seq(self) -> int:
        """The sequence number of the last record."""
        return self._seq

    @property
    def ts(self) -> int:
        """The timestamp of the last command."""
        return self._ts

    @property
    def mode(self) -> str:
        """`continuous` or `auction`."""
        return self._mode

    @property
    def halted(self) -> bool:
        """Whether the market is halted."""
        return self._halted

    @property
    def last_price(self) -> int | None:
        """The last trade price in ticks, if any trade happened."""
        return self._last_price

    def reference_price(self) -> int | None:
        """The collar reference: the last trade price, else the spec's reference price."""
        last = self._last_price
        return last if last is not None else self.spec.reference_ticks

    def best_bid(self) -> int | None:
        """The best bid price in ticks."""
        return self._bid_prices[-1] if self._bids else None

    def best_ask(self) -> int | None:
        """The best ask price in ticks."""
        return self._ask_prices[0] if self._asks else None

    def depth(self, levels: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The best `levels` price levels per side as (price, total open lots)."""
        bids = self._bids
        asks = self._asks
        bid_prices = bids.keys()[-1 : -levels - 1 : -1] if levels > 0 else []
        ask_prices = asks.keys()[:levels] if levels > 0 else []
        return (
            [(price, bids[price].total) for price in bid_prices],
            [(price, asks[price].total) for price in ask_prices],
        )

    def depth_with_counts(
        self, levels: int
    ) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """As `depth`, each level as (price, total open lots, resting orders)."""
        bids = self._bids
        asks = self._asks
        bid_prices = bids.keys()[-1 : -levels - 1 : -1] if levels > 0 else []
        ask_prices = asks.keys()[:levels] if levels > 0 else []
        return (
            [(price, bids[price].total, len(bids[price].orders)) for price in bid_prices],
            [(price, asks[price].total, len(asks[price].orders)) for price in ask_prices],
        )

    def order(self, order_id: str) -> Order | None:
        """A live order by id (resting, pending stop or queued for an auction)."""
        return self._orders.get(order_id)

    def live_count(self) -> int:
        """How many orders are live (resting, pending stops, queued for an auction)."""
        return len(self._orders)

    def resting_orders(self) -> Iterator[Order]:
        """Resting orders: bids best first, then asks best first, FIFO within a level."""
        for price in reversed(self._bids.keys()):
            yield from self._bids[price].orders.values()
        for level in self._asks.values():
            yield from level.orders.values()

    def live_orders(self) -> Iterator[Order]:
        """Every live order: resting, then pending stops, then auction market orders."""
        yield from self.resting_orders()
        yield from self._stops.values()
        yield from self._auction_market.values()

    # ------------------------------------------------------------------ commands

    def submit(
        self,
        ts: int,
        order_id: str,
        account: str,
        side: str,
        type_: str,
        price: int | None,
        qty: int,
        tif: str = GTC,
        post_only: bool = False,
        stp: str = CANCEL_TAKER,
        group: str | None = None,
        expire_ts: int | None = None,
        stop_price: int | None = None,
    ) -> list[Record]:
        """Accept or reject a new order, then match, rest or queue it."""
        out: list[Record] = []
        if ts < self._ts:
            return self._reject(out, ts, "new", order_id, account, Reason.TS_OUT_OF_ORDER)
        self._ts = ts
        if self._expiries and self._expiries[0][0] <= ts:
            self._expire_due(ts, out)
        reason = self._check_new(
            ts, order_id, side, type_, price, qty, tif, post_only, stp, expire_ts, stop_price
        )
        if reason is not None:
            return self._reject(out, ts, "new", order_id, account, reason)
        self._seq += 1
        seq = self._seq
        order = Order(
            order_id,
            account,
            side,
            type_,
            price,
            qty,
            tif,
            post_only,
            stp,
            group,
            expire_ts,
            stop_price,
            seq,
        )
        out.append(
            (
                ACCEPTED,
                seq,
                ts,
                order_id,
                account,
                side,
                type_,
                price,
                qty,
                tif,
                post_only,
                stp,
                group,
                expire_ts,
                stop_price,
            )
        )
        self._orders[order_id] = order
        if expire_ts is not None:
            heapq.heappush(self._expiries, (expire_ts, seq, order_id))
        if stop_price is not None:
            last = self._last_price
            if last is None or (last < stop_price if side == BUY else last > stop_price):
                order.state = _STOP
                self._stops[order_id] = order
                return out
            self._seq += 1
            out.append((TRIGGERED, self._seq, ts, order_id, stop_price, last))
            self._enter(order, ts, out, triggered=True)
        else:
            self._enter(order, ts, out, triggered=False)
        if self._stops:
            self._run_stops(ts, out)
        return out

    def cancel(self, ts: int, order_id: str, account: str) -> list[Record]:
        """Cancel a live order of `account` (allowed while halted)."""
        out: list[Record] = []
        if ts < self._ts:
            return self._reject(out, ts, "cancel", order_id, account, Reason.TS_OUT_OF_ORDER)
        self._ts = ts
        if self._expiries and self._expiries[0][0] <= ts:
            self._expire_due(ts, out)
        order = self._orders.get(order_id)
        if order is None:
            return self._reject(out, ts, "cancel", order_id, account, Reason.UNKNOWN_ORDER)
        if order.account != account:
            return self._reject(out, ts, "cancel", order_id, account, Reason.NOT_OWNER)
        qty = order.open
        self._remove(order)
        self._seq += 1
        out.append((CANCELLED, self._seq, ts, order_id, qty, 0, Reason.USER))
        return out

    def amend(
        self, ts: int, order_id: str, account: str, price: int | None, qty: int | None
    ) -> list[Record]:
        """Change a resting order's price and/or open quantity (see the module's rules)."""
        out: list[Record] = []
        if ts < self._ts:
            return self._reject(out, ts, "amend", order_id, account, Reason.TS_OUT_OF_ORDER)
        self._ts = ts
        if self._expiries and self._expiries[0][0] <= ts:
            self._expire_due(ts, out)
        order = self._orders.get(order_id)
        reason = None
        if self._halted:
            reason = Reason.HALTED
        elif order is None:
            reason = Reason.UNKNOWN_ORDER
        elif order.account != account:
            reason = Reason.NOT_OWNER
        elif order.state != _RESTING:
            reason = Reason.ORDER_NOT_RESTING
        elif price is None and qty is None:
            reason = Reason.NOTHING_TO_AMEND
        if reason is not None or order is None:
            return self._reject(out, ts, "amend", order_id, account, reason)
        old_price: int = order.price  # type: ignore[assignment]  # resting orders have a price
        old_open = order.open
        new_price = old_price if price is None else price
        new_open = old_open if qty is None else qty
        reason = self._check_amend(order, new_price, new_open)
        if reason is not None:
            return self._reject(out, ts, "amend", order_id, account, reason)
        keep = new_price == old_price and new_open <= old_open
        self._seq += 1
        out.append(
            (AMENDED, self._seq, ts, order_id, old_price, new_price, old_open, new_open, keep)
        )
        if keep:
            book = self._bids if order.side == BUY else self._asks
            book[old_price].total -= old_open - new_open
            order.open = new_open
            return out
        self._unrest(order)
        order.price = new_price
        order.open = new_open
        order.priority = self._seq
        if self._mode == CONTINUOUS:
            self._match(order, new_price, ts, out)
        if order.open > 0:
            self._rest(order)
        else:
            self._forget(order)
        if self._stops:
            self._run_stops(ts, out)
        return out

    def expire(self, ts: int) -> list[Record]:
        """Expire the GTD orders due at `ts` and do nothing else."""
        out: list[Record] = []
        if ts < self._ts:
            return self._reject(out, ts, "expire", None, None, Reason.TS_OUT_OF_ORDER)
        self._ts = ts
        if self._expiries and self._expiries[0][0] <= ts:
            self._expire_due(ts, out)
        return out

    def halt(self, ts: int) -> list[Record]:
        """Halt the market: new orders, amends and uncrosses are refused until `resume`."""
        return self._switch(ts, "halt", self._halted, Reason.ALREADY_HALTED, HALTED)

    def resume(self, ts: int) -> list[Record]:
        """Lift a halt."""
        return self._switch(ts, "resume", not self._halted, Reason.NOT_HALTED, RESUMED)

    def start_auction(self, ts: int) -> list[Record]:
        """Enter auction mode: orders collect without matching until `uncross`."""
        refused = self._mode == AUCTION
        return self._switch(
            ts, "start_auction", refused, Reason.ALREADY_IN_AUCTION, AUCTION_STARTED
        )

    def uncross(self, ts: int) -> list[Record]:
        """Run the call auction at one price and return to continuous trading."""
        out: list[Record] = []
        if ts < self._ts:
            return self._reject(out, ts, "uncross", None, None, Reason.TS_OUT_OF_ORDER)
        self._ts = ts
        if self._expiries and self._expiries[0][0] <= ts:
            self._expire_due(ts, out)
        if self._halted:
            return self._reject(out, ts, "uncross", None, None, Reason.HALTED)
        if self._mode != AUCTION:
            return self._reject(out, ts, "uncross", None, None, Reason.NOT_IN_AUCTION)
        price, volume, imbalance, why = self._uncross_price()
        self._seq += 1
        out.append((UNCROSSED, self._seq, ts, price, volume, imbalance, why))
        if price is not None:
            self._execute_auction(price, ts, out)
        for order in list(self._auction_market.values()):
            qty = order.open
            self._remove(order)
            self._seq += 1
            out.append((CANCELLED, self._seq, ts, order.id, qty, 0, Reason.AUCTION_UNMATCHED))
        self._mode = CONTINUOUS
        self._clear_cross(ts, out)
        if self._stops:
            self._run_stops(ts, out)
        return out

    def reject(
        self, ts: int, op: str, order_id: str | None, account: str | None, reason: str
    ) -> list[Record]:
        """Record a refusal decided at the edge (an off-tick price, say), in sequence."""
        out: list[Record] = []
        if ts > self._ts:
            self._ts = ts
            if self._expiries and self._expiries[0][0] <= ts:
                self._expire_due(ts, out)
        return self._reject(out, self._ts, op, order_id, account, reason)

    # ------------------------------------------------------------------ replay

    def apply_records(self, records: Iterable[Sequence[Any]]) -> None:
        """Bring the book up to date from recorded records, without re-running matching.

        Recorded history is authoritative: this assigns what the records say happened, so a
        market rebuilt from its events stays the same after the matching code changes.
        Records at or below the book's sequence number are already applied and skipped.
        Records may be tuples or the lists a JSON round trip makes of them.
        """
        for record in records:
            seq = record[1]
            if seq <= self._seq:
                continue
            self._seq = seq
            self._ts = record[2]
            kind = record[0]
            if kind == TRADE:
                qty = record[4]
                for order_id in (record[5], record[6]):
                    order = self._orders[order_id]
                    order.filled += qty
                    self._reduce(order, qty)
                self._last_price = record[3]
            elif kind == ACCEPTED:
                order = Order(
                    record[3],
                    record[4],
                    record[5],
                    record[6],
                    record[7],
                    record[8],
                    record[9],
                    record[10],
                    record[11],
                    record[12],
                    record[13],
                    record[14],
                    seq,
                )
                self._orders[order.id] = order
                if order.expire_ts is not None:
                    heapq.heappush(self._expiries, (order.expire_ts, seq, order.id))
                if order.stop_price is not None:
                    order.state = _STOP
                    self._stops[order.id] = order
            elif kind == RESTED:
                order = self._orders[record[3]]
                order.open = record[5]
                if order.type == MARKET:
                    order.state = _AUCTION_MARKET
                    self._auction_market[order.id] = order
                else:
                    self._rest(order)
            elif kind in (CANCELLED, EXPIRED):
                self._reduce(self._orders[record[3]], record[4])
            elif kind == AMENDED:
                order = self._orders[record[3]]
                if record[8]:
                    self._reduce(order, record[6] - record[7])
                else:
                    self._unrest(order)
                    order.price = record[5]
                    order.open = record[7]
                    order.priority = seq
                    self._rest(order)
            elif kind == TRIGGERED:
                order = self._stops.pop(record[3])
                order.state = _IN_FLIGHT
            elif kind == UNCROSSED:
                self._mode = CONTINUOUS
            elif kind == HALTED:
                self._halted = True
            elif kind == RESUMED:
                self._halted = False
            elif kind == AUCTION_STARTED:
                self._mode = AUCTION

    # ------------------------------------------------------------------ snapshots

    def snapshot(self) -> dict[str, Any]:
        """The whole book state as JSON-ready data: restore it to continue identically."""
        return {
            "version": SNAPSHOT_VERSION,
            "symbol": self.spec.symbol,
            "seq": self._seq,
            "ts": self._ts,
            "last_price": self._last_price,
            "halted": self._halted,
            "mode": self._mode,
            "resting": [order.to_list() for order in self.resting_orders()],
            "stops": [order.to_list() for order in self._stops.values()],
            "auction_market": [order.to_list() for order in self._auction_market.values()],
        }

    @classmethod
    def restore(cls, spec: MarketSpec, data: dict[str, Any]) -> OrderBook:
        """Rebuild a book from `snapshot` output."""
        if data.get("version") != SNAPSHOT_VERSION or data.get("symbol") != spec.symbol:
            raise ValueError("snapshot does not match this engine version or market")
        book = cls(spec)
        book._seq = data["seq"]
        book._ts = data["ts"]
        book._last_price = data["last_price"]
        book._halted = data["halted"]
        book._mode = data["mode"]
        for values in data["resting"]:
            order = Order.from_list(values)
            order.state = _IN_FLIGHT
            book._rest(order)
            book._orders[order.id] = order
        for key, target in (("stops", book._stops), ("auction_market", book._auction_market)):
            for values in data[key]:
                order = Order.from_list(values)
                target[order.id] = order
                book._orders[order.id] = order
        book._expiries = [
            (o.expire_ts, o.accept_seq, o.id)
            for o in book._orders.values()
            if o.expire_ts is not None
        ]
        heapq.heapify(book._expiries)
        return book

    # ------------------------------------------------------------------ validation

    def _check_new(
        self,
        ts: int,
        order_id: str,
        side: str,
        type_: str,
        price: int | None,
        qty: int,
        tif: str,
        post_only: bool,
        stp: str,
        expire_ts: int | None,
        stop_price: int | None,
    ) -> str | None:
        spec = self.spec
        if self._halted:
            return Reason.HALTED
        if order_id in self._orders:
            return Reason.DUPLICATE_ORDER_ID
        if side not in (BUY, SELL):
            return Reason.INVALID_SIDE
        is_limit = type_ == LIMIT
        if not is_limit and type_ != MARKET:
            return Reason.INVALID_ORDER_TYPE
        if tif not in TIFS or (not is_limit and tif == GTD):
            return Reason.INVALID_TIF
        if stp not in STP_MODES:
            return Reason.INVALID_STP_MODE
        if qty <= 0:
            return Reason.INVALID_QTY
        if qty < spec.min_lots:
            return Reason.BELOW_MIN_QTY
        if qty > spec.max_lots:
            return Reason.ABOVE_MAX_QTY
        if (price is None and is_limit) or (price is not None and price <= 0):
            return Reason.INVALID_PRICE
        if stop_price is not None and stop_price <= 0:
            return Reason.INVALID_STOP_PRICE
        if tif == GTD:
            if expire_ts is None:
                return Reason.MISSING_EXPIRY
            if expire_ts <= ts:
                return Reason.ALREADY_EXPIRED
        elif expire_ts is not None:
            return Reason.EXPIRY_REQUIRES_GTD
        if post_only:
            if not is_limit:
                return Reason.POST_ONLY_REQUIRES_LIMIT
            if tif in (IOC, FOK):
                return Reason.POST_ONLY_WITH_IOC_FOK
        auction = self._mode == AUCTION
        if auction and (post_only or tif in (IOC, FOK)):
            return Reason.NOT_ALLOWED_IN_AUCTION
        units = spec.max_notional_units
        reference = self._last_price
        if reference is None:
            reference = spec.reference_ticks
        notional_price = price if price is not None else reference
        if notional_price is not None and notional_price * qty > units:
            return Reason.MAX_NOTIONAL_EXCEEDED
        if stop_price is None and is_limit and price is not None:
            collar = spec.collar_ticks
            if collar is not None and reference is not None and abs(price - reference) > collar:
                return Reason.PRICE_OUTSIDE_COLLAR
            if post_only and not auction and self._crosses(side, price):
                return Reason.POST_ONLY_WOULD_TAKE
        return None

    def _check_amend(self, order: Order, price: int, open_: int) -> str | None:
        spec = self.spec
        if open_ <= 0:
            return Reason.INVALID_QTY
        if order.filled + open_ > spec.max_lots:
            return Reason.ABOVE_MAX_QTY
        if price <= 0:
            return Reason.INVALID_PRICE
        units = spec.max_notional_units
        if price * open_ > units:
            return Reason.MAX_NOTIONAL_EXCEEDED
        collar = spec.collar_ticks
        if collar is not None and price != order.price:
            reference = self.reference_price()
            if reference is not None and abs(price - reference) > collar:
                return Reason.PRICE_OUTSIDE_COLLAR
        if order.post_only and price != order.price and self._crosses(order.side, price):
            return Reason.POST_ONLY_WOULD_TAKE
        return None

    def _crosses(self, side: str, price: int) -> bool:
        if side == BUY:
            asks = self._asks
            return bool(asks) and self._ask_prices[0] <= price
        bids = self._bids
        return bool(bids) and self._bid_prices[-1] >= price

    # ------------------------------------------------------------------ matching

    def _enter(self, order: Order, ts: int, out: list[Record], triggered: bool) -> None:
        """Take an accepted (or just triggered) order: queue, match, rest or cancel it."""
        price = order.price
        if triggered:
            reason = None
            if price is not None and order.type == LIMIT:
                collar = self.spec.collar_ticks
                reference = self.reference_price()
                if collar is not None and reference is not None and abs(price - reference) > collar:
                    reason = Reason.PRICE_OUTSIDE_COLLAR
                elif order.post_only and self._crosses(order.side, price):
                    reason = Reason.POST_ONLY_WOULD_TAKE
            if reason is not None:
                self._cancel_whole(order, ts, out, reason)
                return
        if self._mode == AUCTION:
            if order.type == MARKET:
                order.state = _AUCTION_MARKET
                self._auction_market[order.id] = order
            else:
                self._rest(order)
            self._seq += 1
            out.append((RESTED, self._seq, ts, order.id, order.price, order.open))
            return
        limit = price
        is_market = order.type == MARKET
        if is_market:
            collar = self.spec.collar_ticks
            reference = self.reference_price()
            if collar is not None and reference is not None:
                bound = reference + collar if order.side == BUY else reference - collar
                if limit is None or (bound < limit if order.side == BUY else bound > limit):
                    limit = bound
        if order.tif == FOK and not self._fok_fillable(order, limit):
            self._cancel_whole(order, ts, out, Reason.FOK_UNFILLED)
            return
        self._match(order, limit, ts, out)
        if order.open == 0:
            self._forget(order)
            return
        if is_market:
            opposite = self._asks if order.side == BUY else self._bids
            why = Reason.COLLAR_REACHED if opposite else Reason.NO_LIQUIDITY
            self._cancel_whole(order, ts, out, why)
        elif order.tif in (IOC, FOK):
            self._cancel_whole(order, ts, out, Reason.IOC_REMAINING)
        else:
            self._rest(order)
            self._seq += 1
            out.append((RESTED, self._seq, ts, order.id, price, order.open))

    def _match(self, taker: Order, limit: int | None, ts: int, out: list[Record]) -> None:
        """Sweep the opposite side for `taker` up to `limit` (None: no bound)."""
        buy = taker.side == BUY
        book = self._asks if buy else self._bids
        if not book:
            return
        keys = self._ask_prices if buy else self._bid_prices
        index = self._orders
        taker_id = taker.id
        taker_account = taker.account
        taker_group = taker.group
        side = taker.side
        append = out.append
        while book:
            price = keys[0] if buy else keys[-1]
            if limit is not None and (price > limit if buy else price < limit):
                break
            level = book[price]
            orders = level.orders
            while orders:
                maker = next(iter(orders.values()))
                if maker.account == taker_account or (
                    taker_group is not None and maker.group == taker_group
                ):
                    if self._self_match(taker, maker, level, ts, out):
                        continue
                    break
                taker_open = taker.open
                maker_open = maker.open
                qty = taker_open if taker_open < maker_open else maker_open
                taker.open = taker_open - qty
                taker.filled += qty
                maker.open = maker_open - qty
                maker.filled += qty
                level.total -= qty
                self._seq += 1
                append(
                    (
                        TRADE,
                        self._seq,
                        ts,
                        price,
                        qty,
                        taker_id,
                        maker.id,
                        side,
                        taker_account,
                        maker.account,
                    )
                )
                self._last_price = price
                if maker_open == qty:
                    del orders[maker.id]
                    del index[maker.id]
                    maker.state = _IN_FLIGHT
                if taker.open == 0:
                    break
            if not orders:
                book.pop(price, None)  # an STP cancel may have removed the level already
            if taker.open == 0:
                return

    def _self_match(
        self, taker: Order, maker: Order, level: _Level, ts: int, out: list[Record]
    ) -> bool:
        """Apply the taker's STP mode to a self-match; True if matching goes on."""
        mode = taker.stp
        if mode in (CANCEL_MAKER, CANCEL_BOTH):
            reason = Reason.STP_CANCEL_MAKER if mode == CANCEL_MAKER else Reason.STP_CANCEL_BOTH
            qty = maker.open
            self._remove(maker)
            self._seq += 1
            out.append((CANCELLED, self._seq, ts, maker.id, qty, 0, reason))
            if mode == CANCEL_MAKER:
                return True
            self._cancel_whole(taker, ts, out, reason)
            return False
        if mode == DECREMENT:
            qty = min(taker.open, maker.open)
            maker.open -= qty
            level.total -= qty
            self._seq += 1
            out.append((CANCELLED, self._seq, ts, maker.id, qty, maker.open, Reason.STP_DECREMENT))
            if maker.open == 0:
                self._remove(maker)
            taker.open -= qty
            self._seq += 1
            out.append((CANCELLED, self._seq, ts, taker.id, qty, taker.open, Reason.STP_DECREMENT))
            return taker.open > 0
        self._cancel_whole(taker, ts, out, Reason.STP_CANCEL_TAKER)
        return False

    def _fok_fillable(self, taker: Order, limit: int | None) -> bool:
        """Whether `taker` would fill completely right now, changing nothing."""
        need = taker.open
        if taker.side == BUY:
            book = self._asks
            prices = book.irange(maximum=limit) if limit is not None else book.keys()
        else:
            book = self._bids
            prices = (
                book.irange(minimum=limit, reverse=True)
                if limit is not None
                else reversed(book.keys())
            )
        account = taker.account
        group = taker.group
        skip_self = taker.stp == CANCEL_MAKER
        for price in prices:
            for maker in book[price].orders.values():
                if maker.account == account or (group is not None and maker.group == group):
                    if skip_self:
                        continue
                    return False
                need -= maker.open
                if need <= 0:
                    return True
        return False

    def _run_stops(self, ts: int, out: list[Record]) -> None:
        """Trigger stop orders, one at a time in acceptance order, while the last price allows."""
        stops = self._stops
        while stops and self._last_price is not None:
            last = self._last_price
            fired = None
            for order in stops.values():
                stop = order.stop_price
                assert stop is not None  # only orders with a stop price are kept here
                if (last >= stop) if order.side == BUY else (last <= stop):
                    fired = order
                    break
            if fired is None:
                return
            del stops[fired.id]
            fired.state = _IN_FLIGHT
            self._seq += 1
            out.append((TRIGGERED, self._seq, ts, fired.id, fired.stop_price, last))
            self._enter(fired, ts, out, triggered=True)

    # ------------------------------------------------------------------ auctions

    def _uncross_price(self) -> tuple[int | None, int, int, str]:
        """Choose the uncross price: (price, volume, imbalance, the rule that decided)."""
        # Market orders without protection trade at any price; a protected one takes part
        # only where its protection allows, like a limit order at that price.
        market_buy = market_sell = 0
        protected_buys: dict[int, int] = {}
        protected_sells: dict[int, int] = {}
        for order in self._auction_market.values():
            if order.price is None:
                if order.side == BUY:
                    market_buy += order.open
                else:
                    market_sell += order.open
            else:
                extra = protected_buys if order.side == BUY else protected_sells
                extra[order.price] = extra.get(order.price, 0) + order.open
        reference = self.reference_price()
        candidates = list(self._bids.keys())
        candidates.extend(self._asks.keys())
        candidates.extend(protected_buys)
        candidates.extend(protected_sells)
        if reference is not None:
            candidates.append(reference)
        prices = sorted(dict.fromkeys(candidates))
        if not prices:
            return None, 0, 0, Reason.NO_CROSS
        # demand(p): buy lots willing to pay >= p; supply(p): sell lots willing to take <= p
        supply: list[int] = []
        running = market_sell
        for price in prices:
            level = self._asks.get(price)
            if level is not None:
                running += level.total
            running += protected_sells.get(price, 0)
            supply.append(running)
        demand = [0] * len(prices)
        running = market_buy
        for i in range(len(prices) - 1, -1, -1):
            level = self._bids.get(prices[i])
            if level is not None:
                running += level.total
            running += protected_buys.get(prices[i], 0)
            demand[i] = running
        scored = []
        for i, price in enumerate(prices):
            volume = min(demand[i], supply[i])
            imbalance = abs(demand[i] - supply[i])
            distance = abs(price - reference) if reference is not None else 0
            scored.append((-volume, imbalance, distance, price))
        scored.sort()
        best = scored[0]
        if best[0] == 0:
            return None, 0, 0, Reason.NO_CROSS
        why = Reason.LOWEST_PRICE
        if len(scored) == 1 or scored[1][0] != best[0]:
            why = Reason.MAX_VOLUME
        elif scored[1][1] != best[1]:
            why = Reason.MIN_IMBALANCE
        elif scored[1][2] != best[2]:
            why = Reason.CLOSEST_TO_REFERENCE
        return best[3], -best[0], best[1], why

    def _execute_auction(self, price: int, ts: int, out: list[Record]) -> None:
        queued = self._auction_market.values()
        buys = [o for o in queued if o.side == BUY and (o.price is None or o.price >= price)]
        sells = [o for o in queued if o.side == SELL and (o.price is None or o.price <= price)]
        for level_price in reversed(self._bids.keys()):
            if level_price < price:
                break
            buys.extend(self._bids[level_price].orders.values())
        for level_price in self._asks:
            if level_price > price:
                break
            sells.extend(self._asks[level_price].orders.values())
        i = j = 0
        while i < len(buys) and j < len(sells):
            buy = buys[i]
            sell = sells[j]
            if buy.open == 0:
                i += 1
                continue
            if sell.open == 0:
                j += 1
                continue
            taker, maker = (buy, sell) if buy.priority > sell.priority else (sell, buy)
            if taker.post_only and not maker.post_only:
                taker, maker = maker, taker  # a post-only order never takes
            if maker.account == taker.account or (
                taker.group is not None and maker.group == taker.group
            ):
                self._auction_self_match(taker, maker, ts, out)
                continue
            qty = min(buy.open, sell.open)
            self._seq += 1
            out.append(
                (
                    TRADE,
                    self._seq,
                    ts,
                    price,
                    qty,
                    taker.id,
                    maker.id,
                    taker.side,
                    taker.account,
                    maker.account,
                )
            )
            self._last_price = price
            for order in (buy, sell):
                self._reduce(order, qty)
                order.filled += qty

    def _clear_cross(self, ts: int, out: list[Record]) -> None:
        """Trade off a cross left after an uncross (STP can take away the volume it priced)."""
        bids = self._bids
        asks = self._asks
        while bids and asks and bids.keys()[-1] >= asks.keys()[0]:
            bid = next(iter(bids[bids.keys()[-1]].orders.values()))
            ask = next(iter(asks[asks.keys()[0]].orders.values()))
            taker = bid if bid.priority > ask.priority else ask
            if taker.post_only:
                taker = ask if taker is bid else bid
            price = taker.price
            self._unrest(taker)
            self._match(taker, price, ts, out)
            if taker.open == 0:
                self._forget(taker)
                continue
            self._rest(taker)  # at the head of its level again: it keeps its place
            level = (bids if taker.side == BUY else asks)[price]
            level.orders = {taker.id: taker, **level.orders}

    def _auction_self_match(self, taker: Order, maker: Order, ts: int, out: list[Record]) -> None:
        mode = taker.stp
        if mode == DECREMENT:
            qty = min(taker.open, maker.open)
            for order in (maker, taker):
                remaining = order.open - qty
                self._seq += 1
                out.append(
                    (CANCELLED, self._seq, ts, order.id, qty, remaining, Reason.STP_DECREMENT)
                )
                self._reduce(order, qty)
            return
        if mode in (CANCEL_MAKER, CANCEL_BOTH):
            reason = Reason.STP_CANCEL_MAKER if mode == CANCEL_MAKER else Reason.STP_CANCEL_BOTH
            self._cancel_whole(maker, ts, out, reason)
            if mode == CANCEL_MAKER:
                return
            self._cancel_whole(taker, ts, out, reason)
            return
        self._cancel_whole(taker, ts, out, Reason.STP_CANCEL_TAKER)

    # ------------------------------------------------------------------ book keeping

    def _reduce(self, order: Order, qty: int) -> None:
        """Take `qty` off a live order's open quantity, removing it when nothing is left."""
        if order.state == _RESTING:
            book = self._bids if order.side == BUY else self._asks
            book[order.price].total -= qty
        order.open -= qty
        if order.open == 0:
            self._remove(order)

    def _cancel_whole(self, order: Order, ts: int, out: list[Record], reason: str) -> None:
        qty = order.open
        self._remove(order)
        order.open = 0
        self._seq += 1
        out.append((CANCELLED, self._seq, ts, order.id, qty, 0, reason))

    def _rest(self, order: Order) -> None:
        book = self._bids if order.side == BUY else self._asks
        level = book.get(order.price)
        if level is None:
            level = book[order.price] = _Level()
        level.orders[order.id] = order
        level.total += order.open
        order.state = _RESTING

    def _unrest(self, order: Order) -> None:
        book = self._bids if order.side == BUY else self._asks
        level = book[order.price]
        del level.orders[order.id]
        level.total -= order.open
        if not level.orders:
            del book[order.price]
        order.state = _IN_FLIGHT

    def _remove(self, order: Order) -> None:
        """Take a live order out of wherever it is and out of the index."""
        state = order.state
        if state == _RESTING:
            self._unrest(order)
        elif state == _STOP:
            del self._stops[order.id]
        elif state == _AUCTION_MARKET:
            del self._auction_market[order.id]
        order.state = _IN_FLIGHT
        self._orders.pop(order.id, None)

    def _forget(self, order: Order) -> None:
        self._orders.pop(order.id, None)

    def _expire_due(self, ts: int, out: list[Record]) -> None:
        expiries = self._expiries
        while expiries and expiries[0][0] <= ts:
            _, accept_seq, order_id = heapq.heappop(expiries)
            order = self._orders.get(order_id)
            if order is None or order.accept_seq != accept_seq:
                continue  # filled or cancelled meanwhile
            qty = order.open
            self._remove(order)
            self._seq += 1
            out.append((EXPIRED, self._seq, ts, order_id, qty))

    def _switch(self, ts: int, op: str, refused: bool, reason: str, kind: str) -> list[Record]:
        out: list[Record] = []
        if ts < self._ts:
            return self._reject(out, ts, op, None, None, Reason.TS_OUT_OF_ORDER)
        self._ts = ts
        if self._expiries and self._expiries[0][0] <= ts:
            self._expire_due(ts, out)
        if refused:
            return self._reject(out, ts, op, None, None, reason)
        if kind == HALTED:
            self._halted = True
        elif kind == RESUMED:
            self._halted = False
        else:
            self._mode = AUCTION
        self._seq += 1
        out.append((kind, self._seq, ts))
        return out

    def _reject(
        self,
        out: list[Record],
        ts: int,
        op: str,
        order_id: str | None,
        account: str | None,
        reason: str | None,
    ) -> list[Record]:
        self._seq += 1
        # A ts_out_of_order refusal is recorded at the market's time: record time never goes back.
        out.append((REJECTED, self._seq, max(ts, self._ts), op, order_id, account, reason))
        return out
