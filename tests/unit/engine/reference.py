"""A deliberately naive reference matcher, the oracle of the differential property test.

It covers continuous trading only: limit and market orders (with or without a protection
price) with GTC, IOC and FOK, post-only, the four STP modes, cancels and amends. No stops, GTD,
auctions, halts, collars or notional limits; the differential test generates streams without
them. It is written to be obviously right, not fast: the resting orders are one flat list, and
every step of a sweep picks the best maker by sorting the whole list again.

The rules it implements, from `socialtrading/engine/book.py`:

- priority: best price first (highest bid, lowest ask), then the earliest time of joining the
  back of the level; an order joins the back when it rests and when an amend loses priority;
- a taker trades with the best crossing maker at the maker's price until it is filled or
  nothing crosses its limit (a market order's limit is its protection price, if any);
- self-trade prevention (same account, or the same non-empty group) applies the taker's mode;
- FOK: the order is matched only if matching it would fill it completely; this is decided by
  matching it on a throw-away copy of the book;
- after the sweep a limit GTC order rests, anything else is cancelled;
- post-only orders that would cross the best opposite order are refused;
- amend: same price and no larger open quantity keeps the order's place; anything else takes
  it out, matches it at the new price as a taker, and rests what is left at the back.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

BUY = "buy"
SELL = "sell"
MARKET = "market"
GTC = "GTC"
IOC = "IOC"
FOK = "FOK"
CANCEL_TAKER = "cancel_taker"
CANCEL_MAKER = "cancel_maker"
CANCEL_BOTH = "cancel_both"
DECREMENT = "decrement"

Trade = tuple[int, int, str, str]
"""(price, qty, taker id, maker id)"""

BookEntry = tuple[str, str, int, int]
"""(id, side, price, open quantity)"""


@dataclass(eq=False)
class RefOrder:
    """An order as the reference sees it; `time` orders a price level."""

    id: str
    account: str
    group: str | None
    side: str
    price: int | None
    open: int
    tif: str
    post_only: bool
    stp: str
    time: int = 0


def _same_party(taker: RefOrder, maker: RefOrder) -> bool:
    return taker.account == maker.account or (
        taker.group is not None and taker.group == maker.group
    )


def _priority(order: RefOrder) -> tuple[int, int]:
    assert order.price is not None
    return (-order.price if order.side == BUY else order.price, order.time)


class ReferenceBook:
    """One market in continuous mode, matched the slow and obvious way."""

    def __init__(self) -> None:
        self.resting: list[RefOrder] = []
        self.clock = 0

    def book(self) -> list[BookEntry]:
        """Resting orders: bids best first, then asks best first, earliest first in a level."""
        bids = sorted((o for o in self.resting if o.side == BUY), key=_priority)
        asks = sorted((o for o in self.resting if o.side == SELL), key=_priority)
        out: list[BookEntry] = []
        for order in bids + asks:
            assert order.price is not None
            out.append((order.id, order.side, order.price, order.open))
        return out

    def submit(
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
    ) -> list[Trade]:
        """A new order; returns its trades (none when it is refused)."""
        if self._find(order_id) is not None:
            return []  # duplicate live id
        if post_only and (type_ == MARKET or tif in (IOC, FOK)):
            return []
        taker = RefOrder(order_id, account, group, side, price, qty, tif, post_only, stp)
        if post_only and self._best_maker(taker, price) is not None:
            return []  # would take
        if tif == FOK:
            trial_book, trial_taker = copy.deepcopy((self, taker))
            filled = sum(trade[1] for trade in trial_book._take(trial_taker, price))
            if filled < qty:
                return []  # cancelled whole, nothing changes
        trades = self._take(taker, price)
        if taker.open > 0 and type_ != MARKET and tif == GTC:
            self._rest(taker)
        return trades

    def cancel(self, order_id: str, account: str) -> list[Trade]:
        """Cancel a resting order of `account`."""
        order = self._find(order_id)
        if order is not None and order.account == account:
            self.resting.remove(order)
        return []

    def amend(self, order_id: str, account: str, price: int | None, qty: int | None) -> list[Trade]:
        """Change a resting order's price and/or open quantity; returns the trades."""
        order = self._find(order_id)
        if order is None or order.account != account or (price is None and qty is None):
            return []
        assert order.price is not None
        new_price = order.price if price is None else price
        new_open = order.open if qty is None else qty
        if new_open <= 0 or new_price <= 0:
            return []
        if (
            order.post_only
            and new_price != order.price
            and self._best_maker(order, new_price) is not None
        ):
            return []  # a post-only order may not be amended to a crossing price
        if new_price == order.price and new_open <= order.open:
            order.open = new_open  # keeps its place
            return []
        self.resting.remove(order)
        order.price = new_price
        order.open = new_open
        trades = self._take(order, new_price)
        if order.open > 0:
            self._rest(order)
        return trades

    # ------------------------------------------------------------------ helpers

    def _find(self, order_id: str) -> RefOrder | None:
        for order in self.resting:
            if order.id == order_id:
                return order
        return None

    def _rest(self, order: RefOrder) -> None:
        self.clock += 1
        order.time = self.clock
        self.resting.append(order)

    def _best_maker(self, taker: RefOrder, limit: int | None) -> RefOrder | None:
        """The opposite order first in priority that `taker` could trade with at `limit`."""
        makers = []
        for maker in self.resting:
            assert maker.price is not None
            if maker.side == taker.side:
                continue
            if limit is not None and (
                maker.price > limit if taker.side == BUY else maker.price < limit
            ):
                continue
            makers.append(maker)
        makers.sort(key=_priority)
        return makers[0] if makers else None

    def _take(self, taker: RefOrder, limit: int | None) -> list[Trade]:
        trades: list[Trade] = []
        while taker.open > 0:
            maker = self._best_maker(taker, limit)
            if maker is None:
                break
            if _same_party(taker, maker):
                if taker.stp == CANCEL_TAKER:
                    taker.open = 0
                elif taker.stp == CANCEL_MAKER:
                    self.resting.remove(maker)
                elif taker.stp == CANCEL_BOTH:
                    self.resting.remove(maker)
                    taker.open = 0
                else:
                    assert taker.stp == DECREMENT
                    qty = min(taker.open, maker.open)
                    taker.open -= qty
                    maker.open -= qty
                    if maker.open == 0:
                        self.resting.remove(maker)
                continue
            qty = min(taker.open, maker.open)
            assert maker.price is not None
            trades.append((maker.price, qty, taker.id, maker.id))
            taker.open -= qty
            maker.open -= qty
            if maker.open == 0:
                self.resting.remove(maker)
        return trades
