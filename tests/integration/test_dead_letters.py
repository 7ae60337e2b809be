"""A read model never stops on one event: what fails alone is set aside (a dead letter), the
rest is applied; `retry` applies it after a fix; a database that is down is retried, not
blamed on an event. And a damaged SQLite read store is moved aside and rebuilt."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    MetaData,
    Table,
    create_engine,
    select,
)
from sqlalchemy import exc as sa
from typer.testing import CliRunner

from socialtrading.commands.writer import Writer
from socialtrading.infra.readstore import open_read_store
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import EventStore, open_store
from socialtrading.projections.base import Delegating, Item, Projection
from socialtrading.projections.orders import orders_by_ids
from socialtrading.projections.registry import all_projections
from socialtrading.projections.runner import ProjectionRunner, Retried, dead_letters, positions
from tests.integration.poison import poison_price, rewrite
from tests.integration.projection_scenario import (
    Clock,
    Scenario,
    dump,
    list_markets,
    open_accounts,
    random_flow,
    run_scenario,
)

REJECTED = "socialtrading.domain.market:Market.OrderRejected"


def _runner(
    store: EventStore,
    engine: Engine,
    projections: Sequence[Projection] | None = None,
    **options: Any,
) -> ProjectionRunner:
    runner = ProjectionRunner(store, engine, projections or all_projections(), **options)
    runner.setup()
    return runner


def _projection(name: str) -> Projection:
    return next(p for p in all_projections() if p.name == name)


def _refused_between_trades(scenario: Scenario) -> tuple[int, str]:
    """A log with a refused order amid others; its notification and order id."""
    list_markets(scenario)
    open_accounts(scenario)
    random_flow(scenario, 40, seed=7)
    refused = scenario.order("alice", "BTC-USD", "buy", "99.50", "5000")  # 497,500 USD > 100k
    assert (refused.accepted, refused.code) == (False, "insufficient_funds")
    assert refused.position is not None and refused.order_id is not None
    random_flow(scenario, 40, seed=8)
    return refused.position, refused.order_id


def _without(tables: dict[str, list[Any]], *names: str) -> dict[str, list[Any]]:
    return {name: rows for name, rows in tables.items() if name not in names}


# ---------------------------------------------------------------------- poison events


def test_an_order_rejection_stored_with_a_price_of_2_pow_63_ticks_is_set_aside(
    scenario: Scenario, read_engine: Engine
) -> None:
    """The issue's reproduction: SQLite's OverflowError, PostgreSQL's bigint out of range."""
    position, order_id = _refused_between_trades(scenario)
    store = scenario.writer.store
    _runner(store, read_engine, batch_size=50).catch_up()
    clean = dump(read_engine)

    poison_price(store, position)
    runner = _runner(store, read_engine, catch_up_batch_size=10**6)
    runner.rebuild()  # one batch over the whole log: it fails, and is isolated

    head = runner.head()
    assert runner.position == head
    [letter] = runner.dead_letters()
    assert (letter.name, letter.position, letter.topic) == ("orders", position, REJECTED)
    assert "OverflowError" in letter.error or "out of range" in letter.error, letter.error
    assert {s.name: (s.position, s.dead_letters) for s in runner.status()} == {
        p.name: (head, 1 if p.name == "orders" else 0) for p in runner.projections
    }
    # every other event is applied: the read models are the clean ones but for that order
    poisoned = dump(read_engine)
    assert _without(poisoned, "orders", "projection_dead_letters") == _without(
        clean, "orders", "projection_dead_letters"
    )
    assert [row for row in clean["orders"] if order_id not in row] == poisoned["orders"]
    assert len(poisoned["orders"]) == len(clean["orders"]) - 1


def test_following_the_log_sets_a_poison_event_aside_and_goes_on(
    scenario: Scenario, read_engine: Engine
) -> None:
    list_markets(scenario)
    open_accounts(scenario)
    store = scenario.writer.store
    runner = _runner(store, read_engine, batch_size=1000)
    runner.catch_up()
    refused = scenario.order("alice", "BTC-USD", "buy", "99.50", "5000")
    assert refused.position is not None and refused.order_id is not None
    poison_price(store, refused.position)
    after = scenario.order("bob", "BTC-USD", "sell", "101", "1")
    assert after.accepted and after.order_id is not None
    runner.start()
    try:
        assert runner.wait_for(runner.head(), 10.0)
    finally:
        runner.stop()
    assert runner.error is None
    assert [(d.name, d.position) for d in runner.dead_letters()] == [("orders", refused.position)]
    with read_engine.connect() as connection:
        found = orders_by_ids(connection, [refused.order_id, after.order_id])
    assert set(found) == {after.order_id}


def test_an_undecodable_notification_is_set_aside_by_every_projection(
    scenario: Scenario, read_engine: Engine
) -> None:
    position, _ = _refused_between_trades(scenario)
    store = scenario.writer.store
    rewrite(store, position, b"{not json")
    runner = _runner(store, read_engine, batch_size=25)
    runner.catch_up()
    assert runner.position == runner.head()
    letters = runner.dead_letters()
    assert [(d.name, d.position, d.topic) for d in letters] == [
        (p.name, position, REJECTED) for p in sorted(runner.projections, key=lambda p: p.name)
    ]


# ---------------------------------------------------------------------- which errors


class Refusing(Delegating):
    """A projection that raises `error()` when given one of the `bad` notifications (in
    `apply`, or, with `in_flush`, when writing its held-back changes)."""

    def __init__(
        self,
        inner: Projection,
        bad: set[int],
        error: Callable[[], BaseException] = lambda: ValueError("bad event"),
        in_flush: bool = False,
    ) -> None:
        super().__init__(inner)
        self.bad = bad
        self.error = error
        self.in_flush = in_flush
        self._holding = False

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        hit = any(item[0] in self.bad for item in items)
        if hit and not self.in_flush:
            raise self.error()
        self._holding = self._holding or hit
        self.inner.apply(connection, items)

    def flush(self, connection: Connection) -> None:
        self.inner.flush(connection)
        if self._holding:
            self._holding = False
            raise self.error()

    def reset(self) -> None:
        self._holding = False
        self.inner.reset()


def _sqlite_locked() -> BaseException:
    return sa.OperationalError("UPDATE x", {}, sqlite3.OperationalError("database is locked"))


def _postgres_down() -> BaseException:
    return psycopg.OperationalError("connection failed: Connection refused")


def _bigint() -> BaseException:
    return sa.DataError("INSERT x", {}, psycopg.errors.NumericValueOutOfRange("out of range"))


def _unique() -> BaseException:
    return sa.IntegrityError("INSERT x", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))


@pytest.mark.parametrize(
    "error",
    [lambda: OverflowError("int too big"), _bigint, _unique, lambda: KeyError("k"), AssertionError],
)
@pytest.mark.parametrize("in_flush", [False, True])
def test_data_errors_are_set_aside(
    scenario: Scenario, read_engine: Engine, error: Callable[[], BaseException], in_flush: bool
) -> None:
    position, _ = _refused_between_trades(scenario)
    store = scenario.writer.store
    orders = Refusing(_projection("orders"), {position}, error, in_flush)
    runner = _runner(store, read_engine, [orders], batch_size=30)
    runner.catch_up()
    assert runner.position == runner.head()
    assert [d.position for d in runner.dead_letters()] == [position]


@pytest.mark.parametrize("error", [_sqlite_locked, _postgres_down])
def test_a_database_that_is_down_or_locked_is_retried_not_set_aside(
    scenario: Scenario, read_engine: Engine, error: Callable[[], BaseException]
) -> None:
    position, _ = _refused_between_trades(scenario)
    store = scenario.writer.store
    failing = Refusing(_projection("orders"), {position}, error)
    runner = _runner(store, read_engine, [failing], batch_size=1000)
    with pytest.raises(Exception) as raised:
        runner.catch_up()
    assert raised.value.__class__ is error().__class__
    assert runner.position == 0 and runner.dead_letters() == []
    failing.bad.clear()  # the database is back
    runner.catch_up()
    assert runner.position == runner.head() and runner.dead_letters() == []


def test_a_read_store_that_cannot_be_reached_is_retried_not_set_aside(
    scenario: Scenario, read_engine: Engine, read_settings: Settings, tmp_path: Path
) -> None:
    _refused_between_trades(scenario)
    store = scenario.writer.store
    runner = _runner(store, read_engine)
    if read_settings.store.startswith("sqlite"):
        runner.engine = create_engine(f"sqlite:///{tmp_path}/missing/folder/read.db")
    else:  # nothing listens on port 1
        runner.engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/test")
    runner.poll_seconds = 0.01
    runner.start()
    try:
        assert not runner.wait_for(runner.head(), 0.5)
        assert isinstance(runner.error, sa.OperationalError)
    finally:
        runner.stop()
    runner.engine = read_engine
    assert runner.dead_letters() == [] and runner.position == 0


# ---------------------------------------------------------------------- retry


def test_retry_applies_the_set_aside_events_once_fixed(
    scenario: Scenario, read_engine: Engine
) -> None:
    list_markets(scenario)
    open_accounts(scenario)
    random_flow(scenario, 30, seed=2)
    store = scenario.writer.store
    _runner(store, read_engine).catch_up()
    clean = dump(read_engine)
    # deposits are summed in any order: applied late, they give the same balances
    deposits = [
        o.position for o in scenario.outcomes if o.position and o.account_id and o.accepted
    ][-3:]
    assert len(deposits) == 3
    refusing = Refusing(_projection("accounts"), set(deposits))
    runner = _runner(store, read_engine, [refusing])
    runner.rebuild()
    assert [d.position for d in runner.dead_letters()] == deposits
    assert dump(read_engine)["balances"] != clean["balances"]

    still = runner.retry()
    assert still == Retried(applied=0, failing=3)
    [first, *_] = runner.dead_letters()
    assert first.error == "ValueError: bad event"

    refusing.bad.discard(deposits[1])  # fixed for one of them
    assert runner.retry(["accounts"]) == Retried(applied=1, failing=2)
    assert [d.position for d in runner.dead_letters()] == [deposits[0], deposits[2]]

    refusing.bad.clear()
    assert runner.retry() == Retried(applied=2, failing=0)
    assert runner.dead_letters() == []
    assert dump(read_engine)["balances"] == clean["balances"]
    with pytest.raises(ValueError, match="unknown projection"):
        runner.retry(["nope"])


def test_rebuild_forgets_the_dead_letters_of_what_it_rebuilds(
    scenario: Scenario, read_engine: Engine
) -> None:
    position, _ = _refused_between_trades(scenario)
    store = scenario.writer.store
    original = poison_price(store, position)
    runner = _runner(store, read_engine)
    runner.catch_up()
    assert len(runner.dead_letters()) == 1
    rewrite(store, position, original)
    runner.rebuild(["book"])
    assert len(runner.dead_letters()) == 1
    runner.rebuild(["orders"])
    assert runner.dead_letters() == []


def test_cli_status_shows_dead_letters_and_retry_applies_them_after_a_fix(
    scenario: Scenario,
    read_settings: Settings,
    read_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from socialtrading.entrypoints.cli import app

    position, order_id = _refused_between_trades(scenario)
    store = scenario.writer.store
    original = poison_price(store, position)
    _runner(store, read_engine).catch_up()
    monkeypatch.setenv("SOCIALTRADING_STORE", read_settings.store)
    if read_settings.read_store:
        monkeypatch.setenv("SOCIALTRADING_READ_STORE", read_settings.read_store)
    if read_settings.postgres_schema:
        monkeypatch.setenv("SOCIALTRADING_POSTGRES_SCHEMA", read_settings.postgres_schema)
    cli = CliRunner()
    head = store.recorder.max_notification_id()

    status = cli.invoke(app, ["projections", "status"])
    assert status.exit_code == 0, status.output
    assert f"orders       {head:>12}            0            1" in status.output
    assert f"book         {head:>12}            0            0" in status.output
    assert f"orders       {position:>12}  {REJECTED}" in status.output

    rebuilt = cli.invoke(app, ["projections", "rebuild"])  # it used to fail too
    assert rebuilt.exit_code == 0, rebuilt.output
    assert (
        f"orders       {position:>12}  {REJECTED}"
        in cli.invoke(app, ["projections", "status"]).output
    )

    failed = cli.invoke(app, ["projections", "retry"])
    assert failed.exit_code == 1, failed.output
    assert "applied 0 set-aside event(s); 1 still fail" in failed.output
    assert cli.invoke(app, ["projections", "retry", "nope"]).exit_code == 2

    rewrite(store, position, original)  # the fix: the event is readable again
    fixed = cli.invoke(app, ["projections", "retry", "orders"])
    assert fixed.exit_code == 0, fixed.output
    assert "applied 1 set-aside event(s); 0 still fail" in fixed.output
    with read_engine.connect() as connection:
        assert orders_by_ids(connection, [order_id])[order_id].status == "REJECTED"
    status = cli.invoke(app, ["projections", "status"])
    assert f"orders       {head:>12}            0            0" in status.output
    assert "set aside" not in status.output


# ---------------------------------------------------------------------- the invariant

_seen_metadata = MetaData()
_seen = Table(
    "dead_letter_test_seen", _seen_metadata, Column("position", BigInteger, primary_key=True)
)


class Seen(Projection):
    """Records every notification it applies (held back until `flush`), and fails on the
    `bad` ones, in `apply` or in `flush`."""

    name = "seen"
    tables = (_seen,)

    def __init__(self) -> None:
        self.bad: dict[int, bool] = {}  # position -> fails in flush
        self._held: list[int] = []

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        for position, _event in items:
            if self.bad.get(position) is False:
                raise ValueError(f"bad {position}")
            self._held.append(position)

    def flush(self, connection: Connection) -> None:
        held, self._held = self._held, []
        if any(self.bad.get(position) for position in held):
            raise OverflowError("bad in flush")
        if held:
            connection.execute(_seen.insert(), [{"position": p} for p in held])

    def reset(self) -> None:
        self._held = []


@pytest.fixture(scope="module")
def sqlite_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EventStore, Engine]]:
    folder = tmp_path_factory.mktemp("log")
    store = open_store(Settings(store=f"sqlite:///{folder}/events.db"))
    clock = Clock()
    writer = Writer(store, clock=clock, demo_funding=True).start()
    scenario = Scenario(writer, clock)
    run_scenario(scenario)
    writer.stop()
    engine = open_read_store(Settings(read_store=f"sqlite:///{folder}/read.db"))
    _seen_metadata.create_all(engine)
    ProjectionRunner(store, engine, []).setup()  # its tables
    yield store, engine
    engine.dispose()
    store.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_exactly_the_events_that_fail_alone_are_set_aside_and_the_rest_applied(
    sqlite_log: tuple[EventStore, Engine], data: st.DataObject
) -> None:
    store, engine = sqlite_log
    head = store.recorder.max_notification_id() or 0
    bad = data.draw(st.dictionaries(st.integers(1, head), st.booleans(), max_size=6))
    batch = data.draw(st.integers(1, head + 5))
    chunk = data.draw(st.integers(1, head + 5))
    with engine.begin() as connection:  # from scratch (a rebuild would drop the table)
        connection.execute(_seen.delete())
        connection.execute(dead_letters.delete())
        connection.execute(positions.delete())
    seen = Seen()
    seen.bad = bad
    runner = _runner(store, engine, [seen], catch_up_batch_size=batch, read_size=chunk)
    runner.catch_up()
    assert runner.position == head
    assert [d.position for d in runner.dead_letters()] == sorted(bad)
    with engine.connect() as connection:
        applied = set(connection.execute(select(_seen.c.position)).scalars())
    assert applied == set(range(1, head + 1)) - set(bad)

    seen.bad = {}
    assert runner.retry() == Retried(applied=len(bad), failing=0)
    with engine.connect() as connection:
        assert set(connection.execute(select(_seen.c.position)).scalars()) == set(
            range(1, head + 1)
        )


# ---------------------------------------------------------------------- damaged read stores


def _sqlite_read_settings(tmp_path: Path) -> Settings:
    return Settings(
        store=f"sqlite:///{tmp_path}/events.db", read_store=f"sqlite:///{tmp_path}/read.db"
    )


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is no database \x00\xff" * 500)
    Path(f"{path}-wal").write_bytes(b"\x01" * 100)


def _damaged_pages(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")
    connection.executemany("INSERT INTO t (b) VALUES (?)", [("x" * 200,)] * 2000)
    connection.execute("CREATE INDEX ix_t_b ON t (b)")
    connection.commit()
    connection.close()
    with path.open("r+b") as file:  # overwrite pages in the middle, keep the header
        file.seek(4096 * 3)
        file.write(b"\xde\xad\xbe\xef" * 4096)


@pytest.mark.parametrize("damage", [_garbage, _damaged_pages])
def test_a_damaged_sqlite_read_store_is_moved_aside_and_rebuilt(
    tmp_path: Path, damage: Callable[[Path], None], caplog: pytest.LogCaptureFixture
) -> None:
    settings = _sqlite_read_settings(tmp_path)
    path = tmp_path / "read.db"
    damage(path)
    damaged = path.read_bytes()
    with caplog.at_level(logging.WARNING, logger="socialtrading.infra.readstore"):
        engine = open_read_store(settings)
    try:
        [aside] = list(tmp_path.glob("read.db.corrupt-*[0-9]Z"))
        assert aside.read_bytes() == damaged
        assert not Path(f"{path}-wal").exists()
        assert any(
            "read store" in r.message and "moved it aside" in r.message and str(aside) in r.message
            for r in caplog.records
        ), caplog.text
        store = open_store(settings)
        try:
            clock = Clock()
            writer = Writer(store, clock=clock, demo_funding=True).start()
            scenario = Scenario(writer, clock)
            list_markets(scenario)
            writer.stop()
            runner = _runner(store, engine)
            runner.catch_up()
            assert runner.position == runner.head() > 0
        finally:
            store.close()
    finally:
        engine.dispose()


def test_a_sound_read_store_is_left_in_place(tmp_path: Path) -> None:
    settings = _sqlite_read_settings(tmp_path)
    open_read_store(settings).dispose()
    engine = open_read_store(settings)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE kept (a INTEGER)")
    engine.dispose()
    open_read_store(settings).dispose()
    assert list(tmp_path.glob("*corrupt*")) == []
    with sqlite3.connect(tmp_path / "read.db") as connection:
        assert connection.execute("SELECT count(*) FROM kept").fetchone() == (0,)


def test_a_damaged_read_store_that_is_the_event_store_is_not_moved(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/events.db"
    _garbage(tmp_path / "events.db")
    with pytest.raises(RuntimeError, match=r"event store .* is damaged"):
        open_read_store(Settings(store=url, read_store=url))
    assert list(tmp_path.glob("*corrupt*")) == []
