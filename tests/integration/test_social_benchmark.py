"""`benchmarks/social.py --quick` runs and prints the figures it documents (not their speed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = {"first_page_p50_ms", "first_page_p99_ms", "next_page_p50_ms", "next_page_p99_ms"}


def test_the_quick_social_benchmark_prints_every_figure() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "social.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout)
    assert result["quick"] is True
    feed = result["feed"]
    assert {
        "posts",
        "authors",
        "feed_rows",
        "load_seconds",
        "sample_rows_checked",
        "raw_page_p50_ms",
        "pushed_fan_out_seconds",
    } <= set(feed)
    assert feed["sample_rows_checked"] > 0
    assert set(feed["following_500"]) == PAGES == set(feed["following_pulled"])
    assert {
        "posts_per_sec",
        "posts_lag_seconds",
        "likes_per_sec",
        "likes_lag_seconds",
        "raw_rows_per_sec",
    } <= set(result["write"])
    assert {"followers", "absorbed_seconds", "absorbed_after_commit_seconds"} <= set(
        result["celebrity_post"]
    )
    assert set(result["targets"]) == {
        "feed_p99_ms",
        "posts_per_sec",
        "likes_per_sec",
        "lag_seconds",
        "celebrity_post_seconds",
    }
