"""Rebuilding a book from its records, without matching, gives the live book's state."""

from __future__ import annotations

import json
from collections.abc import Callable

from socialtrading.engine.book import OrderBook
from socialtrading.engine.records import Record
from socialtrading.entrypoints.simulation import DEMO_SPEC, apply, generate


def _live(count: int, seed: int) -> tuple[OrderBook, list[Record]]:
    book = OrderBook(DEMO_SPEC)
    records: list[Record] = []
    for command in generate(count, seed):
        records.extend(apply(book, command))
    return book, records


def test_replaying_records_rebuilds_the_same_book() -> None:
    live, records = _live(20_000, seed=5)
    rebuilt = OrderBook(DEMO_SPEC)
    rebuilt.apply_records(json.loads(json.dumps(records)))  # as lists, like stored events
    assert rebuilt.snapshot() == live.snapshot()


def test_records_already_applied_are_skipped() -> None:
    live, records = _live(2_000, seed=6)
    rebuilt = OrderBook(DEMO_SPEC)
    half = len(records) // 2
    rebuilt.apply_records(records[: half + 10])
    rebuilt.apply_records(records[half:])  # overlaps by ten records
    assert rebuilt.snapshot() == live.snapshot()


def test_a_rebuilt_book_continues_like_the_live_one() -> None:
    commands = list(generate(3_000, seed=8))
    live = OrderBook(DEMO_SPEC)
    records: list[Record] = []
    for command in commands[:2_000]:
        records.extend(apply(live, command))
    rebuilt = OrderBook(DEMO_SPEC)
    rebuilt.apply_records(records)
    for command in commands[2_000:]:
        assert apply(rebuilt, command) == apply(live, command)


def test_replay_covers_stops_expiry_stp_amends_and_auctions() -> None:
    book = OrderBook(DEMO_SPEC)
    records: list[Record] = []
    steps: list[Callable[[int], list[Record]]] = [
        lambda ts: book.submit(ts, "s1", "a1", "sell", "limit", 10_000, 50),
        lambda ts: book.submit(ts, "s2", "a2", "sell", "limit", 10_010, 50, "GTD", expire_ts=10**4),
        lambda ts: book.submit(ts, "stop", "a3", "buy", "market", None, 20, stop_price=10_000),
        lambda ts: book.submit(ts, "b1", "a4", "buy", "limit", 10_000, 10),
        lambda ts: book.submit(ts, "d1", "a1", "buy", "limit", 10_020, 30, stp="decrement"),
        lambda ts: book.amend(ts, "s2", "a2", 10_005, 80),
        lambda ts: book.amend(ts, "s2", "a2", None, 40),
        book.halt,
        lambda ts: book.cancel(ts, "s2", "a2"),
        book.resume,
        lambda ts: book.submit(ts, "g1", "a2", "sell", "limit", 10_030, 5, "GTD", expire_ts=205),
        book.expire,
        book.start_auction,
        lambda ts: book.submit(ts, "x1", "a5", "buy", "limit", 10_050, 40),
        lambda ts: book.submit(ts, "x2", "a6", "sell", "limit", 9_990, 25),
        lambda ts: book.submit(ts, "x3", "a7", "sell", "market", None, 30),
        lambda ts: book.submit(ts, "x4", "a8", "buy", "limit", 10_040, 10, stop_price=10_045),
        book.uncross,
        lambda ts: book.submit(ts, "y1", "a9", "sell", "limit", 10_041, 5),
    ]
    for ts, step in enumerate(steps, start=10):
        records.extend(step(ts * 10))
    kinds = {record[0] for record in records}
    assert {"triggered", "expired", "uncrossed", "amended", "halted", "trade"} <= kinds
    assert any(r[0] == "cancelled" and r[6] == "stp_decrement" for r in records)
    rebuilt = OrderBook(DEMO_SPEC)
    rebuilt.apply_records(json.loads(json.dumps(records)))
    assert rebuilt.snapshot() == book.snapshot()
