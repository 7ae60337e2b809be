"""The read models on each backend: built from the writer's events they agree with its state,
survive crashes exactly, follow live, and rebuild one at a time."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, inspect
from typer.testing import CliRunner

from socialtrading.commands.models import RegisterTrader, StartAuction, Uncross
from socialtrading.domain.ids import SYSTEM_ACTOR
from socialtrading.engine.records import KIND, RESTED, RESTED_PRICE
from socialtrading.infra.bus import Bus
from socialtrading.infra.decoding import EventDecoder
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import EventStore
from socialtrading.projections.accounts import (
    account_by_handle,
    account_for_token,
    accounts_by_ids,
    balances_of,
)
from socialtrading.projections.base import Delegating, Item, Projection
from socialtrading.projections.book import BookProjection, depth
from socialtrading.projections.candles import INTERVALS, candles_page
from socialtrading.projections.markets import all_markets, market
from socialtrading.projections.orders import OrdersProjection, orders_by_ids, orders_of
from socialtrading.projections.positions import positions_of
from socialtrading.projections.registry import all_projections
from socialtrading.projections.rows import LevelRow, OrderRow, TradeRow
from socialtrading.projections.runner import ProjectionRunner
from socialtrading.projections.trades import trades_page
from tests.integration.projection_scenario import (
    EXPECTED,
    Scenario,
    dump,
    list_markets,
    open_accounts,
    random_flow,
    run_scenario,
)


def _runner(
    store: EventStore,
    engine: Engine,
    projections: Sequence[Projection] | None = None,
    **options: Any,
) -> ProjectionRunner:
    # a catch-up's batches span three chunks, so held-back changes cross chunks (and fail)
    options.setdefault("read_size", options.get("batch_size", 20_000))
    options.setdefault("catch_up_batch_size", 3 * options["read_size"])
    runner = ProjectionRunner(store, engine, projections or all_projections(), **options)
    runner.setup()
    return runner


# ---------------------------------------------------------------------- agreement


def test_read_models_agree_with_the_writers_state(scenario: Scenario, read_engine: Engine) -> None:
    ids = run_scenario(scenario)
    token = hashlib.sha256(b"dave's token").hexdigest()
    dave = scenario.run(RegisterTrader(command_id="r", handle="Dave", token_hash=token))
    writer = scenario.writer
    runner = _runner(writer.store, read_engine, batch_size=7)
    assert runner.catch_up() == writer.store.recorder.max_notification_id()
    state = writer.state

    with read_engine.connect() as connection:
        # accounts and balances equal the aggregates'
        account_ids = [str(account_id) for account_id in state.accounts]
        found = accounts_by_ids(connection, [*account_ids, "nobody"])
        assert set(found) == set(account_ids)
        balances = balances_of(connection, [*account_ids, "nobody"])
        assert balances["nobody"] == []
        for account_id, account in state.accounts.items():
            account_row = found[str(account_id)]
            assert (account_row.handle, account_row.kyc_level, list(account_row.roles)) == (
                account.handle,
                account.kyc_level,
                account.roles,
            )
            assert {b.asset: (b.available, b.reserved) for b in balances[str(account_id)]} == {
                asset: (account.available(asset), account.reserved(asset))
                for asset in account.assets()
            }
            assert [b.asset for b in balances[str(account_id)]] == sorted(account.assets())
        alice = account_by_handle(connection, "ALICE")
        assert alice is not None and alice.id == str(scenario.accounts["alice"])
        holding = account_for_token(connection, token, 0)
        assert holding is not None
        holder, _ = holding
        assert holder.id == str(dave.account_id) and holder.handle == "Dave"
        assert account_for_token(connection, "0" * 64, 0) is None

        # markets
        markets = {row.symbol: row for row in all_markets(connection)}
        assert set(markets) == set(state.markets)
        for symbol, aggregate in state.markets.items():
            market_row = markets[symbol]
            book = aggregate.book
            assert market(connection, symbol) == market_row
            assert (market_row.mode, market_row.halted) == (book.mode, book.halted)
            assert market_row.last_price == book.spec.price(book.last_price or 0)
            assert (market_row.tick_size, market_row.lot_size) == (
                book.spec.tick_size,
                book.spec.lot_size,
            )
            assert (market_row.maker_fee_bps, market_row.taker_fee_bps) == (10, 20)
        assert market(connection, "NOPE-USD") is None

        # the books: levels, quantities and order counts
        for symbol, aggregate in state.markets.items():
            book = aggregate.book
            spec = book.spec
            counts: dict[tuple[str, int], int] = defaultdict(int)
            for order in book.resting_orders():
                assert order.price is not None
                counts[(order.side, order.price)] += 1
            bids, asks = book.depth(100)
            assert depth(connection, symbol, 100) == (
                [LevelRow(spec.price(p), spec.qty(q), counts[("buy", p)]) for p, q in bids],
                [LevelRow(spec.price(p), spec.qty(q), counts[("sell", p)]) for p, q in asks],
            )
            assert depth(connection, symbol, 1) == (
                [LevelRow(spec.price(p), spec.qty(q), counts[("buy", p)]) for p, q in bids[:1]],
                [LevelRow(spec.price(p), spec.qty(q), counts[("sell", p)]) for p, q in asks[:1]],
            )

        # every order's status, and the live ones' quantities
        orders = orders_by_ids(connection, [*ids.values(), "unknown"])
        assert set(orders) == set(ids.values())
        for name, (status, reason) in EXPECTED.items():
            row = orders[ids[name]]
            assert (name, row.status, row.reason) == (name, status, reason)
        for row in orders.values():
            live = state.markets[row.market].book.order(row.id)
            if row.status in ("ACCEPTED", "OPEN", "PARTIALLY_FILLED"):
                assert live is not None, row
                spec = state.markets[row.market].book.spec
                assert (row.open_quantity, row.filled_quantity) == (
                    spec.qty(live.open),
                    spec.qty(live.filled),
                )
                assert row.quantity == row.filled_quantity + row.open_quantity
            else:
                assert live is None, row
                assert row.open_quantity == 0
        bob_bid = orders[ids["bob_bid"]]  # 3 placed, 0.5 filled, 1 taken off by STP
        assert (bob_bid.quantity, bob_bid.filled_quantity, bob_bid.open_quantity) == (
            Decimal(2),
            Decimal("0.5"),
            Decimal("1.5"),
        )
        carol_bid = orders[ids["carol_bid"]]  # amended down to 1.2, then filled
        assert (carol_bid.quantity, carol_bid.filled_quantity) == (Decimal("1.2"), Decimal("1.2"))
        alice_ask = orders[ids["alice_ask"]]  # re-priced to 99 and filled there
        assert alice_ask.price == Decimal(99)
        halted = orders[ids["eth_halted"]]  # refused: its terms come from the event
        assert (halted.side, halted.type, halted.price, halted.quantity) == (
            "buy",
            "limit",
            Decimal(20),
            Decimal(1),
        )
        stop = orders[ids["alice_stop"]]
        assert (stop.stop_price, stop.price, stop.type) == (Decimal(104), Decimal(106), "limit")

        # an account's orders, newest first, paged by cursor; open ones only
        bob = str(scenario.accounts["bob"])
        mine = orders_of(connection, bob, first=100)
        assert [row.cursor for row in mine] == sorted((r.cursor for r in mine), reverse=True)
        assert {row.id for row in mine} == {r.id for r in orders.values() if r.account_id == bob}
        page = orders_of(connection, bob, first=3)
        rest = orders_of(connection, bob, first=100, after=page[-1].cursor)
        assert page + rest == mine
        assert {row.id for row in orders_of(connection, bob, first=100, open_only=True)} == {
            ids["bob_bid"],
            ids["bob_ask2"],
            ids["eth_ask"],
            ids["eth_after"],
        }

        # the tape
        trades = scenario.trades()
        by_market: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for trade in trades:
            by_market[trade[0]].append(trade)
        for symbol, recorded in by_market.items():
            spec = state.markets[symbol].book.spec
            tape = trades_page(connection, symbol, first=1000)
            assert len(tape) == len(recorded)
            assert [row.seq for row in tape] == sorted((t[2] for t in recorded), reverse=True)
            assert sum(row.quantity for row in tape) == spec.qty(sum(t[5] for t in recorded))
            assert sum(row.price * row.quantity for row in tape) == sum(
                spec.price(t[4]) * spec.qty(t[5]) for t in recorded
            )
            first = trades_page(connection, symbol, first=2)
            assert first == tape[:2]
            assert trades_page(connection, symbol, first=1000, after=first[-1].seq) == tape[2:]
            # candles: every interval's volume and count add up to the tape's
            for interval in INTERVALS:
                candles = candles_page(
                    connection, symbol, interval, start=None, end=None, first=1000
                )
                assert sum(c.volume for c in candles) == sum(row.quantity for row in tape)
                assert sum(c.trades for c in candles) == len(tape)
                assert [c.start for c in candles] == sorted(c.start for c in candles)
                for candle in candles:
                    inside = [
                        row
                        for row in tape
                        if candle.start <= row.executed_at
                        and (row.executed_at - candle.start).total_seconds() * 1_000_000
                        < INTERVALS[interval]
                    ]
                    assert candle.high == max(row.price for row in inside)
                    assert candle.low == min(row.price for row in inside)
                    assert candle.open == min(inside, key=lambda row: row.seq).price
                    assert candle.close == max(inside, key=lambda row: row.seq).price
            assert candles_page(connection, symbol, "1d", start=None, end=None, first=0) == []

        # positions: each account's net of its trades, summing to zero per market
        positions = positions_of(connection, [*account_ids, "nobody"])
        assert positions["nobody"] == []
        net: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for trade_row in trades_page(connection, "BTC-USD", first=1000) + trades_page(
            connection, "ETH-USD", first=1000
        ):
            net[(trade_row.buyer_account, trade_row.market)] += trade_row.quantity
            net[(trade_row.seller_account, trade_row.market)] -= trade_row.quantity
        held = {(p.account_id, p.market): p for rows in positions.values() for p in rows}
        assert {key: p.quantity for key, p in held.items()} == net
        for symbol in state.markets:
            assert sum(p.quantity for p in held.values() if p.market == symbol) == 0
        fees = state.accounts[next(a for a in state.accounts if state.accounts[a].handle == "fees")]
        assert sum(p.fees_paid for p in held.values()) == fees.available("USD")


def test_positions_are_marked_to_the_last_trade_and_trading_is_zero_sum(
    scenario: Scenario, read_engine: Engine
) -> None:
    run_scenario(scenario)
    random_flow(scenario, 120, seed=5)  # trades at many prices: positions with open PnL
    _runner(scenario.writer.store, read_engine, batch_size=50).catch_up()
    accounts = [str(account_id) for account_id in scenario.writer.state.accounts]
    with read_engine.connect() as connection:
        held = [p for rows in positions_of(connection, accounts).values() for p in rows]
        for symbol in scenario.writer.state.markets:
            tape = trades_page(connection, symbol, first=1000)
            last = max(tape, key=lambda row: row.seq).price
            in_market = [p for p in held if p.market == symbol]
            assert in_market and {p.mark_price for p in in_market} == {last}
            assert any(p.unrealized_pnl for p in in_market)
            # marked to one price, trading is zero-sum (fees aside): every account's
            # realized plus unrealized PnL add up to nothing, exactly
            assert sum(p.realized_pnl + (p.unrealized_pnl or 0) for p in in_market) == 0
            for p in in_market:
                if p.quantity == 0:
                    assert p.unrealized_pnl == 0
                else:
                    assert p.average_entry_price is not None and p.unrealized_pnl is not None
                    expected = (last - p.average_entry_price) * p.quantity
                    assert abs(p.unrealized_pnl - expected) < Decimal("0.01")


def test_positions_average_realize_and_flip() -> None:
    from socialtrading.projections.positions import _trade

    position: list[Any] = [0, 0, 0, 0, Decimal(0), Decimal(0), 0]
    _trade(position, 100, 3)  # long 3 at 100
    _trade(position, 110, 1)  # long 4, cost 410 (average 102.5)
    assert position[:3] == [4, 410, 0]
    _trade(position, 120, -1)  # sells 1: cost 102 (410 // 4) off, realizes 18
    assert position[:3] == [3, 308, 18]
    _trade(position, 90, -5)  # closes 3 (cost 308, realizes 270 - 308), then short 2 at 90
    assert position[:3] == [-2, 180, 18 + 270 - 308]
    _trade(position, 80, 2)  # closes the short: realizes 180 - 160
    assert position[:3] == [0, 0, 18 + 270 - 308 + 20]


# ---------------------------------------------------------------------- crashes


class Killed(BaseException):
    """A crash (not an event's fault: nothing is set aside, the batch is rolled back)."""


class Failing(Delegating):
    """A projection killed on its Nth batch, before or after writing its changes."""

    def __init__(self, inner: Projection, batch: int, after_writes: bool) -> None:
        super().__init__(inner)
        self.batch = batch
        self.after_writes = after_writes
        self.batches = 0

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        self.batches += 1
        fail = self.batches == self.batch
        if fail:
            self.batch = 0  # once
        if fail and not self.after_writes:
            raise Killed("killed before writing")
        self.inner.apply(connection, items)
        if fail:
            self.inner.flush(connection)  # its held-back changes are written, then lost
            raise Killed("killed after writing")


@pytest.mark.parametrize(
    ("name", "after_writes"),
    [
        ("orders", False),
        ("book", True),
        ("accounts", True),
        ("positions", False),
        ("candles", True),
    ],
)
def test_a_projection_killed_mid_batch_ends_as_a_clean_rebuild(
    scenario: Scenario, read_engine: Engine, name: str, after_writes: bool
) -> None:
    run_scenario(scenario)
    random_flow(scenario, 150, seed=3)
    store = scenario.writer.store
    projections = all_projections()
    wrapped: list[Projection] = [
        Failing(p, batch=9, after_writes=after_writes) if p.name == name else p for p in projections
    ]
    runner = _runner(store, read_engine, wrapped, batch_size=11)
    with pytest.raises(Killed, match="killed"):
        runner.catch_up()
    assert 0 < runner.position < runner.head()
    # the same projection objects go on after the failure (their caches were reset) ...
    runner.catch_up()
    resumed = dump(read_engine)
    # ... and a new process starting from the stored positions ends the same
    for projection in wrapped:
        if isinstance(projection, Failing):
            projection.batches, projection.batch = 0, 5
    again = _runner(store, read_engine, wrapped, batch_size=11)
    with pytest.raises(Killed, match="killed"):
        again.rebuild()
    _runner(store, read_engine, all_projections(), batch_size=11).catch_up()
    restarted = dump(read_engine)
    _runner(store, read_engine, all_projections(), batch_size=500).rebuild()
    clean = dump(read_engine)
    assert resumed == clean
    assert restarted == clean


def _query_indexes(engine: Engine | Connection) -> set[tuple[str, str]]:
    """(table, index) of every non-unique index of the read models."""
    inspector = inspect(engine)
    return {
        (table, str(index["name"]))
        for table in inspector.get_table_names()
        for index in inspector.get_indexes(table)
        if not index["unique"]
    }


class IndexProbe(Delegating):
    """A projection that notes the read store's non-unique indexes while it applies."""

    def __init__(self, inner: Projection) -> None:
        super().__init__(inner)
        self.seen: list[set[tuple[str, str]]] = []

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        self.seen.append(_query_indexes(connection))
        self.inner.apply(connection, items)


def test_a_catch_up_far_behind_builds_the_query_indexes_once_caught_up(
    scenario: Scenario, read_engine: Engine
) -> None:
    run_scenario(scenario)
    random_flow(scenario, 60, seed=5)
    store = scenario.writer.store
    _runner(store, read_engine, batch_size=500, defer_indexes_from=10**9).catch_up()
    clean = dump(read_engine)
    indexes = _query_indexes(read_engine)
    assert ("orders", "ix_orders_account_cursor") in indexes

    probe = IndexProbe(OrdersProjection())
    accounts = next(p for p in all_projections() if p.name == "accounts")
    runner = _runner(store, read_engine, [probe, accounts], batch_size=13, defer_indexes_from=5)
    assert runner.rebuild(["orders"]) > 5
    assert len(probe.seen) > 1
    for seen in probe.seen:  # the lagging projection's indexes only
        assert ("orders", "ix_orders_account_cursor") not in seen
        assert ("tokens", "ix_tokens_account") in seen
    assert _query_indexes(read_engine) == indexes
    assert dump(read_engine) == clean


def test_setup_builds_the_indexes_a_crashed_catch_up_left_out(
    scenario: Scenario, read_engine: Engine
) -> None:
    run_scenario(scenario)
    store = scenario.writer.store
    runner = _runner(
        store, read_engine, [Failing(OrdersProjection(), batch=2, after_writes=True)], batch_size=7
    )
    runner.defer_indexes_from = 1
    with pytest.raises(Killed, match="killed"):
        runner.catch_up()
    indexes = _query_indexes(read_engine)
    assert ("orders", "ix_orders_block_id") in indexes  # built again on the way out
    with read_engine.begin() as connection:  # a crash that left them out
        for table, name in sorted(indexes):
            if table == "orders":
                connection.exec_driver_sql(f"DROP INDEX {name}")
    assert ("orders", "ix_orders_block_id") not in _query_indexes(read_engine)
    _runner(store, read_engine, [OrdersProjection()]).catch_up()
    assert _query_indexes(read_engine) == indexes


def test_the_runners_decoder_gives_the_mappers_events(scenario: Scenario) -> None:
    run_scenario(scenario)
    random_flow(scenario, 40, seed=7)
    store = scenario.writer.store
    notifications = store.recorder.select_notifications(None, 10_000)
    assert notifications
    rows = store.read(0, 10_000)  # what the runner reads: the library's notifications
    assert [tuple(row) for row in rows] == [
        (n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in notifications
    ]
    assert store.read(notifications[2].id, 2) == rows[3:5]
    decoded = EventDecoder(store.mapper).decode(rows)
    for notification, (position, event) in zip(notifications, decoded, strict=True):
        expected = store.mapper.to_domain_event(notification)
        assert position == notification.id
        assert type(event) is type(expected)
        assert vars(event) == vars(expected)
        assert [type(value) for value in vars(event).values()] == [
            type(value) for value in vars(expected).values()
        ]


# ---------------------------------------------------------------------- following


def test_following_in_small_batches_equals_a_rebuild_from_zero(
    scenario: Scenario, read_engine: Engine
) -> None:
    writer = scenario.writer
    runner = _runner(writer.store, read_engine, batch_size=3, poll_seconds=0.05)
    writer.add_listener(runner.wake)
    runner.start()
    try:
        run_scenario(scenario)
        assert runner.wait_for(scenario.position, timeout=30)
    finally:
        runner.stop()
    assert runner.error is None
    followed = dump(read_engine)
    runner.rebuild()
    assert dump(read_engine) == followed


def test_wait_for_returns_once_the_position_is_applied(
    scenario: Scenario, read_engine: Engine
) -> None:
    writer = scenario.writer
    runner = _runner(writer.store, read_engine, poll_seconds=5)
    writer.add_listener(runner.wake)
    runner.start()
    try:
        scenario_ids = run_scenario(scenario)
        outcome = scenario.order("alice", "BTC-USD", "buy", "95", "0.1")
        assert outcome.position > 0
        assert runner.wait_for(outcome.position, timeout=30)
        assert runner.position >= outcome.position
        with read_engine.connect() as connection:
            assert outcome.order_id is not None
            row = orders_by_ids(connection, [outcome.order_id])[outcome.order_id]
            assert (row.status, row.price) == ("OPEN", Decimal(95))
            assert scenario_ids["bob_ask"] in orders_by_ids(connection, [scenario_ids["bob_ask"]])
        assert not runner.wait_for(outcome.position + 1_000, timeout=0.2)
    finally:
        runner.stop()


def test_rebuilding_one_projection_leaves_the_others_untouched(
    scenario: Scenario, read_engine: Engine
) -> None:
    run_scenario(scenario)
    store = scenario.writer.store
    runner = _runner(store, read_engine)
    runner.catch_up()
    before = dump(read_engine)
    head = runner.head()

    class Untouchable(Delegating):
        def apply(self, connection: Connection, items: Sequence[Item]) -> None:
            raise Killed(f"{self.name} must not be applied")

    projections = [p if p.name == "orders" else Untouchable(p) for p in all_projections()]
    rebuilt = _runner(store, read_engine, projections)
    assert rebuilt.rebuild(["orders"]) == head
    assert dump(read_engine) == before
    assert {s.name: s.position for s in rebuilt.status()} == {p.name: head for p in projections}
    with pytest.raises(ValueError, match="unknown projection"):
        rebuilt.rebuild(["nope"])


# ---------------------------------------------------------------------- live updates


class RecordingBus(Bus):
    """A bus that remembers what was published (everyone listens)."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[tuple[str, Any]] = []

    def publish(self, topic: str, message: Any) -> None:
        self.published.append((topic, message))

    def subscriber_count(self, topic: str) -> int:
        return 1


def test_projections_publish_changes_after_commit(scenario: Scenario, read_engine: Engine) -> None:
    ids = run_scenario(scenario)
    bus = RecordingBus()
    runner = _runner(scenario.writer.store, read_engine, all_projections(bus), batch_size=5)
    runner.catch_up()
    topics = defaultdict(list)
    for topic, message in bus.published:
        topics[topic].append(message)
    bob = str(scenario.accounts["bob"])
    assert set(topics) >= {
        "markets",
        "book:BTC-USD",
        "book:ETH-USD",
        "trades:BTC-USD",
        "trades:ETH-USD",
        f"orders:{bob}",
    }
    assert set(topics["book:BTC-USD"]) == {"BTC-USD"}
    tape = [row for rows in topics["trades:BTC-USD"] for row in rows]
    assert all(isinstance(row, TradeRow) for row in tape)
    assert [row.seq for row in tape] == sorted(row.seq for row in tape)
    with read_engine.connect() as connection:
        assert tape == list(reversed(trades_page(connection, "BTC-USD", first=1000)))
        latest: dict[str, OrderRow] = {}
        for rows in topics[f"orders:{bob}"]:
            for row in rows:
                assert row.account_id == bob
                latest[row.id] = row
        assert latest == {row.id: row for row in orders_of(connection, bob, first=1000)}
    assert ids["bob_ask"] in latest
    markets = [row for rows in topics["markets"] for row in rows]
    assert markets[-1].symbol == "ETH-USD" and markets[-1].mode == "continuous"
    with read_engine.connect() as connection:  # every change was published, the last too
        assert {row.symbol: row for row in markets} == {
            row.symbol: row for row in all_markets(connection)
        }


# ---------------------------------------------------------------------- the CLI


def test_cli_status_and_rebuild(
    scenario: Scenario,
    read_settings: Settings,
    read_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from socialtrading.entrypoints.cli import app

    run_scenario(scenario)
    head = scenario.writer.store.recorder.max_notification_id()
    monkeypatch.setenv("SOCIALTRADING_STORE", read_settings.store)
    if read_settings.read_store:
        monkeypatch.setenv("SOCIALTRADING_READ_STORE", read_settings.read_store)
    if read_settings.postgres_schema:
        monkeypatch.setenv("SOCIALTRADING_POSTGRES_SCHEMA", read_settings.postgres_schema)
    cli = CliRunner()
    status = cli.invoke(app, ["projections", "status"])
    assert status.exit_code == 0, status.output
    assert f"orders                  0 {head:>12}" in status.output

    rebuilt = cli.invoke(app, ["projections", "rebuild", "orders", "book"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert f"rebuilt orders, book: {head} notifications" in rebuilt.output
    status = cli.invoke(app, ["projections", "status"])
    assert f"orders       {head:>12}            0" in status.output
    with read_engine.connect() as connection:
        assert depth(connection, "BTC-USD", 5)[0]

    unknown = cli.invoke(app, ["projections", "rebuild", "nope"])
    assert unknown.exit_code == 2
    assert "unknown projection(s): nope" in unknown.output


def test_orders_and_book_projections_need_no_reads_per_batch(
    scenario: Scenario, read_engine: Engine
) -> None:
    """After the first batch, a batch is applied from memory (a sanity check of the design)."""
    run_scenario(scenario)
    orders = OrdersProjection()
    book = BookProjection()
    runner = _runner(scenario.writer.store, read_engine, [orders, book], batch_size=4)
    runner.run_once()
    statements: list[str] = []
    from sqlalchemy import event

    @event.listens_for(read_engine, "before_cursor_execute")
    def _seen(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    runner.catch_up()
    event.remove(read_engine, "before_cursor_execute", _seen)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert reads == [], reads


def test_a_batch_of_many_chunks_writes_each_order_once_and_ends_as_small_batches(
    scenario: Scenario, read_engine: Engine
) -> None:
    """Orders held back across the chunks of one batch are inserted once, in their final
    state; the read models are those of one chunk per batch."""
    run_scenario(scenario)
    random_flow(scenario, 60, seed=11)
    written: dict[str, int] = defaultdict(int)  # statement kind -> rows written to `orders`
    from sqlalchemy import event

    @event.listens_for(read_engine, "before_cursor_execute")
    def _count(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, many: bool) -> None:
        for kind in ("INSERT INTO orders ", "UPDATE orders "):
            if statement.lstrip().startswith(kind):
                written[kind] += len(parameters) if many else 1

    store = scenario.writer.store
    try:
        one = _runner(store, read_engine, read_size=3, catch_up_batch_size=10**9)
        one.catch_up()
        whole, held = dump(read_engine), dict(written)
        written.clear()
        _runner(store, read_engine, read_size=3, catch_up_batch_size=3).rebuild()
        small, each = dump(read_engine), dict(written)
    finally:
        event.remove(read_engine, "before_cursor_execute", _count)
    orders = len(whole["orders"])
    assert orders > 50
    assert held == {"INSERT INTO orders ": orders}  # no update: all in one batch
    assert each["INSERT INTO orders "] == orders
    assert each["UPDATE orders "] > 0  # an order changed in a later batch is updated
    assert whole == small


def test_a_refused_order_is_listed_with_its_terms_and_reason(
    scenario: Scenario, read_engine: Engine
) -> None:
    list_markets(scenario)
    open_accounts(scenario, ("alice",))
    refused = scenario.order("alice", "BTC-USD", "buy", "99.50", "5000")  # 497,500 USD > 100k
    assert (refused.accepted, refused.code) == (False, "insufficient_funds")
    assert refused.order_id is not None
    runner = _runner(scenario.writer.store, read_engine)
    runner.catch_up()
    with read_engine.connect() as connection:
        row = orders_by_ids(connection, [refused.order_id])[refused.order_id]
        listed = orders_of(connection, str(scenario.accounts["alice"]), first=10)
    assert (row.status, row.reason, row.side, row.type) == (
        "REJECTED",
        "insufficient_funds",
        "buy",
        "limit",
    )
    assert (row.price, row.quantity, row.filled_quantity) == (
        Decimal("99.5"),
        Decimal(5000),
        Decimal(0),
    )
    assert [order.id for order in listed] == [refused.order_id]


def test_a_market_buy_queued_for_an_auction_is_not_in_the_book(
    scenario: Scenario, read_engine: Engine
) -> None:
    """Its `rested` record carries its protection price, yet it waits outside the book (as
    the engine keeps it) and stays ACCEPTED until the uncross fills it."""
    list_markets(scenario)
    open_accounts(scenario, ("alice", "bob"))
    scenario.run(StartAuction(command_id="auction", actor=SYSTEM_ACTOR, market="ETH-USD"))
    bid = scenario.order("alice", "ETH-USD", "buy", "19.5", "1")
    queued = scenario.order("alice", "ETH-USD", "buy", None, "2")
    assert queued.accepted and queued.order_id is not None
    rested = next(record for record in queued.records if record[KIND] == RESTED)
    assert rested[RESTED_PRICE] is not None  # its protection price
    runner = _runner(scenario.writer.store, read_engine)
    runner.catch_up()
    engine_book = scenario.writer.state.markets["ETH-USD"].book
    with read_engine.connect() as connection:
        bids, asks = depth(connection, "ETH-USD", 10)
        row = orders_by_ids(connection, [queued.order_id])[queued.order_id]
    assert bids == [LevelRow(Decimal("19.5"), Decimal(1), 1)] and asks == []
    assert engine_book.depth(10) == ([(1950, 1000)], [])
    assert (row.status, row.price) == ("ACCEPTED", Decimal(25))
    scenario.order("bob", "ETH-USD", "sell", "19", "3")
    scenario.run(Uncross(command_id="uncross", actor=SYSTEM_ACTOR, market="ETH-USD"))
    runner.catch_up()
    with read_engine.connect() as connection:
        found = orders_by_ids(connection, [queued.order_id, bid.order_id or ""])
    assert found[queued.order_id].status == "FILLED"
