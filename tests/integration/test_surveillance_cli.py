"""`socialtrading surveillance scan` writes what the detectors find over the store, one JSON
object per line, with the thresholds of SOCIALTRADING_SURVEILLANCE_*; it stores nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialtrading.commands.writer import Writer
from socialtrading.entrypoints.cli import app
from socialtrading.infra.settings import Settings
from tests.integration.surveillance_world import Watched
from tests.unit.commands.copy_world import Clock


def test_the_scan_writes_each_finding_as_a_json_line(
    make_writer: Callable[..., Writer],
    store_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    world = Watched(make_writer, Clock())
    spo = world.trader("spo")
    for _ in range(6):
        world.cancel(spo, world.place(spo, "buy", "90", "1"))
    head = world.head()
    monkeypatch.setenv("SOCIALTRADING_STORE", store_settings.store)
    if store_settings.postgres_schema:
        monkeypatch.setenv("SOCIALTRADING_POSTGRES_SCHEMA", store_settings.postgres_schema)
    cli = CliRunner()
    out = tmp_path / "findings.jsonl"
    result = cli.invoke(app, ["surveillance", "scan", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == ""  # 12 messages: below the default minimum
    monkeypatch.setenv("SOCIALTRADING_SURVEILLANCE_OTR_MIN_MESSAGES", "10")
    monkeypatch.setenv("SOCIALTRADING_SURVEILLANCE_OTR_MAX_RATIO", "5")
    result = cli.invoke(app, ["surveillance", "scan", "-o", str(out)])
    assert result.exit_code == 0, result.output
    (line,) = out.read_text().splitlines()
    found = json.loads(line)
    assert (found["kind"], found["account"]) == ("order_to_trade", str(spo))
    assert found["evidence"][0] == {
        "kind": "account",
        "ref": str(spo),
        "position": found["position"],
    }
    assert "1 finding(s)" in result.output
    assert world.head() == head  # nothing stored
