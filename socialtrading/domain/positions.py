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

from typing import NamedTuple


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
