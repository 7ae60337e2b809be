"""API tokens end to end: listing, labels and expiry, revocation, and the demo's tokens."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from socialtrading.domain.tokens import hash_token
from socialtrading.infra.settings import Settings
from tests.e2e.helpers import deposit, list_market, place, register
from tests.e2e.server import Server, running

ME = "{ me { handle } }"
TOKENS = "{ me { tokens { id label createdAt lastUsedAt expiresAt } } }"
ISSUE = """
mutation Issue($label: String, $expiresAt: DateTime) {
  issueToken(label: $label, expiresAt: $expiresAt) {
    __typename
    ... on IssueTokenSuccess { token id }
    ... on Rejection { code message }
  }
}
"""
REVOKE = """
mutation Revoke($id: ID!) {
  revokeToken(id: $id) {
    __typename
    ... on RevokeTokenSuccess { id }
    ... on Rejection { code message }
  }
}
"""


def _issue(server: Server, token: str, **variables: Any) -> dict[str, Any]:
    result: dict[str, Any] = server.gql(ISSUE, variables, token=token)["issueToken"]
    return result


def _revoke(server: Server, token: str, token_id: str) -> dict[str, Any]:
    result: dict[str, Any] = server.gql(REVOKE, {"id": token_id}, token=token)["revokeToken"]
    return result


def _tokens(server: Server, token: str) -> list[dict[str, Any]]:
    body = server.post(TOKENS, token=token)
    assert not body.get("errors"), body
    tokens: list[dict[str, Any]] = body["data"]["me"]["tokens"]
    return tokens


def _unauthenticated(server: Server, token: str) -> bool:
    body = server.post(ME, token=token)
    errors = body.get("errors") or []
    return bool(errors) and errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


def _soon(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def test_tokens_are_listed_with_labels_and_uses_never_with_the_secret(server: Server) -> None:
    _, first = register(server, "alice")
    expires = _soon(3600)
    second = _issue(server, first, label="ci runner", expiresAt=expires)
    assert second["__typename"] == "IssueTokenSuccess", second
    body = server.post(TOKENS, token=first)
    listed = body["data"]["me"]["tokens"]
    assert [(t["label"], t["expiresAt"] is None) for t in listed] == [
        (None, True),
        ("ci runner", False),
    ]
    assert listed[1]["id"] == second["id"]
    assert datetime.fromisoformat(listed[1]["expiresAt"]) == datetime.fromisoformat(expires)
    assert listed[0]["lastUsedAt"] is not None  # this very request
    assert listed[1]["lastUsedAt"] is None  # not used yet
    text = json.dumps(body)
    for secret in (first, second["token"], hash_token(first), hash_token(second["token"])):
        assert secret not in text
    assert server.gql(ME, token=second["token"])["me"]["handle"] == "alice"
    used = _tokens(server, first)[1]["lastUsedAt"]
    assert used is not None
    assert datetime.fromisoformat(used) <= datetime.now(UTC)


def test_a_revoked_token_is_unauthenticated_at_once(server: Server) -> None:
    _, first = register(server, "alice")
    second = _issue(server, first, label="phone")
    assert server.gql(ME, token=second["token"])["me"]["handle"] == "alice"
    assert _revoke(server, first, second["id"]) == {
        "__typename": "RevokeTokenSuccess",
        "id": second["id"],
    }
    assert _unauthenticated(server, second["token"])
    assert [t["label"] for t in _tokens(server, first)] == [None]
    # a token may revoke itself: the request it revokes in still answers
    own = _tokens(server, first)[0]["id"]
    assert _revoke(server, first, own)["__typename"] == "RevokeTokenSuccess"
    assert _unauthenticated(server, first)


def test_someone_elses_token_is_answered_as_an_unknown_one(server: Server) -> None:
    _, alice = register(server, "alice")
    _, bob = register(server, "bob")
    alices = _tokens(server, alice)[0]["id"]
    theirs = _revoke(server, bob, alices)
    unknown = _revoke(server, bob, "0" * 16)
    malformed = _revoke(server, bob, "x" * 1000)
    assert theirs == unknown == malformed
    assert theirs["__typename"] == "Rejection" and theirs["code"] == "unknown_token"
    assert server.gql(ME, token=alice)["me"]["handle"] == "alice"
    # admins revoke anyone's
    assert _revoke(server, server.admin(), alices)["__typename"] == "RevokeTokenSuccess"
    assert _unauthenticated(server, alice)


def test_an_expired_token_stops_working_and_a_past_expiry_is_refused(server: Server) -> None:
    _, token = register(server, "alice")
    past = _issue(server, token, expiresAt=_soon(-1))
    assert (past["__typename"], past["code"]) == ("Rejection", "invalid_expiry")
    long_label = _issue(server, token, label="x" * 65)
    assert (long_label["__typename"], long_label["code"]) == ("Rejection", "invalid_input")
    brief = _issue(server, token, label="brief", expiresAt=_soon(1.5))
    assert brief["__typename"] == "IssueTokenSuccess", brief
    assert server.gql(ME, token=brief["token"])["me"]["handle"] == "alice"
    time.sleep(1.6)
    assert _unauthenticated(server, brief["token"])
    assert [t["label"] for t in _tokens(server, token)] == [None]
    assert _revoke(server, token, brief["id"])["code"] == "unknown_token"


def test_a_websocket_with_a_revoked_token_cannot_subscribe_to_private_data(server: Server) -> None:
    list_market(server, server.admin())
    _, first = register(server, "alice")
    second = _issue(server, first)
    with server.ws(second["token"]) as connection:
        assert _revoke(server, first, second["id"])["__typename"] == "RevokeTokenSuccess"
        time.sleep(1.1)  # a connection looks its token up again after a second
        connection.subscribe("mine", "subscription { myOrders { id } }")
        message = connection.receive()
    assert message["type"] == "error", message
    assert message["payload"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_demo_restart_revokes_the_demo_tokens_it_printed_before(settings: Settings) -> None:
    printed: list[dict[str, str]] = []
    with running(settings, demo=True, announce=printed.append) as server:
        (first,) = printed
        assert set(first) >= {"demo_admin", "alice", "bob", "carol"}
        assert server.gql(ME, token=first["alice"])["me"]["handle"] == "alice"
        own = _issue(server, first["alice"], label="mine")  # not the demo's: kept
        assert own["__typename"] == "IssueTokenSuccess"
    with running(settings, demo=True, announce=printed.append) as server:
        _, second = printed
        for handle, token in first.items():
            assert _unauthenticated(server, token), handle
        for handle, token in second.items():
            assert server.gql(ME, token=token)["me"]["handle"] == handle
        assert server.gql(ME, token=own["token"])["me"]["handle"] == "alice"
        assert [t["label"] for t in _tokens(server, second["alice"])] == ["mine", None]


def test_a_private_subscription_completes_once_its_token_is_revoked(server: Server) -> None:
    list_market(server, server.admin())
    _, first = register(server, "alice")
    assert deposit(server, first, "USD", "1000")["__typename"] == "DepositSuccess"
    second = _issue(server, first)
    with server.ws(second["token"]) as connection:
        connection.subscribe("mine", "subscription { myOrders { id } }")
        server.wait_for_listeners(f"orders:{alice_id(server, first)}")
        place(server, first, market="BTC-USD", side="BUY", price="1", quantity="1")
        assert connection.next("mine")["myOrders"]["id"]
        assert _revoke(server, first, second["id"])["__typename"] == "RevokeTokenSuccess"
        time.sleep(1.1)
        place(server, first, market="BTC-USD", side="BUY", price="1", quantity="1")
        message = connection.receive()
    assert (message["type"], message["id"]) == ("complete", "mine"), message


def alice_id(server: Server, token: str) -> str:
    found: str = server.gql("{ me { id } }", token=token)["me"]["id"]
    return found
