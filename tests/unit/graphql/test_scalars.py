"""Decimal travels as a string and DateTime as ISO 8601 UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from socialtrading.graphql.scalars import (
    format_datetime,
    format_decimal,
    parse_datetime,
    parse_decimal,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("100"), "100"),
        (Decimal("1E+2"), "100"),
        (Decimal("100.2500"), "100.25"),
        (Decimal("0.00000001"), "0.00000001"),
        (Decimal("-3.5"), "-3.5"),
    ],
)
def test_decimals_are_served_as_plain_strings(value: Decimal, text: str) -> None:
    assert format_decimal(value) == text


def test_decimals_are_read_from_strings_and_integers_but_not_floats() -> None:
    assert parse_decimal("100.25") == Decimal("100.25")
    assert parse_decimal(7) == Decimal(7)
    assert parse_decimal("NaN").is_nan()  # refused later, by the command, with a Rejection
    with pytest.raises(ValueError, match="as a string"):
        parse_decimal(100.25)
    with pytest.raises(ValueError, match="as a string"):
        parse_decimal(True)
    with pytest.raises(ValueError, match="not a decimal"):
        parse_decimal("ten")


def test_times_are_served_in_utc_with_a_z() -> None:
    moment = datetime(2026, 11, 22, 23, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert format_datetime(moment) == "2026-11-22T21:00:00.123456Z"


def test_times_are_read_with_an_offset_and_converted_to_utc() -> None:
    assert parse_datetime("2026-11-22T23:00:00+02:00") == datetime(2026, 11, 22, 21, tzinfo=UTC)
    assert parse_datetime("2026-11-22T21:00:00Z").tzinfo == UTC
    with pytest.raises(ValueError, match="offset"):
        parse_datetime("2026-11-22T21:00:00")
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_datetime("yesterday")
