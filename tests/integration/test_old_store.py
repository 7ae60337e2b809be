"""A store written by earlier code opens, loads and serves with today's code.

`tests/fixtures/store-2026-12-06.db` was written by `tests/fixtures/make_store.py` with the
code of 2026-12-06, before the hardening and structure changes; its JSON twin records what
it holds. Stored events are never edited, so every later version must read it.
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

from socialtrading.commands import dedup
from socialtrading.commands.writer import Writer
from socialtrading.infra.readstore import open_read_store
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import open_store
from socialtrading.projections.registry import all_projections
from socialtrading.projections.runner import ProjectionRunner
from tests.fixtures.make_store import NAME, commands

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_a_store_written_on_2026_12_06_loads_answers_repeats_and_builds_read_models(
    tmp_path: Path,
) -> None:
    expected = json.loads((FIXTURES / f"{NAME}.json").read_text(encoding="utf-8"))
    shutil.copyfile(FIXTURES / f"{NAME}.db", tmp_path / "events.db")
    settings = Settings(store=f"sqlite:///{tmp_path}/events.db")
    store = open_store(settings)
    try:
        assert dedup.check(store).disagreements == []
        writer = Writer(store, demo_funding=True)
        balances = {
            account.handle: {
                asset: [str(account.available(asset)), str(account.reserved(asset))]
                for asset in account.assets()
            }
            for account in writer.state.accounts.values()
        }
        assert {h: b for h, b in balances.items() if b} == {
            h: b for h, b in expected["balances"].items() if b
        }
        with writer:
            for command in commands():
                repeat = writer.execute(command)
                first = expected["outcomes"][command.command_id]
                assert [repeat.accepted, repeat.code] == first, command.command_id
        assert store.recorder.max_notification_id() == expected["head"]  # nothing new stored

        engine = open_read_store(settings)
        try:
            runner = ProjectionRunner(store, engine, all_projections())
            runner.setup()
            assert runner.catch_up() == expected["head"]
            assert all(status.lag == 0 for status in runner.status())
        finally:
            engine.dispose()
        for handle, assets in expected["balances"].items():
            for asset, (available, reserved) in assets.items():
                assert Decimal(available) >= 0 and Decimal(reserved) >= 0, (handle, asset)
    finally:
        store.close()
