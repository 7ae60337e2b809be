"""Copy trading through GraphQL on both backends: a leader's settings, every copy mutation and
its rejections, a leader's trade copied (seen in `copies`, `activity`, and pushed over
`myCopies`), a stop returning the allocation, a restart, the risk gate."""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from socialtrading.commands.copying import RecordRiskScore
from socialtrading.domain.ids import SYSTEM_ACTOR
from socialtrading.domain.time import DAY_US
from socialtrading.infra.settings import Settings
from tests.e2e.helpers import balances, deposit, list_market, place
from tests.e2e.server import TIMEOUT, Server, running
from tests.e2e.social import act, code, traders

COPY_FIELDS = """
id status quote invested equity pnl sizing ratio fixedAmount slippageBps stopLossPercent
profitSharePercent highWaterMark profitSharePaid pauseReason stopReason startedAt stoppedAt
leader { handle } copier { handle }
balances { asset available reserved } positions { market quantity }
activity(first: 50) {
  edges { node { id kind market side quantity price fee amount reason leaderTradeId } }
}
"""

SETTINGS = """
mutation Settings($input: CopySettingsInput!) {
  setCopySettings(input: $input) {
    __typename
    ... on SetCopySettingsSuccess {
      settings { acceptCopiers profitSharePercent minCopyAmount maxCopiers }
      account { handle copySettings { profitSharePercent } }
    }
    ... on Rejection { code message }
  }
}
"""

START = f"""
mutation Start($input: StartCopyingInput!) {{
  startCopying(input: $input) {{
    __typename
    ... on StartCopyingSuccess {{ copy {{ {COPY_FIELDS} }} }}
    ... on Rejection {{ code message }}
  }}
}}
"""


def _about(name: str, arguments: str = "", parameters: str = "") -> str:
    success = name[0].upper() + name[1:] + "Success"
    return f"""
mutation About($copyId: ID!{parameters}) {{
  {name}(copyId: $copyId{arguments}) {{
    __typename
    ... on {success} {{ copy {{ {COPY_FIELDS} }} }}
    ... on Rejection {{ code message }}
  }}
}}
"""


ADD = _about("addCopyFunds", ", amount: $amount", ", $amount: Decimal!")
WITHDRAW = _about("withdrawCopyFunds", ", amount: $amount", ", $amount: Decimal!")
PAUSE = _about("pauseCopying")
RESUME = _about("resumeCopying")
STOP = _about("stopCopying", ", closePositions: $close", ", $close: Boolean")
SIZING = _about(
    "changeCopySizing",
    ", sizing: $sizing, ratio: $ratio",
    ", $sizing: CopySizing!, $ratio: Decimal",
)

COPY = f"query Copy($id: ID!) {{ copy(id: $id) {{ {COPY_FIELDS} }} }}"

MINE = """
query Mine($handle: String!) {
  account(handle: $handle) {
    copySettings { acceptCopiers profitSharePercent }
    copies(includeStopped: true) { id status }
    copiers(first: 10) { edges { node { id copier { handle } } } }
  }
}
"""

GATE = """
query Gate($handle: String!) {
  account(handle: $handle) {
    copySettings { acceptCopiers maxCopiers copyable riskGated riskScore riskScoreAsOf }
  }
}
"""

LOOKUP = "query Lookup($handle: String!) { account(handle: $handle) { handle } }"

MY_COPIES = "subscription { myCopies { copyId kind market side quantity price leaderTradeId } }"


def _start(server: Server, token: str, **fields: Any) -> dict[str, Any]:
    return act(server, token, START, input={"leader": "lea", "amount": "1000", **fields})


def _wait_for(server: Server, token: str, copy_id: str, kind: str) -> dict[str, Any]:
    """The copy once its activity shows `kind` (the copy-trading process runs beside)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        copy: dict[str, Any] = server.gql(COPY, {"id": copy_id}, token=token)["copy"]
        if any(edge["node"]["kind"] == kind for edge in copy["activity"]["edges"]):
            return copy
        assert time.monotonic() < deadline, f"no {kind} in {copy['activity']}"
        time.sleep(0.05)


def _kinds(copy: dict[str, Any]) -> list[str]:
    return [edge["node"]["kind"] for edge in copy["activity"]["edges"]]


def _market(server: Server, maker: str) -> None:
    assert list_market(server, server.admin())["__typename"] == "ListMarketSuccess"
    assert deposit(server, maker, "BTC", "100")["__typename"] == "DepositSuccess"
    assert deposit(server, maker, "USD", "1000000")["__typename"] == "DepositSuccess"
    sell = place(server, maker, market="BTC-USD", side="SELL", price="100", quantity="50")
    assert sell["__typename"] == "PlaceOrderSuccess", sell
    buy = place(server, maker, market="BTC-USD", side="BUY", price="99", quantity="50")
    assert buy["__typename"] == "PlaceOrderSuccess", buy


def test_copy_mutations_and_their_rejections(server: Server) -> None:
    people = traders(server, "lea", "cat", "mmm")
    lea, cat = people["lea"][1], people["cat"][1]
    _market(server, people["mmm"][1])
    for token in (lea, cat):
        assert deposit(server, token, "USD", "10000")["__typename"] == "DepositSuccess"

    assert code(_start(server, cat)) == "not_accepting_copiers"
    done = act(server, lea, SETTINGS, input={"profitSharePercent": "12.5", "maxCopiers": 1})
    assert done["__typename"] == "SetCopySettingsSuccess", done
    assert done["settings"] == {
        "acceptCopiers": True,
        "profitSharePercent": "12.5",
        "minCopyAmount": "100",
        "maxCopiers": 1,
    }
    assert done["account"]["copySettings"] == {"profitSharePercent": "12.5"}
    assert code(act(server, lea, SETTINGS, input={"profitSharePercent": "31"})) == (
        "invalid_copy_settings"
    )
    assert code(act(server, lea, SETTINGS, input={"profitSharePercent": "1.234"})) == (
        "invalid_copy_settings"
    )
    assert code(act(server, lea, SETTINGS, input={"maxCopiers": 0})) == "invalid_input"
    assert code(act(server, lea, SETTINGS, input={"minCopyAmount": "-1"})) == "invalid_input"
    assert code(server.gql(SETTINGS, {"input": {}})["setCopySettings"]) == "not_authorized"

    assert code(_start(server, lea)) == "cannot_copy_self"
    assert code(_start(server, cat, leader="nobody")) == "unknown_account"
    assert code(_start(server, cat, amount="50")) == "below_min_copy_amount"
    assert code(_start(server, cat, amount="20000")) == "insufficient_funds"
    assert code(_start(server, cat, sizing="FIXED_RATIO")) == "invalid_copy_settings"
    assert code(_start(server, cat, slippageBps=1001)) == "invalid_input"
    assert code(_start(server, cat, asset="EUR")) == "invalid_copy_settings"
    started = _start(server, cat, clientCopyId="first", stopLossPercent=50)
    assert started["__typename"] == "StartCopyingSuccess", started
    copy = started["copy"]
    copy_id = copy["id"]
    assert (copy["status"], copy["invested"], copy["equity"], copy["pnl"]) == (
        "ACTIVE",
        "1000",
        "1000",
        "0",
    )
    assert (copy["leader"], copy["copier"]) == ({"handle": "lea"}, {"handle": "cat"})
    assert (copy["profitSharePercent"], copy["stopLossPercent"]) == ("12.5", 50)
    assert copy["balances"] == [{"asset": "USD", "available": "1000", "reserved": "0"}]
    assert _kinds(copy) == ["STARTED"]
    again = _start(server, cat, clientCopyId="first", stopLossPercent=50)  # idempotent
    assert again["__typename"] == "StartCopyingSuccess" and again["copy"]["id"] == copy_id
    assert code(_start(server, cat)) == "already_copying"
    assert balances(server, cat)["USD"] == ("9000", "0")

    added = act(server, cat, ADD, copyId=copy_id, amount="500")
    assert (added["copy"]["invested"], added["copy"]["equity"]) == ("1500", "1500")
    assert code(act(server, cat, ADD, copyId=copy_id, amount="100000")) == "insufficient_funds"
    assert code(act(server, lea, ADD, copyId=copy_id, amount="1")) == "not_your_copy"
    assert code(act(server, cat, ADD, copyId="nope", amount="1")) == "invalid_input"
    unknown = "00000000-0000-0000-0000-000000000000"
    assert code(act(server, cat, ADD, copyId=unknown, amount="1")) == "unknown_copy"
    withdrawn = act(server, cat, WITHDRAW, copyId=copy_id, amount="200")
    assert withdrawn["copy"]["invested"] == "1300"
    assert code(act(server, cat, WITHDRAW, copyId=copy_id, amount="5000")) == "insufficient_funds"
    sized = act(server, cat, SIZING, copyId=copy_id, sizing="FIXED_RATIO", ratio="0.5")
    assert (sized["copy"]["sizing"], sized["copy"]["ratio"]) == ("FIXED_RATIO", "0.5")
    assert code(act(server, cat, SIZING, copyId=copy_id, sizing="FIXED_AMOUNT")) == (
        "invalid_copy_settings"
    )
    paused = act(server, cat, PAUSE, copyId=copy_id)
    assert (paused["copy"]["status"], paused["copy"]["pauseReason"]) == (
        "PAUSED",
        "paused by the copier",
    )
    assert act(server, cat, PAUSE, copyId=copy_id)["__typename"] == "PauseCopyingSuccess"
    assert act(server, cat, RESUME, copyId=copy_id)["copy"]["status"] == "ACTIVE"
    assert code(act(server, lea, PAUSE, copyId=copy_id)) == "not_your_copy"

    # the leader is full (max 1), and sees its copier; the copier sees its copy
    people |= traders(server, "cal")
    assert deposit(server, people["cal"][1], "USD", "5000")["__typename"] == "DepositSuccess"
    assert code(_start(server, people["cal"][1])) == "leader_full"
    mine = server.gql(MINE, {"handle": "lea"}, token=lea)["account"]
    assert [e["node"]["copier"]["handle"] for e in mine["copiers"]["edges"]] == ["cat"]
    assert server.gql(MINE, {"handle": "cat"}, token=cat)["account"]["copies"] == [
        {"id": copy_id, "status": "ACTIVE"}
    ]
    assert server.errors(MINE, {"handle": "lea"}, token=cat)[0]["extensions"]["code"] == (
        "FORBIDDEN"
    )
    assert server.gql(COPY, {"id": copy_id}, token=people["cal"][1])["copy"] is None
    assert server.gql(COPY, {"id": copy_id}, token=lea)["copy"]["id"] == copy_id

    stopped = act(server, cat, STOP, copyId=copy_id)
    assert stopped["__typename"] == "StopCopyingSuccess", stopped
    final = stopped["copy"]
    assert (final["status"], final["balances"], final["equity"], final["pnl"]) == (
        "STOPPED",
        [],
        "1300",
        "0",
    )
    assert final["stoppedAt"] is not None and _kinds(final)[:2] == [
        "STOPPED",
        "PROFIT_SHARE_SETTLED",
    ]
    assert balances(server, cat)["USD"] == ("10000", "0")
    assert code(act(server, cat, STOP, copyId=copy_id)) == "copy_stopped"
    assert code(act(server, cat, ADD, copyId=copy_id, amount="1")) == "copy_stopped"
    # a copy's allocation account is no trader: not found by handle
    allocation = "~copy-" + copy_id.replace("-", "")[:12]
    assert server.gql(LOOKUP, {"handle": allocation})["account"] is None
    assert server.gql(LOOKUP, {"handle": "lea"})["account"] == {"handle": "lea"}


def test_a_leader_trade_is_copied_pushed_and_returned_at_the_stop(settings: Settings) -> None:
    with running(settings) as server:
        people = traders(server, "lea", "cat", "cal", "mmm")
        lea, cat, cal = (people[h][1] for h in ("lea", "cat", "cal"))
        _market(server, people["mmm"][1])
        for token in (lea, cat, cal):
            assert deposit(server, token, "USD", "10000")["__typename"] == "DepositSuccess"
        assert act(server, lea, SETTINGS, input={})["__typename"] == "SetCopySettingsSuccess"
        cat_copy = _start(server, cat)["copy"]["id"]
        cal_copy = _start(server, cal, amount="2000")["copy"]["id"]
        with server.ws(cat) as ws:
            ws.subscribe("1", MY_COPIES)
            server.wait_for_listeners(f"copies:{people['cat'][0]}")
            bought = place(server, lea, market="BTC-USD", side="BUY", price="100", quantity="10")
            assert bought["order"]["status"] == "FILLED", bought
            pushed = [ws.next("1")["myCopies"] for _ in range(2)]
        assert [p["kind"] for p in pushed] == ["ORDER_PLACED", "FILLED"]
        assert {p["copyId"] for p in pushed} == {cat_copy}
        # about 10% of the leader's equity (1,000 of 10,000): 10% of each copy's
        copied = _wait_for(server, cat, cat_copy, "FILLED")
        [fill] = [e["node"] for e in copied["activity"]["edges"] if e["node"]["kind"] == "FILLED"]
        assert (fill["market"], fill["side"], fill["price"]) == ("BTC-USD", "BUY", "100")
        quantity = Decimal(fill["quantity"])
        assert Decimal("0.99") < quantity < Decimal("1.01")
        assert fill["leaderTradeId"] == pushed[1]["leaderTradeId"]
        assert copied["positions"] == [{"market": "BTC-USD", "quantity": fill["quantity"]}]
        other = _wait_for(server, cal, cal_copy, "FILLED")
        other_quantity = Decimal(other["positions"][0]["quantity"])
        assert abs(other_quantity - 2 * quantity) <= Decimal("0.0001")
        assert Decimal(copied["equity"]) == Decimal(1000) - Decimal(fill["fee"])
        assert Decimal(copied["pnl"]) == -Decimal(fill["fee"])

    with running(settings) as server:  # a restart: the same copies, nothing copied again
        copy = server.gql(COPY, {"id": cat_copy}, token=cat)["copy"]
        assert copy == copied
        stopped = act(server, cat, STOP, copyId=cat_copy)
        final = stopped["copy"]
        assert (final["status"], final["balances"]) == ("STOPPED", [])
        assert final["positions"][0]["quantity"] == "0"  # sold at the stop
        assert _kinds(final)[:2] == ["STOPPED", "PROFIT_SHARE_SETTLED"]
        usd = Decimal(balances(server, cat)["USD"][0])
        assert usd == Decimal(9000) + Decimal(final["equity"])
        assert Decimal(final["pnl"]) < 0  # bought at 100, sold at 99, fees


def test_a_gated_leader_is_refused_new_copiers_and_its_settings_say_so(server: Server) -> None:
    people = traders(server, "lea", "cat", "cal")
    lea, cat, cal = (people[h][1] for h in ("lea", "cat", "cal"))
    assert list_market(server, server.admin())["__typename"] == "ListMarketSuccess"
    for token in (cat, cal):
        assert deposit(server, token, "USD", "5000")["__typename"] == "DepositSuccess"
    assert act(server, lea, SETTINGS, input={"maxCopiers": 5})["__typename"] == (
        "SetCopySettingsSuccess"
    )
    gate = server.gql(GATE, {"handle": "lea"})["account"]["copySettings"]
    assert gate == {
        "acceptCopiers": True,
        "maxCopiers": 5,
        "copyable": True,
        "riskGated": False,
        "riskScore": None,
        "riskScoreAsOf": None,
    }
    started = _start(server, cat)
    assert started["__typename"] == "StartCopyingSuccess", started
    copy_id = started["copy"]["id"]

    def record(score: int) -> int:
        # what the risk-gate process sends, as of yesterday (UTC)
        day = int(time.time() * 1_000_000) // DAY_US - 1
        command = RecordRiskScore(
            command_id=f"risk-{score}",
            actor=SYSTEM_ACTOR,
            leader=UUID(people["lea"][0]),
            score=score,
            as_of_day=day,
        )
        outcome = server.services.writer.execute(command)
        assert outcome.accepted and outcome.stored, outcome
        assert server.services.runner.wait_for(outcome.position, TIMEOUT)
        return day

    day = record(9)
    gate = server.gql(GATE, {"handle": "lea"})["account"]["copySettings"]
    assert (gate["copyable"], gate["riskGated"], gate["riskScore"]) == (False, True, 9)
    assert gate["riskScoreAsOf"] == f"{date(1970, 1, 1) + timedelta(days=day)}T00:00:00Z"
    refused = _start(server, cal)
    assert (refused["__typename"], refused["code"]) == ("Rejection", "leader_risk_too_high")
    # the running copy goes on: a top-up is taken
    added = act(server, cat, ADD, copyId=copy_id, amount="100")
    assert added["__typename"] == "AddCopyFundsSuccess", added

    record(7)  # a 7 keeps the gate
    assert server.gql(GATE, {"handle": "lea"})["account"]["copySettings"]["riskGated"]
    assert code(_start(server, cal)) == "leader_risk_too_high"
    record(6)
    gate = server.gql(GATE, {"handle": "lea"})["account"]["copySettings"]
    assert (gate["copyable"], gate["riskGated"], gate["riskScore"]) == (True, False, 6)
    assert _start(server, cal)["__typename"] == "StartCopyingSuccess"
