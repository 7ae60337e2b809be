"""Trader statistics, equity curves and leaderboards through GraphQL, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from socialtrading.infra.settings import Settings
from tests.e2e.server import Server, running
from tests.e2e.social import trade, traders

STATS = """
query Stats($handle: String!, $window: StatsWindow!) {
  account(handle: $handle) {
    stats(window: $window) {
      window start end referenceAsset equity roi pnl realizedPnl unrealizedPnl fees netFlows
      maxDrawdown winRate closedTrades trades sharpe volatility riskScore historyDays
      followers copiers assetsUnderCopy copiersPnl formulaVersion
    }
    equityCurve(window: $window) { date equity index }
  }
}
"""

BOARD = """
query Board($metric: LeaderboardMetric!, $asOf: DateTime, $first: Int, $after: String) {
  leaderboard(metric: $metric, window: D7, asOf: $asOf, first: $first, after: $after) {
    edges { cursor node { rank account { handle } stats { trades roi formulaVersion } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest.fixture
def server(store_settings: Settings) -> Iterator[Server]:
    """The app with demo funding and no leaderboard minimums (everything happens today)."""
    settings = store_settings.model_copy(
        update={"demo_funding": True, "leaderboard_min_trades": 0, "leaderboard_min_days": 0}
    )
    with running(settings) as server:
        yield server


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z")


def test_a_traders_statistics_and_equity_curve(server: Server) -> None:
    today = _today()
    people = traders(server, "alice", "bob")
    trade(server, people["alice"][1], people["bob"][1], price="100", quantity="2")
    # alice: 100,000 USD deposited, 2 BTC bought at 100 (fee 20 bps: 0.4 USD)
    found = server.gql(STATS, {"handle": "alice", "window": "D7"})["account"]
    stats = found["stats"]
    assert stats["window"] == "D7" and stats["referenceAsset"] == "USD"
    assert stats["equity"] == "99999.6"
    assert stats["netFlows"] == "100000"
    assert stats["pnl"] == "-0.4" and stats["fees"] == "0.4"
    assert stats["realizedPnl"] == "0" and stats["unrealizedPnl"] == "0"
    assert stats["trades"] == 1 and stats["closedTrades"] == 0 and stats["winRate"] is None
    assert stats["roi"] == pytest.approx(-0.4 / 100_000)
    assert stats["maxDrawdown"] == pytest.approx(0.4 / 100_000)
    assert stats["sharpe"] is None and stats["riskScore"] is None  # a single day
    assert (stats["copiers"], stats["assetsUnderCopy"], stats["copiersPnl"]) == (0, "0", "0")
    assert stats["followers"] == 0 and stats["historyDays"] == 1
    assert stats["formulaVersion"] == 1
    if _today() != today:
        pytest.skip("the UTC day changed during the test")
    assert stats["end"] == today
    [point] = found["equityCurve"]
    assert (point["date"], point["equity"]) == (today, "99999.6")
    assert point["index"] == pytest.approx(1 - 4e-6)


def test_staff_have_no_statistics(server: Server) -> None:
    admin = server.admin()
    me = server.gql("{ me { handle stats { roi } equityCurve { equity } } }", token=admin)["me"]
    assert me == {"handle": "root", "stats": None, "equityCurve": []}


def test_the_leaderboard_ranks_pages_and_reads_the_past(server: Server) -> None:
    people = traders(server, "alice", "bob", "carol")
    trade(server, people["alice"][1], people["bob"][1])
    trade(server, people["carol"][1], people["bob"][1])
    first = server.gql(BOARD, {"metric": "TRADES", "first": 1})["leaderboard"]
    assert [e["node"]["rank"] for e in first["edges"]] == [1]
    assert first["edges"][0]["node"]["account"]["handle"] == "bob"  # 2 fills
    assert first["edges"][0]["node"]["stats"]["trades"] == 2
    assert first["pageInfo"]["hasNextPage"] is True
    rest = server.gql(BOARD, {"metric": "TRADES", "after": first["pageInfo"]["endCursor"]})[
        "leaderboard"
    ]
    assert [(e["node"]["rank"], e["node"]["account"]["handle"]) for e in rest["edges"]] == [
        (2, "alice"),
        (3, "carol"),
    ] or [(e["node"]["rank"], e["node"]["account"]["handle"]) for e in rest["edges"]] == [
        (2, "carol"),
        (3, "alice"),
    ]
    assert rest["pageInfo"]["hasNextPage"] is False
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert server.gql(BOARD, {"metric": "ROI", "asOf": yesterday})["leaderboard"]["edges"] == []
    body = server.post(BOARD, {"metric": "ROI", "after": "bm9wZQ=="})
    assert body["errors"][0]["extensions"]["code"] == "BAD_CURSOR"
    body = server.post(BOARD, {"metric": "ROI", "first": 0})
    assert body["errors"][0]["extensions"]["code"] == "PAGE_SIZE"
