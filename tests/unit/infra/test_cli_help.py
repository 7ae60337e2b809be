"""The command line's texts: help that wraps cleanly, a progress bar that fits 80 columns."""

from __future__ import annotations

import itertools
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

from socialtrading.entrypoints.cli import app, rebuild_label, rebuild_progress
from socialtrading.projections.registry import all_projections

COMMANDS = [
    [],
    ["serve"],
    ["match"],
    ["admin", "create"],
    ["projections", "rebuild"],
    ["projections", "status"],
    ["store", "verify"],
    ["audit"],
    ["audit", "verify"],
    ["audit", "trail"],
    ["audit", "export"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_help_has_no_type_labels_and_no_broken_lines(
    command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    lines = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines), result.output
    # A sentence cut by a hard line break in a docstring shows as a short line followed by
    # a line that goes on in lower case; re-wrapped text fills its lines instead. Checked in
    # the description, above the option, argument and command lists.
    ends = [i for i, line in enumerate(lines) if line.endswith(":") and not line.startswith(" ")]
    lines = lines[: min(ends, default=len(lines))]
    for line, following in itertools.pairwise(lines):
        indent = len(line) - len(line.lstrip())
        continues = re.match(rf"^ {{{indent}}}[a-z/]", following) is not None
        if line.strip() and not line.rstrip().endswith(":") and continues:
            assert len(line) > 50, f"short line before a continuation: {line!r}"


def test_rebuild_progress_fits_80_columns_with_every_read_model() -> None:
    console = Console(width=80, record=True, force_terminal=False, color_system=None)
    names = [p.name for p in all_projections()]
    progress = rebuild_progress(console)
    task = progress.add_task(rebuild_label(names), total=12_345_678)
    progress.update(task, completed=6_000_000)
    console.print(progress.get_renderable())
    text = console.export_text()
    assert "6000000/12345678" in text
    assert rebuild_label(names) in text
    assert all(len(line.rstrip()) <= 80 for line in text.splitlines())
