"""Read-model columns that hold sums (a level's quantity, a candle's volume, a position's
quantity and cost) pass 2**63 although every order is capped: they are stored exactly, not
set aside, on both backends. And a read store whose tables predate the change is rebuilt."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Engine, Integer, MetaData, Table, inspect, select, text

from socialtrading.commands.models import Deposit, ListMarket, PlaceOrder, RegisterTrader
from socialtrading.domain.ids import SYSTEM_ACTOR
from socialtrading.domain.time import to_datetime
from socialtrading.domain.tokens import hash_token
from socialtrading.engine.book import Side
from socialtrading.engine.spec import MAX_LOTS
from socialtrading.entrypoints.app import create_app
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import EventStore
from socialtrading.projections.book import depth
from socialtrading.projections.candles import candles_page
from socialtrading.projections.positions import positions_of
from socialtrading.projections.registry import all_projections
from socialtrading.projections.runner import ProjectionRunner
from socialtrading.projections.sql import bulk_upsert, upsert
from socialtrading.projections.types import BigIntText
from tests.integration.projection_scenario import START_US, Scenario

SYMBOL = "WIDE-USD"
UNIT = Decimal("0.000001")  # the market's tick and lot
ORDERS = 9_300  # orders of MAX_LOTS at one price: more than 2**63 lots
TOTAL = ORDERS * MAX_LOTS
PRICE = 2  # ticks


def _open(scenario: Scenario) -> None:
    outcome = scenario.run(
        ListMarket(
            command_id="list",
            actor=SYSTEM_ACTOR,
            symbol=SYMBOL,
            tick_size=UNIT,
            lot_size=UNIT,
            collar_ticks=10**6,
            reference_price=PRICE * UNIT,
        )
    )
    assert outcome.accepted, outcome
    for handle, asset, amount in (("buyer", "USD", 10**12), ("seller", "WIDE", 10**14)):
        registered = scenario.run(
            RegisterTrader(
                command_id="register", handle=handle, token_hash=hash_token(f"token-{handle}")
            )
        )
        assert registered.account_id is not None
        account = scenario.accounts[handle] = registered.account_id
        deposited = scenario.run(
            Deposit(
                command_id="fund",
                actor=account,
                account=account,
                asset=asset,
                amount=Decimal(amount),
            )
        )
        assert deposited.accepted, deposited


_wide = Table(
    "wide_sums",
    MetaData(),
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("sum", BigIntText),
)
_bulk = bulk_upsert(_wide, ["id"])


def test_a_bigint_text_column_round_trips_any_integer(
    open_event_store: Callable[[], EventStore], read_engine: Engine
) -> None:
    open_event_store()  # makes the test's schema on PostgreSQL
    _wide.create(read_engine)

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.integers(min_value=-(10**60), max_value=10**60), min_size=1, max_size=5))
    def round_trip(values: list[int]) -> None:
        with read_engine.begin() as connection:
            _bulk.run(connection, list(enumerate(values)))  # positional, straight to the driver
            stored = dict(connection.execute(select(_wide.c.id, _wide.c.sum)).all())
            assert stored == dict(enumerate(values))
            rows: list[dict[str, Any]] = [{"id": 0, "sum": -values[0]}, {"id": 99, "sum": None}]
            upsert(connection, _wide, rows, ["id"])
            again = dict(connection.execute(select(_wide.c.id, _wide.c.sum)).all())
            assert again == {**dict(enumerate(values)), 0: -values[0], 99: None}
            connection.execute(_wide.delete())

    round_trip()


def _runner(scenario: Scenario, engine: Engine) -> ProjectionRunner:
    runner = ProjectionRunner(scenario.writer.store, engine, all_projections())
    runner.setup()
    return runner


QUERY = """
query($market: String!, $from: DateTime, $to: DateTime) {
  orderBook(market: $market, depth: 5) { bids { price quantity orders } }
  candles(market: $market, interval: "1d", from: $from, to: $to) { edges { node { volume } } }
  me { positions { market quantity averageEntryPrice } }
}
"""


def _graphql(settings: Settings, handle: str) -> dict[str, Any]:
    """The book, the day's candle and the caller's positions, through the API."""
    since = to_datetime(START_US - 86_400_000_000)
    variables = {
        "market": SYMBOL,
        "from": since.isoformat(),
        "to": (since + timedelta(days=3)).isoformat(),
    }
    app = create_app(settings.model_copy(update={"demo_funding": True}))

    async def ask() -> Any:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.post(
                    "/graphql",
                    json={"query": QUERY, "variables": variables},
                    headers={"Authorization": f"Bearer token-{handle}"},
                )
                return response.json()

    body = asyncio.run(ask())
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def _orders(scenario: Scenario, who: str, side: Side, price: str, lots: str) -> None:
    """ORDERS limit orders of `who`, submitted together (group commits: quick on PostgreSQL
    too), each accepted."""
    acks = [
        scenario.writer.submit(
            PlaceOrder(
                command_id=scenario.cid(),
                actor=scenario.accounts[who],
                market=SYMBOL,
                side=side,
                price=Decimal(price),
                quantity=Decimal(lots),
            )
        )
        for _ in range(ORDERS)
    ]
    assert all(ack.result(120).accepted for ack in acks)


def test_sums_beyond_2_63_are_applied_and_read_back_exactly(
    scenario: Scenario, read_engine: Engine, read_settings: Settings
) -> None:
    assert TOTAL > 2**63
    _open(scenario)
    lots = str(MAX_LOTS * UNIT)
    price = str(PRICE * UNIT)
    _orders(scenario, "buyer", "buy", price, lots)
    runner = _runner(scenario, read_engine)
    runner.catch_up()
    with read_engine.connect() as connection:
        bids, asks = depth(connection, SYMBOL, 5)
    assert asks == []
    assert [(b.price, b.quantity, b.orders) for b in bids] == [(PRICE * UNIT, TOTAL * UNIT, ORDERS)]

    _orders(scenario, "seller", "sell", price, lots)
    runner.catch_up()
    assert [s.dead_letters for s in runner.status()] == [0] * len(runner.projections)
    with read_engine.connect() as connection:
        assert depth(connection, SYMBOL, 5) == ([], [])
        (candle,) = candles_page(connection, SYMBOL, "1d", start=None, end=None, first=10)
        held = positions_of(connection, [str(scenario.accounts[h]) for h in ("buyer", "seller")])
    assert candle.volume == TOTAL * UNIT  # exact: more digits than a float or a bigint holds
    assert candle.trades == ORDERS
    (long,) = held[str(scenario.accounts["buyer"])]
    (short,) = held[str(scenario.accounts["seller"])]
    assert long.quantity == TOTAL * UNIT
    assert short.quantity == -TOTAL * UNIT
    # cost / quantity: the average entry price is the one price traded
    assert long.average_entry_price == short.average_entry_price == PRICE * UNIT
    assert long.unrealized_pnl == short.unrealized_pnl == 0
    wide = "9300000000000"  # TOTAL lots of 0.000001
    assert _graphql(read_settings, "seller") == {
        "orderBook": {"bids": []},
        "candles": {"edges": [{"node": {"volume": wide}}]},
        "me": {
            "positions": [{"market": SYMBOL, "quantity": "-" + wide, "averageEntryPrice": price}]
        },
    }

    # a restart reads the stored sums back (not from memory) and keeps adding to them
    assert scenario.order("buyer", SYMBOL, "buy", price, lots).accepted
    assert scenario.order("seller", SYMBOL, "sell", price, lots).accepted
    again = _runner(scenario, read_engine)
    again.catch_up()
    with read_engine.connect() as connection:
        (candle,) = candles_page(connection, SYMBOL, "1d", start=None, end=None, first=10)
        held = positions_of(connection, [str(scenario.accounts["buyer"])])
        stored = connection.execute(text("SELECT cost FROM positions")).scalars().all()
    assert candle.volume == (TOTAL + MAX_LOTS) * UNIT
    assert held[str(scenario.accounts["buyer"])][0].quantity == (TOTAL + MAX_LOTS) * UNIT
    assert sorted(int(cost) for cost in stored) == [PRICE * (TOTAL + MAX_LOTS)] * 2


def test_a_read_store_with_integer_sums_is_rebuilt(scenario: Scenario, read_engine: Engine) -> None:
    _open(scenario)
    price, lots = str(PRICE * UNIT), str(3 * UNIT)
    assert scenario.order("buyer", SYMBOL, "buy", price, lots).accepted
    runner = _runner(scenario, read_engine)
    runner.catch_up()
    # the read store as the previous version left it: the level's quantity a BIGINT
    with read_engine.begin() as connection:
        connection.execute(text("DROP TABLE book_levels"))
        connection.execute(
            text(
                "CREATE TABLE book_levels (market VARCHAR(32), side VARCHAR(4), price BIGINT,"
                " quantity BIGINT NOT NULL, orders INTEGER NOT NULL,"
                " PRIMARY KEY (market, side, price))"
            )
        )
    rebuilt = _runner(scenario, read_engine)
    positions = {s.name: s.position for s in rebuilt.status()}
    assert positions["book"] == 0 and positions["orders"] == runner.position
    quantity = next(
        c for c in inspect(read_engine).get_columns("book_levels") if c["name"] == "quantity"
    )
    assert not isinstance(quantity["type"], Integer)
    rebuilt.catch_up()
    with read_engine.connect() as connection:
        bids, _ = depth(connection, SYMBOL, 5)
    assert [(b.quantity, b.orders) for b in bids] == [(3 * UNIT, 1)]
