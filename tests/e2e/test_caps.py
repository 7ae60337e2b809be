"""Caps on what one client may take: bodies, WebSockets, subscriptions, request rates.

Each test serves the app with small caps and goes one past them. The caps do not depend on
the store, so these run on SQLite, except the shared book feed, whose reads do (PostgreSQL
reads in a worker thread).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from prometheus_client import REGISTRY
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from socialtrading.commands.models import IssueToken
from socialtrading.domain.tokens import new_token
from socialtrading.infra.settings import Settings
from socialtrading.projections import book as book_model
from tests.e2e.helpers import deposit, list_market, place, register
from tests.e2e.server import TIMEOUT, Server, Subscriber, running

MARKETS = "{ markets { symbol } }"
TAPE = 'subscription { trades(market: "BTC-USD") { price quantity } }'
BOOK_100 = (
    'subscription { orderBook(market: "BTC-USD", depth: 100) '
    "{ bids { price quantity } asks { price quantity } } }"
)


@pytest.fixture
def backend() -> str:
    """SQLite only (the caps are the same on both stores), unless a test says otherwise."""
    return "sqlite"


@pytest.fixture
def serve(store_settings: Settings) -> Iterator[Callable[..., Server]]:
    """Start the app with some settings changed (demo funding on); stopped after the test."""
    with ExitStack() as stack:

        def start(**update: Any) -> Server:
            settings = store_settings.model_copy(update={"demo_funding": True, **update})
            return stack.enter_context(running(settings))

        yield start


def issue_token(server: Server, account: str) -> str:
    """Another API token of `account`, issued through the writer (no HTTP request spent)."""
    token, token_hash = new_token()
    actor = uuid.UUID(account)
    outcome = server.services.writer.execute(
        IssueToken(command_id=uuid.uuid4().hex, actor=actor, account=actor, token_hash=token_hash)
    )
    assert outcome.accepted, outcome
    assert server.services.runner.wait_for(outcome.position, TIMEOUT)
    return token


def raw_ws(server: Server) -> ClientConnection:
    """A graphql-transport-ws connection, not yet initialised."""
    return connect(
        server.url.replace("http://", "ws://") + "/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]  # a Subprotocol
        open_timeout=TIMEOUT,
    )


def close_code(connection: ClientConnection) -> int | None:
    """Read until the server closes the connection; its close code."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            connection.recv(TIMEOUT)
    return None if closed.value.rcvd is None else closed.value.rcvd.code


def refusal(subscriber: Subscriber, id: str) -> dict[str, Any]:
    """The `error` message refusing operation `id`: its first error."""
    while True:
        message = subscriber.receive()
        if message.get("id") == id:
            assert message["type"] == "error", message
            error: dict[str, Any] = message["payload"][0]
            return error


def refusals(limit: str) -> float:
    """How many refusals of `limit` /metrics has counted (in this process)."""
    value = REGISTRY.get_sample_value("socialtrading_limit_refusals_total", {"limit": limit})
    return value or 0.0


def eventually(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def test_a_body_over_the_cap_is_answered_413_and_the_server_still_answers(
    serve: Callable[..., Server],
) -> None:
    server = serve(max_body_bytes=1024)
    refused = refusals("body")
    padded = json.dumps({"query": MARKETS + " " * (1024 - 13 - len(MARKETS))}).encode()
    assert len(padded) == 1024  # exactly the cap: served
    response = server.http.post(
        "/graphql", content=padded, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    over = server.http.post(
        "/graphql", content=padded + b" ", headers={"content-type": "application/json"}
    )
    assert over.status_code == 413
    assert "at most 1024 bytes" in over.text
    huge = server.http.post(
        "/graphql",
        content=b'{"query": "' + b"x" * 5_000_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413
    assert refusals("body") == refused + 2
    assert server.gql(MARKETS) == {"markets": []}
    assert server.http.get("/healthz").status_code == 200


def test_a_chunked_body_over_the_cap_is_answered_413(serve: Callable[..., Server]) -> None:
    server = serve(max_body_bytes=1024)

    def chunks() -> Iterator[bytes]:
        yield b'{"query": "'
        for _ in range(8):
            yield b" " * 200
        yield b'{ markets { symbol } }"}'

    response = server.http.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    small = server.http.post(
        "/graphql",
        content=iter([b'{"query": "', MARKETS.encode(), b'"}']),
        headers={"content-type": "application/json"},
    )
    assert small.status_code == 200, small.text


def test_a_websocket_message_over_the_cap_closes_the_connection(
    serve: Callable[..., Server],
) -> None:
    server = serve(max_ws_message_bytes=1024)
    with server.ws() as subscriber:
        subscriber.subscribe("big", MARKETS.replace("symbol", "symbol " + " " * 2000))
        assert close_code(subscriber.connection) == 1009  # message too big
    with server.ws() as subscriber:  # the server goes on
        subscriber.subscribe("small", "query " + MARKETS)
        assert subscriber.next("small") == {"markets": []}


def test_one_websocket_too_many_from_an_address_is_refused(
    serve: Callable[..., Server],
) -> None:
    server = serve(max_ws_connections_per_address=2)
    refused = refusals("address_websockets")
    open_before = REGISTRY.get_sample_value("socialtrading_websockets")
    with server.ws(), server.ws():
        with raw_ws(server) as third:
            assert close_code(third) == 4429
        assert refusals("address_websockets") == refused + 1
        assert REGISTRY.get_sample_value("socialtrading_websockets") == (open_before or 0) + 2
        assert server.services.slots.held("ws:ip:127.0.0.1") == 2
    # closed connections give their slots back
    eventually(lambda: server.services.slots.held("ws:ip:127.0.0.1") == 0)
    with server.ws(), server.ws():
        pass


def test_one_websocket_too_many_for_an_account_is_refused_whatever_its_token(
    serve: Callable[..., Server],
) -> None:
    server = serve(max_ws_connections_per_account=2)
    alice_id, alice = register(server, "alice")
    second = issue_token(server, alice_id)
    with server.ws(alice), server.ws(second):
        with raw_ws(server) as third:
            third.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"Authorization": f"Bearer {alice}"}}
                )
            )
            assert close_code(third) == 4429
        with server.ws():  # the address may still open anonymous ones
            pass
        _, bob = register(server, "bob")
        with server.ws(bob):  # and other accounts theirs
            pass
    eventually(lambda: len(server.services.slots) == 0)


def test_one_operation_too_many_on_a_connection_is_refused_and_the_rest_go_on(
    serve: Callable[..., Server],
) -> None:
    server = serve(max_subscriptions_per_connection=2)
    list_market(server, server.admin())
    with server.ws() as subscriber:
        subscriber.subscribe("1", TAPE)
        subscriber.subscribe("2", TAPE)
        subscriber.subscribe("3", TAPE)
        error = refusal(subscriber, "3")
        assert error["extensions"] == {"code": "TOO_MANY_SUBSCRIPTIONS"}
        assert "at most 2" in error["message"]
        subscriber.connection.send(json.dumps({"id": "1", "type": "complete"}))
        subscriber.subscribe("4", "query " + MARKETS)  # room again
        assert subscriber.next("4") == {"markets": [{"symbol": "BTC-USD"}]}


def test_subscriptions_are_capped_per_account_across_its_connections(
    serve: Callable[..., Server],
) -> None:
    server = serve(max_subscriptions_per_account=3, max_subscriptions_per_connection=2)
    list_market(server, server.admin())
    alice_id, alice = register(server, "alice")
    other = issue_token(server, alice_id)
    key = f"subscriptions:account:{alice_id}"
    with server.ws(alice) as one, server.ws(other) as two:
        one.subscribe("a", TAPE)
        one.subscribe("b", TAPE)
        two.subscribe("c", TAPE)
        eventually(lambda: server.services.slots.held(key) == 3)
        two.subscribe("d", TAPE)
        error = refusal(two, "d")
        assert error["extensions"] == {"code": "TOO_MANY_SUBSCRIPTIONS"}
        with server.ws() as anonymous:  # anonymous callers count by address, apart
            anonymous.subscribe("e", "query " + MARKETS)
            assert anonymous.next("e")["markets"] == [{"symbol": "BTC-USD"}]
        one.connection.send(json.dumps({"id": "a", "type": "complete"}))
        eventually(lambda: server.services.slots.held(key) == 2)
        two.subscribe("f", "query " + MARKETS)
        assert two.next("f")["markets"] == [{"symbol": "BTC-USD"}]
    eventually(lambda: len(server.services.slots) == 0)  # all given back on close


def test_a_malformed_subscribe_gives_its_slot_back(serve: Callable[..., Server]) -> None:
    server = serve()
    with server.ws() as subscriber:
        subscriber.connection.send(json.dumps({"id": "1", "type": "subscribe"}))  # no payload
        assert close_code(subscriber.connection) == 4400
    eventually(lambda: len(server.services.slots) == 0)


def test_the_tokens_of_one_account_share_one_request_rate_answered_429(
    serve: Callable[..., Server],
) -> None:
    server = serve(query_rate=0.01, query_burst=5)
    alice_id, _ = register(server, "alice")  # the address's bucket, not alice's
    tokens = [issue_token(server, alice_id) for _ in range(5)]
    query = {"query": "{ me { handle } }"}
    for token in tokens:
        response = server.http.post(
            "/graphql", json=query, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text
    refused = server.http.post(
        "/graphql", json=query, headers={"Authorization": f"Bearer {tokens[0]}"}
    )
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 100  # 1 / 0.01 per second
    assert refused.json()["errors"][0]["extensions"] == {"code": "RATE_LIMITED"}
    _, bob = register(server, "bob")  # another account has its own bucket
    assert server.gql("{ me { handle } }", token=bob) == {"me": {"handle": "bob"}}
    with server.ws(tokens[1]) as subscriber:  # operations over a WebSocket count too
        subscriber.subscribe("1", "query { me { handle } }")
        assert refusal(subscriber, "1")["extensions"] == {"code": "RATE_LIMITED"}


def test_the_tokens_of_one_account_share_one_mutation_rate(
    serve: Callable[..., Server],
) -> None:
    server = serve(mutation_rate=0.01, mutation_burst=3)
    list_market(server, server.admin())  # deposits are of listed assets
    alice_id, alice = register(server, "alice")
    tokens = [alice, *(issue_token(server, alice_id) for _ in range(4))]
    answers = [deposit(server, token, "USD", "1")["__typename"] for token in tokens]
    assert answers == ["DepositSuccess"] * 3 + ["Rejection"] * 2
    assert deposit(server, tokens[4], "USD", "1")["code"] == "rate_limited"


def test_forwarded_for_is_ignored_from_an_untrusted_peer(serve: Callable[..., Server]) -> None:
    server = serve(query_rate=0.01, query_burst=2)
    codes = [
        server.http.post(
            "/graphql", json={"query": MARKETS}, headers={"X-Forwarded-For": f"198.51.100.{i}"}
        ).status_code
        for i in range(3)
    ]
    assert codes == [200, 200, 429]  # one bucket: the peer's, whatever it claims


def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    serve: Callable[..., Server],
) -> None:
    server = serve(query_rate=0.01, query_burst=2, trusted_proxies=["127.0.0.0/8"])

    def status(client: str) -> int:
        headers = {"X-Forwarded-For": f"203.0.113.66, {client}"}  # the left one is a claim
        return server.http.post("/graphql", json={"query": MARKETS}, headers=headers).status_code

    assert [status("198.51.100.1") for _ in range(3)] == [200, 200, 429]
    assert status("198.51.100.2") == 200  # another client behind the proxy


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_many_book_subscribers_cost_one_book_read_per_change(
    serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve(max_subscriptions_per_account=200, max_subscriptions_per_connection=20)
    list_market(server, server.admin())
    _, bob = register(server, "bob")
    assert deposit(server, bob, "BTC", "1")["__typename"] == "DepositSuccess"
    reads: list[str] = []
    depth = book_model.depth

    def spy(connection: Any, symbol: str, levels: int) -> Any:
        reads.append(symbol)
        return depth(connection, symbol, levels)

    monkeypatch.setattr(book_model, "depth", spy)
    key = ("book", "BTC-USD", 100)
    with server.ws() as one, server.ws() as two, server.ws() as three:
        subscribers = [(s, f"{i}-{n}") for i, s in enumerate((one, two, three)) for n in range(20)]
        for subscriber, id in subscribers:
            subscriber.subscribe(id, BOOK_100)
        for subscriber, id in subscribers:
            assert subscriber.next(id)["orderBook"] == {"bids": [], "asks": []}
        assert server.services.feeds.subscribers(key) == 60
        assert server.services.bus.subscriber_count("book:BTC-USD") == 1
        assert len(reads) == 1
        sell = place(server, bob, market="BTC-USD", side="SELL", price="100", quantity="0.5")
        assert sell["__typename"] == "PlaceOrderSuccess", sell
        for subscriber, id in subscribers:
            assert subscriber.next(id)["orderBook"]["asks"] == [{"price": "100", "quantity": "0.5"}]
        assert len(reads) == 2  # once for the snapshot, once for the change
    eventually(lambda: server.services.feeds.producers() == 0)
    eventually(lambda: server.services.bus.subscriber_count("book:BTC-USD") == 0)


def test_tape_subscribers_share_one_listener_and_each_gets_every_trade(
    serve: Callable[..., Server],
) -> None:
    server = serve()
    list_market(server, server.admin())
    _, alice = register(server, "alice")
    _, bob = register(server, "bob")
    deposit(server, alice, "USD", "1000")
    deposit(server, bob, "BTC", "1")
    with server.ws() as one, server.ws() as two:
        for subscriber in (one, two):
            subscriber.subscribe("x", TAPE)
            subscriber.subscribe("y", TAPE)
        eventually(lambda: server.services.feeds.subscribers(("trades", "BTC-USD")) == 4)
        assert server.services.bus.subscriber_count("trades:BTC-USD") == 1
        place(server, bob, market="BTC-USD", side="SELL", price="100", quantity="0.2")
        place(server, alice, market="BTC-USD", side="BUY", price="100", quantity="0.2")
        for subscriber in (one, two):
            for id in ("x", "y"):
                assert subscriber.next(id)["trades"] == {"price": "100", "quantity": "0.2"}


def test_one_client_asking_for_200_book_subscriptions_gets_100_and_the_server_answers(
    serve: Callable[..., Server],
) -> None:
    server = serve()  # the default caps: 20 per connection, 100 per address
    list_market(server, server.admin())
    answers: list[str] = []
    with ExitStack() as stack:
        connections = [stack.enter_context(server.ws()) for _ in range(8)]
        for n, subscriber in enumerate(connections):
            for i in range(25):
                subscriber.subscribe(f"{n}-{i}", BOOK_100)
        started = time.monotonic()
        assert server.http.get("/healthz").status_code == 200
        assert time.monotonic() - started < 1.0
        for subscriber in connections:
            for _ in range(25):
                message = subscriber.receive()
                if message["type"] == "next":
                    answers.append("next")
                else:
                    assert message["type"] == "error", message
                    answers.append(message["payload"][0]["extensions"]["code"])
        assert answers.count("next") == 100
        assert set(answers) - {"next"} <= {"TOO_MANY_SUBSCRIPTIONS", "RATE_LIMITED"}
        assert server.services.feeds.subscribers(("book", "BTC-USD", 100)) == 100
        ops = server.admin("ops")  # another client is served (its own buckets)
        assert server.gql("{ me { handle } }", token=ops) == {"me": {"handle": "ops"}}
    eventually(lambda: len(server.services.slots) == 0)
    eventually(lambda: server.services.feeds.producers() == 0)
