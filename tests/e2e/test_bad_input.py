"""Malformed and impossible input is refused with a code, and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.helpers import (
    DEPOSIT,
    PLACE,
    balances,
    book,
    deposit,
    list_market,
    place,
    register,
)
from tests.e2e.server import Server

GOOD = {"market": "BTC-USD", "side": "BUY", "price": "100", "quantity": "1"}


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"price": "NaN"}, "invalid_input", "price: Input should be a finite number"),
        ({"price": "Infinity"}, "invalid_input", "price"),
        ({"price": "100.001"}, "price_not_on_tick", "tick"),
        ({"quantity": "0.00001"}, "qty_not_on_lot", "lot"),
        ({"quantity": "-1"}, "invalid_input", "quantity: Input should be greater than 0"),
        ({"market": "NOPE-USD"}, "unknown_market", "NOPE-USD"),
        ({"market": "btc"}, "invalid_input", "market"),
        ({"price": None}, "invalid_input", "a limit order needs a price"),
        ({"timeInForce": "GTD"}, "invalid_input", "expires_at"),
        ({"quantity": "100000"}, "insufficient_funds", "insufficient_funds"),
    ],
)
def test_a_bad_order_is_rejected_and_changes_nothing(
    server: Server, change: dict[str, Any], code: str, words: str
) -> None:
    list_market(server, server.admin())
    _, alice = register(server, "alice")
    deposit(server, alice, "USD", "1000")
    place(server, alice, market="BTC-USD", side="BUY", price="90", quantity="1")
    before = (balances(server, alice), book(server))

    rejected = place(server, alice, **{**GOOD, **change})
    assert rejected["__typename"] == "Rejection", rejected
    assert rejected["code"] == code
    assert words in rejected["message"]
    assert "Traceback" not in json.dumps(rejected)
    assert (balances(server, alice), book(server)) == before


def test_decimals_travel_as_strings_never_floats(server: Server) -> None:
    list_market(server, server.admin())
    _, alice = register(server, "alice")
    errors = server.errors(PLACE, {"input": {**GOOD, "price": 100.5}}, token=alice)
    assert "as a string" in errors[0]["message"]
    errors = server.errors(DEPOSIT, {"asset": "USD", "amount": "lots"}, token=alice)
    assert "not a decimal number" in errors[0]["message"]
    refused = server.gql(DEPOSIT, {"asset": "USD", "amount": "-5"}, token=alice)["deposit"]
    assert (refused["code"], refused["message"]) == (
        "invalid_input",
        "amount: Input should be greater than 0",
    )
    assert balances(server, alice) == {}
    # A number literal in the document is exact (its text is parsed, not a float).
    literal = (
        'mutation { deposit(asset: "USD", amount: 0.1) '
        "{ ... on DepositSuccess { balance { available } } } }"
    )
    assert server.gql(literal, token=alice)["deposit"]["balance"]["available"] == "0.1"


def test_a_taken_handle_and_a_bad_handle_are_rejected(server: Server) -> None:
    register(server, "alice")
    taken = server.gql(
        'mutation { registerTrader(handle: "ALICE") { ... on Rejection { code } } }'
    )["registerTrader"]
    assert taken == {"code": "handle_taken"}
    bad = server.gql(
        'mutation { registerTrader(handle: "a b") { ... on Rejection { code message } } }'
    )["registerTrader"]
    assert bad["code"] == "invalid_input" and bad["message"].startswith("handle:")
