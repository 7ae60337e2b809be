"""A server over a log holding a poison event starts, serves, and says so in `/readyz` and
`/metrics` without details; a damaged read store is moved aside at start-up and rebuilt."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from socialtrading.infra.settings import Settings
from socialtrading.infra.store import open_store
from tests.e2e.helpers import book, deposit, list_market, place, register
from tests.e2e.server import Server, running
from tests.integration.poison import poison_price

REJECTED = "socialtrading.domain.market:Market.OrderRejected"


def _log_with_a_refused_order(settings: Settings) -> int:
    """Fill the store through a server: a market, a trader and a refused order among
    accepted ones; the refused order's notification id."""
    with running(settings) as server:
        list_market(server, server.admin())
        _, alice = register(server, "alice")
        deposit(server, alice, "USD", "100")
        place(server, alice, market="BTC-USD", side="BUY", price="1", quantity="1")
        refused = place(server, alice, market="BTC-USD", side="BUY", price="1000", quantity="1")
        assert refused["__typename"] == "Rejection" and refused["code"] == "insufficient_funds"
        place(server, alice, market="BTC-USD", side="BUY", price="2", quantity="1")
    store = open_store(settings)
    try:
        [position] = [row.id for row in store.read(0, 1000) if row.topic == REJECTED]
        poison_price(store, position)  # 2**63 ticks: what the issue's order stored
    finally:
        store.close()
    return position


def test_a_server_over_a_log_with_a_poison_event_starts_serves_and_is_not_ready(
    settings: Settings, tmp_path: Path
) -> None:
    _log_with_a_refused_order(settings)
    # read models built afresh from the poisoned log
    fresh = settings.model_copy(
        update={"read_store": f"sqlite:///{tmp_path}/fresh/read.db", "metrics_public": True}
    )
    with running(fresh) as server:
        markets = server.gql("{ markets { symbol } }")["markets"]
        assert markets == [{"symbol": "BTC-USD"}]
        _, bob = register(server, "bob")  # and it goes on following the log
        assert deposit(server, bob, "USD", "5")["__typename"] == "DepositSuccess"

        ready = server.http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json() == {"status": "dead_letters", "lag": 0, "dead_letters": 1}
        metrics = server.http.get("/metrics").text
        assert 'socialtrading_projection_dead_letters{projection="orders"} 1.0' in metrics
        assert 'socialtrading_projection_dead_letters{projection="book"} 0.0' in metrics


def test_readyz_answers_a_status_never_an_error(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert server.http.get("/readyz").json() == {"status": "ok", "lag": 0, "dead_letters": 0}

    def broken() -> None:
        raise RuntimeError("SELECT token_hash FROM api_tokens WHERE secret = 'x'")

    monkeypatch.setattr(server.services.runner, "status", broken)
    ready = server.http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable"}
    assert "SELECT" not in ready.text and "secret" not in ready.text


def test_a_garbage_read_store_is_moved_aside_and_rebuilt_at_start_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(store=f"sqlite:///{tmp_path}/events.db", demo_funding=True)
    with running(settings) as server:
        list_market(server, server.admin())
    read_store = tmp_path / "readmodels.db"
    read_store.write_bytes(b"\x00garbage\xff" * 1000)
    with caplog.at_level(logging.WARNING), running(settings) as server:
        assert server.gql("{ markets { symbol } }")["markets"] == [{"symbol": "BTC-USD"}]
        assert server.http.get("/readyz").status_code == 200
    [aside] = tmp_path.glob("readmodels.db.corrupt-*")
    assert aside.read_bytes() == b"\x00garbage\xff" * 1000
    assert any(
        record.levelno == logging.WARNING and "moved it aside" in record.message
        for record in caplog.records
    ), caplog.text


def test_the_issues_poison_order_does_not_stop_the_read_models(server: Server) -> None:
    """The reproduction: refused for want of funds, it was stored at 2**63 ticks and froze
    every read model. Whether it is refused at the edge (nothing stored) or its rejection is
    stored and set aside, the orders placed after it are shown and nothing is failing."""
    list_market(server, server.admin())
    _, alice = register(server, "alice")
    deposit(server, alice, "USD", "100")
    poison = place(
        server,
        alice,
        market="BTC-USD",
        side="BUY",
        price="92233720368547758.08",
        quantity="0.0001",
    )
    assert poison["__typename"] == "Rejection", poison
    after = place(server, alice, market="BTC-USD", side="BUY", price="1", quantity="1")
    assert after["__typename"] == "PlaceOrderSuccess", after
    assert book(server)["bids"] == [{"price": "1", "quantity": "1", "orders": 1}]
    ready = server.http.get("/readyz").json()
    assert ready["status"] in ("ok", "dead_letters") and ready["lag"] == 0, ready
    assert server.services.runner.error is None
