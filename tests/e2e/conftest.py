"""End-to-end fixtures: the real app under uvicorn on a free port, once per backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from socialtrading.infra.settings import Settings
from tests.e2e.server import Server, running


@pytest.fixture
def settings(store_settings: Settings) -> Settings:
    """The test's store, with demo funding on (traders credit themselves)."""
    return store_settings.model_copy(update={"demo_funding": True})


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    """The app serving the test's store."""
    with running(settings) as server:
        yield server
