"""`benchmarks/time_travel.py --quick` runs, checks its books against full replays, and prints
the figures it documents (not their speed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIMES = {"p50_ms", "p99_ms", "max_ms"}


def test_the_quick_time_travel_benchmark_prints_every_figure() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "time_travel.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout)
    assert result["quick"] is True and result["events"] >= 20_000
    for name in ("as_of_time", "as_of_position"):
        assert set(result[name]) == TIMES | {"replayed_p50", "replayed_max"}
    assert set(result["baseline_latest"]) == TIMES == set(result["account_as_of"])
    assert result["checked"] == 10  # as-of books equal to replays from the first event
    assert result["full_replay"]["events"] > 0
    stored = result["stored"]
    assert stored["snapshots_count"] > 0 and stored["log_count"] == result["events"]
    assert result["target_p99_ms"] == 100
