"""New orders: limit and market matching, IOC/FOK/post-only, validation order, timestamps."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from socialtrading.engine.book import (
    BUY,
    CANCEL_MAKER,
    DECREMENT,
    FOK,
    GTD,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    OrderBook,
)
from socialtrading.engine.records import (
    ACCEPTED,
    CANCELLED,
    EXPIRED,
    REJECTED,
    RESTED,
    TRADE,
    Reason,
    Record,
)
from tests.unit.engine.book_helpers import (
    cancels,
    kinds,
    limit,
    make_book,
    make_spec,
    market,
    place,
    rejection,
    seqs,
    trade_at,
    trades,
)

# ---------------------------------------------------------------- limit orders


def test_limit_order_on_an_empty_book_is_accepted_and_rests() -> None:
    book = make_book()
    out = limit(book, "o1", BUY, 100, 5, ts=10)
    assert out == [
        (
            ACCEPTED,
            1,
            10,
            "o1",
            "a-o1",
            BUY,
            LIMIT,
            100,
            5,
            "GTC",
            False,
            "cancel_taker",
            None,
            None,
            None,
        ),
        (RESTED, 2, 10, "o1", 100, 5),
    ]
    assert book.best_bid() == 100
    assert book.best_ask() is None
    order = book.order("o1")
    assert order is not None
    assert (order.price, order.open, order.filled) == (100, 5, 0)


def test_accepted_record_carries_every_order_field() -> None:
    book = make_book()
    out = limit(
        book,
        "o1",
        SELL,
        120,
        3,
        account="acc",
        ts=7,
        tif=GTD,
        post_only=True,
        stp=DECREMENT,
        group="g",
        expire_ts=99,
        stop_price=90,
    )
    assert out[0] == (
        ACCEPTED,
        1,
        7,
        "o1",
        "acc",
        SELL,
        LIMIT,
        120,
        3,
        GTD,
        True,
        DECREMENT,
        "g",
        99,
        90,
    )


def test_limit_orders_on_both_sides_rest_without_crossing() -> None:
    book = make_book()
    place(book, "b1", BUY, 99, 2)
    place(book, "b2", BUY, 98, 3)
    place(book, "s1", SELL, 101, 4)
    place(book, "s2", SELL, 101, 1)
    assert (book.best_bid(), book.best_ask()) == (99, 101)
    assert book.depth(5) == ([(99, 2), (98, 3)], [(101, 5)])
    assert book.depth(1) == ([(99, 2)], [(101, 5)])
    assert book.depth(0) == ([], [])


def test_crossing_limit_order_trades_at_the_makers_price() -> None:
    book = make_book()
    place(book, "s1", SELL, 100, 2, ts=1)
    out = limit(book, "b1", BUY, 105, 2, ts=2)
    assert out[1:] == [(TRADE, 4, 2, 100, 2, "b1", "s1", BUY, "a-b1", "a-s1")]
    assert book.order("b1") is None
    assert book.order("s1") is None
    assert book.depth(5) == ([], [])
    assert book.last_price == 100


def test_taker_sweeps_the_best_price_first() -> None:
    book = make_book()
    place(book, "s102", SELL, 102, 1)
    place(book, "s101", SELL, 101, 1)
    place(book, "s103", SELL, 103, 1)
    out = limit(book, "b", BUY, 105, 3)
    assert trades(out) == [(101, 1, "b", "s101"), (102, 1, "b", "s102"), (103, 1, "b", "s103")]


def test_sell_taker_sweeps_the_highest_bid_first() -> None:
    book = make_book()
    place(book, "b98", BUY, 98, 1)
    place(book, "b99", BUY, 99, 1)
    out = limit(book, "s", SELL, 90, 2)
    assert trades(out) == [(99, 1, "s", "b99"), (98, 1, "s", "b98")]
    assert book.last_price == 98


def test_orders_at_one_price_fill_first_in_first_out() -> None:
    book = make_book()
    for order_id in ("s1", "s2", "s3"):
        place(book, order_id, SELL, 101, 2)
    assert trades(limit(book, "b1", BUY, 101, 3)) == [(101, 2, "b1", "s1"), (101, 1, "b1", "s2")]
    assert trades(limit(book, "b2", BUY, 101, 3)) == [(101, 1, "b2", "s2"), (101, 2, "b2", "s3")]


def test_partly_filled_maker_keeps_its_place_with_less_open() -> None:
    book = make_book()
    place(book, "s1", SELL, 101, 5)
    place(book, "s2", SELL, 101, 5)
    place(book, "b1", BUY, 101, 2)
    order = book.order("s1")
    assert order is not None
    assert (order.open, order.filled) == (3, 2)
    assert book.depth(1) == ([], [(101, 8)])
    assert trades(limit(book, "b2", BUY, 101, 1)) == [(101, 1, "b2", "s1")]


def test_limit_taker_stops_at_its_limit_and_rests_the_remainder() -> None:
    book = make_book()
    place(book, "s101", SELL, 101, 2)
    place(book, "s103", SELL, 103, 2)
    out = limit(book, "b", BUY, 102, 5)
    assert trades(out) == [(101, 2, "b", "s101")]
    assert out[-1] == (RESTED, out[-1][1], out[-1][2], "b", 102, 3)
    assert book.depth(5) == ([(102, 3)], [(103, 2)])


def test_resting_remainder_goes_to_the_back_of_its_level() -> None:
    book = make_book()
    place(book, "s", SELL, 100, 1)
    place(book, "b1", BUY, 99, 1)
    place(book, "b2", BUY, 100, 3)  # trades 1 with s, rests 2 at 100
    place(book, "b3", BUY, 100, 1)
    out = limit(book, "x", SELL, 99, 4)
    assert trades(out) == [(100, 2, "x", "b2"), (100, 1, "x", "b3"), (99, 1, "x", "b1")]


def test_sequence_numbers_are_consecutive_across_commands() -> None:
    book = make_book()
    out = limit(book, "s1", SELL, 100, 2, ts=1)
    out += limit(book, "b1", BUY, 100, 1, ts=2)
    out += book.cancel(3, "nope", "a")
    out += book.cancel(4, "s1", "a-s1")
    assert seqs(out) == list(range(1, len(out) + 1))
    assert book.seq == len(out)
    assert book.ts == 4


def test_same_commands_give_the_same_records() -> None:
    def run() -> list[Record]:
        book = make_book(collar_ticks=5)
        out = limit(book, "s1", SELL, 100, 2)
        out += limit(book, "s2", SELL, 101, 2)
        out += market(book, "m", BUY, 3)
        out += limit(book, "b", BUY, 104, 3, tif=IOC)
        return out

    assert run() == run()


# ---------------------------------------------------------------- market orders


def test_market_order_sweeps_without_bound_and_never_rests() -> None:
    book = make_book()
    place(book, "s1", SELL, 100, 1)
    place(book, "s2", SELL, 500, 1)
    out = market(book, "m", BUY, 5)
    assert trades(out) == [(100, 1, "m", "s1"), (500, 1, "m", "s2")]
    assert cancels(out) == [("m", 3, 0, Reason.NO_LIQUIDITY)]
    assert RESTED not in kinds(out)
    assert book.order("m") is None


def test_market_order_on_an_empty_book_is_cancelled_for_no_liquidity() -> None:
    book = make_book()
    out = market(book, "m", SELL, 4, ts=3)
    assert out[1:] == [(CANCELLED, 2, 3, "m", 4, 0, Reason.NO_LIQUIDITY)]
    assert book.order("m") is None


def test_market_buy_stops_at_the_collar_above_the_reference_price() -> None:
    book = make_book(collar_ticks=3, reference_price=Decimal("1.00"))
    for price in (101, 102, 103):
        place(book, f"s{price}", SELL, price, 1)
    trade_at(book, 99, "t")  # the reference moves to 99: the bound is 102
    out = market(book, "m", BUY, 3)
    assert trades(out) == [(101, 1, "m", "s101"), (102, 1, "m", "s102")]
    assert cancels(out) == [("m", 1, 0, Reason.COLLAR_REACHED)]
    assert book.depth(5) == ([], [(103, 1)])


def test_market_sell_stops_at_the_collar_below_the_last_trade_price() -> None:
    book = make_book(collar_ticks=3)
    trade_at(book, 100, "t")
    for price in (97, 98, 99):
        place(book, f"b{price}", BUY, price, 1)
    trade_at(book, 101, "u")  # the reference moves to 101: the bound is 98
    out = market(book, "m", SELL, 3)
    assert trades(out) == [(99, 1, "m", "b99"), (98, 1, "m", "b98")]
    assert cancels(out) == [("m", 1, 0, Reason.COLLAR_REACHED)]


def test_market_order_with_a_collar_but_no_reference_sweeps_without_bound() -> None:
    book = make_book(collar_ticks=1)
    place(book, "s1", SELL, 100, 1)
    place(book, "s2", SELL, 200, 1)
    out = market(book, "m", BUY, 2)
    assert trades(out) == [(100, 1, "m", "s1"), (200, 1, "m", "s2")]


@pytest.mark.parametrize("tif", ["GTC", IOC])
def test_market_order_remainder_is_cancelled_whatever_its_tif(tif: str) -> None:
    book = make_book()
    place(book, "s", SELL, 100, 1)
    out = market(book, "m", BUY, 3, tif=tif)
    assert cancels(out) == [("m", 2, 0, Reason.NO_LIQUIDITY)]


def test_fok_market_order_fills_completely_within_the_collar() -> None:
    book = make_book(collar_ticks=2, reference_price=Decimal("1.00"))
    place(book, "s101", SELL, 101, 1)
    place(book, "s102", SELL, 102, 2)
    out = market(book, "m", BUY, 3, tif=FOK)
    assert trades(out) == [(101, 1, "m", "s101"), (102, 2, "m", "s102")]
    assert cancels(out) == []


def test_fok_market_order_is_cancelled_when_liquidity_lies_beyond_the_collar() -> None:
    book = make_book(collar_ticks=3, reference_price=Decimal("1.00"))
    place(book, "s101", SELL, 101, 1)
    place(book, "s103", SELL, 103, 5)
    trade_at(book, 99, "t")  # the bound is now 102
    out = market(book, "m", BUY, 3, tif=FOK)
    assert cancels(out) == [("m", 3, 0, Reason.FOK_UNFILLED)]
    assert trades(out) == []
    assert book.depth(5) == ([], [(101, 1), (103, 5)])


def test_market_buy_sweeps_no_further_than_its_protection_price() -> None:
    book = make_book()
    for price in (100, 101, 103):
        place(book, f"s{price}", SELL, price, 1)
    out = market(book, "m", BUY, 3, protection=101, ts=2)
    assert out[0][7] == 101  # the accepted record carries the protection price
    assert trades(out) == [(100, 1, "m", "s100"), (101, 1, "m", "s101")]
    assert cancels(out) == [("m", 1, 0, Reason.COLLAR_REACHED)]
    assert book.order("m") is None
    assert book.depth(5) == ([], [(103, 1)])


def test_market_sell_sweeps_no_lower_than_its_protection_price() -> None:
    book = make_book()
    for price in (97, 99):
        place(book, f"b{price}", BUY, price, 1)
    out = market(book, "m", SELL, 2, protection=98)
    assert trades(out) == [(99, 1, "m", "b99")]
    assert cancels(out) == [("m", 1, 0, Reason.COLLAR_REACHED)]


def test_market_order_sweeps_to_the_tighter_of_protection_and_collar() -> None:
    book = make_book(collar_ticks=3, reference_price=Decimal("1.00"))
    for price in (101, 102, 103):
        place(book, f"s{price}", SELL, price, 1)
    trade_at(book, 99, "t")  # collar bound 102
    assert trades(market(book, "wide", BUY, 3, protection=110)) == [
        (101, 1, "wide", "s101"),
        (102, 1, "wide", "s102"),
    ]
    place(book, "s101b", SELL, 101, 1)
    place(book, "s102b", SELL, 102, 1)
    assert trades(market(book, "tight", BUY, 3, protection=101)) == [
        (101, 1, "tight", "s101b"),
    ]


def test_market_protection_price_is_exempt_from_the_collar_check() -> None:
    book = make_book(collar_ticks=5, reference_price=Decimal("1.00"))
    assert rejection(limit(book, "l", BUY, 200, 1)) == Reason.PRICE_OUTSIDE_COLLAR
    assert market(book, "m", BUY, 1, protection=200)[0][0] == ACCEPTED


def test_market_order_notional_is_checked_at_its_protection_price() -> None:
    book = make_book(max_notional=Decimal("0.0001"), reference_price=Decimal("0.01"))
    # 100 units: the reference (1 tick) would allow 100 lots, the protection price 2 ticks not
    assert market(book, "ok", BUY, 100)[0][0] == ACCEPTED
    assert rejection(market(book, "m", BUY, 100, protection=2)) == Reason.MAX_NOTIONAL_EXCEEDED
    assert market(book, "n", BUY, 50, protection=2)[0][0] == ACCEPTED


def test_fok_market_order_counts_only_liquidity_within_its_protection_price() -> None:
    book = make_book()
    place(book, "s100", SELL, 100, 1)
    place(book, "s102", SELL, 102, 5)
    out = market(book, "m", BUY, 2, tif=FOK, protection=101)
    assert cancels(out) == [("m", 2, 0, Reason.FOK_UNFILLED)]
    assert book.depth(5) == ([], [(100, 1), (102, 5)])


# ---------------------------------------------------------------- IOC, FOK, post-only


def test_ioc_remainder_is_cancelled_after_partial_fill() -> None:
    book = make_book()
    place(book, "s", SELL, 100, 2)
    out = limit(book, "b", BUY, 100, 5, tif=IOC)
    assert trades(out) == [(100, 2, "b", "s")]
    assert cancels(out) == [("b", 3, 0, Reason.IOC_REMAINING)]
    assert book.order("b") is None
    assert book.depth(5) == ([], [])


def test_ioc_without_a_cross_is_cancelled_whole() -> None:
    book = make_book()
    place(book, "s", SELL, 101, 2)
    out = limit(book, "b", BUY, 100, 5, tif=IOC)
    assert kinds(out) == [ACCEPTED, CANCELLED]
    assert cancels(out) == [("b", 5, 0, Reason.IOC_REMAINING)]


def test_fok_order_without_enough_liquidity_is_cancelled_whole() -> None:
    book = make_book()
    place(book, "s1", SELL, 100, 2)
    place(book, "s2", SELL, 101, 2)
    out = limit(book, "b", BUY, 101, 5, tif=FOK)
    assert kinds(out) == [ACCEPTED, CANCELLED]
    assert cancels(out) == [("b", 5, 0, Reason.FOK_UNFILLED)]
    assert book.depth(5) == ([], [(100, 2), (101, 2)])


def test_fok_order_fills_across_several_levels() -> None:
    book = make_book()
    place(book, "s1", SELL, 100, 2)
    place(book, "s2", SELL, 101, 2)
    place(book, "s3", SELL, 102, 2)
    out = limit(book, "b", BUY, 102, 5, tif=FOK)
    assert trades(out) == [(100, 2, "b", "s1"), (101, 2, "b", "s2"), (102, 1, "b", "s3")]
    assert cancels(out) == []
    assert book.depth(5) == ([], [(102, 1)])


def test_fok_order_ignores_liquidity_beyond_its_limit() -> None:
    book = make_book()
    place(book, "b1", BUY, 100, 2)
    place(book, "b2", BUY, 98, 5)
    out = limit(book, "s", SELL, 99, 3, tif=FOK)
    assert cancels(out) == [("s", 3, 0, Reason.FOK_UNFILLED)]
    assert book.depth(5) == ([(100, 2), (98, 5)], [])


def test_fok_counts_self_liquidity_as_lost_and_changes_nothing() -> None:
    book = make_book()
    place(book, "own", SELL, 100, 2, account="x")
    place(book, "other", SELL, 100, 5)
    out = limit(book, "b", BUY, 100, 3, account="x", tif=FOK)
    assert cancels(out) == [("b", 3, 0, Reason.FOK_UNFILLED)]
    assert book.depth(1) == ([], [(100, 7)])
    assert book.order("own") is not None


def test_fok_with_decrement_fills_from_liquidity_ahead_of_its_own_order() -> None:
    book = make_book()
    place(book, "other", SELL, 100, 3)
    place(book, "own", SELL, 100, 2, account="x")
    out = limit(book, "b", BUY, 100, 3, account="x", tif=FOK, stp=DECREMENT)
    assert trades(out) == [(100, 3, "b", "other")]
    assert book.order("own") is not None


def test_fok_with_cancel_maker_skips_self_liquidity_and_fills() -> None:
    book = make_book()
    place(book, "own", SELL, 100, 2, account="x")
    place(book, "other", SELL, 100, 3)
    out = limit(book, "b", BUY, 100, 3, account="x", tif=FOK, stp=CANCEL_MAKER)
    assert cancels(out) == [("own", 2, 0, Reason.STP_CANCEL_MAKER)]
    assert trades(out) == [(100, 3, "b", "other")]
    assert book.depth(5) == ([], [])


def test_fok_with_cancel_maker_still_needs_enough_other_liquidity() -> None:
    book = make_book()
    place(book, "own", SELL, 100, 5, account="x")
    place(book, "other", SELL, 100, 2)
    out = limit(book, "b", BUY, 100, 3, account="x", tif=FOK, stp=CANCEL_MAKER)
    assert cancels(out) == [("b", 3, 0, Reason.FOK_UNFILLED)]
    assert book.depth(1) == ([], [(100, 7)])


def test_post_only_order_that_would_cross_is_rejected() -> None:
    book = make_book()
    place(book, "s", SELL, 100, 1)
    out = limit(book, "b", BUY, 100, 1, post_only=True)
    assert out == [(REJECTED, 3, 0, "new", "b", "a-b", Reason.POST_ONLY_WOULD_TAKE)]
    assert book.depth(5) == ([], [(100, 1)])


def test_post_only_order_that_does_not_cross_rests() -> None:
    book = make_book()
    place(book, "s", SELL, 100, 1)
    out = limit(book, "b", BUY, 99, 1, post_only=True)
    assert kinds(out) == [ACCEPTED, RESTED]
    assert book.best_bid() == 99


def test_post_only_sell_rests_above_the_best_bid() -> None:
    book = make_book()
    place(book, "b", BUY, 100, 1)
    assert rejection(limit(book, "s1", SELL, 100, 1, post_only=True)) == (
        Reason.POST_ONLY_WOULD_TAKE
    )
    assert kinds(limit(book, "s2", SELL, 101, 1, post_only=True)) == [ACCEPTED, RESTED]


# ---------------------------------------------------------------- validation


BASE: dict[str, Any] = {
    "order_id": "n",
    "side": BUY,
    "type_": LIMIT,
    "price": 10000,
    "qty": 10,
    "tif": "GTC",
    "post_only": False,
    "stp": "cancel_taker",
    "expire_ts": None,
    "stop_price": None,
}
TS = 100


def _validation_book(setup: str | None) -> OrderBook:
    """A strict market (min 2 lots, max 100000 lots, notional 5e8 units, collar 50 around
    10000 ticks) holding one ask `dup` at 10010, optionally halted or in auction."""
    book = OrderBook(
        make_spec(
            min_qty=Decimal("0.0002"),
            max_qty=Decimal("10"),
            max_notional=Decimal("500"),
            collar_ticks=50,
            reference_price=Decimal("100.00"),
        )
    )
    place(book, "dup", SELL, 10010, 10, ts=TS)
    if setup == "halt":
        book.halt(TS)
    elif setup == "auction":
        book.start_auction(TS)
    return book


def _submit(book: OrderBook, **overrides: Any) -> list[Record]:
    fields = {**BASE, **overrides}
    return book.submit(
        TS,
        fields["order_id"],
        "acc",
        fields["side"],
        fields["type_"],
        fields["price"],
        fields["qty"],
        fields["tif"],
        fields["post_only"],
        fields["stp"],
        None,
        fields["expire_ts"],
        fields["stop_price"],
    )


# Each case breaks its rule and, where possible, a later one too: the earlier rule must win.
VALIDATION_CASES: list[tuple[str | None, dict[str, Any], str]] = [
    ("halt", {"order_id": "dup", "side": "up"}, Reason.HALTED),
    (None, {"order_id": "dup", "side": "up"}, Reason.DUPLICATE_ORDER_ID),
    (None, {"side": "up", "type_": "stop"}, Reason.INVALID_SIDE),
    (None, {"type_": "stop", "tif": "DAY"}, Reason.INVALID_ORDER_TYPE),
    (None, {"tif": "DAY", "stp": "none"}, Reason.INVALID_TIF),
    (None, {"type_": MARKET, "price": None, "tif": GTD, "expire_ts": 200}, Reason.INVALID_TIF),
    (None, {"stp": "none", "qty": 0}, Reason.INVALID_STP_MODE),
    (None, {"qty": 0, "price": 0}, Reason.INVALID_QTY),
    (None, {"qty": -3, "price": 0}, Reason.INVALID_QTY),
    (None, {"qty": 1, "price": 0}, Reason.BELOW_MIN_QTY),
    (None, {"qty": 100001, "price": 0}, Reason.ABOVE_MAX_QTY),
    (None, {"price": None, "stop_price": 0}, Reason.INVALID_PRICE),
    (None, {"price": 0, "stop_price": 0}, Reason.INVALID_PRICE),
    (None, {"price": -1}, Reason.INVALID_PRICE),
    (None, {"type_": MARKET, "price": 0, "stop_price": 0}, Reason.INVALID_PRICE),
    (None, {"stop_price": 0, "tif": GTD}, Reason.INVALID_STOP_PRICE),
    (None, {"stop_price": -5}, Reason.INVALID_STOP_PRICE),
    (None, {"tif": GTD, "qty": 60000}, Reason.MISSING_EXPIRY),
    (None, {"tif": GTD, "expire_ts": TS, "qty": 60000}, Reason.ALREADY_EXPIRED),
    (None, {"tif": GTD, "expire_ts": TS - 1}, Reason.ALREADY_EXPIRED),
    (
        None,
        {"expire_ts": 200, "type_": MARKET, "price": None, "post_only": True},
        Reason.EXPIRY_REQUIRES_GTD,
    ),
    (
        "auction",
        {"type_": MARKET, "price": None, "post_only": True},
        Reason.POST_ONLY_REQUIRES_LIMIT,
    ),
    ("auction", {"post_only": True, "tif": IOC}, Reason.POST_ONLY_WITH_IOC_FOK),
    ("auction", {"post_only": True, "tif": FOK}, Reason.POST_ONLY_WITH_IOC_FOK),
    ("auction", {"tif": IOC, "qty": 60000}, Reason.NOT_ALLOWED_IN_AUCTION),
    ("auction", {"tif": FOK, "qty": 60000}, Reason.NOT_ALLOWED_IN_AUCTION),
    ("auction", {"post_only": True, "qty": 60000}, Reason.NOT_ALLOWED_IN_AUCTION),
    (None, {"qty": 60000, "price": 10100}, Reason.MAX_NOTIONAL_EXCEEDED),
    (None, {"type_": MARKET, "price": None, "qty": 60000}, Reason.MAX_NOTIONAL_EXCEEDED),
    (
        None,
        {"type_": MARKET, "price": None, "qty": 60000, "stop_price": 20000},
        Reason.MAX_NOTIONAL_EXCEEDED,
    ),
    (None, {"price": 10051, "post_only": True}, Reason.PRICE_OUTSIDE_COLLAR),
    (None, {"side": SELL, "price": 9949}, Reason.PRICE_OUTSIDE_COLLAR),
    (None, {"price": 10010, "post_only": True}, Reason.POST_ONLY_WOULD_TAKE),
    (None, {"price": 10030, "post_only": True}, Reason.POST_ONLY_WOULD_TAKE),
]


@pytest.mark.parametrize(("setup", "overrides", "reason"), VALIDATION_CASES)
def test_invalid_new_order_is_rejected_by_the_first_failing_rule(
    setup: str | None, overrides: dict[str, Any], reason: str
) -> None:
    book = _validation_book(setup)
    before = (book.seq, book.depth(5), sorted(o.id for o in book.live_orders()))
    out = _submit(book, **overrides)
    order_id = overrides.get("order_id", "n")
    assert out == [(REJECTED, before[0] + 1, TS, "new", order_id, "acc", reason)]
    assert (book.depth(5), sorted(o.id for o in book.live_orders())) == before[1:]


@pytest.mark.parametrize(
    "overrides",
    [
        {"qty": 2},  # exactly min_qty
        {"qty": 50000},  # exactly max_notional at 10000 ticks
        {"side": SELL, "price": 9950},  # exactly the lower collar bound
        {"price": 10050},  # exactly the collar bound
        {"price": 10009, "post_only": True},  # just below the best ask
        {"tif": GTD, "expire_ts": TS + 1},
        {"price": 20000, "post_only": True, "stop_price": 20000},  # stops: no collar on arrival
    ],
)
def test_order_on_the_boundary_of_every_limit_is_accepted(overrides: dict[str, Any]) -> None:
    out = _submit(_validation_book(None), **overrides)
    assert out[0][0] == ACCEPTED


def test_order_of_exactly_max_qty_is_accepted() -> None:
    book = make_book(max_qty=Decimal("10"))
    assert kinds(limit(book, "o", BUY, 1, 100000)) == [ACCEPTED, RESTED]
    assert rejection(limit(book, "p", BUY, 1, 100001)) == Reason.ABOVE_MAX_QTY


def test_market_order_notional_is_not_checked_without_a_reference_price() -> None:
    book = make_book(max_notional=Decimal("0.0001"))  # 100 units: ticks x lots <= 100
    assert rejection(limit(book, "l", BUY, 1, 101)) == Reason.MAX_NOTIONAL_EXCEEDED
    out = market(book, "m", BUY, 1000)
    assert kinds(out) == [ACCEPTED, CANCELLED]


def test_collar_reference_is_the_last_trade_price_once_there_is_one() -> None:
    book = make_book(collar_ticks=50, reference_price=Decimal("100.00"))
    trade_at(book, 10040, "t")
    assert limit(book, "ok", BUY, 10090, 1)[0][0] == ACCEPTED
    assert rejection(limit(book, "far", BUY, 10091, 1)) == Reason.PRICE_OUTSIDE_COLLAR
    assert book.reference_price() == 10040


def test_live_id_is_a_duplicate_but_a_finished_id_may_be_reused() -> None:
    book = make_book()
    place(book, "o1", SELL, 100, 1)
    assert rejection(limit(book, "o1", SELL, 101, 1)) == Reason.DUPLICATE_ORDER_ID
    place(book, "b", BUY, 100, 1)  # fills o1
    assert kinds(limit(book, "o1", SELL, 101, 1)) == [ACCEPTED, RESTED]


def test_rejection_uses_a_sequence_number_and_changes_nothing_else() -> None:
    book = make_book()
    place(book, "s", SELL, 100, 1, ts=1)
    out = limit(book, "b", "up", 100, 1, ts=2)
    assert out == [(REJECTED, 3, 2, "new", "b", "a-b", Reason.INVALID_SIDE)]
    assert book.order("b") is None
    assert book.ts == 2


# ---------------------------------------------------------------- timestamps


COMMANDS_AT_TS_4: dict[str, tuple[str, str | None, str | None]] = {
    "submit": ("new", "o2", "a"),
    "cancel": ("cancel", "o1", "a-o1"),
    "amend": ("amend", "o1", "a-o1"),
    "expire": ("expire", None, None),
    "halt": ("halt", None, None),
    "resume": ("resume", None, None),
    "start_auction": ("start_auction", None, None),
    "uncross": ("uncross", None, None),
}


def _run_at(book: OrderBook, command: str, ts: int) -> list[Record]:
    if command == "submit":
        return book.submit(ts, "o2", "a", BUY, LIMIT, 100, 1)
    if command == "cancel":
        return book.cancel(ts, "o1", "a-o1")
    if command == "amend":
        return book.amend(ts, "o1", "a-o1", None, 1)
    records: list[Record] = getattr(book, command)(ts)
    return records


@pytest.mark.parametrize("command", list(COMMANDS_AT_TS_4))
def test_command_with_an_earlier_timestamp_is_rejected_at_the_market_time(command: str) -> None:
    book = make_book()
    place(book, "o1", SELL, 100, 5, ts=5)
    out = _run_at(book, command, 4)
    op, order_id, account = COMMANDS_AT_TS_4[command]
    # the refusal carries the market's time (5), so record time never goes back
    assert out == [(REJECTED, 3, 5, op, order_id, account, Reason.TS_OUT_OF_ORDER)]
    assert book.ts == 5
    assert book.depth(5) == ([], [(100, 5)])
    assert (book.halted, book.mode) == (False, "continuous")


def test_edge_refusal_advances_the_market_time() -> None:
    book = make_book()
    place(book, "o1", SELL, 100, 5, ts=5)
    assert book.reject(9, "new", "x", "a", Reason.PRICE_NOT_ON_TICK)[0][2] == 9
    assert book.ts == 9
    assert rejection(limit(book, "o2", BUY, 90, 1, ts=8)) == Reason.TS_OUT_OF_ORDER


def test_edge_refusal_with_an_earlier_timestamp_is_recorded_at_the_market_time() -> None:
    book = make_book()
    place(book, "o1", SELL, 100, 5, ts=5)
    out = book.reject(3, "amend", "o1", "a-o1", Reason.QTY_NOT_ON_LOT)
    assert out == [(REJECTED, 3, 5, "amend", "o1", "a-o1", Reason.QTY_NOT_ON_LOT)]
    assert book.ts == 5


def test_edge_refusal_expires_due_orders_first() -> None:
    book = make_book()
    place(book, "g", SELL, 100, 5, ts=5, tif=GTD, expire_ts=10)
    out = book.reject(10, "new", "x", "a", Reason.PRICE_NOT_ON_TICK)
    assert out == [
        (EXPIRED, 3, 10, "g", 5),
        (REJECTED, 4, 10, "new", "x", "a", Reason.PRICE_NOT_ON_TICK),
    ]


def test_command_with_the_same_timestamp_is_accepted() -> None:
    book = make_book()
    place(book, "o1", SELL, 100, 5, ts=5)
    assert kinds(limit(book, "o2", SELL, 101, 5, ts=5)) == [ACCEPTED, RESTED]
