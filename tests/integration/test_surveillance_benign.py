"""100,000 commands of honest trading (socialtrading/entrypoints/honest_flow.py: market
makers quoting and cancelling, takers, resting traders, posters who hold, their fans,
leaders and their copiers, the copy-trading process sending the copies) through the real
writer into one SQLite store, built once for the module: the detectors find nothing in it
(a false positive is a failure), yet they are not blind to it (with thresholds low enough,
each finds something), and what they find does not depend on how the log is cut into
chunks nor where the scan is stopped and resumed from a checkpoint.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from socialtrading.commands.writer import Writer
from socialtrading.entrypoints.honest_flow import START_US, HonestFlow, clock, drive
from socialtrading.infra.collector import tune_collector
from socialtrading.infra.decoding import EventDecoder
from socialtrading.infra.readstore import open_read_store
from socialtrading.infra.settings import Settings, SurveillanceSettings
from socialtrading.infra.store import EventStore, open_store
from socialtrading.policies.copying import CopyPolicy
from socialtrading.policies.surveillance.findings import (
    AGAINST_OWN_RECOMMENDATION,
    MARKING_THE_CLOSE,
    ORDER_TO_TRADE,
    SPOOFING,
    WASH_TRADING,
    Finding,
)
from socialtrading.policies.surveillance.policy import SurveillancePolicy
from socialtrading.policies.surveillance.scanner import Scanner, wanted

COMMANDS = 100_000
HOUR_US = 3_600_000_000
# thresholds low enough that ordinary trading passes them
LOW = SurveillanceSettings(
    wash_min_legs=2,
    wash_min_pair_share_percent=5,
    wash_max_net_percent=100,
    wash_min_cycles=1,
    wash_quantity_tolerance_percent=100,
    spoof_min_book_share_percent=1,
    spoof_min_size_ratio=1,
    otr_min_messages=10,
    otr_max_ratio=2,
    close_min_move_bps=5,
    close_min_orders=1,
    close_min_share_percent=10,
    against_window_seconds=200_000,
    against_min_percent=1,
)


class HonestLog(NamedTuple):
    store: EventStore
    read_engine: Engine
    outcomes: Counter[str]
    copies_sent: int


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HonestLog]:
    folder: Path = tmp_path_factory.mktemp("honest")
    where = Settings(
        store=f"sqlite:///{folder}/events.db", read_store=f"sqlite:///{folder}/read.db"
    )
    store = open_store(where)
    read_engine = open_read_store(where)
    ticks = clock()
    writer = Writer(store, demo_funding=True, clock=lambda: next(ticks)).start()
    copying = CopyPolicy(store, read_engine, writer.submit)
    copying.setup()
    copying.start()
    writer.add_listener(copying.wake)
    flow = HonestFlow(seed=7)
    thresholds = gc.get_threshold()
    tune_collector()  # as the server does: a busy writer's young objects die young
    try:
        assert set(drive(writer, flow.setup())) == {"ok"}
        outcomes = drive(writer, flow.stream(COMMANDS))
    finally:
        gc.set_threshold(*thresholds)
    assert copying.wait_for(store.recorder.max_notification_id() or 0, 120)
    copying.stop()
    writer.stop()
    yield HonestLog(store, read_engine, outcomes, copying.sent)
    read_engine.dispose()
    store.close()


def test_a_day_and_more_of_honest_trading_raises_no_finding(honest: HonestLog) -> None:
    assert honest.outcomes.total() == COMMANDS
    assert honest.outcomes["ok"] >= COMMANDS * 99 // 100, honest.outcomes
    assert honest.copies_sent >= 100  # leaders' fills copied
    found: list[Finding] = []
    policy = SurveillancePolicy(honest.store, honest.read_engine, found.append)
    policy.setup()
    policy.catch_up()
    assert found == []
    assert (honest.store.recorder.max_notification_id() or 0) >= COMMANDS
    assert policy.scanner.now - START_US > 26 * HOUR_US  # holds longer than a day were made


def _items(store: EventStore, limit: int) -> list[tuple[int, Any]]:
    """The first `limit` rows' events the scanner reads, decoded."""
    rows = [row for row in store.read(0, limit) if wanted(row.topic)]
    return EventDecoder(store.mapper).decode(rows)


def test_with_low_thresholds_each_detector_finds_ordinary_trading(honest: HonestLog) -> None:
    scanner = Scanner(LOW)
    found = Counter(f.kind for _, f in scanner.scan(_items(honest.store, 1_000_000)))
    for kind in (
        WASH_TRADING,
        SPOOFING,
        ORDER_TO_TRADE,
        MARKING_THE_CLOSE,
        AGAINST_OWN_RECOMMENDATION,
    ):
        assert found[kind] > 0, found


@pytest.fixture(scope="module")
def prefix(honest: HonestLog) -> list[tuple[int, Any]]:
    return _items(honest.store, 20_000)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    cuts=st.lists(st.tuples(st.integers(min_value=1, max_value=19_000), st.booleans()), max_size=6)
)
def test_the_same_log_gives_the_same_findings_however_chunked_or_resumed(
    prefix: list[tuple[int, Any]], cuts: list[tuple[int, bool]]
) -> None:
    whole = Scanner(LOW).scan(prefix)
    assert whole  # something to compare
    scanner = Scanner(LOW)
    found = []
    start = 0
    for cut, resume in sorted(cuts):
        found += scanner.scan(prefix[start:cut])
        start = max(start, cut)
        if resume:  # a restart from a checkpoint taken here
            resumed = Scanner(LOW)
            assert resumed.load(scanner.dump())
            scanner = resumed
    found += scanner.scan(prefix[start:])
    assert found == whole
