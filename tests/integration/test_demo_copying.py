"""The demo's copy trading (`entrypoints/demo_copying.py`): alice leads, bob and carol copy
her; a restart starts nothing twice; a trade of alice's is copied to both."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import Engine

from socialtrading.commands.models import PlaceOrder
from socialtrading.commands.writer import Writer
from socialtrading.domain.ids import account_id
from socialtrading.entrypoints.bootstrap import bootstrap_demo
from socialtrading.entrypoints.demo_copying import COPIERS, LEADER
from socialtrading.policies.copying import CopyPolicy
from socialtrading.projections.copy import copies
from socialtrading.projections.registry import all_projections
from socialtrading.projections.runner import ProjectionRunner


def test_the_demo_leader_has_copiers_whose_copies_follow_her_trades(
    make_writer: Callable[..., Writer], read_engine: Engine
) -> None:
    writer = make_writer(demo_funding=True)
    bootstrap_demo(writer)
    leader = str(account_id(LEADER))
    started = sorted(writer.state.copies.by_id)
    bootstrap_demo(writer)  # a restart: nothing started twice
    assert sorted(writer.state.copies.by_id) == started
    assert writer.state.copies.live_count(leader) == len(COPIERS)
    policy = CopyPolicy(writer.store, read_engine, writer.submit)
    policy.setup()
    bought = writer.execute(
        PlaceOrder(
            command_id="demo-test:buy",
            actor=account_id(LEADER),
            market="BTC-USD",
            side="buy",
            price=Decimal("60100"),
            quantity=Decimal("0.5"),
            time_in_force="IOC",
        )
    )
    assert bought.accepted
    policy.catch_up()
    runner = ProjectionRunner(writer.store, read_engine, all_projections())
    runner.setup()
    runner.catch_up()
    assert runner.dead_letters() == []
    with read_engine.connect() as connection:
        rows = copies.copiers_of(connection, leader, first=10)
        assert sorted(row.copier for row in rows) == sorted(str(account_id(c)) for c in COPIERS)
        for row in rows:
            kinds = [a.kind for a in copies.activity_of(connection, row.id, first=10)]
            assert "FILLED" in kinds, kinds
