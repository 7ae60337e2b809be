"""Self-trade prevention in continuous matching: the four modes, accounts and groups."""

from __future__ import annotations

from socialtrading.engine.book import (
    BUY,
    CANCEL_BOTH,
    CANCEL_MAKER,
    CANCEL_TAKER,
    DECREMENT,
    SELL,
    OrderBook,
)
from socialtrading.engine.records import CANCELLED, RESTED, TRADE, Reason
from tests.unit.engine.book_helpers import (
    cancels,
    kinds,
    limit,
    make_book,
    market,
    place,
    trades,
)


def _book_with_own_order_in_the_middle() -> OrderBook:
    """Asks: `o1` (another account) 101 x 1, `own` (account x) 102 x 1, `o3` 103 x 1."""
    book = make_book()
    place(book, "o1", SELL, 101, 1)
    place(book, "own", SELL, 102, 1, account="x")
    place(book, "o3", SELL, 103, 1)
    return book


def test_cancel_taker_cancels_the_remainder_and_earlier_trades_stand() -> None:
    book = _book_with_own_order_in_the_middle()
    out = limit(book, "t", BUY, 103, 3, account="x", stp=CANCEL_TAKER)
    assert kinds(out)[1:] == [TRADE, CANCELLED]
    assert trades(out) == [(101, 1, "t", "o1")]
    assert cancels(out) == [("t", 2, 0, Reason.STP_CANCEL_TAKER)]
    assert book.order("t") is None
    assert book.depth(5) == ([], [(102, 1), (103, 1)])


def test_cancel_taker_is_the_default_mode() -> None:
    book = _book_with_own_order_in_the_middle()
    out = limit(book, "t", BUY, 103, 3, account="x")
    assert cancels(out) == [("t", 2, 0, Reason.STP_CANCEL_TAKER)]


def test_cancel_maker_cancels_the_maker_and_goes_on() -> None:
    book = _book_with_own_order_in_the_middle()
    out = limit(book, "t", BUY, 103, 3, account="x", stp=CANCEL_MAKER)
    assert kinds(out)[1:] == [TRADE, CANCELLED, TRADE, RESTED]
    assert trades(out) == [(101, 1, "t", "o1"), (103, 1, "t", "o3")]
    assert cancels(out) == [("own", 1, 0, Reason.STP_CANCEL_MAKER)]
    assert book.depth(5) == ([(103, 1)], [])


def test_cancel_both_cancels_the_maker_and_the_taker() -> None:
    book = _book_with_own_order_in_the_middle()
    out = limit(book, "t", BUY, 103, 3, account="x", stp=CANCEL_BOTH)
    assert trades(out) == [(101, 1, "t", "o1")]
    assert cancels(out) == [
        ("own", 1, 0, Reason.STP_CANCEL_BOTH),
        ("t", 2, 0, Reason.STP_CANCEL_BOTH),
    ]
    assert book.order("t") is None
    assert book.depth(5) == ([], [(103, 1)])


def test_the_takers_mode_decides_not_the_makers() -> None:
    book = make_book()
    place(book, "own", SELL, 101, 1, account="x", stp=CANCEL_MAKER)
    out = limit(book, "t", BUY, 101, 1, account="x", stp=CANCEL_TAKER)
    assert cancels(out) == [("t", 1, 0, Reason.STP_CANCEL_TAKER)]
    assert book.order("own") is not None


def test_decrement_of_equal_quantities_removes_both_without_a_trade() -> None:
    book = make_book()
    place(book, "own", SELL, 101, 3, account="x", ts=1)
    out = limit(book, "t", BUY, 101, 3, account="x", stp=DECREMENT, ts=2)
    assert out[1:] == [
        (CANCELLED, 4, 2, "own", 3, 0, Reason.STP_DECREMENT),
        (CANCELLED, 5, 2, "t", 3, 0, Reason.STP_DECREMENT),
    ]
    assert book.order("own") is None
    assert book.order("t") is None
    assert book.depth(5) == ([], [])
    assert book.last_price is None


def test_decrement_with_a_larger_maker_leaves_the_maker_resting_with_less() -> None:
    book = make_book()
    place(book, "own", SELL, 101, 5, account="x")
    out = limit(book, "t", BUY, 101, 3, account="x", stp=DECREMENT)
    assert cancels(out) == [
        ("own", 3, 2, Reason.STP_DECREMENT),
        ("t", 3, 0, Reason.STP_DECREMENT),
    ]
    assert book.depth(5) == ([], [(101, 2)])
    maker = book.order("own")
    assert maker is not None
    assert (maker.open, maker.filled) == (2, 0)


def test_decrement_with_a_larger_taker_goes_on_matching_other_makers() -> None:
    book = make_book()
    place(book, "own", SELL, 101, 2, account="x")
    place(book, "other", SELL, 102, 5)
    out = limit(book, "t", BUY, 102, 4, account="x", stp=DECREMENT)
    assert kinds(out)[1:] == [CANCELLED, CANCELLED, TRADE]
    assert cancels(out) == [
        ("own", 2, 0, Reason.STP_DECREMENT),
        ("t", 2, 2, Reason.STP_DECREMENT),
    ]
    assert trades(out) == [(102, 2, "t", "other")]
    assert book.depth(5) == ([], [(102, 3)])


def test_decrement_remainder_rests_when_nothing_else_matches() -> None:
    book = make_book()
    place(book, "own", SELL, 101, 2, account="x")
    out = limit(book, "t", BUY, 101, 5, account="x", stp=DECREMENT)
    assert cancels(out) == [
        ("own", 2, 0, Reason.STP_DECREMENT),
        ("t", 2, 3, Reason.STP_DECREMENT),
    ]
    assert out[-1][0] == RESTED
    assert out[-1][3:] == ("t", 101, 3)
    assert book.depth(5) == ([(101, 3)], [])


def test_decrement_against_several_own_makers_in_one_level() -> None:
    book = make_book()
    place(book, "own1", SELL, 101, 1, account="x")
    place(book, "own2", SELL, 101, 4, account="x")
    out = limit(book, "t", BUY, 101, 3, account="x", stp=DECREMENT)
    assert cancels(out) == [
        ("own1", 1, 0, Reason.STP_DECREMENT),
        ("t", 1, 2, Reason.STP_DECREMENT),
        ("own2", 2, 2, Reason.STP_DECREMENT),
        ("t", 2, 0, Reason.STP_DECREMENT),
    ]
    assert book.depth(5) == ([], [(101, 2)])


def test_market_taker_with_cancel_taker_is_cancelled_once_for_stp() -> None:
    book = make_book()
    place(book, "other", SELL, 100, 1)
    place(book, "own", SELL, 101, 1, account="x")
    out = market(book, "m", BUY, 5, account="x")
    assert trades(out) == [(100, 1, "m", "other")]
    assert cancels(out) == [("m", 4, 0, Reason.STP_CANCEL_TAKER)]


def test_market_taker_with_decrement_is_cancelled_for_no_liquidity_afterwards() -> None:
    book = make_book()
    place(book, "own", SELL, 101, 1, account="x")
    out = market(book, "m", BUY, 3, account="x", stp=DECREMENT)
    assert cancels(out) == [
        ("own", 1, 0, Reason.STP_DECREMENT),
        ("m", 1, 2, Reason.STP_DECREMENT),
        ("m", 2, 0, Reason.NO_LIQUIDITY),
    ]


def test_stp_applies_between_different_accounts_sharing_a_group() -> None:
    book = make_book()
    place(book, "m", SELL, 101, 1, account="alice", group="fund")
    out = limit(book, "t", BUY, 101, 1, account="bob", group="fund")
    assert trades(out) == []
    assert cancels(out) == [("t", 1, 0, Reason.STP_CANCEL_TAKER)]


def test_stp_applies_to_one_account_even_with_different_groups() -> None:
    book = make_book()
    place(book, "m", SELL, 101, 1, account="x", group="g1")
    out = limit(book, "t", BUY, 101, 1, account="x", group="g2", stp=CANCEL_MAKER)
    assert cancels(out) == [("m", 1, 0, Reason.STP_CANCEL_MAKER)]
    assert trades(out) == []


def test_different_accounts_with_different_or_missing_groups_trade() -> None:
    book = make_book()
    place(book, "m1", SELL, 101, 1, account="alice", group="g1")
    place(book, "m2", SELL, 101, 1, account="carol")
    out = limit(book, "t", BUY, 101, 2, account="bob", group="g2")
    assert trades(out) == [(101, 1, "t", "m1"), (101, 1, "t", "m2")]


def test_taker_without_group_trades_with_a_maker_that_has_one() -> None:
    book = make_book()
    place(book, "m", SELL, 101, 1, account="alice", group="g")
    out = limit(book, "t", BUY, 101, 1, account="bob")
    assert trades(out) == [(101, 1, "t", "m")]
    assert book.order("m") is None
