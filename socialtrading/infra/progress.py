"""Await the read models' progress from asyncio without a thread per waiter.

A mutation must not return before the read models show its effects ("read your writes"),
but `ProjectionRunner.wait_for` blocks a thread. One watcher thread waits on the runner for
the lowest position anybody awaits and resolves every asyncio future it has passed, so a
thousand waiting mutations cost one thread, not a thousand.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
import time
from typing import Protocol


class _Runner(Protocol):
    @property
    def position(self) -> int: ...

    def wait_for(self, position: int, timeout: float) -> bool: ...


class ProgressWatcher:
    """Resolve asyncio futures when the runner's position passes theirs."""

    def __init__(self, runner: _Runner, tick_seconds: float = 0.05) -> None:
        self._runner = runner
        self._tick = tick_seconds
        self._lock = threading.Lock()
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ProgressWatcher:
        """Start the watcher thread."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the watcher thread; pending waits time out on their own."""
        if self._thread is not None:
            self._stop.set()
            self._wake.set()
            self._thread.join()
            self._thread = None

    async def wait_for(self, position: int, timeout: float) -> bool:
        """Wait until the read models have applied `position`; False on timeout."""
        if self._runner.position >= position:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._lock:
            heapq.heappush(self._waiting, (position, next(self._order), future))
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            future.cancel()  # the watcher drops it
            return self._runner.position >= position
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                while self._waiting and self._waiting[0][2].cancelled():
                    heapq.heappop(self._waiting)
                lowest = self._waiting[0][0] if self._waiting else None
            if lowest is None:
                self._wake.wait(self._tick)
                self._wake.clear()
                continue
            started = time.monotonic()
            if not self._runner.wait_for(lowest, self._tick):
                # Not there yet. A failing runner answers at once: do not spin on it.
                if time.monotonic() - started < self._tick / 2:
                    self._stop.wait(self._tick)
                continue
            reached = self._runner.position
            done: list[asyncio.Future[None]] = []
            with self._lock:
                while self._waiting and self._waiting[0][0] <= reached:
                    done.append(heapq.heappop(self._waiting)[2])
            for future in done:
                _resolve(future)


def _resolve(future: asyncio.Future[None]) -> None:
    loop = future.get_loop()
    if not loop.is_closed():
        loop.call_soon_threadsafe(_set_done, future)


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
