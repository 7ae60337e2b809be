"""Protections: page sizes, book depth, query depth, aliases, tokens, the mutation rate."""

from __future__ import annotations

from socialtrading.infra.settings import Settings
from tests.e2e.helpers import BOOK, TRADES, list_market, register
from tests.e2e.server import Server, running


def test_oversized_pages_and_books_are_refused(server: Server) -> None:
    list_market(server, server.admin())
    errors = server.errors(TRADES, {"market": "BTC-USD", "first": 101})
    assert errors[0]["extensions"]["code"] == "PAGE_SIZE"
    assert "between 1 and 100" in errors[0]["message"]
    assert server.errors(TRADES, {"market": "BTC-USD", "first": 0})[0]["extensions"] == {
        "code": "PAGE_SIZE"
    }
    errors = server.errors(BOOK, {"market": "BTC-USD", "depth": 1000})
    assert errors[0]["extensions"]["code"] == "DEPTH"
    assert server.gql(TRADES, {"market": "BTC-USD", "first": 100})["trades"]["edges"] == []


def test_deep_aliased_and_long_queries_are_refused_before_running(server: Server) -> None:
    _, alice = register(server, "alice")
    # me > openOrders > account > openOrders > ... : 12 levels, over the limit of 10
    deep = "query { me { " + "openOrders { account { " * 5 + "id" + " } }" * 5 + " } }"
    errors = server.errors(deep, token=alice)
    assert "exceeds maximum operation depth of 10" in errors[0]["message"]

    aliases = " ".join(f"m{i}: markets {{ symbol }}" for i in range(16))
    errors = server.errors(f"query {{ {aliases} }}")
    assert "aliases" in errors[0]["message"]

    fields = " ".join("symbol" for _ in range(2100))
    errors = server.errors(f"query {{ markets {{ {fields} }} }}")
    assert "token" in errors[0]["message"].lower()


def test_a_client_sending_too_many_mutations_is_rate_limited(store_settings: Settings) -> None:
    limited = store_settings.model_copy(
        update={"demo_funding": True, "mutation_rate": 0.01, "mutation_burst": 3}
    )
    with running(limited) as server:
        list_market(server, server.admin())  # deposits are of listed assets
        _, alice = register(server, "alice")  # one of this IP's three
        answers = [
            server.gql(
                'mutation { deposit(asset: "USD", amount: "1") { __typename '
                "... on Rejection { code } } }",
                token=alice,
            )["deposit"]
            for _ in range(4)
        ]
        # alice's token has its own bucket: three pass, the fourth is refused
        assert [a["__typename"] for a in answers] == ["DepositSuccess"] * 3 + ["Rejection"]
        assert answers[3]["code"] == "rate_limited"
        # anonymous callers share their IP's bucket: register used one, two are left
        codes = [
            server.gql(
                "mutation($h: String!) { registerTrader(handle: $h) { __typename "
                "... on Rejection { code } } }",
                {"h": f"user{i}"},
            )["registerTrader"]
            for i in range(3)
        ]
        assert [c["__typename"] for c in codes] == ["RegisterSuccess"] * 2 + ["Rejection"]
        assert codes[2]["code"] == "rate_limited"
