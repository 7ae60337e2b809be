"""MarketSpec: the Decimal <-> ticks/lots edge, its refusals, spec validation, format_decimal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from socialtrading.engine.records import REJECTED, Reason
from socialtrading.engine.spec import (
    AUCTION,
    InvalidValueError,
    MarketSpec,
    SpecError,
    format_decimal,
)
from tests.unit.engine.book_helpers import LOT, SYMBOL, TICK, limit, make_book, make_spec


def test_prices_convert_to_whole_ticks_and_back() -> None:
    spec = make_spec()
    assert spec.to_ticks(Decimal("100.25")) == 10025
    assert spec.to_ticks(Decimal("0.01")) == 1
    assert spec.price(10025) == Decimal("100.25")


def test_quantities_convert_to_whole_lots_and_back() -> None:
    spec = make_spec()
    assert spec.to_lots(Decimal("1.5")) == 15000
    assert spec.to_lots(Decimal("0.0001")) == 1
    assert spec.qty(15000) == Decimal("1.5")


def test_trailing_zeros_do_not_matter_for_conversion() -> None:
    spec = make_spec()
    assert spec.to_ticks(Decimal("100.2500000")) == spec.to_ticks(Decimal("100.25"))
    assert spec.to_lots(Decimal("2E+0")) == 20000


def test_price_off_the_tick_grid_is_refused_not_rounded() -> None:
    with pytest.raises(InvalidValueError) as caught:
        make_spec().to_ticks(Decimal("100.255"))
    assert caught.value.reason == Reason.PRICE_NOT_ON_TICK
    assert caught.value.value == Decimal("100.255")


def test_quantity_off_the_lot_grid_is_refused_not_rounded() -> None:
    with pytest.raises(InvalidValueError) as caught:
        make_spec().to_lots(Decimal("1.00005"))
    assert caught.value.reason == Reason.QTY_NOT_ON_LOT


@pytest.mark.parametrize("text", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_non_finite_price_is_an_invalid_price(text: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        make_spec().to_ticks(Decimal(text))
    assert caught.value.reason == Reason.INVALID_PRICE


@pytest.mark.parametrize("text", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_non_finite_quantity_is_an_invalid_qty(text: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        make_spec().to_lots(Decimal(text))
    assert caught.value.reason == Reason.INVALID_QTY


def test_price_too_large_for_decimal_precision_is_an_invalid_price() -> None:
    with pytest.raises(InvalidValueError) as caught:
        make_spec().to_ticks(Decimal("1E+40"))
    assert caught.value.reason == Reason.INVALID_PRICE


def test_non_decimal_price_is_an_invalid_price() -> None:
    with pytest.raises(InvalidValueError) as caught:
        make_spec().to_ticks(100.25)  # type: ignore[arg-type]
    assert caught.value.reason == Reason.INVALID_PRICE


def test_negative_price_on_the_grid_converts_and_the_book_refuses_it() -> None:
    book = make_book()
    ticks = book.spec.to_ticks(Decimal("-1.00"))
    assert ticks == -100
    assert limit(book, "o1", "buy", ticks, 1)[0][6] == Reason.INVALID_PRICE


def test_off_grid_refusal_is_recorded_in_sequence_through_the_book() -> None:
    book = make_book()
    limit(book, "o1", "buy", 100, 1, ts=5)
    out = book.reject(6, "new", "o2", "a2", Reason.PRICE_NOT_ON_TICK)
    assert out == [(REJECTED, 3, 6, "new", "o2", "a2", Reason.PRICE_NOT_ON_TICK)]
    assert book.depth(5) == ([(100, 1)], [])


def test_derived_integer_limits_are_computed_once() -> None:
    spec = make_spec(
        min_qty=Decimal("0.0002"),
        max_qty=Decimal("10"),
        max_notional=Decimal("500"),
        reference_price=Decimal("100.00"),
    )
    assert spec.min_lots == 2
    assert spec.max_lots == 100000
    assert spec.reference_ticks == 10000
    # ticks * lots * (0.01 * 0.0001) <= 500  <=>  ticks * lots <= 500_000_000
    assert spec.max_notional_units == 500_000_000


def test_spec_without_limits_has_neutral_integer_limits() -> None:
    spec = make_spec()
    assert (spec.min_lots, spec.max_lots, spec.max_notional_units, spec.reference_ticks) == (
        1,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"symbol": ""}, "symbol"),
        ({"tick_size": Decimal(0)}, "tick_size"),
        ({"tick_size": Decimal("-0.01")}, "tick_size"),
        ({"tick_size": Decimal("NaN")}, "tick_size"),
        ({"lot_size": Decimal("Infinity")}, "lot_size"),
        ({"min_qty": Decimal(0)}, "min_qty"),
        ({"max_qty": Decimal(-1)}, "max_qty"),
        ({"max_notional": Decimal(0)}, "max_notional"),
        ({"reference_price": Decimal(-5)}, "reference_price"),
        ({"collar_ticks": 0}, "collar_ticks"),
        ({"mode": "call"}, "mode"),
        ({"min_qty": Decimal("0.00015")}, "qty_not_on_lot"),
        ({"max_qty": Decimal("0.00015")}, "qty_not_on_lot"),
        ({"reference_price": Decimal("100.005")}, "price_not_on_tick"),
        ({"min_qty": Decimal(2), "max_qty": Decimal(1)}, "max_qty must not be below min_qty"),
    ],
)
def test_invalid_spec_is_refused_with_spec_error(fields: dict[str, Any], match: str) -> None:
    values: dict[str, Any] = {"symbol": SYMBOL, "tick_size": TICK, "lot_size": LOT}
    values.update(fields)
    with pytest.raises(SpecError, match=match):
        MarketSpec(**values)


def test_spec_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="collar_ticks"):
        make_spec(collar_ticks=-1)


def test_spec_in_auction_mode_starts_the_book_in_auction() -> None:
    assert make_book(mode=AUCTION).mode == AUCTION


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100.25", "100.25"),
        ("100.00", "100"),
        ("0.50", "0.5"),
        ("0.0001", "0.0001"),
        ("1E+2", "100"),
        ("1.5E-3", "0.0015"),
        ("0E-8", "0"),
        ("-2.50", "-2.5"),
    ],
)
def test_format_decimal_has_no_exponent_and_no_trailing_zeros(text: str, expected: str) -> None:
    assert format_decimal(Decimal(text)) == expected
