"""`benchmarks/copy_trading.py --quick` runs and prints its figures (a smoke run: no timing
is asserted; speed is the benchmark's to report)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_the_copy_benchmark_runs_quick_and_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "copy_trading.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=ROOT,
    )
    result = json.loads(done.stdout)
    assert result["copiers"] == 50 and result["trades"] == 6
    for key in (
        "fanout_p50_ms",
        "fanout_p99_ms",
        "allocations_per_sec",
        "allocations_per_writer_sec",
        "events_per_fill",
        "ordinary_ack_p99_ms_baseline",
        "ordinary_ack_p99_ms_copying",
        "raw_rows_per_sec",
    ):
        assert result[key] > 0, key
    # every copy of every fill was allocated: two events per copy and fill at least (the
    # copy's OrderExecuted, its allocation's ledger)
    assert result["events_per_fill"] >= 2 * 50
