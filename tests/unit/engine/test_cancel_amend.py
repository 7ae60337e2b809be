"""Cancels and amends: ownership, halts, time priority, re-entry as a taker, refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from socialtrading.engine.book import BUY, CANCEL_MAKER, SELL, OrderBook
from socialtrading.engine.records import AMENDED, CANCELLED, REJECTED, TRADE, Reason
from tests.unit.engine.book_helpers import (
    cancels,
    kinds,
    limit,
    make_book,
    market,
    place,
    rejection,
    trade_at,
    trades,
)

# ---------------------------------------------------------------- cancel


def test_cancel_removes_a_resting_order() -> None:
    book = make_book()
    place(book, "s", SELL, 101, 4, ts=1)
    out = book.cancel(2, "s", "a-s")
    assert out == [(CANCELLED, 3, 2, "s", 4, 0, Reason.USER)]
    assert book.order("s") is None
    assert book.depth(5) == ([], [])


def test_cancel_of_a_partly_filled_order_cancels_its_open_quantity() -> None:
    book = make_book()
    place(book, "s", SELL, 101, 5)
    place(book, "b", BUY, 101, 2)
    assert cancels(book.cancel(1, "s", "a-s")) == [("s", 3, 0, Reason.USER)]


def test_cancel_in_the_middle_of_a_level_keeps_the_others_in_order() -> None:
    book = make_book()
    for order_id in ("s1", "s2", "s3"):
        place(book, order_id, SELL, 101, 1)
    book.cancel(1, "s2", "a-s2")
    assert book.depth(1) == ([], [(101, 2)])
    assert trades(limit(book, "b", BUY, 101, 2)) == [(101, 1, "b", "s1"), (101, 1, "b", "s3")]


def test_cancel_by_another_account_is_refused_and_the_order_stays() -> None:
    book = make_book()
    place(book, "s", SELL, 101, 4, ts=1)
    out = book.cancel(2, "s", "mallory")
    assert out == [(REJECTED, 3, 2, "cancel", "s", "mallory", Reason.NOT_OWNER)]
    assert book.depth(1) == ([], [(101, 4)])


def test_cancel_of_an_unknown_order_is_refused() -> None:
    book = make_book()
    out = book.cancel(1, "ghost", "a")
    assert out == [(REJECTED, 1, 1, "cancel", "ghost", "a", Reason.UNKNOWN_ORDER)]


def test_cancel_of_a_filled_or_cancelled_order_is_refused_as_unknown() -> None:
    book = make_book()
    place(book, "s", SELL, 101, 1)
    place(book, "b", BUY, 101, 1)
    place(book, "c", BUY, 90, 1)
    book.cancel(1, "c", "a-c")
    assert rejection(book.cancel(2, "s", "a-s")) == Reason.UNKNOWN_ORDER
    assert rejection(book.cancel(3, "c", "a-c")) == Reason.UNKNOWN_ORDER


def test_cancel_is_allowed_while_halted() -> None:
    book = make_book()
    place(book, "s", SELL, 101, 4)
    book.halt(1)
    assert cancels(book.cancel(2, "s", "a-s")) == [("s", 4, 0, Reason.USER)]
    assert book.halted


def test_cancel_of_a_pending_stop_order() -> None:
    book = make_book()
    market(book, "stop", BUY, 3, stop_price=110)
    assert cancels(book.cancel(1, "stop", "a-stop")) == [("stop", 3, 0, Reason.USER)]
    assert book.order("stop") is None


def test_cancel_of_a_market_order_queued_for_an_auction() -> None:
    book = make_book()
    book.start_auction(1)
    market(book, "m", BUY, 3)
    assert cancels(book.cancel(2, "m", "a-m")) == [("m", 3, 0, Reason.USER)]
    assert book.order("m") is None


# ---------------------------------------------------------------- amend: priority


def test_amend_decreasing_quantity_keeps_time_priority() -> None:
    book = make_book()
    place(book, "s1", SELL, 101, 5, ts=1)
    place(book, "s2", SELL, 101, 5, ts=1)
    out = book.amend(2, "s1", "a-s1", None, 2)
    assert out == [(AMENDED, 5, 2, "s1", 101, 101, 5, 2, True)]
    assert book.depth(1) == ([], [(101, 7)])
    assert trades(limit(book, "b", BUY, 101, 3)) == [(101, 2, "b", "s1"), (101, 1, "b", "s2")]


def test_amend_to_the_same_price_and_quantity_keeps_time_priority() -> None:
    book = make_book()
    place(book, "s1", SELL, 101, 5)
    place(book, "s2", SELL, 101, 5)
    out = book.amend(1, "s1", "a-s1", 101, 5)
    assert out[0][-1] is True
    assert trades(limit(book, "b", BUY, 101, 1)) == [(101, 1, "b", "s1")]


def test_amend_of_a_partly_filled_order_sets_its_open_quantity() -> None:
    book = make_book()
    place(book, "s1", SELL, 101, 5)
    place(book, "b", BUY, 101, 2)
    out = book.amend(1, "s1", "a-s1", None, 1)
    assert out[0][3:] == ("s1", 101, 101, 3, 1, True)
    order = book.order("s1")
    assert order is not None
    assert (order.open, order.filled) == (1, 2)


def test_amend_increasing_quantity_loses_time_priority() -> None:
    book = make_book()
    place(book, "s1", SELL, 101, 2, ts=1)
    place(book, "s2", SELL, 101, 2, ts=1)
    out = book.amend(2, "s1", "a-s1", None, 5)
    assert out == [(AMENDED, 5, 2, "s1", 101, 101, 2, 5, False)]
    assert book.depth(1) == ([], [(101, 7)])
    assert trades(limit(book, "b", BUY, 101, 3)) == [(101, 2, "b", "s2"), (101, 1, "b", "s1")]


def test_amend_to_a_new_price_goes_to_the_back_of_the_new_level() -> None:
    book = make_book()
    place(book, "s1", SELL, 102, 2)
    place(book, "s2", SELL, 101, 2)
    out = book.amend(1, "s1", "a-s1", 101, None)
    assert out[0][3:] == ("s1", 102, 101, 2, 2, False)
    assert book.depth(5) == ([], [(101, 4)])
    assert trades(limit(book, "b", BUY, 101, 3)) == [(101, 2, "b", "s2"), (101, 1, "b", "s1")]


def test_amend_changing_price_and_decreasing_quantity_still_loses_priority() -> None:
    book = make_book()
    place(book, "s1", SELL, 101, 5)
    place(book, "s2", SELL, 101, 5)
    book.amend(1, "s1", "a-s1", 102, 4)
    book.amend(2, "s1", "a-s1", 101, 3)
    assert trades(limit(book, "b", BUY, 101, 6)) == [(101, 5, "b", "s2"), (101, 1, "b", "s1")]


# ---------------------------------------------------------------- amend: re-entry as taker


def test_amend_to_a_crossing_price_matches_first_then_rests_the_remainder() -> None:
    book = make_book()
    place(book, "b", BUY, 99, 5, ts=1)
    place(book, "s", SELL, 101, 2, ts=1)
    out = book.amend(2, "b", "a-b", 101, None)
    assert out == [
        (AMENDED, 5, 2, "b", 99, 101, 5, 5, False),
        (TRADE, 6, 2, 101, 2, "b", "s", BUY, "a-b", "a-s"),
    ]
    assert book.depth(5) == ([(101, 3)], [])
    order = book.order("b")
    assert order is not None
    assert (order.price, order.open, order.filled) == (101, 3, 2)


def test_amend_crossing_several_levels_trades_at_the_makers_prices() -> None:
    book = make_book()
    place(book, "b", BUY, 99, 3)
    place(book, "s100", SELL, 100, 1)
    place(book, "s101", SELL, 101, 1)
    out = book.amend(1, "b", "a-b", 102, None)
    assert trades(out) == [(100, 1, "b", "s100"), (101, 1, "b", "s101")]
    assert book.depth(5) == ([(102, 1)], [])
    assert book.last_price == 101


def test_amend_that_fills_completely_leaves_nothing_behind() -> None:
    book = make_book()
    place(book, "s", SELL, 105, 2)
    place(book, "b", BUY, 101, 4)
    out = book.amend(1, "s", "a-s", 101, None)
    assert trades(out) == [(101, 2, "s", "b")]
    assert book.order("s") is None
    assert book.depth(5) == ([(101, 2)], [])


def test_amended_taker_uses_its_own_stp_mode() -> None:
    book = make_book()
    place(book, "b", BUY, 99, 5, account="x", stp=CANCEL_MAKER)
    place(book, "own", SELL, 101, 1, account="x")  # default stp: cancel_taker
    place(book, "other", SELL, 101, 2)
    out = book.amend(1, "b", "x", 101, None)
    assert kinds(out) == [AMENDED, CANCELLED, TRADE]
    assert cancels(out) == [("own", 1, 0, Reason.STP_CANCEL_MAKER)]
    assert trades(out) == [(101, 2, "b", "other")]
    assert book.depth(5) == ([(101, 3)], [])


def test_amended_taker_with_cancel_taker_is_cancelled_on_self_match() -> None:
    book = make_book()
    place(book, "b", BUY, 99, 5, account="x")
    place(book, "own", SELL, 101, 1, account="x", stp=CANCEL_MAKER)
    out = book.amend(1, "b", "x", 101, None)
    assert cancels(out) == [("b", 5, 0, Reason.STP_CANCEL_TAKER)]
    assert book.order("b") is None
    assert book.depth(5) == ([], [(101, 1)])


# ---------------------------------------------------------------- amend: refusals


def _amend_book() -> OrderBook:
    """Collar 10 around 100.00 (10000 ticks), max 10 (100000 lots), notional 5e8 units; one
    resting bid `b` (10000 x 10) and one resting ask `s` (10005 x 10)."""
    book = make_book(
        collar_ticks=10,
        reference_price=Decimal("100.00"),
        max_qty=Decimal("10"),
        max_notional=Decimal("500"),
    )
    place(book, "b", BUY, 10000, 10, ts=1)
    place(book, "s", SELL, 10005, 10, ts=1)
    return book


@pytest.mark.parametrize(
    ("order_id", "account", "price", "qty", "reason"),
    [
        ("ghost", "a-b", None, 5, Reason.UNKNOWN_ORDER),
        ("b", "mallory", None, 5, Reason.NOT_OWNER),
        ("b", "a-b", None, None, Reason.NOTHING_TO_AMEND),
        ("b", "a-b", None, 0, Reason.INVALID_QTY),
        ("b", "a-b", 0, -1, Reason.INVALID_QTY),
        ("b", "a-b", None, 100001, Reason.ABOVE_MAX_QTY),
        ("b", "a-b", 0, None, Reason.INVALID_PRICE),
        ("b", "a-b", -10000, None, Reason.INVALID_PRICE),
        ("b", "a-b", None, 60000, Reason.MAX_NOTIONAL_EXCEEDED),
        ("b", "a-b", 9989, None, Reason.PRICE_OUTSIDE_COLLAR),
        ("s", "a-s", 10011, None, Reason.PRICE_OUTSIDE_COLLAR),
    ],
)
def test_invalid_amend_is_refused_and_changes_nothing(
    order_id: str, account: str, price: int | None, qty: int | None, reason: str
) -> None:
    book = _amend_book()
    out = book.amend(2, order_id, account, price, qty)
    assert out == [(REJECTED, 5, 2, "amend", order_id, account, reason)]
    assert book.depth(5) == ([(10000, 10)], [(10005, 10)])


def test_amend_is_refused_while_halted_before_any_other_check() -> None:
    book = _amend_book()
    book.halt(2)
    assert rejection(book.amend(3, "b", "a-b", None, 5)) == Reason.HALTED
    assert rejection(book.amend(3, "ghost", "a-b", None, None)) == Reason.HALTED


def test_max_qty_on_amend_counts_the_filled_quantity() -> None:
    book = make_book(max_qty=Decimal("0.001"))  # 10 lots
    place(book, "b", BUY, 100, 10)
    place(book, "t", SELL, 100, 4)  # fills 4 of b
    assert rejection(book.amend(1, "b", "a-b", None, 7)) == Reason.ABOVE_MAX_QTY
    assert book.amend(2, "b", "a-b", None, 6)[0][3:] == ("b", 100, 100, 6, 6, True)


def test_collar_is_not_checked_when_the_price_does_not_change() -> None:
    book = make_book(collar_ticks=10, reference_price=Decimal("100.00"))
    place(book, "b", BUY, 10000, 10)
    trade_at(book, 10010, "t")
    trade_at(book, 10011, "u")  # b at 10000 now lies 11 ticks from the reference
    out = book.amend(2, "b", "a-b", 10000, 3)
    assert out == [(AMENDED, out[0][1], 2, "b", 10000, 10000, 10, 3, True)]


def test_pending_stop_order_cannot_be_amended() -> None:
    book = make_book()
    place(book, "st", BUY, 120, 1, stop_price=110)
    assert rejection(book.amend(1, "st", "a-st", 121, None)) == Reason.ORDER_NOT_RESTING


def test_market_order_queued_for_an_auction_cannot_be_amended() -> None:
    book = make_book()
    book.start_auction(1)
    market(book, "m", BUY, 3)
    assert rejection(book.amend(2, "m", "a-m", None, 2)) == Reason.ORDER_NOT_RESTING


def test_post_only_order_cannot_be_amended_to_a_crossing_price() -> None:
    book = make_book()
    place(book, "b", BUY, 99, 2, post_only=True)
    place(book, "s", SELL, 101, 2)
    assert rejection(book.amend(1, "b", "a-b", 101, None)) == Reason.POST_ONLY_WOULD_TAKE
    assert book.depth(5) == ([(99, 2)], [(101, 2)])


def test_post_only_order_can_be_amended_to_a_price_that_does_not_cross() -> None:
    book = make_book()
    place(book, "b", BUY, 99, 2, post_only=True)
    place(book, "s", SELL, 101, 2)
    assert kinds(book.amend(1, "b", "a-b", 100, 5)) == [AMENDED]
    assert book.depth(5) == ([(100, 5)], [(101, 2)])
