"""A market's specification and the Decimal <-> integer (ticks, lots) edge.

Inside the engine prices are integer ticks and quantities integer lots. This module is the
only place that turns decimal values into integers and back; a value that is not a whole
multiple of the tick or the lot is refused with a stable reason code, never rounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

CONTINUOUS = "continuous"
AUCTION = "auction"
MODES = (CONTINUOUS, AUCTION)


class SpecError(ValueError):
    """The market specification itself is invalid."""


class InvalidValueError(ValueError):
    """A price or quantity that cannot be expressed in whole ticks or lots."""

    def __init__(self, reason: str, value: object) -> None:
        super().__init__(f"{reason}: {value!r}")
        self.reason = reason
        self.value = value


def format_decimal(value: Decimal) -> str:
    """Render a Decimal without exponent and without trailing zeros ("100.25", "0.5", "100")."""
    text = format(value.normalize(), "f")
    return text


def _positive(name: str, value: Decimal | None) -> None:
    if value is not None and (not value.is_finite() or value <= 0):
        raise SpecError(f"{name} must be a positive finite decimal, got {value}")


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """The rules of one market, in decimal units, with their integer forms derived once.

    `min_qty`, `max_qty` and `max_notional` are optional limits; `collar_ticks` bounds how far
    from the reference price (the last trade, else `reference_price`) an order may be priced
    and how far a market order may sweep.
    """

    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    min_qty: Decimal | None = None
    max_qty: Decimal | None = None
    max_notional: Decimal | None = None
    collar_ticks: int | None = None
    reference_price: Decimal | None = None
    mode: str = CONTINUOUS
    min_lots: int = field(init=False, default=1)
    max_lots: int | None = field(init=False, default=None)
    max_notional_units: int | None = field(init=False, default=None)
    reference_ticks: int | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if not self.symbol:
            raise SpecError("symbol must not be empty")
        _positive("tick_size", self.tick_size)
        _positive("lot_size", self.lot_size)
        _positive("min_qty", self.min_qty)
        _positive("max_qty", self.max_qty)
        _positive("max_notional", self.max_notional)
        _positive("reference_price", self.reference_price)
        if self.collar_ticks is not None and self.collar_ticks <= 0:
            raise SpecError(f"collar_ticks must be positive, got {self.collar_ticks}")
        if self.mode not in MODES:
            raise SpecError(f"mode must be one of {MODES}, got {self.mode!r}")
        try:
            if self.min_qty is not None:
                object.__setattr__(self, "min_lots", self.to_lots(self.min_qty))
            if self.max_qty is not None:
                object.__setattr__(self, "max_lots", self.to_lots(self.max_qty))
            if self.reference_price is not None:
                object.__setattr__(self, "reference_ticks", self.to_ticks(self.reference_price))
        except InvalidValueError as error:
            raise SpecError(str(error)) from error
        if self.max_lots is not None and self.max_lots < self.min_lots:
            raise SpecError("max_qty must not be below min_qty")
        if self.max_notional is not None:
            # price_ticks * qty_lots * (tick * lot) <= max_notional  <=>  ticks*lots <= units
            units = self.max_notional // (self.tick_size * self.lot_size)
            object.__setattr__(self, "max_notional_units", int(units))

    def to_ticks(self, price: Decimal) -> int:
        """Convert a price to whole ticks, or raise InvalidValueError."""
        return _whole(price, self.tick_size, "invalid_price", "price_not_on_tick")

    def to_lots(self, qty: Decimal) -> int:
        """Convert a quantity to whole lots, or raise InvalidValueError."""
        return _whole(qty, self.lot_size, "invalid_qty", "qty_not_on_lot")

    def price(self, ticks: int) -> Decimal:
        """The decimal price of `ticks`."""
        return self.tick_size * ticks

    def qty(self, lots: int) -> Decimal:
        """The decimal quantity of `lots`."""
        return self.lot_size * lots


def _whole(value: Decimal, unit: Decimal, invalid: str, off_grid: str) -> int:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidValueError(invalid, value)
    try:
        count, remainder = divmod(value, unit)
    except InvalidOperation as error:  # quotient too large for the context's precision
        raise InvalidValueError(invalid, value) from error
    if remainder != 0:
        raise InvalidValueError(off_grid, value)
    return int(count)
