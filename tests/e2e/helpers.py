"""GraphQL documents and small steps the end-to-end tests share."""

from __future__ import annotations

from typing import Any

from tests.e2e.server import Server

REGISTER = """
mutation Register($handle: String!) {
  registerTrader(handle: $handle) {
    __typename
    ... on RegisterSuccess { account { id handle kycLevel } token }
    ... on Rejection { code message }
  }
}
"""

DEPOSIT = """
mutation Deposit($asset: String!, $amount: Decimal!, $account: ID) {
  deposit(asset: $asset, amount: $amount, account: $account) {
    __typename
    ... on DepositSuccess { balance { asset available reserved } }
    ... on Rejection { code message }
  }
}
"""

ORDER_FIELDS = """
id market side type price quantity filledQuantity openQuantity status timeInForce
postOnly reason createdAt
"""

PLACE = f"""
mutation Place($input: PlaceOrderInput!) {{
  placeOrder(input: $input) {{
    __typename
    ... on PlaceOrderSuccess {{ order {{ {ORDER_FIELDS} }} }}
    ... on Rejection {{ code message }}
  }}
}}
"""

CANCEL = f"""
mutation Cancel($id: ID!) {{
  cancelOrder(orderId: $id) {{
    __typename
    ... on CancelOrderSuccess {{ order {{ {ORDER_FIELDS} }} }}
    ... on Rejection {{ code message }}
  }}
}}
"""

LIST_MARKET = """
mutation List($input: ListMarketInput!) {
  listMarket(input: $input) {
    __typename
    ... on ListMarketSuccess { market { symbol tickSize lotSize makerFeeBps takerFeeBps } }
    ... on Rejection { code message }
  }
}
"""

ME = """
query Me {
  me {
    id handle
    balances { asset available reserved }
    openOrders { id status openQuantity }
    positions { market quantity averageEntryPrice markPrice unrealizedPnl }
  }
}
"""

BOOK = """
query Book($market: String!, $depth: Int) {
  orderBook(market: $market, depth: $depth) {
    market
    bids { price quantity orders }
    asks { price quantity orders }
  }
}
"""

TRADES = """
query Trades($market: String!, $first: Int, $after: String) {
  trades(market: $market, first: $first, after: $after) {
    edges { cursor node { id market price quantity takerSide executedAt } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

BTC_USD = {
    "symbol": "BTC-USD",
    "tickSize": "0.01",
    "lotSize": "0.0001",
    "makerFeeBps": 10,
    "takerFeeBps": 20,
}


def register(server: Server, handle: str) -> tuple[str, str]:
    """Sign a trader up; (account id, token)."""
    result = server.gql(REGISTER, {"handle": handle})["registerTrader"]
    assert result["__typename"] == "RegisterSuccess", result
    return result["account"]["id"], result["token"]


def deposit(server: Server, token: str, asset: str, amount: str) -> dict[str, Any]:
    """Credit the caller; the result member."""
    result: dict[str, Any] = server.gql(DEPOSIT, {"asset": asset, "amount": amount}, token=token)[
        "deposit"
    ]
    return result


def place(server: Server, token: str, **order: Any) -> dict[str, Any]:
    """Place an order (input fields as keyword arguments); the result member."""
    result: dict[str, Any] = server.gql(PLACE, {"input": order}, token=token)["placeOrder"]
    return result


def list_market(server: Server, admin_token: str, **spec: Any) -> dict[str, Any]:
    """List a market (BTC-USD by default) as an admin; the result member."""
    result: dict[str, Any] = server.gql(
        LIST_MARKET, {"input": {**BTC_USD, **spec}}, token=admin_token
    )["listMarket"]
    return result


def balances(server: Server, token: str) -> dict[str, tuple[str, str]]:
    """The caller's balances: asset -> (available, reserved)."""
    rows = server.gql(ME, token=token)["me"]["balances"]
    return {row["asset"]: (row["available"], row["reserved"]) for row in rows}


def book(server: Server, market: str = "BTC-USD") -> dict[str, Any]:
    """The order book."""
    result: dict[str, Any] = server.gql(BOOK, {"market": market})["orderBook"]
    return result
