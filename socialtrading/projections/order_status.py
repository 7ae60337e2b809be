"""Order statuses: which exist, which are live, and how the engine's records move an order.

From the engine records of each market event, in order (`projections/orders.py` applies
them):

- `accepted` makes an order ACCEPTED. It stays ACCEPTED while it is live but not resting: a
  pending stop order, a market order queued for an auction's uncross, or a taker still
  matching within its command.
- `rested` with a price puts it in the book: `resting` (OPEN, or PARTIALLY_FILLED if it has
  fills; a limit order collected during an auction rests in the book, so it is OPEN too).
  `rested` without a price (a market order queued for an auction) keeps it ACCEPTED.
- `trade` fills both sides: `after_fill` (FILLED when nothing is left open, else a resting
  order becomes PARTIALLY_FILLED; a taker's status is decided by the records that follow).
- `cancelled` with nothing remaining: CANCELLED (the record says why: a user cancel, IOC,
  FOK and market-order remainders, STP, unmatched auction market orders, a stop that could
  not enter). With quantity remaining (an STP decrement) the order stays live, smaller.
- `expired`: EXPIRED. `amended` without keeping priority re-queues the order: `resting`.
- `rejected` for a new order: REJECTED.

ACCEPTED, OPEN and PARTIALLY_FILLED are live (`LIVE`); the others are final. The module
constants are the statuses as stored: plain strings, equal to the `OrderStatus` members.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class OrderStatus(StrEnum):
    """Where an order stands."""

    ACCEPTED = "ACCEPTED"
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


ACCEPTED: Final = OrderStatus.ACCEPTED.value
OPEN: Final = OrderStatus.OPEN.value
PARTIALLY_FILLED: Final = OrderStatus.PARTIALLY_FILLED.value
FILLED: Final = OrderStatus.FILLED.value
CANCELLED: Final = OrderStatus.CANCELLED.value
REJECTED: Final = OrderStatus.REJECTED.value
EXPIRED: Final = OrderStatus.EXPIRED.value

LIVE: Final = (ACCEPTED, OPEN, PARTIALLY_FILLED)


def resting(filled: int) -> str:
    """The status of an order resting in the book with `filled` lots filled."""
    return PARTIALLY_FILLED if filled else OPEN


def after_fill(status: str, left: int) -> str:
    """The status of an order of `status` after a fill that leaves `left` lots open."""
    if not left:
        return FILLED
    return PARTIALLY_FILLED if status == OPEN else status
