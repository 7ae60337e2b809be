"""Awaiting the read models' progress from asyncio."""

from __future__ import annotations

import asyncio
import threading

from socialtrading.infra.progress import ProgressWatcher


class FakeRunner:
    """A runner whose position a test moves."""

    def __init__(self) -> None:
        self._position = 0
        self._changed = threading.Condition()

    @property
    def position(self) -> int:
        return self._position

    def advance(self, position: int) -> None:
        with self._changed:
            self._position = position
            self._changed.notify_all()

    def wait_for(self, position: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._position >= position, timeout)


def test_waiters_wake_when_the_runner_passes_their_position() -> None:
    runner = FakeRunner()
    watcher = ProgressWatcher(runner, tick_seconds=0.01).start()

    async def scenario() -> list[bool]:
        waits = [asyncio.create_task(watcher.wait_for(p, 5.0)) for p in (3, 1, 2)]
        await asyncio.sleep(0.05)
        assert not any(w.done() for w in waits)
        runner.advance(2)
        await asyncio.wait_for(asyncio.gather(waits[1], waits[2]), 2.0)
        assert not waits[0].done()
        runner.advance(5)
        return await asyncio.wait_for(asyncio.gather(*waits), 2.0)

    try:
        assert asyncio.run(scenario()) == [True, True, True]
    finally:
        watcher.stop()


def test_a_wait_times_out_with_false_and_a_reached_position_returns_at_once() -> None:
    runner = FakeRunner()
    runner.advance(4)
    watcher = ProgressWatcher(runner, tick_seconds=0.01).start()

    async def scenario() -> tuple[bool, bool]:
        return await watcher.wait_for(4, 0.0), await watcher.wait_for(9, 0.05)

    try:
        assert asyncio.run(scenario()) == (True, False)
    finally:
        watcher.stop()
