"""The process around the API: health, readiness, metrics, GraphiQL, demo mode, restarts."""

from __future__ import annotations

from socialtrading.infra.settings import Settings
from tests.e2e.helpers import BOOK, ME, balances, deposit, list_market, place, register
from tests.e2e.server import Server, running


def test_health_readiness_metrics_and_graphiql_answer(settings: Settings) -> None:
    with running(settings.model_copy(update={"graphiql": True, "metrics_public": True})) as server:
        _health_readiness_metrics_and_graphiql(server)


def _health_readiness_metrics_and_graphiql(server: Server) -> None:
    assert server.http.get("/healthz").json() == {"status": "ok"}
    ready = server.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"

    list_market(server, server.admin())
    _, alice = register(server, "alice")
    deposit(server, alice, "USD", "100")
    place(server, alice, market="BTC-USD", side="BUY", price="1", quantity="1")
    text = server.http.get("/metrics").text
    assert 'socialtrading_commands_total{outcome="accepted",type="PlaceOrder"} ' in text
    assert "socialtrading_batch_size_bucket" in text
    assert "socialtrading_commit_seconds_bucket" in text
    assert 'socialtrading_graphql_seconds_count{operation="mutation"}' in text
    assert "socialtrading_projection_lag{" in text

    page = server.http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


def test_demo_mode_is_idempotent_across_restarts_and_hands_out_working_tokens(
    store_settings: Settings,
) -> None:
    with running(store_settings, demo=True) as server:
        tokens = server.app.state.demo_tokens
        assert set(tokens) >= {"alice", "bob", "demo_admin"}
        markets = server.gql("{ markets { symbol collarTicks } }")["markets"]
        assert sorted(m["symbol"] for m in markets) == ["BTC-USD", "ETH-USD"]
        funded = balances(server, tokens["alice"])
        first_book = server.gql(BOOK, {"market": "BTC-USD"})["orderBook"]
        assert first_book["bids"] and first_book["asks"]
        # A market buy works at once: there is liquidity, a reference price and a collar.
        bought = place(
            server, tokens["bob"], market="BTC-USD", side="BUY", type="MARKET", quantity="0.01"
        )
        assert bought["order"]["status"] == "FILLED", bought
        # Demo funding: a new trader credits themselves and may trade (KYC 1 on sign-up).
        _, dora = register(server, "dora")
        assert deposit(server, dora, "USD", "50")["__typename"] == "DepositSuccess"
        assert server.gql(ME, token=dora)["me"]["handle"] == "dora"

    with running(store_settings, demo=True) as again:
        fresh = again.app.state.demo_tokens
        assert fresh["alice"] != tokens["alice"]
        assert balances(again, fresh["alice"]) == funded  # not credited twice
        earlier = again.errors(ME, token=tokens["alice"])  # the earlier start's: revoked
        assert earlier[0]["extensions"]["code"] == "UNAUTHENTICATED"
        markets = again.gql("{ markets { symbol } }")["markets"]
        assert len(markets) == 2
        second_book = again.gql(BOOK, {"market": "BTC-USD"})["orderBook"]
        assert second_book["bids"] == first_book["bids"]  # not seeded twice
        assert again.gql(ME, token=dora)["me"]["handle"] == "dora"  # stored, not bootstrapped
