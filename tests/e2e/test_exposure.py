"""What a server shows to strangers: GraphiQL, introspection, /metrics, and its errors.

The store does not matter here: these tests run on SQLite only.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from graphql import get_introspection_query
from pydantic import SecretStr

from socialtrading.infra.settings import Settings
from tests.e2e.helpers import DEPOSIT, TRADES, list_market, register
from tests.e2e.server import Server, Subscriber, running

INTROSPECTION = "{ __schema { queryType { name } } }"
HTML = {"Accept": "text/html"}


@pytest.fixture
def sqlite(tmp_path: Path) -> Settings:
    return Settings(store=f"sqlite:///{tmp_path}/events.db", demo_funding=True)


@pytest.fixture
def plain(sqlite: Settings) -> Iterator[Server]:
    """A server with the defaults: GraphiQL, introspection and /metrics off."""
    with running(sqlite) as server:
        yield server


def test_by_default_graphiql_introspection_and_metrics_are_off(plain: Server) -> None:
    page = plain.http.get("/graphql", headers=HTML)
    assert page.status_code == 404
    assert "graphiql" not in page.text.lower()
    assert page.json()["errors"][0]["extensions"] == {"code": "NOT_FOUND"}

    errors = plain.errors(INTROSPECTION)
    assert "introspection has been disabled" in errors[0]["message"]
    assert plain.errors(get_introspection_query())
    assert plain.gql("{ __typename }") == {"__typename": "Query"}

    metrics = plain.http.get("/metrics")
    assert metrics.status_code == 404
    assert "socialtrading_" not in metrics.text
    assert "SOCIALTRADING_METRICS_TOKEN" in metrics.text


def test_settings_turn_graphiql_introspection_and_public_metrics_on(sqlite: Settings) -> None:
    enabled = sqlite.model_copy(
        update={"graphiql": True, "introspection": True, "metrics_public": True}
    )
    with running(enabled) as server:
        page = server.http.get("/graphql", headers=HTML)
        assert page.status_code == 200 and "graphiql" in page.text.lower()
        assert server.gql(INTROSPECTION) == {"__schema": {"queryType": {"name": "Query"}}}
        assert "__schema" in server.gql(get_introspection_query())
        assert "socialtrading_" in server.http.get("/metrics").text


def test_demo_mode_turns_graphiql_introspection_and_metrics_on(sqlite: Settings) -> None:
    with running(sqlite, demo=True) as server:
        assert server.http.get("/graphql", headers=HTML).status_code == 200
        assert server.gql(INTROSPECTION)["__schema"]["queryType"]["name"] == "Query"
        assert server.http.get("/metrics").status_code == 200


def test_a_metrics_token_is_required_once_set_even_in_demo_mode(sqlite: Settings) -> None:
    with running(
        sqlite.model_copy(update={"metrics_token": SecretStr("s3cret-token")}), demo=True
    ) as server:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"}):
            refused = server.http.get("/metrics", headers=headers)
            assert refused.status_code == 401
            assert refused.headers["WWW-Authenticate"] == "Bearer"
            assert "socialtrading_" not in refused.text
        served = server.http.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
        assert served.status_code == 200
        assert "socialtrading_graphql_seconds" in served.text


def test_a_body_nested_100000_levels_is_a_clean_400(plain: Server) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    body = '{"query": "{ markets { symbol } }", "variables": ' + nested + "}"
    response = plain.http.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "Unable to parse request body as JSON",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }
    assert plain.gql("{ markets { symbol } }") == {"markets": []}


def test_the_depth_limit_error_carries_the_depth_code(plain: Server) -> None:
    _, alice = register(plain, "alice")
    deep = "query { me { " + "openOrders { account { " * 5 + "id" + " } }" * 5 + " } }"
    errors = plain.errors(deep, token=alice)
    assert [error["extensions"] for error in errors] == [{"code": "DEPTH"}]


CANDLES = """
query Candles($to: DateTime, $after: String) {
  candles(market: "BTC-USD", interval: "1m", to: $to, after: $after) { edges { cursor } }
}
"""


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def test_impossible_cursors_and_times_are_clean_errors_not_internal_ones(plain: Server) -> None:
    list_market(plain, plain.admin())
    for variables, code in [
        ({"market": "BTC-USD", "after": "A" * 200_000}, "BAD_CURSOR"),
        ({"market": "BTC-USD", "after": _cursor("trade:" + "9" * 40)}, "BAD_CURSOR"),
    ]:
        errors = plain.errors(TRADES, variables)
        assert [error["extensions"]["code"] for error in errors] == [code]
    for variables in [
        {"to": "0001-01-01T00:00:00Z"},
        {"to": "2026-01-01T00:00:00"},
        {"after": _cursor("candle:2026-01-01T00:00:00")},
        {"after": "A" * 100_000},
    ]:
        errors = plain.errors(CANDLES, variables)
        assert len(errors) == 1, errors
        assert errors[0]["message"] != "Internal error"
        assert errors[0]["extensions"]["code"] in ("BAD_USER_INPUT", "BAD_CURSOR")
    literal = (
        '{ candles(market: "BTC-USD", interval: "1m", to: "0001-01-01T00:00:00Z") '
        "{ edges { cursor } } }"
    )
    errors = plain.errors(literal)
    assert [error["extensions"]["code"] for error in errors] == ["BAD_USER_INPUT"]
    assert "between 1970" in errors[0]["message"]


def test_errors_echo_only_a_short_prefix_of_a_huge_value(plain: Server) -> None:
    admin = plain.admin()
    huge = "x" * 200_000  # under the body cap, far over any sensible value
    answer = plain.post(DEPOSIT, {"asset": "USD", "amount": "1", "account": huge}, token=admin)
    rejection = answer["data"]["deposit"]
    assert rejection["code"] == "invalid_input"
    assert "x" * 64 + "..." in rejection["message"] and len(rejection["message"]) < 150

    place = "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { __typename } }"
    order = {"market": "BTC-USD", "side": "BUY", "quantity": "1"}
    for query, variables in [
        ("query($m: String!) { orderBook(market: $m) { bids { price } } }", {"m": huge}),
        (place, {"i": {**order, "side": huge}}),  # graphql-core: "Value '...' does not exist"
        (place, {"i": {**order, huge: 1}}),  # graphql-core: "unknown field '...'"
        (
            'query($d: DateTime) { candles(market: "X", interval: "1m", to: $d) { __typename } }',
            {"d": huge},
        ),
        (
            'mutation($a: Decimal!) { deposit(asset: "USD", amount: $a) { __typename } }',
            {"a": huge},
        ),
    ]:
        response = plain.http.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200
        assert len(response.content) < 1000, response.text[:300]
        [error] = response.json()["errors"]
        assert "x" * 64 + "..." in error["message"]
        assert error["message"] != "Internal error"


def _answer(subscriber: Subscriber, id: str) -> dict[str, Any]:
    """The first message of subscription `id` (other messages are skipped)."""
    while True:
        message = subscriber.receive()
        if message.get("id") == id:
            return message


def test_over_websocket_limits_apply_and_echoes_are_short(plain: Server) -> None:
    huge = "q" * 50_000  # under the WebSocket message cap
    with plain.ws() as subscriber:
        subscriber.subscribe(
            "1",
            'subscription($d: Int) { orderBook(market: "A", depth: $d) { market } }',
            {"d": huge},
        )
        refused = _answer(subscriber, "1")
        assert refused["type"] == "error"
        assert "q" * 64 + "...'" in refused["payload"][0]["message"]
        assert len(json.dumps(refused)) < 1000

        aliases = " ".join(f"a{i}: price" for i in range(16))
        subscriber.subscribe(
            "2",
            'subscription { trades(market: "A") { ...F } } '
            f"fragment F on Trade {{ {aliases} }}",
        )
        refused = _answer(subscriber, "2")
        assert refused["type"] == "error"
        assert [error["extensions"]["code"] for error in refused["payload"]] == ["ALIASES"]


def test_a_subscription_over_http_is_a_clean_error_naming_the_websocket(plain: Server) -> None:
    response = plain.http.post(
        "/graphql", json={"query": 'subscription { trades(market: "BTC-USD") { price } }'}
    )
    assert response.status_code < 500, response.text
    errors = response.json()["errors"]
    assert errors[0]["message"] != "Internal error", errors
    assert errors[0]["extensions"]["code"] == "USE_WEBSOCKET", errors
    assert "WebSocket" in errors[0]["message"]


def test_an_int_literal_of_5000_digits_is_a_clean_error(plain: Server) -> None:
    query = '{ orderBook(market: "BTC-USD", depth: %s) { bids { price } } }' % ("1" * 5000)
    errors = plain.post(query)["errors"]
    assert errors and all(error["message"] != "Internal error" for error in errors), errors
    assert all(len(error["message"]) < 600 for error in errors)


def test_an_answer_over_the_object_cap_fails_whatever_the_document_limits_say(
    sqlite: Settings,
) -> None:
    with running(sqlite.model_copy(update={"max_result_objects": 10})) as server:
        list_market(server, server.admin())
        nine = " ".join(f"a{i}: markets {{ symbol }}" for i in range(9))
        assert len(server.gql(f"{{ {nine} }}")) == 9  # nine objects: under the cap
        eleven = " ".join(f"a{i}: markets {{ symbol }}" for i in range(11))
        errors = server.errors(f"{{ {eleven} }}")
        assert {error["extensions"]["code"] for error in errors} == {"RESULT_TOO_LARGE"}
