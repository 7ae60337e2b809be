"""MarketSpec: the Decimal <-> ticks/lots edge, its refusals, spec validation, format_decimal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from socialtrading.engine.records import REJECTED, Reason
from socialtrading.engine.spec import (
    AUCTION,
    MAX_LOTS,
    MAX_NOTIONAL_UNITS,
    MAX_PRICE_TICKS,
    NOTIONAL_OUT_OF_RANGE,
    PRICE_OUT_OF_RANGE,
    QUANTITY_OUT_OF_RANGE,
    InvalidValueError,
    MarketSpec,
    SpecError,
    decimal_places,
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


def test_spec_without_limits_has_the_hard_caps_as_its_limits() -> None:
    spec = make_spec()
    assert (
        spec.min_lots,
        spec.max_lots,
        spec.max_notional_units,
        spec.max_price_ticks,
        spec.reference_ticks,
    ) == (1, MAX_LOTS, MAX_NOTIONAL_UNITS, MAX_PRICE_TICKS, None)


def test_market_limits_above_the_caps_are_lowered_to_the_caps() -> None:
    spec = make_spec(
        max_qty=Decimal(10**12),  # 10**16 lots of 0.0001
        max_notional=Decimal(10**18),
        max_price=Decimal(10**14),  # 10**16 ticks of 0.01
    )
    assert (spec.max_lots, spec.max_notional_units, spec.max_price_ticks) == (
        MAX_LOTS,
        MAX_NOTIONAL_UNITS,
        MAX_PRICE_TICKS,
    )


def test_a_lower_max_price_is_the_markets_price_range() -> None:
    spec = make_spec(max_price=Decimal("1000.00"))
    assert spec.max_price_ticks == 100_000
    assert spec.check_price(100_000) == 100_000
    with pytest.raises(InvalidValueError) as raised:
        spec.check_price(100_001)
    assert raised.value.reason == PRICE_OUT_OF_RANGE


@pytest.mark.parametrize("ticks", [0, -1, MAX_PRICE_TICKS + 1, 2**63, 2**64 + 1])
def test_a_price_outside_the_range_is_refused(ticks: int) -> None:
    with pytest.raises(InvalidValueError) as raised:
        make_spec().check_price(ticks)
    assert raised.value.reason == PRICE_OUT_OF_RANGE


@pytest.mark.parametrize("lots", [0, MAX_LOTS + 1, 2**63])
def test_a_quantity_outside_the_range_is_refused(lots: int) -> None:
    with pytest.raises(InvalidValueError) as raised:
        make_spec().check_lots(lots)
    assert raised.value.reason == QUANTITY_OUT_OF_RANGE


def test_the_notional_is_bounded_at_the_cap_inclusive() -> None:
    spec = make_spec()
    spec.check_notional(10**9, 10**9)  # exactly MAX_NOTIONAL_UNITS
    with pytest.raises(InvalidValueError) as raised:
        spec.check_notional(10**9 + 1, 10**9)
    assert raised.value.reason == NOTIONAL_OUT_OF_RANGE


def test_the_caps_leave_room_in_63_bits_for_sums() -> None:
    # a price level or a candle sums the lots of many orders, a position several notionals
    assert 9_000 * MAX_LOTS < 2**63
    assert 9 * MAX_NOTIONAL_UNITS < 2**63
    assert 2 * MAX_PRICE_TICKS < 2**63  # a reference price plus a collar


@pytest.mark.parametrize(
    ("text", "places"),
    [("1", 0), ("1E+5", 0), ("0.10", 1), ("1.000000000000000000000", 0), ("1E-18", 18), ("0", 0)],
)
def test_decimal_places_ignore_trailing_zeros(text: str, places: int) -> None:
    assert decimal_places(Decimal(text)) == places


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
        ({"tick_size": Decimal("1E-19")}, "tick_size must lie between"),
        ({"tick_size": Decimal("1000001")}, "tick_size must lie between"),
        ({"lot_size": Decimal("0.1000000000000000001")}, "lot_size must lie between"),
        ({"collar_ticks": MAX_PRICE_TICKS + 1}, "collar_ticks"),
        ({"reference_price": Decimal(10**14)}, PRICE_OUT_OF_RANGE),
        ({"min_qty": Decimal(10**12)}, QUANTITY_OUT_OF_RANGE),
        ({"max_price": Decimal("100.001")}, "price_not_on_tick"),
        ({"max_notional": Decimal("0.0000001")}, "at least one tick times one lot"),
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
