"""`auditTrail` over HTTP: compliance analysts and admins read any trail; traders (even of
their own account), moderators and anonymous callers never; one subject; pages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.helpers import deposit, list_market, place, register
from tests.e2e.server import Server
from tests.e2e.social import GRANT

TRAIL = """
query Trail($orderId: ID, $account: String, $postId: ID, $first: Int, $after: String) {
  auditTrail(orderId: $orderId, account: $account, postId: $postId, first: $first,
             after: $after) {
    edges { cursor node { position at aggregate aggregateId version type actor commandId
                          summary data truncated } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


class Cast:
    """An admin, two traders with crossing orders, a compliance analyst, a moderator."""

    def __init__(self, server: Server) -> None:
        self.admin = server.admin()
        list_market(server, self.admin)
        self.alice_id, self.alice = register(server, "alice")
        self.bob_id, self.bob = register(server, "bob")
        deposit(server, self.alice, "USD", "1000")
        deposit(server, self.bob, "BTC", "1")
        self.order = place(
            server, self.alice, market="BTC-USD", side="BUY", price="100", quantity="0.5"
        )["order"]["id"]
        place(server, self.bob, market="BTC-USD", side="SELL", price="100", quantity="0.2")
        self.analyst_id, self.analyst = register(server, "analyst")
        self.mod_id, self.mod = register(server, "mod")
        for account, role in ((self.analyst_id, "COMPLIANCE"), (self.mod_id, "MODERATOR")):
            granted = server.gql(GRANT, {"account": account, "role": role}, token=self.admin)
            assert granted["grantRole"]["__typename"] == "GrantRoleSuccess", granted


@pytest.fixture
def cast(server: Server) -> Cast:
    return Cast(server)


def _nodes(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in result["auditTrail"]["edges"]]


def test_only_compliance_and_admins_read_trails(server: Server, cast: Cast) -> None:
    subjects: list[dict[str, Any]] = [
        {"orderId": cast.order},
        {"account": "alice"},
        {"account": cast.alice_id},
    ]
    for variables in subjects:
        assert server.errors(TRAIL, variables)[0]["extensions"]["code"] == "UNAUTHENTICATED"
        # a trader may not read a trail, even their own order's or account's
        for token in (cast.alice, cast.bob, cast.mod):
            errors = server.errors(TRAIL, variables, token=token)
            assert errors[0]["extensions"]["code"] == "FORBIDDEN", (variables, token)
            assert "compliance" in errors[0]["message"]
        for token in (cast.analyst, cast.admin):
            assert _nodes(server.gql(TRAIL, variables, token=token)), (variables, token)


def test_an_orders_trail_says_who_did_what(server: Server, cast: Cast) -> None:
    nodes = _nodes(server.gql(TRAIL, {"orderId": cast.order}, token=cast.analyst))
    assert [(n["type"], n["aggregate"], n["actor"]) for n in nodes] == [
        ("OrderAccepted", "market", cast.alice_id),
        ("LedgerPosted", "account", None),  # alice's reservation
        ("OrderAccepted", "market", cast.bob_id),  # bob's sell filled it in part
        ("LedgerPosted", "account", None),  # alice's settlement
    ]
    assert nodes[1]["aggregateId"] == nodes[3]["aggregateId"] == cast.alice_id
    positions = [int(n["position"]) for n in nodes]
    assert positions == sorted(positions)
    accepted = json.loads(nodes[0]["data"])
    assert accepted["records"][0]["price"] == "100" and accepted["order_id"] == cast.order
    assert nodes[0]["truncated"] is False and nodes[0]["commandId"]
    assert "trade price=100 qty=0.2" in nodes[2]["summary"]


def test_pages_follow_the_cursor(server: Server, cast: Cast) -> None:
    whole = _nodes(server.gql(TRAIL, {"account": "alice", "first": 100}, token=cast.admin))
    assert len(whole) > 4
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        page = server.gql(
            TRAIL, {"account": "alice", "first": 2, "after": after}, token=cast.admin
        )["auditTrail"]
        seen += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == whole


BAD_ARGUMENTS: list[tuple[dict[str, Any], str]] = [
    ({}, "BAD_SUBJECT"),
    ({"account": "alice", "orderId": "0" * 32}, "BAD_SUBJECT"),
    ({"orderId": "x" * 5000}, "BAD_SUBJECT"),
    ({"postId": "not-a-uuid"}, "BAD_SUBJECT"),
    ({"account": "alice", "first": 0}, "PAGE_SIZE"),
    ({"account": "alice", "first": 101}, "PAGE_SIZE"),
    ({"account": "alice", "after": "bm90IGEgY3Vyc29y"}, "BAD_CURSOR"),
]


def test_bad_arguments_are_refused(server: Server, cast: Cast) -> None:
    for variables, code in BAD_ARGUMENTS:
        errors = server.errors(TRAIL, variables, token=cast.analyst)
        assert errors[0]["extensions"]["code"] == code, variables
        assert len(errors[0]["message"]) < 200
