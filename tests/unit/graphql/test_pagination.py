"""Cursors: only those the API gives out are read back; anything else is BAD_CURSOR."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from graphql import GraphQLError
from hypothesis import given
from hypothesis import strategies as st

from socialtrading.graphql.pagination import (
    MAX_CURSOR_CHARS,
    datetime_cursor,
    encode_cursor,
    int_cursor,
)


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@given(st.integers(0, 2**63 - 1))
def test_integer_cursors_round_trip(value: int) -> None:
    assert int_cursor("trade", encode_cursor("trade", str(value))) == value


def test_a_time_cursor_round_trips() -> None:
    start = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)
    assert datetime_cursor("candle", encode_cursor("candle", start.isoformat())) == start


@pytest.mark.parametrize(
    ("kind", "cursor"),
    [
        ("trade", "A" * (MAX_CURSOR_CHARS + 4)),  # too long to be ours: not even decoded
        ("trade", _cursor("trade:" + "9" * 5000)),  # beyond int's digit limit and 63 bits
        ("trade", _cursor(f"trade:{2**63}")),
        ("trade", _cursor("trade:-1")),
        ("trade", _cursor("trade:١٢٣")),  # Arabic-Indic digits pass str.isdigit
        ("trade", _cursor("candle:5")),
        ("trade", "not base64!"),
        ("candle", _cursor("candle:2026-01-01T00:00:00")),  # no offset
        ("candle", _cursor("candle:0001-01-01T00:00:00+00:00")),
        ("candle", _cursor("candle:yesterday")),
    ],
)
def test_cursors_we_did_not_give_out_are_bad_cursors(kind: str, cursor: str) -> None:
    read = int_cursor if kind == "trade" else datetime_cursor
    with pytest.raises(GraphQLError) as refused:
        read(kind, cursor)
    assert refused.value.extensions == {"code": "BAD_CURSOR"}
    assert cursor[:20] not in refused.value.message
