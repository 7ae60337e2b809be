"""SOCIALTRADING_FEED_PULL_THRESHOLD reaches the projections the CLI builds, so a rebuild
gives the rows the server (which reads the same setting) gives."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from socialtrading.entrypoints.cli import app
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import EventStore
from socialtrading.projections.social.feed import feed_authors, feed_rows, home_feed
from tests.integration.social_world import World


def _env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("SOCIALTRADING_STORE", settings.store)
    if settings.read_store:
        monkeypatch.setenv("SOCIALTRADING_READ_STORE", settings.read_store)
    if settings.postgres_schema:
        monkeypatch.setenv("SOCIALTRADING_POSTGRES_SCHEMA", settings.postgres_schema)


def test_the_cli_rebuild_pulls_authors_from_the_configured_threshold(
    open_event_store: Callable[[], EventStore],
    read_settings: Settings,
    read_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World(open_event_store())
    world.register("alice", "bob", "carol")
    world.follow("bob", "alice")
    world.follow("carol", "alice")
    post = world.publish("alice", "long $BTC")
    alice = world.id("alice")
    _env(monkeypatch, read_settings)
    cli = CliRunner()

    def rebuilt() -> tuple[bool, int]:
        result = cli.invoke(app, ["projections", "rebuild", "social_feed"])
        assert result.exit_code == 0, result.output
        with read_engine.connect() as connection:
            pulled = connection.execute(
                select(feed_authors.c.pulled).where(feed_authors.c.author == alice)
            ).scalar_one()
            rows = len(connection.execute(select(feed_rows)).all())
            feed = home_feed(connection, world.id("bob"), first=10)
        assert [entry.post for entry in feed] == [post]  # the same page either way
        return bool(pulled), rows

    assert rebuilt() == (False, 2)  # the default, 5,000: written into both followers' feeds
    monkeypatch.setenv("SOCIALTRADING_FEED_PULL_THRESHOLD", "2")
    assert rebuilt() == (True, 0)  # two followers reach it: pulled at read time

    status = cli.invoke(app, ["projections", "status"])
    assert status.exit_code == 0, status.output
    assert "social_feed" in status.output


def test_the_threshold_is_bounded() -> None:
    with pytest.raises(ValueError, match="feed_pull_threshold"):
        Settings(feed_pull_threshold=0)
