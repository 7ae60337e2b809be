"""The analysts' GraphQL on both backends: alerts raised by the system (as the surveillance
process raises them, through the writer), read with their evidence resolved into orders,
trades, posts (hidden and deleted ones too), accounts and logged events; every case
mutation and its rejections; the `alerts` subscription; and who may do any of it (the
matrix: anonymous, trader, moderator, compliance, admin)."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest

from socialtrading.commands.compliance import RaiseAlert
from socialtrading.domain.compliance.alert import alert_id
from socialtrading.domain.market import Market
from socialtrading.domain.social.post import Post
from socialtrading.infra.decoding import EventDecoder
from tests.e2e.helpers import list_market, place
from tests.e2e.server import TIMEOUT, Server
from tests.e2e.social import (
    DELETE,
    GRANT,
    HIDE_POST,
    act,
    code,
    published,
    trade,
    traders,
)

EVIDENCE_FIELDS = """
kind ref position
order { id side status account { handle } }
trade { id price quantity takerSide }
buyer { handle } seller { handle }
post { id body status author { handle } }
comment { id }
account { handle }
event { position type aggregateId version data truncated }
"""

ALERT_FIELDS = """
id kind key status score summary market detectedAt raisedAt updatedAt resolution
evidenceCount noteCount account { handle } resolvedBy { handle }
history { action by { handle } text commandId position }
"""

ALERTS = f"""
query Alerts($status: [AlertStatus!], $kind: AlertKind, $account: String, $market: String,
             $minScore: Int, $first: Int, $after: String) {{
  alerts(status: $status, kind: $kind, account: $account, market: $market,
         minScore: $minScore, first: $first, after: $after) {{
    edges {{ cursor node {{ {ALERT_FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

ALERT = f"""
query Alert($id: ID!) {{
  alert(id: $id) {{ {ALERT_FIELDS} evidence {{ {EVIDENCE_FIELDS} }} }}
}}
"""


def _case(name: str, arguments: str = "", parameters: str = "") -> str:
    success = name[0].upper() + name[1:] + "Success"
    return f"""
mutation Case($id: ID!{parameters}) {{
  {name}(id: $id{arguments}) {{
    __typename
    ... on {success} {{ alert {{ {ALERT_FIELDS} }} }}
    ... on Rejection {{ code message }}
  }}
}}
"""


ACKNOWLEDGE = _case("acknowledgeAlert")
ESCALATE = _case("escalateAlert", ", reason: $reason", ", $reason: String")
DISMISS = _case("dismissAlert", ", reason: $reason", ", $reason: String!")
CLOSE = _case("closeAlert", ", finding: $finding", ", $finding: String!")
NOTE = _case("addAlertNote", ", note: $note", ", $note: String!")

SUBSCRIBE = """
subscription Live($kind: AlertKind, $status: [AlertStatus!]) {
  alerts(kind: $kind, status: $status) { id kind status score account { handle } }
}
"""


def _logged(server: Server) -> list[tuple[int, Any]]:
    """Every (position, event) of the log."""
    store = server.services.writer.store
    return EventDecoder(store.mapper).decode(store.read(0, 100_000))


def _raise(server: Server, key: str, account: str, **fields: Any) -> str:
    """Raise an alert as the surveillance process does (the system, through the writer),
    wait for the read models; its id."""
    command = RaiseAlert.model_validate(
        {
            "command_id": f"raise:{key}",
            "kind": "wash_trading",
            "key": key,
            "account": account,
            "market": "BTC-USD",
            "score": 75,
            "summary": "traded back and forth with bob",
            "detected_at": 1_800_000_000_000_000,
            **fields,
        }
    )
    outcome = server.services.writer.execute(command)
    assert outcome.accepted, outcome
    assert server.services.runner.wait_for(server.services.runner.head(), TIMEOUT)
    return str(alert_id(key))


def _people(server: Server) -> dict[str, tuple[str, str]]:
    """mallory and bob (traders), ana (compliance), mod (moderator), root (admin): handle ->
    (account id, token)."""
    admin = server.admin()
    assert list_market(server, admin)["__typename"] == "ListMarketSuccess"
    people = traders(server, "mallory", "bob", "ana", "mod")
    for handle, role in (("ana", "COMPLIANCE"), ("mod", "MODERATOR")):
        granted = server.gql(GRANT, {"account": people[handle][0], "role": role}, token=admin)
        assert granted["grantRole"]["__typename"] == "GrantRoleSuccess", granted
    people["root"] = ("", admin)
    return people


def test_an_alert_with_its_evidence_resolved_and_its_case_worked(server: Server) -> None:
    people = _people(server)
    (mallory_id, mallory), (bob_id, bob) = people["mallory"], people["bob"]
    ana, mod, root = people["ana"][1], people["mod"][1], people["root"][1]
    trade(server, buyer=bob, seller=mallory, price="100", quantity="2")
    ask = place(server, mallory, market="BTC-USD", side="SELL", price="120", quantity="1")
    order = ask["order"]
    shown = published(server, mallory, "$BTC to the moon", market="BTC-USD", sentiment="BULLISH")
    hidden = published(server, mallory, "buy $BTC now!!!")
    deleted = published(server, mallory, "sold it all, bye")
    assert code(act(server, mod, HIDE_POST, postId=hidden["id"], reason="pump")) == (
        "HidePostSuccess"
    )
    assert code(act(server, mallory, DELETE, postId=deleted["id"])) == "DeletePostSuccess"
    logged = _logged(server)
    (trade_at, trade_event) = next(
        (p, e)
        for p, e in logged
        if isinstance(e, Market.BookChanged) and any(r[0] == "trade" for r in e.records)
    )
    seq = next(r for r in trade_event.records if r[0] == "trade")[1]
    published_at = {str(e.originator_id): p for p, e in logged if isinstance(e, Post.Published)}
    order_at = max(p for p, e in logged if isinstance(e, Market.BookChanged))
    evidence = [
        {"kind": "trade", "ref": f"BTC-USD:{seq}", "position": trade_at},
        {"kind": "order", "ref": order["id"], "position": order_at},
        {"kind": "post", "ref": shown["id"], "position": published_at[shown["id"]]},
        {"kind": "post", "ref": hidden["id"], "position": published_at[hidden["id"]]},
        {"kind": "post", "ref": deleted["id"], "position": published_at[deleted["id"]]},
        {"kind": "account", "ref": bob_id, "position": 1},
    ]
    alert = _raise(server, "wash:mallory:1", mallory_id, evidence=evidence)

    found = server.gql(ALERT, {"id": alert}, token=ana)["alert"]
    assert {k: found[k] for k in ("id", "kind", "key", "status", "score", "market")} == {
        "id": alert,
        "kind": "WASH_TRADING",
        "key": "wash:mallory:1",
        "status": "OPEN",
        "score": 75,
        "market": "BTC-USD",
    }
    assert found["account"] == {"handle": "mallory"}
    assert (found["evidenceCount"], found["noteCount"], found["resolvedBy"]) == (6, 0, None)
    assert found["detectedAt"] == "2027-01-15T08:00:00Z"
    assert found["history"] == [
        {
            "action": "RAISED",
            "by": None,  # the system
            "text": None,
            "commandId": "raise:wash:mallory:1",
            "position": found["history"][0]["position"],
        }
    ]
    pieces = found["evidence"]
    assert [(p["kind"], p["ref"], p["position"]) for p in pieces] == [
        (e["kind"].upper(), e["ref"], e["position"]) for e in evidence
    ]
    traded, ordered, visible, moderated, gone, account = pieces
    assert traded["trade"] == {
        "id": f"BTC-USD:{seq}",
        "price": "100",
        "quantity": "2",
        "takerSide": "BUY",
    }
    assert (traded["buyer"], traded["seller"]) == ({"handle": "bob"}, {"handle": "mallory"})
    assert traded["event"]["type"] == type(trade_event).__qualname__ == "Market.OrderAccepted"
    assert traded["order"] is None and traded["post"] is None
    assert ordered["order"] == {
        "id": order["id"],
        "side": "SELL",
        "status": "OPEN",
        "account": {"handle": "mallory"},
    }
    assert visible["post"]["status"] == "VISIBLE"
    assert moderated["post"] == {  # hidden from everybody but its author, not from analysts
        "id": hidden["id"],
        "body": "buy $BTC now!!!",
        "status": "HIDDEN",
        "author": {"handle": "mallory"},
    }
    assert gone["post"] is None  # deleted: the read models forgot it, the log did not
    assert gone["event"]["type"] == "Post.Published"
    assert gone["event"]["aggregateId"] == deleted["id"] and gone["event"]["version"] == 1
    assert json.loads(gone["event"]["data"])["body"] == "sold it all, bye"
    assert gone["event"]["truncated"] is False
    assert account["account"] == {"handle": "bob"}

    # the case: acknowledge (twice), note, escalate, refused steps, close
    taken = act(server, ana, ACKNOWLEDGE, id=alert)
    assert taken["__typename"] == "AcknowledgeAlertSuccess", taken
    assert taken["alert"]["status"] == "ACKNOWLEDGED"
    again = act(server, ana, ACKNOWLEDGE, id=alert)
    assert again["__typename"] == "AcknowledgeAlertSuccess"
    assert len(again["alert"]["history"]) == 2  # the repeat stored nothing
    noted = act(server, ana, NOTE, id=alert, note="same device as bob")
    assert noted["alert"]["noteCount"] == 1
    escalated = act(server, ana, ESCALATE, id=alert, reason="for the MLRO")
    assert escalated["alert"]["status"] == "ESCALATED"
    assert code(act(server, ana, ACKNOWLEDGE, id=alert)) == "invalid_transition"
    assert code(act(server, ana, DISMISS, id=alert, reason=" ")) == "invalid_reason"
    assert code(act(server, ana, NOTE, id=alert, note="x" * 8001)) == "invalid_input"
    closed = act(server, root, CLOSE, id=alert, finding="Same owner: STOR filed")
    assert closed["__typename"] == "CloseAlertSuccess", closed
    final = closed["alert"]
    assert (final["status"], final["resolution"], final["resolvedBy"]) == (
        "CLOSED",
        "Same owner: STOR filed",
        {"handle": "root"},
    )
    assert [(h["action"], (h["by"] or {}).get("handle"), h["text"]) for h in final["history"]] == [
        ("RAISED", None, None),
        ("ACKNOWLEDGED", "ana", None),
        ("NOTE_ADDED", "ana", "same device as bob"),
        ("ESCALATED", "ana", "for the MLRO"),
        ("CLOSED", "root", "Same owner: STOR filed"),
    ]
    for document, extra in ((ACKNOWLEDGE, {}), (DISMISS, {"reason": "late"})):
        assert code(act(server, ana, document, id=alert, **extra)) == "alert_resolved"
    assert code(act(server, ana, ACKNOWLEDGE, id=str(UUID(int=3)))) == "unknown_alert"
    assert code(act(server, ana, ACKNOWLEDGE, id="not-an-id")) == "invalid_input"
    assert server.gql(ALERT, {"id": str(UUID(int=3))}, token=ana) == {"alert": None}
    assert server.gql(ALERT, {"id": "x" * 10_000}, token=ana) == {"alert": None}

    # an alert about an analyst is worked by someone else
    about_ana = _raise(server, "ana", people["ana"][0], kind="spoofing", evidence=[])
    assert code(act(server, ana, ACKNOWLEDGE, id=about_ana)) == "own_alert"
    assert code(act(server, root, ACKNOWLEDGE, id=about_ana)) == "AcknowledgeAlertSuccess"


def test_alerts_filter_and_page(server: Server) -> None:
    people = _people(server)
    ana = people["ana"][1]
    trade(server, buyer=people["bob"][1], seller=people["mallory"][1])
    made = [
        _raise(server, "a1", people["mallory"][0], score=20),
        _raise(server, "a2", people["bob"][0], kind="spoofing", score=90),
        _raise(server, "a3", people["mallory"][0], kind="spoofing", market=None, score=50),
    ]
    assert act(server, ana, ACKNOWLEDGE, id=made[0])["__typename"] == "AcknowledgeAlertSuccess"

    def ids(**variables: Any) -> list[str]:
        page = server.gql(ALERTS, variables, token=ana)["alerts"]
        return [edge["node"]["id"] for edge in page["edges"]]

    assert ids() == made[::-1]
    assert ids(status="OPEN") == [made[2], made[1]]  # one value stands for a list of one
    assert ids(status=["OPEN", "ACKNOWLEDGED"]) == made[::-1]
    assert ids(kind="SPOOFING") == [made[2], made[1]]
    assert ids(account="mallory") == [made[2], made[0]]
    assert ids(account="@bob") == [made[1]]
    assert ids(account=people["bob"][0]) == [made[1]]
    assert ids(account="nobody") == []
    assert ids(market="BTC-USD", minScore=50) == [made[1]]
    first = server.gql(ALERTS, {"first": 2}, token=ana)["alerts"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = ids(first=2, after=first["pageInfo"]["endCursor"])
    assert [e["node"]["id"] for e in first["edges"]] + rest == made[::-1]
    for variables, error in (
        ({"first": 0}, "PAGE_SIZE"),
        ({"first": 101}, "PAGE_SIZE"),
        ({"after": "bogus"}, "BAD_CURSOR"),
        ({"minScore": 101}, "BAD_USER_INPUT"),
        ({"account": "x" * 65}, "BAD_USER_INPUT"),
        ({"market": "x" * 65}, "BAD_USER_INPUT"),
    ):
        errors = server.errors(ALERTS, variables, token=ana)
        assert errors[0]["extensions"]["code"] == error, (variables, errors)
    errors = server.errors(ALERTS, {"kind": "INSIDER_DEALING"}, token=ana)
    assert "AlertKind" in errors[0]["message"]


def test_the_alerts_subscription_pushes_new_and_changed_alerts(server: Server) -> None:
    people = _people(server)
    ana, mallory_id = people["ana"][1], people["mallory"][0]
    with server.ws(ana) as everything, server.ws(ana) as spoofing:
        everything.subscribe("all", SUBSCRIBE)
        spoofing.subscribe("spoof", SUBSCRIBE, {"kind": "SPOOFING", "status": ["OPEN"]})
        server.wait_for_listeners("alerts", 2)
        washed = _raise(server, "w1", mallory_id, market=None)
        spoofed = _raise(server, "s1", mallory_id, kind="spoofing", market=None)
        assert everything.next("all")["alerts"] == {
            "id": washed,
            "kind": "WASH_TRADING",
            "status": "OPEN",
            "score": 75,
            "account": {"handle": "mallory"},
        }
        assert everything.next("all")["alerts"]["id"] == spoofed
        assert spoofing.next("spoof")["alerts"]["id"] == spoofed  # the wash trade filtered out
        assert act(server, ana, ACKNOWLEDGE, id=washed)["__typename"] == ("AcknowledgeAlertSuccess")
        changed = everything.next("all")["alerts"]
        assert (changed["id"], changed["status"]) == (washed, "ACKNOWLEDGED")
        assert act(server, ana, ACKNOWLEDGE, id=spoofed)["__typename"] == (
            "AcknowledgeAlertSuccess"
        )
        assert everything.next("all")["alerts"]["status"] == "ACKNOWLEDGED"
        third = _raise(server, "s2", mallory_id, kind="spoofing", market=None)
        # the acknowledged spoofing alert was not OPEN: the next one pushed is the new one
        assert spoofing.next("spoof")["alerts"]["id"] == third


# ---------------------------------------------------------------------- who may do what

ROLES = ("anonymous", "mallory", "mod", "ana", "root")  # trader, moderator, compliance, admin
ANALYSTS = ("ana", "root")

ALL_FIELDS_QUERY = f"""
query Everything($id: ID!) {{
  alerts(first: 5) {{ edges {{ node {{ {ALERT_FIELDS} evidence {{ {EVIDENCE_FIELDS} }} }} }} }}
  alert(id: $id) {{ id }}
}}
"""


def _mutations(alert: str, other: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (NOTE, {"id": alert, "note": "n"}),
        (ACKNOWLEDGE, {"id": alert}),
        (ESCALATE, {"id": alert}),
        (DISMISS, {"id": alert, "reason": "r"}),
        (CLOSE, {"id": other, "finding": "f"}),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_only_compliance_and_admins_read_alerts_and_work_cases(server: Server, role: str) -> None:
    people = _people(server)
    token = "" if role == "anonymous" else people[role][1]
    alert = _raise(server, "m1", people["bob"][0], evidence=[])
    other = _raise(server, "m1b", people["bob"][0], evidence=[])
    if role in ANALYSTS:
        data = server.gql(ALL_FIELDS_QUERY, {"id": alert}, token=token)
        assert [e["node"]["id"] for e in data["alerts"]["edges"]] == [other, alert]
        assert data["alert"] == {"id": alert}
    else:
        errors = server.errors(ALL_FIELDS_QUERY, {"id": alert}, token=token)
        expected = "UNAUTHENTICATED" if role == "anonymous" else "FORBIDDEN"
        assert sorted(e["path"][0] for e in errors) == ["alert", "alerts"]
        assert {e["extensions"]["code"] for e in errors} == {expected}
        body = server.post(ALL_FIELDS_QUERY, {"id": alert}, token=token)
        assert body["data"] is None  # nothing of an alert leaks
    refusal = {"anonymous": "unauthenticated", "mallory": "not_authorized", "mod": "not_authorized"}
    for document, variables in _mutations(alert, other):
        result = act(server, token, document, **variables)
        if role in ANALYSTS:
            assert result["__typename"].endswith("Success"), (document, result)
        else:
            assert code(result) == refusal[role], (document, result)
    with server.ws(token or None) as ws:
        ws.subscribe("live", SUBSCRIBE)
        if role in ANALYSTS:
            server.wait_for_listeners("alerts")
            pushed = _raise(server, "m2", people["bob"][0], evidence=[])
            assert ws.next("live")["alerts"]["id"] == pushed
        else:
            message = ws.receive()
            assert message["type"] == "error", message
            expected = "UNAUTHENTICATED" if role == "anonymous" else "FORBIDDEN"
            assert message["payload"][0]["extensions"]["code"] == expected
