"""The journal tool: parsing, error reporting, and the documented example."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from socialtrading.engine import journal

ROOT = Path(__file__).resolve().parents[3]
MARKET = '{"op": "market", "symbol": "BTC-USD", "tick_size": "0.01", "lot_size": "0.0001"}'


def _run(*lines: str) -> list[dict[str, object]]:
    return list(journal.run([MARKET, *lines]))


def test_documented_example_gives_documented_output() -> None:
    text = (ROOT / "docs" / "engine.md").read_text()
    example = re.search(
        r"### Example\n\n```jsonl\n(.*?)```\n\ngives\n\n```jsonl\n(.*?)```", text, re.S
    )
    assert example is not None
    commands, expected = example.group(1).splitlines(), example.group(2).splitlines()
    got = [json.dumps(item, separators=(",", ":")) for item in journal.run(commands)]
    assert got == expected


def test_malformed_lines_are_reported_with_their_number_and_the_run_goes_on() -> None:
    out = _run(
        "not json",
        '{"op": "new", "id": "o1", "account": "a1", "side": "buy", "type": "limit", '
        '"price": "100", "ts": 1}',
        '{"op": "teleport", "ts": 2}',
        '{"op": "cancel", "id": "o1", "account": "a1", "ts": "soon"}',
        "[1, 2]",
        '{"op": "new", "id": "o2", "account": "a1", "side": "buy", "type": "limit", '
        '"price": "100", "qty": "1", "ts": 3}',
    )
    errors = [item for item in out if item["type"] == "error"]
    assert [item["line"] for item in errors] == [2, 3, 4, 5, 6]
    assert "missing field 'qty'" in str(errors[1]["message"])
    assert "unknown op" in str(errors[2]["message"])
    assert [item["type"] for item in out if item["type"] != "error"] == ["accepted", "rested"]


def test_off_tick_price_is_refused_in_sequence_and_changes_nothing() -> None:
    out = _run(
        '{"op": "new", "id": "o1", "account": "a1", "side": "buy", "type": "limit", '
        '"price": "100.255", "qty": "1", "ts": 1}',
        '{"op": "new", "id": "o2", "account": "a1", "side": "buy", "type": "limit", '
        '"price": "100.25", "qty": "1.00005", "ts": 2}',
        '{"op": "new", "id": "o3", "account": "a1", "side": "buy", "type": "limit", '
        '"price": "NaN", "qty": "1", "ts": 3}',
    )
    assert [(item["seq"], item["reason"]) for item in out] == [
        (1, "price_not_on_tick"),
        (2, "qty_not_on_lot"),
        (3, "invalid_price"),
    ]


def test_invalid_market_line_is_an_error_and_later_lines_wait_for_a_market() -> None:
    out = list(
        journal.run(
            [
                '{"op": "market", "symbol": "X", "tick_size": "-1", "lot_size": "1"}',
                MARKET,
                '{"op": "halt", "ts": 1}',
            ]
        )
    )
    assert out[0]["type"] == "error" and out[0]["line"] == 1
    assert out[1]["type"] == "halted"


def _match(source: Path, target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "socialtrading.entrypoints.cli",
            "match",
            "--input",
            str(source),
            "--output",
            str(target),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_writes_records_and_reports_errors_on_stderr_and_exits_1(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    target = tmp_path / "out.jsonl"
    source.write_text(MARKET + "\n{oops\n" + '{"op": "halt", "ts": 5}\n')
    done = _match(source, target)
    assert done.returncode == 1
    assert f"{source}:2:" in done.stderr
    assert "1 line(s) could not be read" in done.stderr
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["error", "halted"]


def test_cli_exits_0_when_every_line_was_read(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    target = tmp_path / "out.jsonl"
    source.write_text(MARKET + "\n" + '{"op": "halt", "ts": 5}\n')
    done = _match(source, target)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert [json.loads(line)["type"] for line in target.read_text().splitlines()] == ["halted"]
