"""The committed schema.graphql is the schema the code serves."""

from __future__ import annotations

from pathlib import Path

from socialtrading.graphql.schema import sdl

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "schema.graphql"


def test_schema_graphql_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == sdl(), (
        "schema.graphql is stale: run `socialtrading export-schema -o schema.graphql`"
    )
