"""The demo exchange (`serve --demo`) on a fresh SQLite store, for the client interop tests.

The store does not matter to what those tests check (what goes over the wire), so they run
on SQLite only.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from socialtrading.infra.settings import Settings
from tests.e2e.helpers import place
from tests.e2e.server import Server, running

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@contextmanager
def demo_server(folder: Path) -> Iterator[Server]:
    """Serve the demo exchange from a store in `folder`."""
    with running(Settings(store=f"sqlite:///{folder}/events.db"), demo=True) as server:
        yield server


def viewer_id(server: Server, token: str) -> str:
    """The account id of a token."""
    account: str = server.gql("{ me { id } }", token=token)["me"]["id"]
    return account


def buy_from_demo_maker(server: Server, token: str) -> dict[str, Any]:
    """Buy 0.01 BTC at the demo maker's best ask (60,050): one trade, the order filled."""
    result = place(server, token, market="BTC-USD", side="BUY", price="60050", quantity="0.01")
    assert result["__typename"] == "PlaceOrderSuccess", result
    assert result["order"]["status"] == "FILLED", result
    return result


def require_tool(name: str, path: str | None, why: str) -> str:
    """`path` if the tool is there; else skip the test (fail in CI, where it must be)."""
    if path is None or shutil.which(path) is None:
        message = f"{name} is not installed ({why})"
        if IN_CI:
            pytest.fail(f"{message}; CI installs it in .ci/run")
        pytest.skip(message)
    return path
