"""Time travel equals what the live read models showed: books, balances, open orders and
positions recorded after every command of a scenario are read again as of each command's
position and time, on SQLite and PostgreSQL, with snapshots taken often and never."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine

from socialtrading.audit.timetravel import Cut, TimeTravel
from socialtrading.commands.state import Outcome
from socialtrading.commands.writer import Writer
from socialtrading.domain.ids import account_id
from socialtrading.graphql.asof import balance_rows, book_levels, order_row, position_at
from socialtrading.graphql.loaders import OPEN_ORDERS_LIMIT
from socialtrading.projections import accounts, book, orders, positions
from socialtrading.projections.registry import all_projections
from socialtrading.projections.rows import BalanceRow, LevelRow, OrderRow
from socialtrading.projections.runner import ProjectionRunner
from tests.integration.projection_scenario import Clock, Scenario, random_flow, run_scenario

SYMBOLS = ("BTC-USD", "ETH-USD")
HANDLES = ("alice", "bob", "carol")
DEPTH = 50


@dataclass
class Seen:
    """What the live read models showed right after one command."""

    position: int
    time: int
    books: dict[str, tuple[list[LevelRow], list[LevelRow]]]
    balances: dict[str, list[BalanceRow]]
    open_orders: dict[str, list[OrderRow]]
    positions: dict[str, list[tuple[Any, ...]]]  # open ones, without realized PnL and fees


class Recording(Scenario):
    """A scenario that records the read models after each command."""

    def __init__(self, writer: Writer, clock: Clock, runner: ProjectionRunner) -> None:
        super().__init__(writer, clock)
        self.runner = runner
        self.seen: list[Seen] = []

    def run(self, command: Any) -> Outcome:
        outcome = super().run(command)
        self.runner.catch_up()
        head = self.writer.store.recorder.max_notification_id() or 0
        with self.runner.engine.connect() as connection:
            ids = [str(account_id(handle)) for handle in HANDLES]
            held = positions.positions_of(connection, ids)
            self.seen.append(
                Seen(
                    position=head,
                    time=self.clock.now,  # the command's sequencer time (a batch of one)
                    books={s: book.depth(connection, s, DEPTH) for s in SYMBOLS},
                    balances=accounts.balances_of(connection, ids),
                    open_orders={
                        i: orders.orders_of(connection, i, first=OPEN_ORDERS_LIMIT, open_only=True)
                        for i in ids
                    },
                    positions={
                        i: [_open_position(row) for row in held[i] if row.quantity] for i in ids
                    },
                )
            )
        return outcome


def _open_position(row: Any) -> tuple[Any, ...]:
    return (row.market, row.quantity, row.average_entry_price, row.mark_price, row.unrealized_pnl)


@pytest.fixture(params=[2, 10_000], ids=["snapshots", "no-snapshots"])
def recording(
    request: pytest.FixtureRequest, make_writer: Callable[..., Writer], read_engine: Engine
) -> Iterator[Recording]:
    clock = Clock()
    writer = make_writer(clock=clock, snapshot_interval=request.param)
    runner = ProjectionRunner(writer.store, read_engine, all_projections())
    runner.setup()
    scenario = Recording(writer, clock, runner)
    run_scenario(scenario)
    random_flow(scenario, 40, seed=7)
    yield scenario


def _past(travel: TimeTravel, cut: Cut) -> Seen:
    """What time travel says the read models showed at the cut."""
    markets = travel.markets(cut, watch=True)
    books: dict[str, tuple[list[LevelRow], list[LevelRow]]] = {s: ([], []) for s in SYMBOLS}
    books.update({past.market.symbol: book_levels(past.market, DEPTH) for past in markets})
    balances: dict[str, list[BalanceRow]] = {}
    open_orders: dict[str, list[OrderRow]] = {}
    held: dict[str, list[tuple[Any, ...]]] = {}
    for handle in HANDLES:
        key = str(account_id(handle))
        account = travel.account(account_id(handle), cut)
        balances[key] = [] if account is None else balance_rows(account)
        past_orders = travel.open_orders(key, markets, OPEN_ORDERS_LIMIT)
        open_orders[key] = [order_row(order) for order in past_orders]
        held[key] = []
        for past in markets:
            quantity, cost = past.market.position_book().of(key)
            if quantity:
                position = position_at(past.market, quantity, cost)
                held[key].append(
                    (
                        position.market,
                        position.quantity,
                        position.average_entry_price,
                        position.mark_price,
                        position.unrealized_pnl,
                    )
                )
    return Seen(cut.position or 0, cut.time or 0, books, balances, open_orders, held)


def test_the_past_read_by_position_and_by_time_is_what_the_read_models_showed(
    recording: Recording,
) -> None:
    travel = TimeTravel(recording.writer.store)
    seen = recording.seen
    assert len(seen) > 80
    assert travel.market("BTC-USD", Cut(position=seen[-1].position)) is not None
    positions = set()
    # every command's point by time, and by position (a refused command that stored nothing
    # left the position as it was)
    for live in seen:
        cuts = [Cut(time=live.time)]
        if live.position not in positions:
            positions.add(live.position)
            cuts.append(Cut(position=live.position))
        for cut in cuts:
            past = _past(travel, cut)
            assert past.books == live.books, cut
            assert past.balances == live.balances, cut
            assert past.open_orders == live.open_orders, cut
            assert past.positions == live.positions, cut


def test_the_versions_found_are_the_last_within_the_cut(
    make_writer: Callable[..., Writer],
) -> None:
    """Against a plain scan of each aggregate's events (pins the tables' layout too)."""
    clock = Clock()
    scenario = Scenario(make_writer(clock=clock), clock)
    run_scenario(scenario)
    random_flow(scenario, 40, seed=3)
    store = scenario.writer.store
    travel = TimeTravel(store)
    head = store.recorder.max_notification_id() or 0
    assert travel.head() == head
    log = [
        (row.id, row.originator_id, row.originator_version, travel.recorded_time(row))
        for row in store.read(0, head)
    ]
    ids = sorted({UUID(str(row[1])) for row in log}, key=str)[:12]
    for position in range(0, head + 1, 7):
        for aggregate in ids:
            expected = max((v for p, a, v, _ in log if a == aggregate and p <= position), default=0)
            assert travel.version(aggregate, Cut(position=position)) == expected
    times = sorted({row[3] for row in log})
    for moment in times[:: max(1, len(times) // 40)]:
        for aggregate in ids:
            expected = max((v for _, a, v, t in log if a == aggregate and t <= moment), default=0)
            assert travel.version(aggregate, Cut(time=moment)) == expected
