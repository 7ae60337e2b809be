"""The copies read model over a real store and read store (both backends): every copy's
terms, bookkeeping and equity agree with the writer's state; every copy event is an activity
item; a rebuild from zero, or following in small batches, gives the same rows."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from socialtrading.commands.copying import (
    AddCopyFunds,
    PauseCopying,
    RecordRiskScore,
    StopCopying,
)
from socialtrading.commands.writer import Writer
from socialtrading.domain.copy.copy import Copy
from socialtrading.domain.ids import SYSTEM_ACTOR
from socialtrading.domain.time import DAY_US
from socialtrading.projections.copy import copies
from socialtrading.projections.registry import all_projections
from socialtrading.projections.runner import ProjectionRunner
from socialtrading.projections.stats import queries as stats
from tests.unit.commands.copy_world import CAL, CAT, LEA, MM, Clock, World

D = Decimal


@pytest.fixture
def world(make_writer: Callable[..., Writer]) -> World:
    return World(make_writer, Clock())


def _runner(world: World, engine: Engine, **options: Any) -> ProjectionRunner:
    runner = ProjectionRunner(world.writer.store, engine, all_projections(), **options)
    runner.setup()
    return runner


def _dump(engine: Engine) -> list[list[Any]]:
    with engine.connect() as connection:
        return [
            [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key))]
            for table in copies.CopiesProjection.tables
        ]


def test_copies_activity_and_equity_agree_with_the_writer(
    world: World, read_engine: Engine
) -> None:
    world.lead(profit_share_bps=1000)
    cat = world.start(CAT, "1000")
    cal = world.start(CAL, "2000", sizing="FIXED_RATIO", ratio=D(1))
    world.order(MM, "sell", "100", "30")
    for trade_id in world.trades(world.order(LEA, "buy", "100", "2")):
        world.copy_fill(trade_id)
    world.ok(AddCopyFunds(command_id=world.id(), actor=CAT, copy_id=cat, amount=D(500)))
    world.ok(PauseCopying(command_id=world.id(), actor=CAL, copy_id=cal))
    world.order(MM, "buy", "90", "30")
    world.ok(StopCopying(command_id=world.id(), actor=CAL, copy_id=cal))
    day = world.clock.now // DAY_US - 1
    world.ok(
        RecordRiskScore(command_id="risk", actor=SYSTEM_ACTOR, leader=LEA, score=9, as_of_day=day)
    )
    runner = _runner(world, read_engine)
    runner.catch_up()
    assert runner.dead_letters() == []
    with read_engine.connect() as connection:
        rows = copies.copies_by_ids(connection, [str(cat), str(cal)])
        equity = copies.equity_of(connection, list(rows.values()))
        activity = {c: copies.activity_of(connection, str(c), first=100) for c in (cat, cal)}
        settings = copies.settings_of(connection, [str(LEA), str(CAT)])
    live, stopped = rows[str(cat)], rows[str(cal)]
    assert (live.status, live.invested, live.sizing) == ("ACTIVE", D(1500), "PROPORTIONAL")
    assert (stopped.status, stopped.sizing, stopped.ratio) == ("STOPPED", "FIXED_RATIO", D(1))
    assert stopped.stopped_at is not None and stopped.stop_reason == "stopped by the copier"
    # a live copy's equity: its allocation marked at the last price (90)
    allocation = world.allocation(cat)
    assert equity[str(cat)] == allocation.available("USD") + allocation.available("BTC") * 90
    # a stopped copy's: what went back to the copier
    (settled,) = [e for e in world.events(cal) if isinstance(e, Copy.ProfitShareSettled)]
    assert equity[str(cal)] == settled.equity - settled.paid
    for copy_id in (cat, cal):
        events = world.events(copy_id)
        executed = [e for e in events if isinstance(e, Copy.OrderExecuted)]
        # an executed order is two or three rows: placed, filled and/or the rest skipped
        rows_of_executed = sum(1 + bool(e.filled) + bool(e.unfilled) for e in executed)
        assert len(activity[copy_id]) == len(events) - len(executed) + rows_of_executed
        kinds = [row.kind for row in reversed(activity[copy_id])]
        assert kinds[0] == "STARTED"
        assert kinds.count("FILLED") == len([e for e in executed if e.filled])
        assert kinds.count("ORDER_PLACED") == len(executed)
        ids = [row.id for row in activity[copy_id]]
        assert ids == sorted(set(ids), reverse=True)  # unique, newest first
    cal_kinds = [row.kind for row in activity[cal]]
    assert cal_kinds[0] == "STOPPED" and "PAUSED" in cal_kinds
    assert "PROFIT_SHARE_SETTLED" in cal_kinds and "ORDER_PLACED" in cal_kinds
    [fill] = [row for row in activity[cat] if row.kind == "FILLED"]
    assert (fill.market, fill.side, fill.price) == ("BTC-USD", "buy", D(100))
    assert fill.leader_trade_id is not None and fill.quantity and fill.fee is not None
    assert settings[str(LEA)].profit_share_bps == 1000 and str(CAT) not in settings
    # the leader's risk gate, and its one live copy (cal's stopped)
    lea = settings[str(LEA)]
    assert (lea.risk_score, lea.risk_score_as_of, lea.risk_gated) == (9, day, True)
    assert lea.live_copiers == 1 and lea.accept_copiers and not lea.copyable

    # rebuilt from zero, and followed in small batches: the same rows
    live_rows = _dump(read_engine)
    runner.rebuild()
    assert _dump(read_engine) == live_rows


def test_following_in_small_batches_equals_a_catch_up(
    world: World, read_engine: Engine, make_writer: Callable[..., Writer]
) -> None:
    world.lead()
    world.start(CAT, "1000")
    world.order(MM, "sell", "100", "30")
    for trade_id in world.trades(world.order(LEA, "buy", "100", "2")):
        world.copy_fill(trade_id)
    runner = _runner(world, read_engine, batch_size=1, read_size=1)
    while runner.run_once():
        pass
    small = _dump(read_engine)
    runner.rebuild()
    assert _dump(read_engine) == small


def test_a_leaders_statistics_count_its_real_copies(world: World, read_engine: Engine) -> None:
    """The statistics read model reads the copy events the writer stores (not only stand-ins):
    a leader with two running copies has two copiers and their allocations under copy."""
    world.lead(profit_share_bps=1000)
    cat = world.start(CAT, "1000")
    world.start(CAL, "2000", sizing="FIXED_RATIO", ratio=D(1))
    world.order(MM, "sell", "100", "30")
    for trade_id in world.trades(world.order(LEA, "buy", "100", "2")):
        world.copy_fill(trade_id)
    runner = _runner(world, read_engine)
    runner.catch_up()
    assert runner.dead_letters() == []
    with read_engine.connect() as connection:
        day = stats.clock(connection).day
        assert day is not None
        allocation = str(world.allocation(cat).id)
        found = stats.trader_stats(connection, [str(LEA), allocation], "D7", 7, day)
        equity = copies.equity_of(
            connection, list(copies.copies_by_ids(connection, [str(cat)]).values())
        )
    leader = found[str(LEA)]
    assert leader.copiers == 2
    assert leader.assets_under_copy > 0
    assert allocation not in found  # an allocation is not a trader
    assert equity[str(cat)] > 0
