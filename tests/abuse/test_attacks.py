"""Attacks from the hardening issue, each against a live server that must stay responsive."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.abuse.conftest import HealthWatch, Live

PLACE = """
mutation($price: Decimal, $quantity: Decimal!) {
  placeOrder(input: {market: "BTC-USD", side: BUY, type: LIMIT, price: $price,
                     quantity: $quantity}) {
    __typename
    ... on PlaceOrderSuccess { order { id status } }
    ... on Rejection { code message }
  }
}
"""


def _bomb(levels: int = 29) -> str:
    fragments = ["fragment F0 on Market { symbol }"]
    fragments += [
        f"fragment F{i} on Market {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)
    ]
    return f"{{ markets {{ ...F{levels} }} }}\n" + "\n".join(fragments)


def _post(
    client: httpx.Client,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )


def test_fragment_bomb_is_refused_quickly_and_the_server_stays_responsive(live: Live) -> None:
    bomb = _bomb()
    assert len(bomb) < 1500  # the 1.2 KB document
    with HealthWatch(live.url) as watch, ThreadPoolExecutor(4) as pool:

        def attack(_: int) -> tuple[float, dict[str, Any]]:
            with live.client() as client:
                started = time.perf_counter()
                response = _post(client, bomb)
                return time.perf_counter() - started, response.json()

        results = list(pool.map(attack, range(8)))
    watch.assert_responsive()
    for seconds, body in results:
        assert seconds < 5, seconds
        assert body.get("data") is None and body["errors"], body
        codes = {error.get("extensions", {}).get("code") for error in body["errors"]}
        assert codes & {"SELECTIONS", "FRAGMENTS", "DEPTH"}, body


def test_oversized_bodies_get_413_and_the_server_stays_responsive(live: Live) -> None:
    big = json.dumps({"query": "{ markets { symbol } }", "padding": "x" * 1_000_000})
    with HealthWatch(live.url) as watch, live.client() as client:
        for _ in range(5):
            response = client.post(
                "/graphql", content=big, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 413

            def chunks() -> Any:
                for _ in range(100):
                    yield b"x" * 10_000

            chunked = client.post(
                "/graphql", content=chunks(), headers={"Content-Type": "application/json"}
            )
            assert chunked.status_code == 413
        assert _post(client, "{ markets { symbol } }").status_code == 200
    watch.assert_responsive()


def test_oversized_websocket_messages_close_the_connection(live: Live) -> None:
    ws_url = live.url.replace("http://", "ws://") + "/graphql"
    with (
        HealthWatch(live.url) as watch,
        connect(
            ws_url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            open_timeout=10,
            max_size=None,
        ) as connection,
    ):
        connection.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(connection.recv(10))["type"] == "connection_ack"
        connection.send(json.dumps({"type": "ping", "payload": {"x": "y" * 2_000_000}}))
        closed = False
        try:
            for _ in range(3):
                connection.recv(10)
        except ConnectionClosed:
            closed = True
        assert closed
    watch.assert_responsive()


def test_websocket_connections_per_address_are_capped(live: Live) -> None:
    ws_url = live.url.replace("http://", "ws://") + "/graphql"
    opened = []
    refused = 0
    with HealthWatch(live.url) as watch:
        try:
            for _ in range(200):
                try:
                    connection = connect(
                        ws_url,
                        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                        open_timeout=10,
                    )
                    opened.append(connection)
                    connection.send(json.dumps({"type": "connection_init", "payload": {}}))
                    message = json.loads(connection.recv(10))
                    if message["type"] != "connection_ack":
                        refused += 1
                except (ConnectionClosed, OSError, Exception):
                    refused += 1
        finally:
            for connection in opened:
                connection.close()
    watch.assert_responsive()
    assert refused > 0, "200 connections from one address were all accepted"


def test_the_rate_limit_is_per_account_whatever_the_number_of_tokens(live: Live) -> None:
    alice = live.tokens["alice"]
    with live.client() as client:
        tokens = [alice]
        for _ in range(4):
            body = _post(
                client,
                "mutation { issueToken { __typename ... on IssueTokenSuccess { token } } }",
                token=alice,
            ).json()
            tokens.append(body["data"]["issueToken"]["token"])
        statuses: list[int] = []
        retry_after: list[str] = []
        with HealthWatch(live.url) as watch:
            # 250 queries at once: over one account's burst (100), under five tokens' (500)
            for round_ in range(250):
                response = _post(client, "{ me { handle } }", token=tokens[round_ % len(tokens)])
                statuses.append(response.status_code)
                if response.status_code == 429:
                    retry_after.append(response.headers.get("Retry-After", ""))
        watch.assert_responsive()
    assert 429 in statuses
    assert all(value.isdigit() for value in retry_after)


def test_poison_orders_and_deposits_are_refused_and_the_exchange_goes_on(live: Live) -> None:
    alice = live.tokens["alice"]
    with HealthWatch(live.url) as watch, live.client() as client:
        for price in ("92233720368547758.08", "184467440737095516.17", "1" * 60):
            body = _post(client, PLACE, {"price": price, "quantity": "0.0001"}, alice).json()
            result = body["data"]["placeOrder"] if body.get("data") else None
            assert result is None or result["__typename"] == "Rejection", body
            if result is not None:
                assert result["code"] in {"price_out_of_range", "invalid_input"}, result
        deposit = _post(
            client,
            'mutation { deposit(asset: "USD", amount: "123456789012345678901234567890") '
            "{ __typename ... on Rejection { code } } }",
            token=alice,
        ).json()
        assert deposit["data"]["deposit"]["__typename"] == "Rejection", deposit
        ok = _post(client, PLACE, {"price": "60000", "quantity": "0.01"}, alice).json()
        assert ok["data"]["placeOrder"]["__typename"] == "PlaceOrderSuccess", ok
        time.sleep(1.0)
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
    watch.assert_responsive()
