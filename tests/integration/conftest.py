"""Fixtures the read-model tests share: a read store beside the event store, and a scenario."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from socialtrading.commands.writer import Writer
from socialtrading.infra.readstore import open_read_store
from socialtrading.infra.settings import Settings
from tests.integration.projection_scenario import Clock, Scenario


@pytest.fixture
def read_settings(store_settings: Settings, tmp_path: Path) -> Settings:
    """The read store of the test: a file beside SQLite, the test's schema on PostgreSQL."""
    if store_settings.store.startswith("sqlite"):
        return store_settings.model_copy(update={"read_store": f"sqlite:///{tmp_path}/read.db"})
    return store_settings


@pytest.fixture
def read_engine(read_settings: Settings) -> Iterator[Engine]:
    """An engine on the test's read store."""
    engine = open_read_store(read_settings)
    yield engine
    engine.dispose()


@pytest.fixture
def scenario(make_writer: Callable[..., Writer]) -> Scenario:
    """A projection scenario driving a writer over the test's store with a test clock."""
    clock = Clock()
    return Scenario(make_writer(clock=clock), clock)
