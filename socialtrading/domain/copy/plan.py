"""A copied fill's plan: what every copy of a leader's fill pays, gets or skipped.

A leader's fill is copied in two steps (`commands/copy_blocks.py`). The first places the
block orders for every copy at once, on the leader's block account, which draws **credit** for
them (the copies' money stays in their allocations) and records the plan
(`Account.BlockPlanned`). Parts then apply the plan, `part_size` items at a time: each order
item moves the copy's share of the block between its allocation and the block account and
repays that much credit, and records the copy's `OrderExecuted`; each skip item records the
copy's `Skipped`. So every copy of the block gets the block's average price (fairness), and
the writer never holds other users' orders behind one command of a thousand copies.

A plan is stored in an event, so it is plain JSON: a dict with

- `reference`: the leader's trade (`SYMBOL:SEQ`, or `open:SYMBOL`), unique per block account
  among its pending plans
- `leader`, `market`, `side`, `credit` (the asset the block account owes while the plan is
  pending: the quote for a buy, the base for a sell)
- `part_size`, and `parts`: how many part commands settle it (0: its own command did)
- `blocks`: block reference -> [limit price, average price or None, why an unfilled rest
  was not filled]
- `items`: order items (in block, then copy id, order) then skip items, as lists (below).
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

# A plan is settled in at most this many parts (the writer's part size is bounded so).
MAX_PLAN_PARTS: Final = 10_000
ORDER: Final = "order"
SKIP: Final = "skip"


class OrderItem(NamedTuple):
    """A copy's part of a block order: lots asked and filled, and its share of the block's
    cost, fee and all-in amount (quote units: what a buy pays, a sell receives)."""

    copy: str
    block: str
    asked: int
    lots: int
    cost: int
    fee: int
    net: int

    def stored(self) -> list[Any]:
        return [ORDER, *self]


class SkipItem(NamedTuple):
    """A copy that copies nothing of the fill, and why (`quantity`: what it did not copy,
    decimal text, when known)."""

    copy: str
    reason: str
    quantity: str | None

    def stored(self) -> list[Any]:
        return [SKIP, *self]


def item(stored: list[Any]) -> OrderItem | SkipItem:
    """An item from its stored list."""
    if stored[0] == ORDER:
        return OrderItem(*stored[1:])
    return SkipItem(*stored[1:])


def plan_size(plan: dict[str, Any]) -> int:
    """How many items a plan has."""
    return len(plan["items"])


def parts_of(items: int, part_size: int) -> int:
    """How many parts of `part_size` items settle `items` items (at least one)."""
    return max(1, -(-items // part_size))


def part_end(plan: dict[str, Any], part: int) -> int:
    """The item after the last of part `part` (0-based)."""
    return min(plan_size(plan), (part + 1) * int(plan["part_size"]))
