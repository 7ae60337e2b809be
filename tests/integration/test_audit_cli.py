"""`socialtrading audit trail` and `audit export` on both backends: the trail index brought up
to date when the store is free (and a note when it is not), JSON Lines and table output, an
export written with its count, and the refusals of bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialtrading.commands.writer import Writer
from socialtrading.entrypoints.cli import app
from socialtrading.infra.lock import StoreLock
from socialtrading.infra.readstore import open_read_store
from socialtrading.infra.settings import Settings
from socialtrading.projections import audit_trail as trail
from tests.integration.audit_world import AuditWorld, Story, tell
from tests.unit.commands.copy_world import CAL


@pytest.fixture
def world(make_writer: Callable[..., Writer]) -> AuditWorld:
    return AuditWorld(make_writer)


@pytest.fixture
def cli(read_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner whose commands use the test's stores."""
    monkeypatch.setenv("SOCIALTRADING_STORE", read_settings.store)
    if read_settings.read_store:
        monkeypatch.setenv("SOCIALTRADING_READ_STORE", read_settings.read_store)
    if read_settings.postgres_schema:
        monkeypatch.setenv("SOCIALTRADING_POSTGRES_SCHEMA", read_settings.postgres_schema)
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def test_trail_brings_the_index_up_to_date_then_prints_one_object_per_event(
    world: AuditWorld, cli: CliRunner, read_settings: Settings
) -> None:
    story: Story = tell(world)  # the trail index was never built
    result = cli.invoke(app, ["audit", "trail", "--order", story.order, "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    engine = open_read_store(read_settings)
    try:
        with engine.connect() as connection:
            expected = trail.trail_positions(
                connection, trail.order_subject(story.order), first=100
            )
    finally:
        engine.dispose()
    assert [line["position"] for line in lines] == expected
    assert len(lines) == 8
    assert lines[0]["type"] == "OrderAccepted"
    assert (lines[0]["actor"], lines[0]["actor_handle"]) == (str(CAL), "cal")
    assert lines[1]["type"] == "LedgerPosted" and lines[1]["actor_handle"] is None
    assert "reserve USD" in lines[1]["summary"]
    # --after and --limit page through it
    paged = cli.invoke(
        app,
        [
            *("audit", "trail", "--order", story.order, "--format", "jsonl"),
            *("--after", str(lines[2]["position"]), "--limit", "3"),
        ],
    )
    assert [json.loads(line)["position"] for line in paged.stdout.splitlines()] == [
        line["position"] for line in lines[3:6]
    ]


def test_trail_as_a_table_names_actors_by_handle(world: AuditWorld, cli: CliRunner) -> None:
    story = tell(world)
    result = cli.invoke(app, ["audit", "trail", "--post", str(story.post)])
    assert result.exit_code == 0, result.output
    assert "position" in result.stdout and "summary" in result.stdout
    for word in ("Published", "Edited", "Liked", "Unliked", "Filed", "Hidden", "lea", "cid"):
        assert word in result.stdout, word
    unknown = cli.invoke(app, ["audit", "trail", "--account", "nobody"])
    assert unknown.exit_code == 0 and "no events" in unknown.stdout


def test_trail_while_another_process_holds_the_store_reads_the_index_as_it_is(
    world: AuditWorld, cli: CliRunner, read_settings: Settings
) -> None:
    story = tell(world)
    with StoreLock(read_settings):
        result = cli.invoke(app, ["audit", "trail", "--account", "cal", "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    assert "behind the log" in result.stderr
    assert result.stdout == ""  # the index was never built, and the server would build it
    after = cli.invoke(app, ["audit", "trail", "--account", "cal", "--format", "jsonl"])
    assert after.stdout.count("\n") > 20 and story.order in after.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "exactly one"),
        (["--order", "0" * 32, "--post", "0" * 32], "exactly one"),
        (["--order", "xyz"], "32 hexadecimal digits"),
        (["--account", "not a handle"], "handle or its id"),
    ],
)
def test_trail_refuses_anything_but_one_well_formed_subject(
    world: AuditWorld, cli: CliRunner, arguments: list[str], message: str
) -> None:
    result = cli.invoke(app, ["audit", "trail", *arguments])
    assert result.exit_code == 2
    assert message in result.stderr


def test_export_writes_the_range_and_says_what_it_wrote(
    world: AuditWorld, cli: CliRunner, tmp_path: Path
) -> None:
    tell(world)
    log = world.log()
    start = log[10][1].timestamp.isoformat()
    path = tmp_path / "social.csv"
    result = cli.invoke(
        app,
        [
            *("audit", "export", "--from", start, "--stream", "social", "--format", "csv"),
            *("-o", str(path)),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = path.read_text(encoding="utf-8").splitlines()
    header = "position,time,aggregate,aggregate_id,version,type,actor,command_id,data"
    assert rows[0] == header
    assert f"exported {len(rows) - 1} event(s)" in result.stdout
    assert len(rows) > 10


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--from", "2027-01-15T08:00:00"], "offset"),
        (["--from", "yesterday"], "not an ISO 8601 time"),
        (["--from", "2027-01-16", "--to", "2027-01-15"], "--to is before --from"),
        (["--stream", "orders"], "orders"),
    ],
)
def test_export_refuses_bad_times_and_streams(
    world: AuditWorld, cli: CliRunner, tmp_path: Path, arguments: list[str], message: str
) -> None:
    path = tmp_path / "x.jsonl"
    result = cli.invoke(app, ["audit", "export", "--format", "jsonl", "-o", str(path), *arguments])
    assert result.exit_code == 2
    assert message in result.output
    assert not path.exists()
