"""Who may do what: tokens, ownership and roles, on mutations, private fields and feeds."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed

from socialtrading.infra.settings import Settings
from tests.e2e.helpers import (
    BTC_USD,
    CANCEL,
    DEPOSIT,
    LIST_MARKET,
    ME,
    balances,
    book,
    deposit,
    list_market,
    place,
    register,
)
from tests.e2e.server import Server, running

HALT = """
mutation Halt($market: String!) {
  haltMarket(market: $market) {
    __typename
    ... on MarketControlSuccess { market { symbol halted } }
    ... on Rejection { code message }
  }
}
"""
VERIFY = """
mutation Verify($account: ID!) {
  verifyKyc(account: $account, level: 2) {
    __typename
    ... on VerifyKycSuccess { account { handle kycLevel } }
    ... on Rejection { code message }
  }
}
"""
ORDER = "query Order($id: ID!) { order(id: $id) { id status } }"
PROFILE = (
    "query Profile($handle: String!) { account(handle: $handle) { handle balances { asset } } }"
)


def test_without_a_token_mutations_are_rejected_and_private_queries_fail(server: Server) -> None:
    list_market(server, server.admin())
    placed = place(server, "", market="BTC-USD", side="BUY", price="1", quantity="1")
    assert placed == {
        "__typename": "Rejection",
        "code": "unauthenticated",
        "message": placed["message"],
    }
    assert deposit(server, "", "USD", "1")["code"] == "unauthenticated"
    errors = server.errors(ME)
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Traceback" not in json.dumps(errors)
    # A token that is not one of ours is no better than none.
    assert server.errors(ME, token="forged")[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert deposit(server, "forged", "USD", "1")["code"] == "unauthenticated"


def test_a_trader_cannot_cancel_or_read_another_traders_order(server: Server) -> None:
    list_market(server, server.admin())
    _, alice = register(server, "alice")
    _, mallory = register(server, "mallory")
    deposit(server, alice, "USD", "1000")
    order = place(server, alice, market="BTC-USD", side="BUY", price="90", quantity="1")["order"]

    # Someone else's order answers exactly as an order that does not exist.
    refused = server.gql(CANCEL, {"id": order["id"]}, token=mallory)["cancelOrder"]
    assert (refused["__typename"], refused["code"]) == ("Rejection", "unknown_order")
    unknown = "0" * len(order["id"])
    missing = server.gql(CANCEL, {"id": unknown}, token=mallory)["cancelOrder"]
    assert missing["message"].replace(unknown, "<id>") == refused["message"].replace(
        order["id"], "<id>"
    )
    assert book(server)["bids"] == [{"price": "90", "quantity": "1", "orders": 1}]

    # someone else's order reads exactly as one that does not exist
    assert server.post(ORDER, {"id": order["id"]}, token=mallory) == {"data": {"order": None}}
    assert server.post(ORDER, {"id": "no-such-order"}, token=mallory) == {"data": {"order": None}}
    assert server.gql(ORDER, {"id": order["id"]}, token=alice)["order"]["status"] == "OPEN"
    errors = server.errors(PROFILE, {"handle": "alice"}, token=mallory)
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert server.gql(PROFILE, {"handle": "alice"}, token=alice)["account"]["balances"] == [
        {"asset": "USD"}
    ]


def test_admin_mutations_need_the_admin_role(server: Server) -> None:
    admin = server.admin()
    alice_id, alice = register(server, "alice")
    assert list_market(server, alice) == {
        "__typename": "Rejection",
        "code": "not_authorized",
        "message": "This needs the admin role",
    }
    assert server.gql(LIST_MARKET, {"input": BTC_USD})["listMarket"]["code"] == "unauthenticated"
    list_market(server, admin)
    assert server.gql(HALT, {"market": "BTC-USD"}, token=alice)["haltMarket"]["code"] == (
        "not_authorized"
    )
    assert server.gql(VERIFY, {"account": alice_id}, token=alice)["verifyKyc"]["code"] == (
        "not_authorized"
    )
    # Crediting someone else is for admins.
    _, bob = register(server, "bob")
    credit = {"asset": "USD", "amount": "5", "account": alice_id}
    assert server.gql(DEPOSIT, credit, token=bob)["deposit"]["code"] == "not_authorized"
    assert server.gql(DEPOSIT, credit, token=admin)["deposit"]["__typename"] == "DepositSuccess"
    assert balances(server, alice) == {"USD": ("5", "0")}

    halted = server.gql(HALT, {"market": "BTC-USD"}, token=admin)["haltMarket"]
    assert halted["market"] == {"symbol": "BTC-USD", "halted": True}
    verified = server.gql(VERIFY, {"account": alice_id}, token=admin)["verifyKyc"]
    assert verified["account"] == {"handle": "alice", "kycLevel": 2}


def test_without_demo_funding_traders_cannot_credit_themselves(store_settings: Settings) -> None:
    with running(store_settings) as server:
        admin = server.admin()
        alice_id, alice = register(server, "alice")
        assert deposit(server, alice, "USD", "100")["code"] == "not_authorized"
        # And without KYC they cannot trade, even when an admin funds them.
        list_market(server, admin)
        credit = {"asset": "USD", "amount": "100", "account": alice_id}
        assert server.gql(DEPOSIT, credit, token=admin)["deposit"]["__typename"] == (
            "DepositSuccess"
        )
        placed = place(server, alice, market="BTC-USD", side="BUY", price="1", quantity="1")
        assert placed["code"] == "kyc_required"


def test_websockets_need_a_valid_token_for_private_feeds(server: Server) -> None:
    with server.ws() as anonymous:
        anonymous.subscribe("mine", "subscription { myOrders { id } }")
        message = anonymous.receive()
    assert message["type"] == "error"
    assert message["payload"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    with pytest.raises(ConnectionClosed) as closed, server.ws("forged"):
        pass
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


ISSUE_TOKEN = """
mutation { issueToken {
  __typename
  ... on IssueTokenSuccess { token }
  ... on Rejection { code message }
} }
"""


def test_a_trader_issues_another_token_and_both_work(server: Server) -> None:
    list_market(server, server.admin())  # deposits are of listed assets
    alice_id, first = register(server, "alice")
    issued = server.gql(ISSUE_TOKEN, token=first)["issueToken"]
    assert issued["__typename"] == "IssueTokenSuccess", issued
    second = issued["token"]
    assert second != first
    for token in (first, second):
        me = server.gql(ME, token=token)["me"]
        assert me["id"] == alice_id and me["handle"] == "alice"
    deposit(server, second, "USD", "5")
    assert balances(server, first) == {"USD": ("5", "0")}
    refused = server.gql(ISSUE_TOKEN, token="")["issueToken"]
    assert refused == {
        "__typename": "Rejection",
        "code": "unauthenticated",
        "message": refused["message"],
    }
