"""The server's command line: admin accounts, the schema export, serve's help."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from socialtrading.commands.writer import Writer
from socialtrading.domain.account import ADMIN
from socialtrading.domain.ids import account_id
from socialtrading.entrypoints.cli import app
from socialtrading.graphql.schema import sdl
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import open_store


def _env(settings: Settings) -> dict[str, str]:
    env = {"SOCIALTRADING_STORE": settings.store}
    if settings.postgres_schema:
        env["SOCIALTRADING_POSTGRES_SCHEMA"] = settings.postgres_schema
    return env


def test_admin_create_prints_a_token_once_and_refuses_a_taken_handle(
    store_settings: Settings,
) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["admin", "create", "--handle", "root"], env=_env(store_settings))
    assert created.exit_code == 0, created.output
    token_line = created.output.splitlines()[-1]
    assert token_line.startswith("token: ") and len(token_line) > 40

    again = runner.invoke(app, ["admin", "create", "--handle", "root"], env=_env(store_settings))
    assert again.exit_code == 1
    assert "handle_taken" in again.output

    store = open_store(store_settings)
    try:
        state = Writer(store).state
        assert state.accounts[account_id("root")].has_role(ADMIN)
    finally:
        store.close()


def test_export_schema_writes_the_sdl(tmp_path: Path) -> None:
    target = tmp_path / "schema.graphql"
    result = CliRunner().invoke(app, ["export-schema", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == sdl()


def test_serve_documents_its_options() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--demo", "--host", "--port"):
        assert option in result.output
