"""A copied fill's plan: what every copy of a leader's fill asks, pays, gets or skipped.

A leader's fill is copied in steps, each a writer command of its own
(`commands/copy_plans.py`), so the writer never holds other users' orders behind one
command of a thousand copies:

1. **Opened** (`Account.BlockPlanned`, on the leader's block account): the fill and what
   every copy is sized by (the leader's equity or position, the marks), nothing per copy.
2. **Sized**, `part_size` copies at a time in copy id order (`Account.BlockSized`): each
   copy's lots, by its allocation at that moment, or its skip and why. A sized copy's
   allocation keeps its reservation for the block (what it may withdraw counts it).
3. **Placed**, once the last copy is sized (`Account.BlockPlaced`): ONE block order per
   slippage tolerance, tightest first, on **credit** (the copies' money stays in their
   allocations), its fills split pro rata; every copy of a block gets its average price.
4. **Settled**, `part_size` items at a time (`Account.BlockPartApplied`): each copy's share
   moves between its allocation and the block account, which repays that much credit, and
   the copy records its `OrderExecuted` (or `Skipped`).

A plan is stored in events, so it is plain JSON: a dict with

- `reference`: the leader's trade (`SYMBOL:SEQ`, or `open:SYMBOL`), unique among the block
  account's pending plans; `leader`, `market`, `side`, `price` and `lots` (the leader's fill,
  ticks and lots), `seq` (the trade's record number: copies started later do not copy it)
- `credit`: the asset the block account owes while the plan is placed and not settled (the
  quote for a buy, the base for a sell)
- `marks` (asset -> price in the quote), `leader_equity` (a buy), `sold` and `leader_before`
  (a sell): what every copy is sized by, fixed when the plan opens
- `part_size`, and `parts`: how many sizing commands, and as many settling commands, the
  policy sends (0: the opening command did everything)
- `phase`: `sizing`, then `placed`; `cursor`: the last copy sized (its id, text);
  `sized`: want and skip items; once placed, `blocks` (block reference -> [limit price,
  average price or None, why an unfilled rest was not filled]) and `items` (order items in
  block, then copy id, order, then skip items).
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

# A plan is sized and settled in at most this many parts each.
MAX_PLAN_PARTS: Final = 10_000
SIZING: Final = "sizing"
PLACED: Final = "placed"
WANT: Final = "want"
ORDER: Final = "order"
SKIP: Final = "skip"


class WantItem(NamedTuple):
    """A sized copy: the lots it asks for, in the block of its slippage tolerance."""

    copy: str
    bps: int
    lots: int

    def stored(self) -> list[Any]:
        return [WANT, *self]


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


def item(stored: list[Any]) -> WantItem | OrderItem | SkipItem:
    """An item from its stored list."""
    kind = stored[0]
    if kind == ORDER:
        return OrderItem(*stored[1:])
    if kind == WANT:
        return WantItem(*stored[1:])
    return SkipItem(*stored[1:])


def phase(plan: dict[str, Any]) -> str:
    """`sizing` or `placed`."""
    return str(plan.get("phase", PLACED))


def plan_size(plan: dict[str, Any]) -> int:
    """How many items a placed plan settles."""
    return len(plan.get("items", ()))


def parts_of(items: int, part_size: int) -> int:
    """How many parts of `part_size` items take `items` items (at least one)."""
    return max(1, -(-items // part_size))


def part_end(plan: dict[str, Any], part: int) -> int:
    """The item after the last of settling part `part` (0-based)."""
    return min(plan_size(plan), (part + 1) * int(plan["part_size"]))


def opened(plan: dict[str, Any]) -> list[Any]:
    """A block account's pending entry for a plan just opened: [next item, plan]."""
    return [0, {**plan, "phase": SIZING, "cursor": "", "sized": [], "sized_parts": 0}]


def sized(pending: list[Any], items: list[list[Any]], cursor: str) -> None:
    """Add a sizing part's items to a pending plan (in place: the plan is the block
    account's own copy, made when it opened)."""
    plan = pending[1]
    plan["sized"].extend(items)
    plan["cursor"] = cursor
    plan["sized_parts"] += 1


def placed(pending: list[Any], blocks: dict[str, Any], items: list[list[Any]]) -> None:
    """A pending plan's blocks placed: its items are now order and skip items to settle."""
    plan = {key: value for key, value in pending[1].items() if key != "sized"}
    pending[1] = {**plan, "phase": PLACED, "blocks": blocks, "items": items}
    pending[0] = 0
