"""SIGKILL the writer and copy-trading process in the middle of fanning a leader's fills out
to its copiers, start it again, and check that every copy of every fill happened exactly
once (both backends).

`crash_copier.py` runs in a subprocess: it sets up a leader with 150 copiers and has the
leader trade, while its copy policy fans each fill out. The test kills it with SIGKILL right
after the second leader trade is acknowledged (the policy is then copying the first ones),
runs it again to the end (every setup command and leader order is a repeat by then; the
policy resumes from its recorded position), and then checks over the log that:

- each copy has exactly one decision (an order executed, or a skip) per leader trade made
  after it started, and no copy order was placed twice (a fill is settled in parts, so the
  kill usually lands between the parts of a plan);
- no plan is left pending;
- the ledger holds: per asset, every account's available + reserved sums to the deposits, no
  balance is negative, every block account is flat;
- the command index agrees with the log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from socialtrading.commands import dedup
from socialtrading.commands.writer import Writer
from socialtrading.domain.account import COPY, Account
from socialtrading.domain.copy.copy import Copy
from socialtrading.domain.market import Market
from socialtrading.infra.settings import Settings
from tests.integration.crash_copier import COPIERS, LEADER, TRADES
from tests.integration.test_crash import stored_events

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("crash_copier.py")
ROOT = SCRIPT.parents[2]


def _run(settings: Settings, read_store: str, stderr: Path, kill_after: int | None) -> list[str]:
    """Run the script; SIGKILL it after `kill_after` TRADE lines (None: let it finish)."""
    args = [sys.executable, str(SCRIPT), settings.store, read_store]
    if settings.postgres_schema:
        args.append(settings.postgres_schema)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALTRADING_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    lines: list[str] = []
    with stderr.open("w") as errors:
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=errors, env=env, cwd=stderr.parent, text=True
        )
        assert process.stdout is not None
        try:
            for line in process.stdout:
                lines.append(line.strip())
                if kill_after is not None and len(lines) >= kill_after:
                    process.send_signal(signal.SIGKILL)
                    break
        finally:
            process.wait(120)
            process.stdout.close()
    if kill_after is not None:
        assert process.returncode == -signal.SIGKILL, stderr.read_text()
    else:
        assert process.returncode == 0, stderr.read_text()
        assert lines[-1].startswith("DONE"), lines
    return lines


def test_a_killed_fan_out_copies_every_fill_exactly_once(
    store_settings: Settings, tmp_path: Path, make_writer: Callable[..., Writer]
) -> None:
    if store_settings.store.startswith("sqlite"):
        read_store = f"sqlite:///{tmp_path}/read.db"
    else:
        read_store = store_settings.store
    _run(store_settings, read_store, tmp_path / "first.stderr", kill_after=2)
    lines = _run(store_settings, read_store, tmp_path / "second.stderr", kill_after=None)
    trades = [line.split()[1] for line in lines if line.startswith("TRADE")]
    assert len(trades) == TRADES

    writer = make_writer()
    store, state = writer.store, writer.state
    leader = str(LEADER)
    decisions: Counter[tuple[str, str]] = Counter()  # (copy, trade id) -> decisions
    placed: Counter[tuple[str, str]] = Counter()
    deposits: dict[str, Decimal] = defaultdict(Decimal)
    leader_trades: set[str] = set()
    symbols: dict[object, str] = {}
    for event in stored_events(store):
        if isinstance(event, Market.Listed):
            symbols[event.originator_id] = event.symbol
        elif isinstance(event, Market.BookChanged):
            for record in event.records:
                if record[0] == "trade" and leader in (record[8], record[9]):
                    leader_trades.add(f"{symbols[event.originator_id]}:{record[1]}")
        elif isinstance(event, Account.FundsDeposited):
            deposits[event.asset] += event.amount
        elif isinstance(event, Copy.OrderExecuted):
            placed[(str(event.originator_id), event.leader_trade_id)] += 1
            decisions[(str(event.originator_id), event.leader_trade_id)] += 1
        elif isinstance(event, Copy.Skipped):
            decisions[(str(event.originator_id), event.leader_trade_id)] += 1
    assert leader_trades == set(trades)
    copies = list(state.copies.by_id.values())
    assert len(copies) == COPIERS
    expected = {
        (str(copy.id), trade)
        for copy in copies
        for trade in trades
        if copy.copies_trade(trade.split(":")[0], int(trade.split(":")[1]))
    }
    assert len(expected) >= COPIERS * (TRADES - 2)
    assert set(decisions) == expected
    assert not [key for key, count in decisions.items() if count != 1]
    assert not [key for key, count in placed.items() if count != 1]

    totals: dict[str, Decimal] = defaultdict(Decimal)
    for account in state.accounts.values():
        for asset in account.assets():
            assert account.available(asset) >= 0 and account.reserved(asset) >= 0
            totals[asset] += account.available(asset) + account.reserved(asset)
            if COPY in account.roles and account.handle.startswith("~block"):
                assert account.available(asset) == 0 == account.reserved(asset)
                assert not account.blocks
    assert dict(totals) == dict(deposits)
    writer.stop()
    assert dedup.disagreements(store) == []
