"""graphql-transport-ws messages go out as TEXT frames (JSON text), never binary ones."""

from __future__ import annotations

import json
from pathlib import Path

from websockets.sync.client import connect

from tests.e2e.demo import buy_from_demo_maker, demo_server
from tests.e2e.server import TIMEOUT


def test_every_server_message_is_a_text_frame(tmp_path: Path) -> None:
    with demo_server(tmp_path) as server:
        alice = server.app.state.demo_tokens["alice"]
        with connect(
            server.url.replace("http://", "ws://") + "/graphql",
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]  # a Subprotocol
            open_timeout=TIMEOUT,
        ) as connection:

            def receive() -> dict[str, object]:
                frame = connection.recv(TIMEOUT)
                # websockets gives str for a text frame, bytes for a binary one
                assert isinstance(frame, str), f"binary frame: {frame!r}"
                message: dict[str, object] = json.loads(frame)
                return message

            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {alice}"}}
            connection.send(json.dumps(init))
            assert receive() == {"type": "connection_ack"}
            connection.send(json.dumps({"type": "ping"}))
            assert receive() == {"type": "pong"}
            query = 'subscription { trades(market: "BTC-USD") { price quantity } }'
            connection.send(
                json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}})
            )
            bad = "subscription { myOrders { nope } }"
            connection.send(json.dumps({"id": "2", "type": "subscribe", "payload": {"query": bad}}))
            refused = receive()
            assert (refused["id"], refused["type"]) == ("2", "error")

            server.wait_for_listeners("trades:BTC-USD")
            buy_from_demo_maker(server, alice)
            event = receive()
            assert event == {
                "id": "1",
                "type": "next",
                "payload": {"data": {"trades": {"price": "60050", "quantity": "0.01"}}},
            }
