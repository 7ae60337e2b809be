"""What the read models' queries return: plain immutable rows with Decimal amounts.

The contract between the read models (projections/*.py) and the GraphQL layer. Prices and
quantities are Decimal (converted from ticks and lots with the market's spec), times are
aware UTC datetimes; `clean` writes an amount in its shortest exact form.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from socialtrading.domain.money import CONTEXT as EXACT


def clean(value: Decimal) -> Decimal:
    """`value` without trailing zeros and without an exponent (1E+2 -> 100, 0.50 -> 0.5)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1), context=EXACT)
    return value.normalize(EXACT)


@dataclass(frozen=True, slots=True)
class MarketRow:
    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    min_qty: Decimal | None
    max_qty: Decimal | None
    max_notional: Decimal | None
    collar_ticks: int | None
    maker_fee_bps: int
    taker_fee_bps: int
    mode: str  # continuous | auction
    halted: bool
    last_price: Decimal | None
    listed_at: datetime


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: str
    handle: str
    display_name: str
    kyc_level: int
    roles: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: str  # public id, never the token or its hash
    label: str | None
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class BalanceRow:
    account_id: str
    asset: str
    available: Decimal
    reserved: Decimal


@dataclass(frozen=True, slots=True)
class OrderRow:
    id: str
    market: str
    account_id: str
    side: str  # buy | sell
    type: str  # limit | market
    price: Decimal | None  # limit price, or a market order's protection price
    quantity: Decimal  # filled + open (changes with amends)
    open_quantity: Decimal
    filled_quantity: Decimal
    status: str  # ACCEPTED OPEN PARTIALLY_FILLED FILLED CANCELLED REJECTED EXPIRED
    time_in_force: str
    post_only: bool
    stop_price: Decimal | None
    reason: str | None  # why it was rejected or cancelled
    created_at: datetime
    updated_at: datetime
    cursor: int  # notification id of its first event: newer orders have larger cursors


@dataclass(frozen=True, slots=True)
class LevelRow:
    price: Decimal
    quantity: Decimal
    orders: int


@dataclass(frozen=True, slots=True)
class TradeRow:
    market: str
    seq: int  # the market's record sequence number: the tape's cursor
    price: Decimal
    quantity: Decimal
    taker_order: str
    maker_order: str
    taker_side: str
    buyer_account: str
    seller_account: str
    executed_at: datetime


@dataclass(frozen=True, slots=True)
class CandleRow:
    market: str
    interval: str  # 1m 5m 1h 1d
    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int


@dataclass(frozen=True, slots=True)
class PositionRow:
    account_id: str
    market: str
    quantity: Decimal  # signed base quantity: > 0 long, < 0 short
    average_entry_price: Decimal | None
    realized_pnl: Decimal  # in the quote asset, fees not included
    fees_paid: Decimal  # quote asset
    mark_price: Decimal | None = None  # the market's last trade price
    unrealized_pnl: Decimal | None = None  # the open quantity marked to it, quote asset
