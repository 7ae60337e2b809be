"""The position rule: how fills move an account's position in one market.

In the market's integer units (ticks, lots, and quote units of tick x lot):

- A buy of q lots adds q to the position, a sell takes q off; a position is > 0 long, < 0
  short.
- A fill in the position's direction (or from flat) adds its price x lots to the cost basis;
  the average entry price is cost / |quantity|.
- A fill against the position closes up to |quantity| lots: it takes their share of the cost
  basis (cost x closed / |quantity|, rounded down; the rounding stays in the basis of the lots
  still open, so a round trip is exact) and realizes, long, closed x price - that cost, short,
  that cost - closed x price. What the fill has beyond the position opens a new one the other
  way at the fill's price.

Both the write side (a post discloses its author's position, decided by the writer) and the
positions read model apply this one rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from socialtrading.engine.book import BUY
from socialtrading.engine.records import (
    KIND,
    TRADE,
    TRADE_MAKER_ACCOUNT,
    TRADE_PRICE,
    TRADE_QTY,
    TRADE_TAKER_ACCOUNT,
    TRADE_TAKER_SIDE,
)


class Moved(NamedTuple):
    """A position after a fill: signed lots, cost basis (ticks x lots of the open lots), and
    the PnL the fill realized (quote units)."""

    quantity: int
    cost: int
    realized: int


def fill(quantity: int, cost: int, price: int, delta: int) -> Moved:
    """The position (`quantity`, `cost`) after a fill of `delta` lots (> 0 bought, < 0 sold)
    at `price` ticks."""
    if quantity == 0 or (quantity > 0) == (delta > 0):
        return Moved(quantity + delta, cost + price * abs(delta), 0)
    size = abs(quantity)
    closed = min(abs(delta), size)
    released = cost * closed // size
    realized = closed * price - released if quantity > 0 else released - closed * price
    cost -= released
    quantity += closed if delta > 0 else -closed
    rest = abs(delta) - closed
    if rest:  # flipped: the rest opens a position the other way at this price
        quantity = rest if delta > 0 else -rest
        cost = price * rest
    return Moved(quantity, cost, realized)


class Positions:
    """Every open position in one market: account id (text) -> [signed lots, cost basis] in
    `held`; a flat account has no entry.

    Not a dict subclass: snapshots store it through a transcoding of its own (the sums may
    pass 64 bits, which orjson does not write as JSON numbers), and JSON encoders write any
    dict subclass as a plain dict without asking.
    """

    __slots__ = ("held",)

    def __init__(self, held: dict[str, list[int]] | None = None) -> None:
        self.held: dict[str, list[int]] = {} if held is None else held

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Positions) and other.held == self.held

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Positions({self.held!r})"

    def apply(self, records: Iterable[Sequence[Any]]) -> None:
        """Move the positions by the `trade` records among `records`."""
        for record in records:
            if record[KIND] != TRADE:
                continue
            price = record[TRADE_PRICE]
            qty = record[TRADE_QTY]
            bought = qty if record[TRADE_TAKER_SIDE] == BUY else -qty
            self._fill(record[TRADE_TAKER_ACCOUNT], price, bought)
            self._fill(record[TRADE_MAKER_ACCOUNT], price, -bought)

    def _fill(self, account: str, price: int, delta: int) -> None:
        held = self.held.get(account)
        if held is None:
            self.held[account] = [delta, price * abs(delta)]
            return
        quantity, cost, _ = fill(held[0], held[1], price, delta)
        if quantity:
            held[0] = quantity
            held[1] = cost
        else:
            del self.held[account]

    def of(self, account: str) -> tuple[int, int]:
        """`account`'s (signed lots, cost basis); (0, 0) when flat."""
        held = self.held.get(account)
        return (0, 0) if held is None else (held[0], held[1])
