"""Decimal travels as a string and DateTime as ISO 8601 UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from graphql import GraphQLError

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
        # more digits than the default context keeps: a sum of many max-size orders
        (Decimal("9300000000000000000.123456789012345600"), "9300000000000000000.1234567890123456"),
        (Decimal("-3.5"), "-3.5"),
    ],
)
def test_decimals_are_served_as_plain_strings(value: Decimal, text: str) -> None:
    assert format_decimal(value) == text


def test_decimals_are_read_from_strings_and_integers_but_not_floats() -> None:
    assert parse_decimal("100.25") == Decimal("100.25")
    assert parse_decimal(7) == Decimal(7)
    assert parse_decimal("NaN").is_nan()  # refused later, by the command, with a Rejection
    with pytest.raises(GraphQLError, match="as a string"):
        parse_decimal(100.25)
    with pytest.raises(GraphQLError, match="as a string"):
        parse_decimal(True)
    with pytest.raises(GraphQLError, match="not a decimal"):
        parse_decimal("ten")


def test_times_are_served_in_utc_with_a_z() -> None:
    moment = datetime(2026, 11, 22, 23, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert format_datetime(moment) == "2026-11-22T21:00:00.123456Z"


def test_times_are_read_with_an_offset_and_converted_to_utc() -> None:
    assert parse_datetime("2026-11-22T23:00:00+02:00") == datetime(2026, 11, 22, 21, tzinfo=UTC)
    assert parse_datetime("2026-11-22T21:00:00Z").tzinfo == UTC
    with pytest.raises(GraphQLError, match="offset"):
        parse_datetime("2026-11-22T21:00:00")
    with pytest.raises(GraphQLError, match="ISO 8601"):
        parse_datetime("yesterday")


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",  # before the year 1 in UTC: Python overflows
        "9999-12-31T23:00:00-05:00",  # after the year 9999 in UTC
        "1969-12-31T23:59:59.999999Z",
    ],
)
def test_times_outside_1970_to_9999_are_refused_as_bad_input(text: str) -> None:
    with pytest.raises(GraphQLError, match="between 1970") as refused:
        parse_datetime(text)
    assert refused.value.extensions == {"code": "BAD_USER_INPUT"}


def test_the_edges_of_the_time_range_are_accepted() -> None:
    assert parse_datetime("1970-01-01T00:00:00Z") == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_datetime("9999-12-31T23:59:59.999999Z").year == 9999
    assert parse_datetime("1970-01-01T01:00:00+01:00") == datetime(1970, 1, 1, tzinfo=UTC)


def test_refusals_echo_only_a_short_prefix_of_the_value() -> None:
    huge = "9" * 100 + "x" * 1_000_000
    for parse in (parse_decimal, parse_datetime):
        with pytest.raises(GraphQLError) as refused:
            parse(huge)
        assert len(refused.value.message) < 120
        assert "9" * 64 + "..." in refused.value.message
        assert refused.value.extensions == {"code": "BAD_USER_INPUT"}
