"""A copy order's one event (`Copy.OrderExecuted`) and the skip streak it keeps."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from socialtrading.domain.copy.copy import (
    ACTIVE,
    MAX_SKIP_STREAK,
    PAUSED,
    SLIPPAGE,
    Copy,
    Execution,
)
from tests.fixtures.copies import a_copy

D = Decimal


def _order(copy: Copy, asked: D, filled: D, ts: int) -> None:
    fill = Execution(filled, D(100) if filled else None, filled * 100, filled / 10, SLIPPAGE)
    copy.executed("BTC-USD:1", "BTC-USD", "buy", asked, D("100.5"), "b", fill, "s", "c", ts)


def test_one_event_holds_the_order_the_fill_and_the_rest() -> None:
    copy = a_copy()
    _order(copy, D(3), D(2), 2)
    (event,) = [e for e in copy.collect_events() if isinstance(e, Copy.OrderExecuted)]
    assert (event.quantity, event.filled, event.unfilled) == (D(3), D(2), D(1))
    assert (event.price, event.cost, event.reason) == (D(100), D(200), SLIPPAGE)
    _order(copy, D(3), D(3), 3)
    (full,) = copy.collect_events()
    assert isinstance(full, Copy.OrderExecuted)
    assert (full.unfilled, full.reason) == (D(0), None)  # nothing left, no reason


@given(st.lists(st.booleans(), max_size=3 * MAX_SKIP_STREAK))
def test_orders_that_fill_nothing_count_as_skips_and_any_fill_ends_the_streak(
    fills: list[bool],
) -> None:
    copy = a_copy()
    streak = 0
    for ts, fills_some in enumerate(fills, start=2):
        if copy.status != ACTIVE:
            break
        _order(copy, D(2), D(1) if fills_some else D(0), ts)
        streak = 0 if fills_some else streak + 1
        assert copy.skip_streak == streak
        assert copy.status == (PAUSED if streak >= MAX_SKIP_STREAK else ACTIVE)
