"""Findings are bounded where they are made; scores and ids are plain functions of them;
window sums count the window and nothing older."""

from __future__ import annotations

from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from socialtrading.policies.surveillance.base import BUCKETS, Buckets
from socialtrading.policies.surveillance.findings import (
    MAX_EVIDENCE,
    MAX_KEY,
    MAX_SUMMARY,
    TRADE,
    WASH_TRADING,
    Evidence,
    alert_command_id,
    finding,
    score,
)

ACCOUNT = "b94c172b-c436-59ba-9c13-ec77e3b7b528"


def test_a_finding_keeps_its_fields_within_their_bounds() -> None:
    evidence = [Evidence(TRADE, f"BTC-USD:{n}", n) for n in range(200)]
    found = finding(WASH_TRADING, "k" * 500, ACCOUNT, "BTC-USD", 250, "s" * 900, evidence, 7)
    assert len(found.key) == MAX_KEY and found.key.startswith("wash_trading:")
    assert len(found.summary) == MAX_SUMMARY
    assert found.evidence == tuple(evidence[:MAX_EVIDENCE])
    assert found.score == 100
    assert found.account == UUID(ACCOUNT)
    assert finding(WASH_TRADING, "k", ACCOUNT, None, -3, "", [], 0).score == 0


def test_repeated_evidence_is_kept_once_in_order() -> None:
    first, second = Evidence(TRADE, "BTC-USD:1", 4), Evidence(TRADE, "BTC-USD:2", 5)
    found = finding(WASH_TRADING, "k", ACCOUNT, None, 50, "", [first, second, first], 0)
    assert found.evidence == (first, second)


def test_the_alert_command_id_depends_on_the_key_only() -> None:
    one = finding(WASH_TRADING, "a", ACCOUNT, "BTC-USD", 60, "one", [], 1)
    same_key = finding(WASH_TRADING, "a", ACCOUNT, None, 90, "another", [], 2)
    other = finding(WASH_TRADING, "b", ACCOUNT, "BTC-USD", 60, "one", [], 1)
    assert alert_command_id(one) == alert_command_id(same_key) != alert_command_id(other)
    assert len(alert_command_id(one)) <= 100  # a command id's bound


@given(st.integers(1, 10**9), st.integers(1, 10**9))
def test_a_score_is_50_at_the_threshold_and_rises_to_100(threshold: int, extra: int) -> None:
    assert score(threshold, threshold) == 50
    assert 50 <= score(threshold + extra, threshold) <= 100
    assert score(threshold + extra, threshold) >= score(threshold, threshold)
    assert score(threshold * 2, threshold) == 75


@given(st.lists(st.tuples(st.integers(0, 5_000), st.integers(1, 100)), max_size=60))
def test_a_window_sum_counts_what_happened_within_the_window(
    steps: list[tuple[int, int]],
) -> None:
    window = 1_600
    buckets = Buckets(window)
    sums: list[list[int]] = []
    events: list[tuple[int, int]] = []
    now = 0
    for gap, value in steps:
        now += gap
        buckets.add(sums, now, (value,))
        events.append((now, value))
        (total,) = buckets.total(sums, now, 1)
        width = buckets.width
        oldest = now // width - BUCKETS  # buckets up to this one have left the window
        assert total == sum(v for t, v in events if t // width > oldest)
        assert total >= sum(v for t, v in events if t > now - window + width)
        assert len(sums) <= BUCKETS + 1
