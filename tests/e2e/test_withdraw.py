"""Withdrawals through the API: only what is available, never what orders have reserved."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.e2e.helpers import balances, deposit, list_market, place, register
from tests.e2e.server import Server

WITHDRAW = """
mutation Withdraw($asset: String!, $amount: Decimal!) {
  withdraw(asset: $asset, amount: $amount) {
    __typename
    ... on WithdrawSuccess { balance { asset available reserved } }
    ... on Rejection { code message }
  }
}
"""


def withdraw(server: Server, token: str, asset: str, amount: str) -> dict[str, Any]:
    result: dict[str, Any] = server.gql(WITHDRAW, {"asset": asset, "amount": amount}, token=token)[
        "withdraw"
    ]
    return result


def test_a_withdrawal_takes_available_funds_and_never_reserved_ones(server: Server) -> None:
    assert list_market(server, server.admin())["__typename"] == "ListMarketSuccess"
    _, alice = register(server, "alice")
    deposit(server, alice, "USD", "1000")
    placed = place(
        server, alice, market="BTC-USD", side="BUY", price="100", quantity="3"
    )  # reserves 300 plus the most fee it could pay
    assert placed["__typename"] == "PlaceOrderSuccess", placed
    available, reserved = balances(server, alice)["USD"]
    assert reserved != "0"

    taken = withdraw(server, alice, "USD", "250")
    assert taken == {
        "__typename": "WithdrawSuccess",
        "balance": {
            "asset": "USD",
            "available": str(Decimal(available) - 250),
            "reserved": reserved,
        },
    }
    refused = withdraw(server, alice, "USD", available)  # more than is left available
    assert refused["__typename"] == "Rejection" and refused["code"] == "insufficient_funds"
    assert balances(server, alice)["USD"] == (str(Decimal(available) - 250), reserved)


def test_withdrawals_need_a_token_and_valid_amounts(server: Server) -> None:
    list_market(server, server.admin())  # deposits are of listed assets
    _, alice = register(server, "alice")
    deposit(server, alice, "USD", "10")
    assert withdraw(server, "", "USD", "1")["code"] == "unauthenticated"
    for amount in ("0", "-1", "NaN"):
        refused = withdraw(server, alice, "USD", amount)
        assert refused["code"] == "invalid_input", (amount, refused)
    assert withdraw(server, alice, "BTC", "1")["code"] == "insufficient_funds"
    assert balances(server, alice) == {"USD": ("10", "0")}
