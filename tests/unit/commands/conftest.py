"""Handlers run in the writer thread, whose decimal context is `domain.money`'s: so here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from socialtrading.domain import money


@pytest.fixture(autouse=True)
def exact_money() -> Iterator[None]:
    """Run each test in the writer thread's exact decimal context."""
    with money.exact():
        yield
