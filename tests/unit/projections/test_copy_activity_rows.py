"""The copies read model reads a copy order from one `OrderExecuted` and from the three events
older logs hold for it (`OrderPlaced`, `AllocationFilled`, `Skipped`) alike."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import create_engine, select

from socialtrading.domain.copy.copy import SLIPPAGE, Copy, Execution
from socialtrading.domain.events import trigger
from socialtrading.domain.time import to_datetime
from socialtrading.projections.base import metadata
from socialtrading.projections.copy.copies import CopiesProjection, activity_of, copy_positions
from tests.fixtures.copies import a_copy

D = Decimal
ORDER = {"leader_trade_id": "BTC-USD:7", "market": "BTC-USD", "side": "buy"}


def _legacy(copy: Copy, kind: type[Any], **fields: Any) -> None:
    fields.update(ORDER, by="s", command_id="c", timestamp=to_datetime(2))
    trigger(copy, kind, fields)


def _read(events: list[Any]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The activity (kind, quantity, price, fee, amount, reason) and the position rows."""
    engine = create_engine("sqlite://")
    projection = CopiesProjection()
    metadata.create_all(engine, tables=list(projection.tables))
    with engine.begin() as connection:
        projection.apply(connection, list(enumerate(events, start=1)))
        projection.flush(connection)
        rows = activity_of(connection, str(events[0].originator_id), first=10)
        positions = connection.execute(
            select(copy_positions.c.quantity, copy_positions.c.cost, copy_positions.c.fees_paid)
        ).all()
    engine.dispose()
    activity = [(r.kind, r.quantity, r.price, r.fee, r.amount, r.reason) for r in reversed(rows)]
    return activity, [tuple(p) for p in positions]


def test_one_event_and_the_three_older_ones_read_the_same() -> None:
    new = a_copy()
    fill = Execution(D(2), D("100.08"), D("200.16"), D("0.2"), SLIPPAGE)
    new.executed("BTC-USD:7", "BTC-USD", "buy", D(3), D("100.5"), "b", fill, "s", "c", 2)
    old = a_copy()
    _legacy(old, Copy.OrderPlaced, quantity=D(3), limit_price=D("100.5"), block_id="b")
    _legacy(
        old,
        Copy.AllocationFilled,
        quantity=D(2),
        price=D("100.08"),
        cost=D("200.16"),
        fee=D("0.2"),
        block_id="b",
    )
    _legacy(old, Copy.Skipped, reason=SLIPPAGE, quantity=D(1), partial=True)
    read_new, read_old = _read(list(new.collect_events())), _read(list(old.collect_events()))
    assert read_new == read_old
    activity, positions = read_new
    assert [row[0] for row in activity] == ["STARTED", "ORDER_PLACED", "FILLED", "SKIPPED"]
    assert activity[2][1:5] == (D(2), D("100.08"), D("0.2"), D("200.16"))
    assert positions == [("2", "200.16", "0.2")]
