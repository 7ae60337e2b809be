"""Interop: the graphql-transport-ws reference client (npm graphql-ws on Node) subscribes.

The client lives in `tests/e2e/node/` (its package-lock.json pins it); `npm ci` installs it
there when its node_modules are missing or older than the lock file. Without Node the test
skips locally and fails in CI.
"""

from __future__ import annotations

import json
import selectors
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.demo import buy_from_demo_maker, demo_server, require_tool, viewer_id
from tests.e2e.server import Server

NODE_PROJECT = Path(__file__).parent / "node"


@pytest.fixture(scope="module")
def node() -> str:
    """The node executable, with the client's packages installed from the lock file."""
    node = require_tool("node", "node", "the graphql-ws interop test runs on Node")
    npm = require_tool("npm", "npm", "it installs the graphql-ws client")
    installed = NODE_PROJECT / "node_modules" / ".package-lock.json"
    lock = NODE_PROJECT / "package-lock.json"
    if not installed.is_file() or installed.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_PROJECT,
            check=True,
            timeout=300,
        )
    return node


def _lines(process: subprocess.Popen[str], until: float) -> list[dict[str, Any]]:
    """The client's JSON lines until it exits (or `until`, a monotonic deadline)."""
    assert process.stdout is not None
    lines: list[dict[str, Any]] = []
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < until:
            if not selector.select(max(0.0, until - time.monotonic())):
                break
            line = process.stdout.readline()
            if not line:
                break
            lines.append(json.loads(line))
    return lines


def _start(node: str, server: Server, token: str) -> subprocess.Popen[str]:
    url = server.url.replace("http://", "ws://") + "/graphql"
    return subprocess.Popen(
        [node, "subscribe.mjs", url, token],
        cwd=NODE_PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_listeners(server: Server, client: subprocess.Popen[str], topics: list[str]) -> None:
    """Wait until the client's subscriptions listen; fail with its output if it exits first."""
    deadline = time.monotonic() + 20
    while not all(server.services.bus.subscriber_count(topic) for topic in topics):
        if client.poll() is not None:
            output, errors = client.communicate()
            pytest.fail(f"the client exited ({client.returncode}) early:\n{output}{errors}")
        assert time.monotonic() < deadline, f"the client did not subscribe to {topics}"
        time.sleep(0.02)


def test_graphql_ws_reference_client_receives_trades_and_my_orders(
    node: str, tmp_path: Path
) -> None:
    with demo_server(tmp_path) as server:
        alice = server.app.state.demo_tokens["alice"]
        client = _start(node, server, alice)
        try:
            topics = ["trades:BTC-USD", f"orders:{viewer_id(server, alice)}"]
            _wait_for_listeners(server, client, topics)
            order = buy_from_demo_maker(server, alice)
            lines = _lines(client, time.monotonic() + 30)
            assert client.wait(10) == 0, (lines, client.stderr and client.stderr.read())
        finally:
            client.kill()
            client.wait()
            for stream in (client.stdout, client.stderr):
                if stream is not None:
                    stream.close()

    assert lines[0] == {"step": "connected"}
    events = {line["subscription"]: line["result"] for line in lines if "subscription" in line}
    trade = events["trades"]["data"]["trades"]
    assert trade["market"] == "BTC-USD" and trade["takerSide"] == "BUY"
    assert (trade["price"], trade["quantity"]) == ("60050", "0.01")
    mine = events["myOrders"]["data"]["myOrders"]
    assert mine["id"] == order["order"]["id"]
    assert mine["market"] == "BTC-USD" and mine["side"] == "BUY"
