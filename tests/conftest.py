"""Shared fixtures: event stores on SQLite and PostgreSQL, and writers over them.

Every test that takes `store_url` (or `make_writer`) runs once per backend. PostgreSQL tests
use a fresh schema each, dropped afterwards. When the server is absent they skip with the
reason, except in CI (CI=true), where a missing server is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from socialtrading.commands.writer import Writer
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import EventStore, open_store

POSTGRES_URL = os.environ.get(
    "SOCIALTRADING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _postgres_or_skip() -> None:
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI and unreachable at {POSTGRES_URL}: {error}")
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}: {error}")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The name of the event-store backend under test."""
    return str(request.param)


@pytest.fixture
def store_settings(backend: str, tmp_path: Path) -> Iterator[Settings]:
    """Settings naming a fresh, empty event store on `backend`."""
    if backend == "sqlite":
        yield Settings(store=f"sqlite:///{tmp_path}/events.db")
        return
    _postgres_or_skip()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield Settings(store=POSTGRES_URL, postgres_schema=schema)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def open_event_store(store_settings: Settings) -> Iterator[Callable[[], EventStore]]:
    """Open the test's event store (again, for restarts); every store opened is closed."""
    opened: list[EventStore] = []

    def opener() -> EventStore:
        store = open_store(store_settings)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def make_writer(open_event_store: Callable[[], EventStore]) -> Iterator[Callable[..., Writer]]:
    """Start a writer over the test's store (each call opens the store anew: a restart)."""
    writers: list[Writer] = []

    def factory(**options: Any) -> Writer:
        options.setdefault("demo_funding", True)
        writer = Writer(open_event_store(), **options).start()
        writers.append(writer)
        return writer

    yield factory
    for writer in writers:
        writer.stop()
