"""A market's specification and the Decimal <-> integer (ticks, lots) edge.

Inside the engine prices are integer ticks and quantities integer lots. This module is the
only place that turns decimal values into integers and back; a value that is not a whole
multiple of the tick or the lot is refused with a stable reason code, never rounded.

Every integer the engine and the read models store stays well inside 63 bits: a price is at
most MAX_PRICE_TICKS ticks, a quantity at most MAX_LOTS lots and a notional (ticks x lots) at
most MAX_NOTIONAL_UNITS, whatever the market; a market may set lower maxima at listing. The
writer checks them before anything is stored (`check_price`, `check_lots`, `check_notional`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

CONTINUOUS = "continuous"
AUCTION = "auction"
MODES = (CONTINUOUS, AUCTION)

# Hard caps, far below 2**63 - 1 (about 9.22e18), so that sums of a few of them still fit.
MAX_PRICE_TICKS = 10**15
MAX_LOTS = 10**15
MAX_NOTIONAL_UNITS = 10**18
# A listing's tick and lot sizes lie in [MIN_UNIT, MAX_UNIT] with at most 18 decimal places.
MIN_UNIT = Decimal("1e-18")
MAX_UNIT = Decimal(10**6)
MAX_SCALE = 18

PRICE_OUT_OF_RANGE = "price_out_of_range"
QUANTITY_OUT_OF_RANGE = "quantity_out_of_range"
NOTIONAL_OUT_OF_RANGE = "notional_out_of_range"


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
    text = format(value, "f")  # exact, unlike normalize() in a 28-digit context
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _positive(name: str, value: Decimal | None) -> None:
    if value is not None and (not value.is_finite() or value <= 0):
        raise SpecError(f"{name} must be a positive finite decimal, got {value}")


def decimal_places(value: Decimal) -> int:
    """The decimal places a finite `value` needs (trailing zeros do not count), without
    rounding in any context; 0 for an integer."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int), value  # finite
    if exponent >= 0:
        return 0
    text = "".join(map(str, digits))
    trailing = len(text) - len(text.rstrip("0"))
    return max(0, -exponent - trailing)


def _unit(name: str, value: Decimal) -> None:
    _positive(name, value)
    if not MIN_UNIT <= value <= MAX_UNIT or decimal_places(value) > MAX_SCALE:
        raise SpecError(
            f"{name} must lie between {MIN_UNIT} and {MAX_UNIT} with at most"
            f" {MAX_SCALE} decimal places, got {value}"
        )


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """The rules of one market, in decimal units, with their integer forms derived once.

    `min_qty`, `max_qty`, `max_notional` and `max_price` are optional limits; `collar_ticks`
    bounds how far from the reference price (the last trade, else `reference_price`) an order
    may be priced and how far a market order may sweep. `max_price_ticks`, `max_lots` and
    `max_notional_units` are always set: the market's own limit, or the hard cap when it sets
    none or a higher one.
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
    max_price: Decimal | None = None
    min_lots: int = field(init=False, default=1)
    max_lots: int = field(init=False, default=MAX_LOTS)
    max_notional_units: int = field(init=False, default=MAX_NOTIONAL_UNITS)
    max_price_ticks: int = field(init=False, default=MAX_PRICE_TICKS)
    reference_ticks: int | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if not self.symbol:
            raise SpecError("symbol must not be empty")
        _unit("tick_size", self.tick_size)
        _unit("lot_size", self.lot_size)
        _positive("min_qty", self.min_qty)
        _positive("max_qty", self.max_qty)
        _positive("max_notional", self.max_notional)
        _positive("max_price", self.max_price)
        _positive("reference_price", self.reference_price)
        if self.collar_ticks is not None and not 0 < self.collar_ticks <= MAX_PRICE_TICKS:
            raise SpecError(
                f"collar_ticks must be positive and at most {MAX_PRICE_TICKS},"
                f" got {self.collar_ticks}"
            )
        if self.mode not in MODES:
            raise SpecError(f"mode must be one of {MODES}, got {self.mode!r}")
        try:
            if self.max_price is not None:
                ticks = self.to_ticks(self.max_price)
                object.__setattr__(self, "max_price_ticks", min(ticks, MAX_PRICE_TICKS))
            if self.max_qty is not None:
                object.__setattr__(self, "max_lots", min(self.to_lots(self.max_qty), MAX_LOTS))
            if self.min_qty is not None:
                object.__setattr__(self, "min_lots", self.check_lots(self.to_lots(self.min_qty)))
            if self.reference_price is not None:
                ticks = self.check_price(self.to_ticks(self.reference_price))
                object.__setattr__(self, "reference_ticks", ticks)
        except InvalidValueError as error:
            raise SpecError(str(error)) from error
        if self.max_lots < self.min_lots:
            raise SpecError("max_qty must not be below min_qty")
        if self.max_notional is not None:
            # price_ticks * qty_lots * (tick * lot) <= max_notional  <=>  ticks*lots <= units
            try:
                units = int(self.max_notional // (self.tick_size * self.lot_size))
            except InvalidOperation as error:  # a quotient beyond the context's precision
                raise SpecError(f"max_notional is out of range: {self.max_notional}") from error
            if units < 1:
                raise SpecError("max_notional must allow at least one tick times one lot")
            object.__setattr__(self, "max_notional_units", min(units, MAX_NOTIONAL_UNITS))

    def to_ticks(self, price: Decimal) -> int:
        """Convert a price to whole ticks, or raise InvalidValueError."""
        return _whole(price, self.tick_size, "invalid_price", "price_not_on_tick")

    def to_lots(self, qty: Decimal) -> int:
        """Convert a quantity to whole lots, or raise InvalidValueError."""
        return _whole(qty, self.lot_size, "invalid_qty", "qty_not_on_lot")

    def check_price(self, ticks: int) -> int:
        """Return `ticks` if within (0, max_price_ticks], else raise InvalidValueError."""
        if not 0 < ticks <= self.max_price_ticks:
            raise InvalidValueError(PRICE_OUT_OF_RANGE, ticks)
        return ticks

    def check_lots(self, lots: int) -> int:
        """Return `lots` if within (0, MAX_LOTS], else raise InvalidValueError.

        The market's own `max_lots` is the engine's rule (a stored refusal, `above_max_qty`);
        this is the edge's: what no order may ever carry.
        """
        if not 0 < lots <= MAX_LOTS:
            raise InvalidValueError(QUANTITY_OUT_OF_RANGE, lots)
        return lots

    def check_notional(self, ticks: int, lots: int) -> None:
        """Raise InvalidValueError unless ticks x lots is at most MAX_NOTIONAL_UNITS."""
        if ticks * lots > MAX_NOTIONAL_UNITS:
            raise InvalidValueError(NOTIONAL_OUT_OF_RANGE, ticks * lots)

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
