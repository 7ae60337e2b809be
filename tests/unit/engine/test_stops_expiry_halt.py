"""Stop orders and their triggers, GTD expiry, and market halts."""

from __future__ import annotations

from socialtrading.engine.book import BUY, GTD, SELL
from socialtrading.engine.records import (
    ACCEPTED,
    AMENDED,
    CANCELLED,
    EXPIRED,
    HALTED,
    REJECTED,
    RESTED,
    RESUMED,
    TRADE,
    TRIGGERED,
    Reason,
)
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

# ---------------------------------------------------------------- stops


def test_stop_order_waits_outside_the_book_without_a_last_trade() -> None:
    book = make_book()
    out = market(book, "st", BUY, 1, stop_price=1)
    assert kinds(out) == [ACCEPTED]
    assert book.order("st") is not None
    assert book.depth(5) == ([], [])


def test_buy_stop_triggers_when_the_last_price_reaches_the_stop() -> None:
    book = make_book()
    trade_at(book, 100, "t1")
    place(book, "ask", SELL, 106, 1)
    assert kinds(market(book, "st", BUY, 1, stop_price=105)) == [ACCEPTED]
    assert TRIGGERED not in kinds(trade_at(book, 104, "t2"))
    out = place(book, "s105", SELL, 105, 1, ts=7)
    out = place(book, "b105", BUY, 105, 1, ts=7)
    seq = out[0][1]
    assert out[1:] == [
        (TRADE, seq + 1, 7, 105, 1, "b105", "s105", BUY, "a-b105", "a-s105"),
        (TRIGGERED, seq + 2, 7, "st", 105, 105),
        (TRADE, seq + 3, 7, 106, 1, "st", "ask", BUY, "a-st", "a-ask"),
    ]


def test_buy_stop_market_enters_as_a_taker_when_triggered() -> None:
    book = make_book()
    trade_at(book, 100, "t1")
    place(book, "ask", SELL, 106, 1)
    market(book, "st", BUY, 1, stop_price=105)
    out = trade_at(book, 105, "t2")
    assert kinds(out)[-2:] == [TRIGGERED, TRADE]
    assert out[-2][3:] == ("st", 105, 105)
    assert trades(out)[-1] == (106, 1, "st", "ask")
    assert book.order("st") is None


def test_sell_stop_triggers_when_the_last_price_falls_to_the_stop() -> None:
    book = make_book()
    trade_at(book, 100, "t1")
    place(book, "bid", BUY, 90, 1)
    limit(book, "st", SELL, 91, 1, stop_price=95)
    assert TRIGGERED not in kinds(trade_at(book, 96, "t2"))
    out = trade_at(book, 95, "t3")
    assert kinds(out)[-2:] == [TRIGGERED, RESTED]
    assert out[-2][3:] == ("st", 95, 95)
    assert out[-1][3:] == ("st", 91, 1)
    assert book.depth(5) == ([(90, 1)], [(91, 1)])


def test_stop_already_reached_triggers_on_arrival() -> None:
    book = make_book()
    trade_at(book, 100, "t")
    out = limit(book, "st", BUY, 101, 2, stop_price=99, ts=5)
    seq = out[0][1]
    assert out[1:] == [
        (TRIGGERED, seq + 1, 5, "st", 99, 100),
        (RESTED, seq + 2, 5, "st", 101, 2),
    ]


def test_sell_stop_above_the_last_price_triggers_on_arrival() -> None:
    book = make_book()
    trade_at(book, 100, "t")
    place(book, "bid", BUY, 98, 1)
    out = market(book, "st", SELL, 1, stop_price=100)
    assert kinds(out) == [ACCEPTED, TRIGGERED, TRADE]
    assert trades(out) == [(98, 1, "st", "bid")]


def test_triggered_stops_enter_in_acceptance_order_not_stop_order() -> None:
    book = make_book()
    trade_at(book, 100, "t1")
    limit(book, "high", BUY, 90, 1, stop_price=105)
    limit(book, "low", BUY, 91, 1, stop_price=102)
    out = trade_at(book, 106, "t2")
    assert [(r[0], r[3]) for r in out if r[0] in (TRIGGERED, RESTED)][-4:] == [
        (TRIGGERED, "high"),
        (RESTED, "high"),
        (TRIGGERED, "low"),
        (RESTED, "low"),
    ]


def test_stops_cascade_when_a_triggered_stop_moves_the_price() -> None:
    book = make_book()
    trade_at(book, 100, "t")
    for price in (99, 97, 95):
        place(book, f"b{price}", BUY, price, 1)
    market(book, "s1", SELL, 1, stop_price=99)
    market(book, "s2", SELL, 1, stop_price=97)
    out = limit(book, "x", SELL, 99, 1)
    assert [r[0] for r in out[1:]] == [TRADE, TRIGGERED, TRADE, TRIGGERED, TRADE]
    assert trades(out) == [(99, 1, "x", "b99"), (97, 1, "s1", "b97"), (95, 1, "s2", "b95")]
    assert [r[3:] for r in out if r[0] == TRIGGERED] == [("s1", 99, 99), ("s2", 97, 97)]


def test_stops_are_checked_again_after_each_triggered_stop_enters() -> None:
    book = make_book()
    place(book, "b90", BUY, 90, 1)
    market(book, "sell_stop", SELL, 1, stop_price=100)
    limit(book, "buy_stop", BUY, 80, 1, stop_price=100)
    out = trade_at(book, 100, "t")  # both would trigger at 100
    assert [r[3] for r in out if r[0] == TRIGGERED] == ["sell_stop"]
    assert trades(out)[-1] == (90, 1, "sell_stop", "b90")
    assert book.last_price == 90
    assert book.order("buy_stop") is not None  # 90 < 100: no longer triggered


def test_triggered_stop_limit_outside_the_collar_is_cancelled() -> None:
    book = make_book(collar_ticks=5)
    trade_at(book, 100, "t1")
    assert kinds(limit(book, "st", BUY, 120, 2, stop_price=102)) == [ACCEPTED]
    out = trade_at(book, 102, "t2")
    assert kinds(out)[-2:] == [TRIGGERED, CANCELLED]
    assert cancels(out) == [("st", 2, 0, Reason.PRICE_OUTSIDE_COLLAR)]
    assert book.order("st") is None


def test_triggered_post_only_stop_limit_that_would_cross_is_cancelled() -> None:
    book = make_book()
    trade_at(book, 100, "t1")
    place(book, "ask", SELL, 105, 1)
    limit(book, "st", BUY, 105, 1, stop_price=102, post_only=True)
    out = trade_at(book, 102, "t2")
    assert cancels(out) == [("st", 1, 0, Reason.POST_ONLY_WOULD_TAKE)]
    assert book.depth(5) == ([], [(105, 1)])


def test_trade_from_an_amend_triggers_stops() -> None:
    book = make_book()
    place(book, "b", BUY, 99, 1)
    place(book, "s", SELL, 101, 1)
    market(book, "st", BUY, 1, stop_price=101)
    out = book.amend(1, "b", "a-b", 101, None)
    assert kinds(out) == [AMENDED, TRADE, TRIGGERED, CANCELLED]
    assert cancels(out) == [("st", 1, 0, Reason.NO_LIQUIDITY)]


def test_stop_triggered_on_arrival_in_auction_mode_is_checked_against_the_collar() -> None:
    book = make_book(collar_ticks=5)
    trade_at(book, 100, "t")
    book.start_auction(1)
    out = limit(book, "st", BUY, 120, 1, stop_price=99)
    assert kinds(out) == [ACCEPTED, TRIGGERED, CANCELLED]
    assert cancels(out) == [("st", 1, 0, Reason.PRICE_OUTSIDE_COLLAR)]
    assert book.depth(5) == ([], [])


def test_stop_triggered_on_arrival_in_auction_mode_joins_the_auction() -> None:
    book = make_book(collar_ticks=5)
    trade_at(book, 100, "t")
    book.start_auction(1)
    out = limit(book, "st", BUY, 104, 1, stop_price=99)
    assert kinds(out) == [ACCEPTED, TRIGGERED, RESTED]
    out = market(book, "sm", SELL, 1, stop_price=101)
    assert kinds(out) == [ACCEPTED, TRIGGERED, RESTED]
    assert out[-1][3:] == ("sm", None, 1)


# ---------------------------------------------------------------- GTD expiry


def test_gtd_order_expires_on_the_first_command_at_or_after_its_expiry() -> None:
    book = make_book()
    place(book, "g", BUY, 99, 3, ts=100, tif=GTD, expire_ts=200)
    assert EXPIRED not in kinds(limit(book, "o1", BUY, 90, 1, ts=199))
    out = limit(book, "o2", BUY, 90, 1, ts=200)
    assert out[0] == (EXPIRED, 5, 200, "g", 3)
    assert kinds(out) == [EXPIRED, ACCEPTED, RESTED]
    assert book.order("g") is None
    assert book.depth(5) == ([(90, 2)], [])


def test_expire_command_only_expires_due_orders() -> None:
    book = make_book()
    place(book, "g", SELL, 101, 3, ts=100, tif=GTD, expire_ts=200)
    place(book, "h", SELL, 102, 3, ts=100, tif=GTD, expire_ts=300)
    assert book.expire(150) == []
    assert book.expire(250) == [(EXPIRED, 5, 250, "g", 3)]
    assert book.depth(5) == ([], [(102, 3)])
    assert book.ts == 250


def test_expiry_order_is_expiry_time_then_acceptance() -> None:
    book = make_book()
    place(book, "z", BUY, 90, 1, tif=GTD, expire_ts=300)
    place(book, "y", BUY, 91, 1, tif=GTD, expire_ts=250)
    place(book, "x", BUY, 92, 1, tif=GTD, expire_ts=250)
    out = book.expire(400)
    assert [(r[0], r[3]) for r in out] == [(EXPIRED, "y"), (EXPIRED, "x"), (EXPIRED, "z")]
    assert [r[1] for r in out] == [7, 8, 9]


def test_orders_expire_before_the_command_that_reaches_their_expiry() -> None:
    book = make_book()
    place(book, "g", SELL, 101, 1, ts=100, tif=GTD, expire_ts=200)
    out = limit(book, "b", BUY, 101, 1, ts=200)
    assert kinds(out) == [EXPIRED, ACCEPTED, RESTED]
    assert trades(out) == []


def test_expired_partly_filled_order_reports_its_open_quantity() -> None:
    book = make_book()
    place(book, "g", SELL, 101, 5, ts=100, tif=GTD, expire_ts=200)
    place(book, "b", BUY, 101, 2, ts=100)
    assert book.expire(200) == [(EXPIRED, 5, 200, "g", 3)]


def test_filled_or_cancelled_gtd_order_does_not_expire_later() -> None:
    book = make_book()
    place(book, "g1", SELL, 101, 1, ts=100, tif=GTD, expire_ts=200)
    place(book, "g2", SELL, 102, 1, ts=100, tif=GTD, expire_ts=200)
    place(book, "b", BUY, 101, 1)
    book.cancel(150, "g2", "a-g2")
    assert book.expire(300) == []


def test_reused_id_of_a_cancelled_gtd_order_is_not_expired_at_the_old_time() -> None:
    book = make_book()
    place(book, "g", SELL, 101, 1, ts=100, tif=GTD, expire_ts=200)
    book.cancel(150, "g", "a-g")
    place(book, "g", SELL, 101, 1, ts=160, tif=GTD, expire_ts=500)
    assert book.expire(300) == []
    assert [r[3] for r in book.expire(500)] == ["g"]


def test_pending_gtd_stop_order_expires() -> None:
    book = make_book()
    place(book, "st", BUY, 120, 2, ts=100, tif=GTD, expire_ts=200, stop_price=110)
    assert book.expire(200) == [(EXPIRED, 2, 200, "st", 2)]
    assert book.order("st") is None


def test_expiry_goes_on_while_halted_and_before_a_refusal() -> None:
    book = make_book()
    place(book, "g", SELL, 101, 1, ts=100, tif=GTD, expire_ts=200)
    book.halt(150)
    out = limit(book, "n", BUY, 90, 1, ts=200)
    assert out == [
        (EXPIRED, 4, 200, "g", 1),
        (REJECTED, 5, 200, "new", "n", "a-n", Reason.HALTED),
    ]


def test_amend_after_expiry_finds_no_order() -> None:
    book = make_book()
    place(book, "g", SELL, 101, 1, ts=100, tif=GTD, expire_ts=200)
    out = book.amend(200, "g", "a-g", None, 1)
    assert kinds(out) == [EXPIRED, REJECTED]
    assert rejection(out) == Reason.UNKNOWN_ORDER


# ---------------------------------------------------------------- halts


def test_halt_and_resume_are_recorded() -> None:
    book = make_book()
    assert book.halt(5) == [(HALTED, 1, 5)]
    assert book.halted
    assert book.resume(6) == [(RESUMED, 2, 6)]
    assert not book.halted


def test_halting_a_halted_market_is_refused() -> None:
    book = make_book()
    book.halt(5)
    assert book.halt(6) == [(REJECTED, 2, 6, "halt", None, None, Reason.ALREADY_HALTED)]
    assert book.halted


def test_resuming_a_running_market_is_refused() -> None:
    book = make_book()
    assert book.resume(6) == [(REJECTED, 1, 6, "resume", None, None, Reason.NOT_HALTED)]


def test_halted_market_rejects_new_orders() -> None:
    book = make_book()
    book.halt(1)
    assert limit(book, "b", BUY, 100, 1) == [(REJECTED, 2, 1, "new", "b", "a-b", Reason.HALTED)]
    assert rejection(market(book, "m", SELL, 1)) == Reason.HALTED


def test_halted_market_rejects_amends() -> None:
    book = make_book()
    place(book, "b", BUY, 100, 2)
    book.halt(1)
    assert rejection(book.amend(2, "b", "a-b", None, 1)) == Reason.HALTED
    assert book.depth(5) == ([(100, 2)], [])


def test_halted_market_rejects_uncross() -> None:
    book = make_book()
    book.start_auction(1)
    book.halt(2)
    assert book.uncross(3) == [(REJECTED, 3, 3, "uncross", None, None, Reason.HALTED)]
    assert book.mode == "auction"


def test_resumed_market_matches_again() -> None:
    book = make_book()
    place(book, "s", SELL, 100, 1)
    book.halt(1)
    book.resume(2)
    assert trades(limit(book, "b", BUY, 100, 1)) == [(100, 1, "b", "s")]
