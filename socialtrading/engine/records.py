"""Result records: what the engine says happened, as plain tuples.

Records are tuples (not objects) because they are made on the hot path: a tuple costs tens of
nanoseconds, a dataclass hundreds. Element 0 is the kind, 1 the market's sequence number and
2 the command's timestamp (integer microseconds). Prices are integer ticks and quantities
integer lots; `to_dict` renders one as decimal strings for the outside world.

Layouts after (kind, seq, ts):

    accepted   id, account, side, type, price|None, qty, tif, post_only, stp, group|None,
               expire_ts|None, stop_price|None
    rejected   op, id|None, account|None, reason
    trade      price, qty, taker, maker, taker_side, taker_account, maker_account
    rested     id, price|None, open              (price None: a market order queued for an auction)
    cancelled  id, qty, remaining, reason         (remaining > 0 only for an STP decrement)
    expired    id, qty
    amended    id, old_price, new_price, old_open, new_open, priority_kept
    triggered  id, stop_price, last_price
    uncrossed  price|None, volume, imbalance, reason
    halted, resumed, auction_started              (nothing more)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from socialtrading.engine.spec import MarketSpec, format_decimal

Record = tuple[Any, ...]

ACCEPTED = "accepted"
REJECTED = "rejected"
TRADE = "trade"
RESTED = "rested"
CANCELLED = "cancelled"
EXPIRED = "expired"
AMENDED = "amended"
TRIGGERED = "triggered"
UNCROSSED = "uncrossed"
HALTED = "halted"
RESUMED = "resumed"
AUCTION_STARTED = "auction_started"

FIELDS: dict[str, tuple[str, ...]] = {
    ACCEPTED: (
        "id",
        "account",
        "side",
        "order_type",
        "price",
        "qty",
        "tif",
        "post_only",
        "stp",
        "group",
        "expire_ts",
        "stop_price",
    ),
    REJECTED: ("op", "id", "account", "reason"),
    TRADE: (
        "price",
        "qty",
        "taker",
        "maker",
        "taker_side",
        "taker_account",
        "maker_account",
    ),
    RESTED: ("id", "price", "open"),
    CANCELLED: ("id", "qty", "remaining", "reason"),
    EXPIRED: ("id", "qty"),
    AMENDED: ("id", "old_price", "new_price", "old_open", "new_open", "priority_kept"),
    TRIGGERED: ("id", "stop_price", "last_price"),
    UNCROSSED: ("price", "volume", "imbalance", "reason"),
    HALTED: (),
    RESUMED: (),
    AUCTION_STARTED: (),
}

# Field positions, by name: code outside the engine reads records as `record[TRADE_PRICE]`,
# never `record[3]` (module constants: a global lookup, no object per record).
KIND: Final = 0
SEQ: Final = 1
TS: Final = 2
# the order an accepted, rested, cancelled, expired, amended or triggered record is about
ORDER_ID: Final = 3
ACCEPTED_ID: Final = 3
ACCEPTED_ACCOUNT: Final = 4
ACCEPTED_SIDE: Final = 5
ACCEPTED_ORDER_TYPE: Final = 6
ACCEPTED_PRICE: Final = 7
ACCEPTED_QTY: Final = 8
ACCEPTED_TIF: Final = 9
ACCEPTED_POST_ONLY: Final = 10
ACCEPTED_STP: Final = 11
ACCEPTED_GROUP: Final = 12
ACCEPTED_EXPIRE_TS: Final = 13
ACCEPTED_STOP_PRICE: Final = 14
REJECTED_OP: Final = 3
REJECTED_ID: Final = 4
REJECTED_ACCOUNT: Final = 5
REJECTED_REASON: Final = 6
TRADE_PRICE: Final = 3
TRADE_QTY: Final = 4
TRADE_TAKER: Final = 5
TRADE_MAKER: Final = 6
TRADE_TAKER_SIDE: Final = 7
TRADE_TAKER_ACCOUNT: Final = 8
TRADE_MAKER_ACCOUNT: Final = 9
RESTED_ID: Final = 3
RESTED_PRICE: Final = 4
RESTED_OPEN: Final = 5
CANCELLED_ID: Final = 3
CANCELLED_QTY: Final = 4
CANCELLED_REMAINING: Final = 5
CANCELLED_REASON: Final = 6
EXPIRED_ID: Final = 3
EXPIRED_QTY: Final = 4
AMENDED_ID: Final = 3
AMENDED_OLD_PRICE: Final = 4
AMENDED_NEW_PRICE: Final = 5
AMENDED_OLD_OPEN: Final = 6
AMENDED_NEW_OPEN: Final = 7
AMENDED_PRIORITY_KEPT: Final = 8
TRIGGERED_ID: Final = 3
TRIGGERED_STOP_PRICE: Final = 4
TRIGGERED_LAST_PRICE: Final = 5
UNCROSSED_PRICE: Final = 3
UNCROSSED_VOLUME: Final = 4
UNCROSSED_IMBALANCE: Final = 5
UNCROSSED_REASON: Final = 6

# Fields holding integer ticks or lots, rendered as decimal strings by `to_dict`.
_PRICE_FIELDS = frozenset({"price", "stop_price", "old_price", "new_price", "last_price"})
_QTY_FIELDS = frozenset({"qty", "open", "remaining", "old_open", "new_open", "volume", "imbalance"})


def to_dict(record: Record, spec: MarketSpec) -> dict[str, Any]:
    """Render a record as a JSON-ready dict with decimal strings for prices and quantities."""
    kind = record[0]
    out: dict[str, Any] = {"type": kind, "seq": record[1], "ts": record[2]}
    for name, value in zip(FIELDS[kind], record[3:], strict=True):
        if value is not None and name in _PRICE_FIELDS:
            out[name] = format_decimal(spec.price(value))
        elif value is not None and name in _QTY_FIELDS:
            out[name] = format_decimal(spec.qty(value))
        else:
            out[name] = value
    return out


def from_dict(data: dict[str, Any], spec: MarketSpec) -> Record:
    """Parse a dict made by `to_dict` back into a record (the inverse of `to_dict`)."""
    kind = data["type"]
    values: list[Any] = [kind, data["seq"], data["ts"]]
    for name in FIELDS[kind]:
        value = data[name]
        if value is not None and name in _PRICE_FIELDS:
            value = spec.to_ticks(Decimal(value))
        elif value is not None and name in _QTY_FIELDS:
            value = spec.to_lots(Decimal(value))
        values.append(value)
    return tuple(values)


class Reason:
    """Stable reason codes carried by rejected and cancelled records."""

    # rejections
    TS_OUT_OF_ORDER = "ts_out_of_order"
    HALTED = "halted"
    DUPLICATE_ORDER_ID = "duplicate_order_id"
    INVALID_SIDE = "invalid_side"
    INVALID_ORDER_TYPE = "invalid_order_type"
    INVALID_TIF = "invalid_tif"
    INVALID_STP_MODE = "invalid_stp_mode"
    INVALID_QTY = "invalid_qty"
    QTY_NOT_ON_LOT = "qty_not_on_lot"
    BELOW_MIN_QTY = "below_min_qty"
    ABOVE_MAX_QTY = "above_max_qty"
    INVALID_PRICE = "invalid_price"
    PRICE_NOT_ON_TICK = "price_not_on_tick"
    INVALID_STOP_PRICE = "invalid_stop_price"
    MISSING_EXPIRY = "missing_expiry"
    EXPIRY_REQUIRES_GTD = "expiry_requires_gtd"
    ALREADY_EXPIRED = "already_expired"
    POST_ONLY_REQUIRES_LIMIT = "post_only_requires_limit"
    POST_ONLY_WITH_IOC_FOK = "post_only_with_ioc_fok"
    NOT_ALLOWED_IN_AUCTION = "not_allowed_in_auction"
    MAX_NOTIONAL_EXCEEDED = "max_notional_exceeded"
    PRICE_OUTSIDE_COLLAR = "price_outside_collar"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    UNKNOWN_ORDER = "unknown_order"
    NOT_OWNER = "not_owner"
    ORDER_NOT_RESTING = "order_not_resting"
    NOTHING_TO_AMEND = "nothing_to_amend"
    NOT_IN_AUCTION = "not_in_auction"
    ALREADY_IN_AUCTION = "already_in_auction"
    ALREADY_HALTED = "already_halted"
    NOT_HALTED = "not_halted"
    # cancellations
    USER = "user"
    IOC_REMAINING = "ioc_remaining"
    FOK_UNFILLED = "fok_unfilled"
    NO_LIQUIDITY = "no_liquidity"
    COLLAR_REACHED = "collar_reached"
    STP_CANCEL_TAKER = "stp_cancel_taker"
    STP_CANCEL_MAKER = "stp_cancel_maker"
    STP_CANCEL_BOTH = "stp_cancel_both"
    STP_DECREMENT = "stp_decrement"
    AUCTION_UNMATCHED = "auction_unmatched"
    # uncross price choice
    MAX_VOLUME = "max_volume"
    MIN_IMBALANCE = "min_imbalance"
    CLOSEST_TO_REFERENCE = "closest_to_reference"
    LOWEST_PRICE = "lowest_price"
    NO_CROSS = "no_cross"
