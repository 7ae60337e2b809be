"""Time travel over GraphQL, on both backends: `orderBook`, `account` and `leaderboard` as of
a time or a log position answer what the live API answered then; who may ask; bad input."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from socialtrading.infra.settings import Settings
from tests.e2e.helpers import BTC_USD, ORDER_FIELDS, deposit, list_market, place, register
from tests.e2e.server import Server, running

ACCOUNT = f"""
query Account($handle: String!, $asOf: DateTime, $atPosition: Int) {{
  account(handle: $handle, asOf: $asOf, atPosition: $atPosition) {{
    handle kycLevel roles
    balances {{ asset available reserved }}
    openOrders {{ {ORDER_FIELDS} stopPrice updatedAt }}
    positions {{ market quantity averageEntryPrice markPrice unrealizedPnl }}
  }}
}}
"""
BOOK = """
query Book($market: String!, $asOf: DateTime, $atPosition: Int) {
  orderBook(market: $market, depth: 50, asOf: $asOf, atPosition: $atPosition) {
    market bids { price quantity orders } asks { price quantity orders }
  }
}
"""
BOARD = """
query Board($asOf: DateTime, $atPosition: Int) {
  leaderboard(metric: TRADES, window: D7, asOf: $asOf, atPosition: $atPosition) {
    edges { node { rank account { handle } stats { trades } } }
  }
}
"""
GRANT = """
mutation Grant($account: ID!) {
  grantRole(account: $account, role: COMPLIANCE) { __typename }
}
"""
CANCEL = "mutation Cancel($id: ID!) { cancelOrder(orderId: $id) { __typename } }"


@pytest.fixture
def server(store_settings: Settings) -> Iterator[Server]:
    """The app with demo funding, small snapshots, and no leaderboard minimums."""
    settings = store_settings.model_copy(
        update={
            "demo_funding": True,
            "snapshot_interval": 3,
            "leaderboard_min_trades": 0,
            "leaderboard_min_days": 0,
        }
    )
    with running(settings) as server:
        yield server


def _head(server: Server) -> int:
    return server.services.writer.store.recorder.max_notification_id() or 0


def _analyst(server: Server, admin: str) -> str:
    """A trader granted the compliance role; their token."""
    account, token = register(server, "analyst")
    assert server.gql(GRANT, {"account": account}, token=admin)["grantRole"] == {
        "__typename": "GrantRoleSuccess"
    }
    return token


def _codes(server: Server, query: str, variables: dict[str, Any], token: str | None) -> list[str]:
    return [e["extensions"]["code"] for e in server.errors(query, variables, token=token)]


def test_the_past_is_what_the_api_answered_then(server: Server) -> None:
    admin = server.admin()
    assert list_market(server, admin)["__typename"] == "ListMarketSuccess"
    _, alice = register(server, "alice")
    _, bob = register(server, "bob")
    analyst = _analyst(server, admin)
    steps: list[Any] = [
        lambda: deposit(server, alice, "USD", "10000"),
        lambda: deposit(server, bob, "BTC", "10"),
        lambda: place(server, alice, market="BTC-USD", side="BUY", price="99", quantity="2"),
        lambda: place(server, alice, market="BTC-USD", side="BUY", price="98.5", quantity="1"),
        lambda: place(server, bob, market="BTC-USD", side="SELL", price="101", quantity="3"),
        lambda: place(server, bob, market="BTC-USD", side="SELL", price="99", quantity="0.5"),
        lambda: place(server, alice, market="BTC-USD", side="BUY", price="101", quantity="1"),
        lambda: place(
            server,
            alice,
            market="BTC-USD",
            side="BUY",
            price="103",
            quantity="0.4",
            stopPrice="102",
        ),
        lambda: place(server, bob, market="BTC-USD", side="SELL", price="98", quantity="1.2"),
    ]
    seen = []
    for step in steps:
        result = step()
        assert result["__typename"].endswith("Success"), result
        moment = datetime.now(UTC)
        time.sleep(0.002)  # the next command's sequencer time lies after `moment`
        live_book = server.gql(BOOK, {"market": "BTC-USD"})["orderBook"]
        live_alice = server.gql(ACCOUNT, {"handle": "alice"}, token=alice)["account"]
        seen.append((_head(server), moment, live_book, live_alice))
    open_now = seen[-1][3]["openOrders"]
    assert open_now and seen[-1][3]["positions"]  # the scenario leaves both
    cancelled = server.gql(CANCEL, {"id": open_now[0]["id"]}, token=alice)["cancelOrder"]
    assert cancelled == {"__typename": "CancelOrderSuccess"}
    for position, moment, live_book, live_alice in seen:
        for point in ({"atPosition": position}, {"asOf": moment.isoformat()}):
            past_book = server.gql(BOOK, {"market": "BTC-USD", **point}, token=analyst)
            assert past_book["orderBook"] == live_book, point
            for token in (analyst, alice, admin):
                past = server.gql(ACCOUNT, {"handle": "alice", **point}, token=token)
                assert past["account"] == live_alice, point
    # the leaderboard is kept by day: a position of today reads today's (live) figures
    board = server.gql(BOARD, {})["leaderboard"]
    assert board["edges"]  # alice and bob traded
    assert server.gql(BOARD, {"atPosition": seen[-1][0]}, token=analyst)["leaderboard"] == board
    # before the market was listed, and before alice signed up
    first = {"atPosition": 1}
    assert _codes(server, BOOK, {"market": "BTC-USD", **first}, admin) == ["UNKNOWN_MARKET"]
    assert server.gql(ACCOUNT, {"handle": "alice", **first}, token=admin)["account"] is None


def test_who_may_read_the_past(server: Server) -> None:
    admin = server.admin()
    assert list_market(server, admin, **BTC_USD)["__typename"] == "ListMarketSuccess"
    _, alice = register(server, "alice")
    _, bob = register(server, "bob")
    analyst = _analyst(server, admin)
    point = {"atPosition": _head(server)}
    book = {"market": "BTC-USD", **point}
    alices = {"handle": "alice", **point}
    cases = [  # (token, book, alice's account, bob's account, leaderboard at a position)
        (None, "UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED"),
        (alice, "FORBIDDEN", None, "FORBIDDEN", "FORBIDDEN"),
        (bob, "FORBIDDEN", "FORBIDDEN", None, "FORBIDDEN"),
        (analyst, None, None, None, None),
        (admin, None, None, None, None),
    ]
    for token, on_book, on_alice, on_bob, on_board in cases:
        for query, variables, refused in (
            (BOOK, book, on_book),
            (ACCOUNT, alices, on_alice),
            (ACCOUNT, {"handle": "bob", **point}, on_bob),
            (BOARD, point, on_board),
        ):
            if refused is None:
                assert server.post(query, variables, token=token).get("errors") is None
            else:
                assert _codes(server, query, variables, token) == [refused], (token, query)
    # the leaderboard's `asOf` stays public (daily closes), and live reads stay as they were
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert server.gql(BOARD, {"asOf": yesterday})["leaderboard"]["edges"] == []
    assert server.gql(BOOK, {"market": "BTC-USD"})["orderBook"]["market"] == "BTC-USD"


def test_bad_points_are_refused_with_a_clear_code(server: Server) -> None:
    admin = server.admin()
    assert list_market(server, admin)["__typename"] == "ListMarketSuccess"
    head = _head(server)
    future = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    now = datetime.now(UTC).isoformat()
    bad: list[tuple[dict[str, Any], str]] = [
        ({"atPosition": 0}, "POSITION_RANGE"),
        ({"atPosition": -3}, "POSITION_RANGE"),
        ({"atPosition": head + 1}, "POSITION_RANGE"),
        ({"asOf": future}, "AS_OF_FUTURE"),
        ({"asOf": now, "atPosition": head}, "AS_OF_CONFLICT"),
    ]
    for point, code in bad:
        for query, variables in (
            (BOOK, {"market": "BTC-USD", **point}),
            (ACCOUNT, {"handle": "root", **point}),
            (BOARD, point),
        ):
            assert _codes(server, query, variables, admin) == [code], (point, query)
    assert _codes(server, BOARD, {"asOf": future}, None) == ["AS_OF_FUTURE"]
    assert _codes(server, BOOK, {"market": "NOPE-USD", "atPosition": head}, admin) == [
        "UNKNOWN_MARKET"
    ]
    # fields that only know the present say so instead of answering with today's data
    for field in ("orders { edges { node { id } } }", "tokens { id }"):
        query = 'query($at: Int) { account(handle: "root", atPosition: $at) { ' + field + " } }"
        assert _codes(server, query, {"at": head}, admin) == ["AS_OF_UNSUPPORTED"]
    # a position picks the day of its event for the leaderboard
    assert server.gql(BOARD, {"atPosition": head}, token=admin)["leaderboard"]["edges"] == []
