"""The real app under uvicorn on a free port, and clients for it.

Tests speak HTTP (httpx) and graphql-transport-ws (websockets) to it, as clients would. The
server runs in a thread of the test process, so a test can also look at the app's services
(for example to wait until a subscription listens on the bus).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from websockets.sync.client import ClientConnection, connect

from socialtrading.entrypoints.app import create_app, server_options
from socialtrading.entrypoints.bootstrap import create_admin
from socialtrading.graphql.context import Services
from socialtrading.infra.lock import StoreLock
from socialtrading.infra.settings import Settings

TIMEOUT = 10.0


class GraphQLResponseError(AssertionError):
    """The response carried GraphQL errors."""


@dataclass
class Server:
    """A running app and clients for it."""

    app: Starlette
    url: str
    http: httpx.Client

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """POST a GraphQL document; the whole response body."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def gql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """POST a GraphQL document that must succeed; its `data`."""
        body = self.post(query, variables, token)
        if body.get("errors"):
            raise GraphQLResponseError(json.dumps(body["errors"], indent=1))
        data: dict[str, Any] = body["data"]
        return data

    def errors(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> list[dict[str, Any]]:
        """POST a GraphQL document that must fail; its errors."""
        body = self.post(query, variables, token)
        errors: list[dict[str, Any]] = body.get("errors") or []
        assert errors, f"expected errors, got {body}"
        return errors

    def admin(self, handle: str = "root") -> str:
        """Create an admin (as the CLI does) and return its token, usable at once."""
        outcome, token = create_admin(self.services.writer, handle)
        assert self.services.runner.wait_for(outcome.position, TIMEOUT)
        return token

    @contextmanager
    def ws(self, token: str | None = None) -> Iterator[Subscriber]:
        """A graphql-transport-ws connection, initialised (with the token, if any)."""
        with connect(
            self.url.replace("http://", "ws://") + "/graphql",
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]  # a Subprotocol
            open_timeout=TIMEOUT,
        ) as connection:
            payload = {"Authorization": f"Bearer {token}"} if token else {}
            connection.send(json.dumps({"type": "connection_init", "payload": payload}))
            subscriber = Subscriber(connection)
            message = subscriber.receive()
            assert message["type"] == "connection_ack", message
            yield subscriber

    def wait_for_listeners(self, topic: str, count: int = 1) -> None:
        """Wait until `count` subscriptions listen on a bus topic."""
        deadline = time.monotonic() + TIMEOUT
        while self.services.bus.subscriber_count(topic) < count:
            assert time.monotonic() < deadline, f"nobody subscribed to {topic}"
            time.sleep(0.01)


class Subscriber:
    """One websocket: start subscriptions, read their events."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self._pending: list[dict[str, Any]] = []

    def receive(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next protocol message (answering pings)."""
        while True:
            message: dict[str, Any] = json.loads(self.connection.recv(timeout))
            if message["type"] == "ping":
                self.connection.send(json.dumps({"type": "pong"}))
                continue
            return message

    def subscribe(self, id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        """Start a subscription."""
        payload = {"query": query, "variables": variables or {}}
        self.connection.send(json.dumps({"id": id, "type": "subscribe", "payload": payload}))

    def next(self, id: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next event's data of subscription `id`."""
        for index, message in enumerate(self._pending):
            if message["id"] == id:
                del self._pending[index]
                return _data(message)
        deadline = time.monotonic() + timeout
        while True:
            message = self.receive(max(0.01, deadline - time.monotonic()))
            if message.get("id") == id:
                return _data(message)
            self._pending.append(message)


def _data(message: dict[str, Any]) -> dict[str, Any]:
    if message["type"] != "next" or message["payload"].get("errors"):
        raise GraphQLResponseError(json.dumps(message, indent=1))
    data: dict[str, Any] = message["payload"]["data"]
    return data


@contextmanager
def running(
    settings: Settings,
    *,
    demo: bool = False,
    lock: StoreLock | None = None,
    announce: Callable[[dict[str, str]], None] = lambda _tokens: None,
) -> Iterator[Server]:
    """Serve the app on a free port until the block ends (a clean shutdown); the demo's
    tokens go to `announce`."""
    app = create_app(settings, demo=demo, announce=announce, lock=lock)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=5,
        **server_options(settings),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive(), "the server did not start (see the log above)"
        assert time.monotonic() < deadline, "the server took too long to start"
        time.sleep(0.01)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=TIMEOUT) as http:
            yield Server(app, url, http)
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
        assert not thread.is_alive(), "the server did not stop"
