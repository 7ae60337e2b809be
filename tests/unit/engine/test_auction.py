"""Call auctions: collecting orders, choosing the uncross price, executing at one price."""

from __future__ import annotations

from decimal import Decimal

from socialtrading.engine.book import BUY, CANCEL_MAKER, DECREMENT, SELL, OrderBook
from socialtrading.engine.records import (
    ACCEPTED,
    AUCTION_STARTED,
    CANCELLED,
    REJECTED,
    RESTED,
    TRADE,
    TRIGGERED,
    UNCROSSED,
    Reason,
)
from socialtrading.engine.spec import AUCTION, CONTINUOUS
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


def _auction(**options: object) -> OrderBook:
    return make_book(mode=AUCTION, **options)


def _uncrossed(book: OrderBook) -> tuple[int | None, int, int, str]:
    """(price, volume, imbalance, reason) of an uncross run now."""
    out = book.uncross(book.ts)
    record = next(r for r in out if r[0] == UNCROSSED)
    return record[3], record[4], record[5], record[6]


# ---------------------------------------------------------------- collecting


def test_start_auction_switches_the_mode_and_is_recorded() -> None:
    book = make_book()
    assert book.start_auction(3) == [(AUCTION_STARTED, 1, 3)]
    assert book.mode == AUCTION


def test_start_auction_is_refused_when_already_in_auction() -> None:
    book = _auction()
    out = book.start_auction(3)
    assert out == [(REJECTED, 1, 3, "start_auction", None, None, Reason.ALREADY_IN_AUCTION)]


def test_orders_collect_without_matching_and_the_book_may_be_crossed() -> None:
    book = _auction()
    assert kinds(limit(book, "b", BUY, 105, 2)) == [ACCEPTED, RESTED]
    assert kinds(limit(book, "s", SELL, 100, 2)) == [ACCEPTED, RESTED]
    assert (book.best_bid(), book.best_ask()) == (105, 100)
    assert book.last_price is None


def test_market_orders_queue_apart_from_the_book() -> None:
    book = _auction()
    out = market(book, "m", BUY, 3, ts=4)
    assert out[1] == (RESTED, 2, 4, "m", None, 3)
    assert book.depth(5) == ([], [])
    assert book.order("m") is not None


def test_ioc_fok_and_post_only_are_refused_in_auction() -> None:
    book = _auction()
    assert rejection(limit(book, "i", BUY, 100, 1, tif="IOC")) == Reason.NOT_ALLOWED_IN_AUCTION
    assert rejection(limit(book, "f", BUY, 100, 1, tif="FOK")) == Reason.NOT_ALLOWED_IN_AUCTION
    assert rejection(limit(book, "p", BUY, 100, 1, post_only=True)) == (
        Reason.NOT_ALLOWED_IN_AUCTION
    )


def test_amend_in_auction_moves_the_order_without_matching() -> None:
    book = _auction()
    place(book, "b", BUY, 99, 2)
    place(book, "s", SELL, 101, 2)
    out = book.amend(1, "b", "a-b", 102, None)
    assert kinds(out) == ["amended"]
    assert (book.best_bid(), book.best_ask()) == (102, 101)


# ---------------------------------------------------------------- choosing the price


def test_uncross_picks_the_price_with_the_maximum_volume() -> None:
    book = _auction()
    place(book, "b98", BUY, 98, 1)
    place(book, "b100", BUY, 100, 5)
    place(book, "s100", SELL, 100, 5)
    place(book, "s102", SELL, 102, 1)
    assert _uncrossed(book) == (100, 5, 0, Reason.MAX_VOLUME)


def test_uncross_breaks_a_volume_tie_by_minimum_imbalance() -> None:
    book = _auction()
    place(book, "b100", BUY, 100, 5)
    place(book, "b99", BUY, 99, 2)
    place(book, "s99", SELL, 99, 4)
    # at 99: demand 7, supply 4; at 100: demand 5, supply 4
    assert _uncrossed(book) == (100, 4, 1, Reason.MIN_IMBALANCE)


def test_uncross_breaks_an_imbalance_tie_by_closeness_to_the_reference() -> None:
    book = _auction(reference_price=Decimal("1.01"))
    place(book, "b", BUY, 102, 4)
    place(book, "s", SELL, 98, 4)
    # 98, 101 (the reference) and 102 all give volume 4 and imbalance 0
    assert _uncrossed(book) == (101, 4, 0, Reason.CLOSEST_TO_REFERENCE)


def test_uncross_reference_is_the_last_trade_price() -> None:
    book = make_book()
    trade_at(book, 99, "t")
    book.start_auction(1)
    place(book, "b", BUY, 102, 4)
    place(book, "s", SELL, 98, 4)
    assert _uncrossed(book) == (99, 4, 0, Reason.CLOSEST_TO_REFERENCE)


def test_uncross_breaks_a_distance_tie_by_the_lowest_price() -> None:
    book = _auction()
    place(book, "b", BUY, 102, 4)
    place(book, "s", SELL, 98, 4)
    assert _uncrossed(book) == (98, 4, 0, Reason.LOWEST_PRICE)


def test_uncross_prefers_the_reference_to_equally_good_prices_around_it() -> None:
    book = _auction(reference_price=Decimal("1.00"))
    place(book, "b", BUY, 102, 4)
    place(book, "s", SELL, 98, 4)
    place(book, "b2", BUY, 97, 1)
    place(book, "s2", SELL, 103, 1)
    # 98 and 102 lie 2 from the reference, but the reference itself is the closest
    assert _uncrossed(book) == (100, 4, 0, Reason.CLOSEST_TO_REFERENCE)


def test_uncross_without_a_cross_trades_nothing() -> None:
    book = _auction()
    place(book, "b", BUY, 99, 1)
    place(book, "s", SELL, 101, 1, ts=7)
    out = book.uncross(8)
    assert out == [(UNCROSSED, 5, 8, None, 0, 0, Reason.NO_CROSS)]
    assert book.depth(5) == ([(99, 1)], [(101, 1)])
    assert book.mode == CONTINUOUS


def test_uncross_of_an_empty_book_is_no_cross() -> None:
    assert _uncrossed(_auction()) == (None, 0, 0, Reason.NO_CROSS)


# ---------------------------------------------------------------- execution


def test_all_matches_execute_at_one_price_in_price_time_priority() -> None:
    book = _auction()
    place(book, "b1", BUY, 103, 2)
    place(book, "b2", BUY, 101, 2)
    place(book, "b3", BUY, 103, 1)
    place(book, "a1", SELL, 99, 3)
    place(book, "a2", SELL, 100, 2)
    out = book.uncross(9)
    assert out[0] == (UNCROSSED, 11, 9, 100, 5, 0, Reason.LOWEST_PRICE)
    assert out[1:] == [
        (TRADE, 12, 9, 100, 2, "a1", "b1", SELL, "a-a1", "a-b1"),
        (TRADE, 13, 9, 100, 1, "a1", "b3", SELL, "a-a1", "a-b3"),
        (TRADE, 14, 9, 100, 2, "a2", "b2", SELL, "a-a2", "a-b2"),
    ]
    assert book.depth(5) == ([], [])
    assert book.last_price == 100


def test_the_later_accepted_order_of_a_pair_is_the_taker() -> None:
    book = _auction()
    place(book, "s", SELL, 100, 2)
    place(book, "b", BUY, 100, 2)
    out = book.uncross(1)
    assert out[1][3:] == (100, 2, "b", "s", BUY, "a-b", "a-s")


def test_market_orders_match_first_and_leftovers_stay_resting() -> None:
    book = _auction()
    place(book, "b1", BUY, 103, 2)
    place(book, "a1", SELL, 100, 3)
    market(book, "m", BUY, 2)
    out = book.uncross(1)
    # demand 4 at 100 and 103, supply 3: volume 3, imbalance 1, the lower price wins
    assert out[0][3:] == (100, 3, 1, Reason.LOWEST_PRICE)
    assert trades(out) == [(100, 2, "m", "a1"), (100, 1, "a1", "b1")]
    assert book.depth(5) == ([(103, 1)], [])
    assert book.order("m") is None


def test_unmatched_market_orders_are_cancelled_at_the_uncross() -> None:
    book = _auction()
    place(book, "a", SELL, 100, 3)
    market(book, "m", BUY, 5)
    out = book.uncross(1)
    assert trades(out) == [(100, 3, "m", "a")]
    assert out[-1] == (CANCELLED, out[-1][1], 1, "m", 2, 0, Reason.AUCTION_UNMATCHED)
    assert book.order("m") is None


def test_market_orders_alone_without_a_reference_do_not_cross() -> None:
    book = _auction()
    market(book, "mb", BUY, 1)
    market(book, "ms", SELL, 2)
    out = book.uncross(1)
    assert out[0][3:] == (None, 0, 0, Reason.NO_CROSS)
    assert cancels(out) == [
        ("mb", 1, 0, Reason.AUCTION_UNMATCHED),
        ("ms", 2, 0, Reason.AUCTION_UNMATCHED),
    ]


def test_market_orders_alone_cross_at_the_reference_price() -> None:
    book = _auction(reference_price=Decimal("1.00"))
    market(book, "mb", BUY, 1)
    market(book, "ms", SELL, 2)
    out = book.uncross(1)
    assert out[0][3:] == (100, 1, 1, Reason.MAX_VOLUME)
    assert trades(out) == [(100, 1, "ms", "mb")]
    assert cancels(out) == [("ms", 1, 0, Reason.AUCTION_UNMATCHED)]


def test_auction_stp_uses_the_later_orders_mode() -> None:
    book = _auction()
    place(book, "b", BUY, 100, 3, account="x")
    place(book, "own", SELL, 100, 2, account="x", stp=DECREMENT)
    place(book, "other", SELL, 100, 1)
    out = book.uncross(1)
    assert cancels(out) == [
        ("b", 2, 1, Reason.STP_DECREMENT),
        ("own", 2, 0, Reason.STP_DECREMENT),
    ]
    assert trades(out) == [(100, 1, "other", "b")]
    assert book.depth(5) == ([], [])


def test_auction_stp_cancel_taker_cancels_the_later_order() -> None:
    book = _auction()
    place(book, "b", BUY, 100, 3, account="x")
    place(book, "own", SELL, 100, 2, account="x")
    out = book.uncross(1)
    assert cancels(out) == [("own", 2, 0, Reason.STP_CANCEL_TAKER)]
    assert trades(out) == []
    assert book.depth(5) == ([(100, 3)], [])


# ---------------------------------------------------------------- after the uncross


def test_market_returns_to_continuous_trading_after_the_uncross() -> None:
    book = _auction()
    place(book, "b", BUY, 100, 3)
    place(book, "s", SELL, 100, 1)
    book.uncross(1)
    assert book.mode == CONTINUOUS
    assert trades(limit(book, "s2", SELL, 100, 2)) == [(100, 2, "s2", "b")]


def test_uncross_triggers_stops_after_the_auction() -> None:
    book = _auction()
    place(book, "b", BUY, 100, 1)
    place(book, "s", SELL, 100, 1)
    place(book, "s2", SELL, 104, 1)
    market(book, "st", BUY, 1, stop_price=100)
    out = book.uncross(1)
    assert kinds(out) == [UNCROSSED, TRADE, TRIGGERED, TRADE]
    assert trades(out) == [(100, 1, "s", "b"), (104, 1, "st", "s2")]


def test_uncross_is_refused_when_not_in_auction() -> None:
    book = make_book()
    assert book.uncross(2) == [(REJECTED, 1, 2, "uncross", None, None, Reason.NOT_IN_AUCTION)]


def test_start_auction_again_after_an_uncross() -> None:
    book = _auction()
    book.uncross(1)
    assert kinds(book.start_auction(2)) == [AUCTION_STARTED]
    assert book.mode == AUCTION


def test_market_buy_in_an_auction_does_not_fill_above_its_protection_price() -> None:
    book = _auction()
    market(book, "m", BUY, 2, protection=101)
    place(book, "s", SELL, 105, 2)
    out = book.uncross(1)
    assert trades(out) == []


def test_book_is_not_left_crossed_when_stp_removes_the_auctions_volume() -> None:
    book = _auction()
    market(book, "m", SELL, 3, account="x")
    place(book, "b", BUY, 105, 1, account="x", stp=CANCEL_MAKER)
    place(book, "c", BUY, 96, 3)
    place(book, "s", SELL, 98, 5)
    out = book.uncross(1)
    assert out[0][3:] == (96, 3, 1, Reason.MAX_VOLUME)
    bid, ask = book.best_bid(), book.best_ask()
    assert bid is None or ask is None or bid < ask
