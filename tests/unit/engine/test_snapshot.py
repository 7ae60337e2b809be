"""Snapshots: JSON-ready state that restores to a book continuing exactly as before."""

from __future__ import annotations

import json
from typing import Any

import pytest

from socialtrading.engine.book import BUY, SELL, OrderBook
from socialtrading.engine.records import (
    ACCEPTED,
    AMENDED,
    AUCTION_STARTED,
    CANCELLED,
    EXPIRED,
    HALTED,
    REJECTED,
    RESTED,
    RESUMED,
    TRADE,
    TRIGGERED,
    UNCROSSED,
)
from socialtrading.engine.spec import AUCTION, MarketSpec
from tests.unit.engine.book_helpers import (
    LOT,
    SCENARIO,
    SCENARIO_OPTIONS,
    TICK,
    kinds,
    make_book,
    make_spec,
    market,
    place,
    run_commands,
    trades,
)


def _json_round_trip(data: dict[str, Any]) -> dict[str, Any]:
    restored: dict[str, Any] = json.loads(json.dumps(data))
    return restored


def _state(book: OrderBook) -> tuple[Any, ...]:
    return (
        book.seq,
        book.ts,
        book.last_price,
        book.halted,
        book.mode,
        book.depth(100),
        [order.to_list() for order in book.live_orders()],
    )


def test_scenario_exercises_every_record_kind() -> None:
    out = run_commands(make_book(**SCENARIO_OPTIONS), SCENARIO)
    assert set(kinds(out)) == {
        ACCEPTED,
        REJECTED,
        TRADE,
        RESTED,
        CANCELLED,
        EXPIRED,
        AMENDED,
        TRIGGERED,
        UNCROSSED,
        HALTED,
        RESUMED,
        AUCTION_STARTED,
    }


@pytest.mark.parametrize("split", range(len(SCENARIO) + 1))
def test_restoring_a_snapshot_and_going_on_gives_the_same_records(split: int) -> None:
    spec = make_spec(**SCENARIO_OPTIONS)
    expected = run_commands(OrderBook(spec), SCENARIO)
    first = OrderBook(spec)
    out = run_commands(first, SCENARIO[:split])
    snapshot = _json_round_trip(first.snapshot())
    second = OrderBook.restore(spec, snapshot)
    assert _state(second) == _state(first)
    assert second.snapshot() == snapshot
    out += run_commands(second, SCENARIO[split:])
    assert out == expected


def test_snapshot_is_json_serialisable_and_survives_a_round_trip() -> None:
    book = make_book()
    place(book, "b", BUY, 99, 2, ts=1, tif="GTD", expire_ts=50, group="g")
    place(book, "st", SELL, 90, 1, stop_price=95)
    book.start_auction(2)
    market(book, "m", SELL, 3)
    book.halt(3)
    snapshot = book.snapshot()
    text = json.dumps(snapshot)
    assert json.loads(text) == snapshot
    assert snapshot["symbol"] == "BTC-USD"
    assert (snapshot["seq"], snapshot["ts"], snapshot["halted"], snapshot["mode"]) == (
        book.seq,
        3,
        True,
        AUCTION,
    )
    assert [values[0] for values in snapshot["resting"]] == ["b"]
    assert [values[0] for values in snapshot["stops"]] == ["st"]
    assert [values[0] for values in snapshot["auction_market"]] == ["m"]


def test_restored_book_keeps_fifo_order_within_a_level() -> None:
    book = make_book()
    for order_id in ("s1", "s2", "s3"):
        place(book, order_id, SELL, 101, 1)
    book.amend(1, "s1", "a-s1", None, 5)  # s1 goes to the back
    restored = OrderBook.restore(book.spec, _json_round_trip(book.snapshot()))
    out = place(restored, "b", BUY, 101, 3)
    assert trades(out) == [(101, 1, "b", "s2"), (101, 1, "b", "s3"), (101, 1, "b", "s1")]


def test_restored_book_expires_gtd_orders_in_the_same_order() -> None:
    book = make_book()
    place(book, "z", BUY, 90, 1, tif="GTD", expire_ts=300)
    place(book, "y", BUY, 91, 1, tif="GTD", expire_ts=250)
    place(book, "x", BUY, 92, 1, tif="GTD", expire_ts=250)
    restored = OrderBook.restore(book.spec, _json_round_trip(book.snapshot()))
    assert restored.expire(400) == book.expire(400)


def test_restore_refuses_a_snapshot_of_another_market() -> None:
    snapshot = make_book().snapshot()
    other = MarketSpec("ETH-USD", TICK, LOT)
    with pytest.raises(ValueError, match="does not match"):
        OrderBook.restore(other, snapshot)


def test_restore_refuses_a_snapshot_of_another_version() -> None:
    snapshot = make_book().snapshot()
    snapshot["version"] = 999
    with pytest.raises(ValueError, match="does not match"):
        OrderBook.restore(make_spec(), snapshot)
