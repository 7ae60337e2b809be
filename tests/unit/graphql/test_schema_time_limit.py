"""A query or mutation that awaits too long is cancelled and answered TIMEOUT."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from socialtrading.graphql.schema import Limits, make_schema


def _context(delay: float) -> SimpleNamespace:
    async def read(*_args: object) -> list[object]:
        await asyncio.sleep(delay)
        return []

    return SimpleNamespace(services=SimpleNamespace(read=read))


def test_a_slow_read_is_cancelled_after_the_limit_with_a_timeout_code() -> None:
    schema = make_schema(Limits(max_seconds=0.2))
    started = time.perf_counter()
    result = asyncio.run(schema.execute("{ markets { symbol } }", context_value=_context(30)))
    elapsed = time.perf_counter() - started
    assert result.data is None
    assert [error.extensions for error in result.errors or []] == [{"code": "TIMEOUT"}]
    assert (result.errors or [])[0].message == "The request took over 0.2 s and was cancelled"
    assert 0.2 <= elapsed < 2


def test_a_read_within_the_limit_answers_normally() -> None:
    schema = make_schema(Limits(max_seconds=5))
    result = asyncio.run(schema.execute("{ markets { symbol } }", context_value=_context(0.01)))
    assert result.errors is None
    assert result.data == {"markets": []}


def test_a_timeout_raised_by_a_resolver_is_not_taken_for_the_limit() -> None:
    async def read(*_args: object) -> list[object]:
        raise TimeoutError("the database did not answer")

    schema = make_schema(Limits(max_seconds=5))
    context = SimpleNamespace(services=SimpleNamespace(read=read))
    result = asyncio.run(schema.execute("{ markets { symbol } }", context_value=context))
    assert [error.message for error in result.errors or []] == ["Internal error"]
