"""`benchmarks/alerts.py --quick` runs and prints its figures (a smoke run: no timing is
asserted; speed is the benchmark's to report)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_the_alerts_benchmark_runs_quick_and_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "alerts.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=ROOT,
    )
    result = json.loads(done.stdout)
    assert (result["alerts"], result["samples"]) == (100, 20)
    for key in (
        "visible_p50_ms",
        "visible_p99_ms",
        "raise_per_sec",
        "raise_again_per_sec",
        "case_steps_per_sec",
        "alerts_projection_events_per_sec",
        "raw_commit_p50_ms",
        "raw_rows_per_sec",
    ):
        assert result[key] > 0, key
    assert result["raise_again_stored"] == 0  # the same findings again: the same alerts
