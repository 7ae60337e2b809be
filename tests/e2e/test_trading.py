"""Two traders trade through the API; the tape, the book, balances and live feeds agree."""

from __future__ import annotations

from tests.e2e.helpers import (
    BOOK,
    CANCEL,
    ME,
    TRADES,
    balances,
    book,
    deposit,
    list_market,
    place,
    register,
)
from tests.e2e.server import Server, Subscriber

TRADES_LIVE = """
subscription Tape($market: String!) {
  trades(market: $market) { market price quantity takerSide }
}
"""
BOOK_LIVE = """
subscription Book($market: String!) {
  orderBook(market: $market, depth: 5) { bids { price quantity } asks { price quantity } }
}
"""
MY_ORDERS = "subscription { myOrders { id side status filledQuantity openQuantity } }"


def test_crossing_orders_trade_and_the_tape_book_balances_and_feeds_show_it(
    server: Server,
) -> None:
    assert list_market(server, server.admin())["__typename"] == "ListMarketSuccess"
    alice_id, alice = register(server, "alice")
    bob_id, bob = register(server, "bob")
    assert deposit(server, alice, "USD", "1000")["balance"] == {
        "asset": "USD",
        "available": "1000",
        "reserved": "0",
    }
    assert deposit(server, bob, "BTC", "2")["__typename"] == "DepositSuccess"

    with server.ws() as public, server.ws(alice) as private:
        watch_the_trade(server, public, private, alice, alice_id, bob, bob_id)


def watch_the_trade(
    server: Server,
    public: Subscriber,
    private: Subscriber,
    alice: str,
    alice_id: str,
    bob: str,
    bob_id: str,
) -> None:
    """Bob sells, Alice buys; check every view, then Bob cancels the rest."""
    public.subscribe("book", BOOK_LIVE, {"market": "BTC-USD"})
    assert public.next("book")["orderBook"] == {"bids": [], "asks": []}  # the snapshot first
    public.subscribe("tape", TRADES_LIVE, {"market": "BTC-USD"})
    private.subscribe("mine", MY_ORDERS)
    server.wait_for_listeners("trades:BTC-USD")
    server.wait_for_listeners(f"orders:{alice_id}")

    sell = place(server, bob, market="BTC-USD", side="SELL", price="100", quantity="1.5")
    assert sell["__typename"] == "PlaceOrderSuccess", sell
    assert sell["order"]["status"] == "OPEN"
    assert public.next("book")["orderBook"] == {
        "bids": [],
        "asks": [{"price": "100", "quantity": "1.5"}],
    }

    buy = place(server, alice, market="BTC-USD", side="BUY", price="101", quantity="1")
    assert buy["__typename"] == "PlaceOrderSuccess", buy
    order = buy["order"]
    assert (order["status"], order["filledQuantity"], order["openQuantity"]) == ("FILLED", "1", "0")
    assert (order["side"], order["type"], order["timeInForce"]) == ("BUY", "LIMIT", "GTC")
    assert order["createdAt"].endswith("Z")

    # The tape, over HTTP and live.
    tape = server.gql(TRADES, {"market": "BTC-USD"})["trades"]
    assert [edge["node"]["price"] for edge in tape["edges"]] == ["100"]
    trade = tape["edges"][0]["node"]
    assert (trade["quantity"], trade["takerSide"]) == ("1", "BUY")
    assert public.next("tape")["trades"] == {
        "market": "BTC-USD",
        "price": "100",
        "quantity": "1",
        "takerSide": "BUY",
    }

    # The book: what is left of the sell order.
    assert book(server) == {
        "market": "BTC-USD",
        "bids": [],
        "asks": [{"price": "100", "quantity": "0.5", "orders": 1}],
    }
    assert public.next("book")["orderBook"]["asks"] == [{"price": "100", "quantity": "0.5"}]

    # Both traders' money: 100 USD for 1 BTC, taker fee 20 bps, maker fee 10 bps.
    assert balances(server, alice) == {"BTC": ("1", "0"), "USD": ("899.8", "0")}
    assert balances(server, bob) == {"BTC": ("0.5", "0.5"), "USD": ("99.9", "0")}
    me = server.gql(ME, token=alice)["me"]
    assert me["id"] == alice_id and me["handle"] == "alice"
    assert me["openOrders"] == []
    assert me["positions"] == [
        {
            "market": "BTC-USD",
            "quantity": "1",
            "averageEntryPrice": "100",
            "markPrice": "100",
            "unrealizedPnl": "0",
        }
    ]
    bob_me = server.gql(ME, token=bob)["me"]
    assert [(o["status"], o["openQuantity"]) for o in bob_me["openOrders"]] == [
        ("PARTIALLY_FILLED", "0.5")
    ]
    assert bob_me["id"] == bob_id

    # Alice's own order feed ends with her order filled.
    seen = private.next("mine")["myOrders"]
    while seen["status"] != "FILLED":
        seen = private.next("mine")["myOrders"]
    assert (seen["id"], seen["filledQuantity"]) == (order["id"], "1")

    # Bob cancels the rest: the book empties and his reservation comes back.
    cancelled = server.gql(CANCEL, {"id": sell["order"]["id"]}, token=bob)["cancelOrder"]
    assert cancelled["__typename"] == "CancelOrderSuccess", cancelled
    assert cancelled["order"]["status"] == "CANCELLED"
    assert book(server)["asks"] == []
    assert public.next("book")["orderBook"] == {"bids": [], "asks": []}
    assert balances(server, bob)["BTC"] == ("1", "0")


ORDERS_PAGE = """
query Orders($first: Int, $after: String) {
  me { orders(first: $first, after: $after) {
    edges { cursor node { id price } }
    pageInfo { hasNextPage endCursor }
  } }
}
"""


def test_trades_and_orders_page_with_opaque_cursors(server: Server) -> None:
    list_market(server, server.admin())
    _, alice = register(server, "alice")
    _, bob = register(server, "bob")
    deposit(server, alice, "USD", "10000")
    deposit(server, bob, "BTC", "10")
    for price in ("100", "101", "102"):
        place(server, bob, market="BTC-USD", side="SELL", price=price, quantity="1")
        place(server, alice, market="BTC-USD", side="BUY", price=price, quantity="1")

    first = server.gql(TRADES, {"market": "BTC-USD", "first": 2})["trades"]
    assert [e["node"]["price"] for e in first["edges"]] == ["102", "101"]  # newest first
    assert first["pageInfo"]["hasNextPage"] is True
    rest = server.gql(
        TRADES, {"market": "BTC-USD", "first": 2, "after": first["pageInfo"]["endCursor"]}
    )["trades"]
    assert [e["node"]["price"] for e in rest["edges"]] == ["100"]
    assert rest["pageInfo"]["hasNextPage"] is False

    page = server.gql(ORDERS_PAGE, {"first": 2}, token=bob)["me"]["orders"]
    assert [e["node"]["price"] for e in page["edges"]] == ["102", "101"]
    assert page["pageInfo"]["hasNextPage"] is True
    more = server.gql(ORDERS_PAGE, {"first": 2, "after": page["pageInfo"]["endCursor"]}, token=bob)[
        "me"
    ]["orders"]
    assert [e["node"]["price"] for e in more["edges"]] == ["100"]

    errors = server.errors(TRADES, {"market": "BTC-USD", "after": "not-a-cursor"})
    assert errors[0]["extensions"]["code"] == "BAD_CURSOR"


def test_a_market_order_buys_at_the_resting_price_within_the_collar(server: Server) -> None:
    spec = {"collarTicks": 1000, "referencePrice": "100"}
    assert list_market(server, server.admin(), **spec)["__typename"] == "ListMarketSuccess"
    _, alice = register(server, "alice")
    _, bob = register(server, "bob")
    deposit(server, alice, "USD", "1000")
    deposit(server, bob, "BTC", "1")
    place(server, bob, market="BTC-USD", side="SELL", price="100.5", quantity="1")
    bought = place(server, alice, market="BTC-USD", side="BUY", type="MARKET", quantity="0.5")
    assert bought["__typename"] == "PlaceOrderSuccess", bought
    assert (bought["order"]["status"], bought["order"]["filledQuantity"]) == ("FILLED", "0.5")
    assert server.gql(BOOK, {"market": "BTC-USD"})["orderBook"]["asks"][0]["quantity"] == "0.5"


def test_a_client_order_id_makes_placing_idempotent(server: Server) -> None:
    list_market(server, server.admin())
    _, alice = register(server, "alice")
    deposit(server, alice, "USD", "1000")
    order = {"market": "BTC-USD", "side": "BUY", "price": "90", "quantity": "1"}
    first = place(server, alice, clientOrderId="mine-1", **order)
    again = place(server, alice, clientOrderId="mine-1", **order)
    assert first["order"]["id"] == again["order"]["id"]
    assert book(server)["bids"] == [{"price": "90", "quantity": "1", "orders": 1}]
    assert balances(server, alice)["USD"][1] == "90.18"  # reserved once, fees included


CANDLES = """
query Candles($market: String!, $interval: String!) {
  candles(market: $market, interval: $interval) {
    edges { node { interval open high low close volume trades } }
    pageInfo { hasNextPage }
  }
}
"""
AMEND = """
mutation Amend($id: ID!, $price: Decimal, $quantity: Decimal) {
  amendOrder(orderId: $id, price: $price, quantity: $quantity) {
    __typename
    ... on AmendOrderSuccess { order { price openQuantity status } }
    ... on Rejection { code message }
  }
}
"""
CONTROL = """
mutation Control($market: String!) {
  halt: haltMarket(market: $market) @include(if: $halt) { ...Answer }
  resume: resumeMarket(market: $market) @skip(if: $halt) { ...Answer }
}
fragment Answer on MarketControlResult {
  __typename
  ... on MarketControlSuccess { market { halted } }
  ... on Rejection { code }
}
"""


def test_candles_amends_and_halts(server: Server) -> None:
    admin = server.admin()
    list_market(server, admin)
    _, alice = register(server, "alice")
    _, bob = register(server, "bob")
    deposit(server, alice, "USD", "1000")
    deposit(server, bob, "BTC", "3")
    place(server, bob, market="BTC-USD", side="SELL", price="100", quantity="1")
    place(server, alice, market="BTC-USD", side="BUY", price="100", quantity="1")
    rest = place(server, bob, market="BTC-USD", side="SELL", price="105", quantity="1")["order"]
    place(server, alice, market="BTC-USD", side="BUY", price="105", quantity="0.5")

    candles = server.gql(CANDLES, {"market": "BTC-USD", "interval": "1m"})["candles"]
    assert [edge["node"] for edge in candles["edges"]] == [
        {
            "interval": "1m",
            "open": "100",
            "high": "105",
            "low": "100",
            "close": "105",
            "volume": "1.5",
            "trades": 2,
        }
    ]
    errors = server.errors(CANDLES, {"market": "BTC-USD", "interval": "7m"})
    assert errors[0]["extensions"]["code"] == "BAD_INTERVAL"

    amended = server.gql(AMEND, {"id": rest["id"], "price": "106", "quantity": "0.2"}, token=bob)
    assert amended["amendOrder"]["order"] == {
        "price": "106",
        "openQuantity": "0.2",
        "status": "PARTIALLY_FILLED",
    }
    assert book(server)["asks"] == [{"price": "106", "quantity": "0.2", "orders": 1}]

    control = CONTROL.replace("($market: String!)", "($market: String!, $halt: Boolean!)")
    halted = server.gql(control, {"market": "BTC-USD", "halt": True}, token=admin)["halt"]
    assert halted["market"] == {"halted": True}
    refused = place(server, alice, market="BTC-USD", side="BUY", price="99", quantity="0.1")
    assert refused["code"] == "halted"
    again = server.gql(control, {"market": "BTC-USD", "halt": True}, token=admin)["halt"]
    assert again == {"__typename": "Rejection", "code": "already_halted"}
    resumed = server.gql(control, {"market": "BTC-USD", "halt": False}, token=admin)["resume"]
    assert resumed["market"] == {"halted": False}
    placed = place(server, alice, market="BTC-USD", side="BUY", price="99", quantity="0.1")
    assert placed["order"]["status"] == "OPEN"
