"""Issue 10's poison inputs through the API: refused with their own codes, nothing stored,
and the exchange goes on serving everybody."""

from __future__ import annotations

from tests.e2e.helpers import balances, book, deposit, list_market, place, register
from tests.e2e.server import Server

WITHDRAW = """
mutation($asset: String!, $amount: Decimal!) {
  withdraw(asset: $asset, amount: $amount) { __typename ... on Rejection { code message } }
}
"""


def test_poison_orders_are_refused_and_the_read_models_go_on(server: Server) -> None:
    assert list_market(server, server.admin())["__typename"] == "ListMarketSuccess"
    _, alice = register(server, "alice")
    deposit(server, alice, "USD", "1000")
    head = server.services.writer.store.recorder.max_notification_id()
    poison = [
        ({"price": "92233720368547758.08", "quantity": "0.0001"}, "price_out_of_range"),
        ({"price": "184467440737095516.17", "quantity": "0.0001"}, "price_out_of_range"),
        (
            {"price": "90", "quantity": "0.0001", "stopPrice": "92233720368547758.08"},
            "price_out_of_range",
        ),
        ({"price": "90", "quantity": "100000000000.0001"}, "quantity_out_of_range"),
        ({"price": "10000000", "quantity": "1000000"}, "notional_out_of_range"),
        ({"price": "1e40", "quantity": "1"}, "invalid_input"),
    ]
    for fields, code in poison:
        refused = place(server, alice, market="BTC-USD", side="BUY", **fields)
        assert (refused["__typename"], refused["code"]) == ("Rejection", code), fields
        assert len(refused["message"]) < 200
    assert server.services.writer.store.recorder.max_notification_id() == head

    placed = place(server, alice, market="BTC-USD", side="BUY", price="90", quantity="1")
    assert placed["__typename"] == "PlaceOrderSuccess", placed
    assert book(server)["bids"] == [{"price": "90", "quantity": "1", "orders": 1}]


def test_money_is_bounded_and_exact_through_the_api(server: Server) -> None:
    list_market(server, server.admin())
    _, alice = register(server, "alice")
    assert deposit(server, alice, "USD", "100")["__typename"] == "DepositSuccess"
    head = server.services.writer.store.recorder.max_notification_id()

    huge = deposit(server, alice, "USD", "123456789012345678901234567890")
    assert (huge["__typename"], huge["code"]) == ("Rejection", "invalid_input")
    above = deposit(server, alice, "USD", "1000000000000001")
    assert (above["__typename"], above["code"]) == ("Rejection", "amount_out_of_range")
    unknown = deposit(server, alice, "ZZZ", "1")
    assert (unknown["__typename"], unknown["code"]) == ("Rejection", "unknown_asset")
    assert server.services.writer.store.recorder.max_notification_id() == head

    overdraw = server.gql(WITHDRAW, {"asset": "USD", "amount": "110"}, token=alice)["withdraw"]
    assert (overdraw["__typename"], overdraw["code"]) == ("Rejection", "insufficient_funds")
    assert balances(server, alice) == {"USD": ("100", "0")}
