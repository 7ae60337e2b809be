"""The in-process event bus: projections publish committed changes, subscribers listen.

Topics: `trades:{symbol}`, `book:{symbol}`, `orders:{account_id}`, `markets`, and the social
ones: `feed:{viewer}`, `posts:{author}` (authors whose posts are pulled into feeds),
`notifications:{account}`; copy trading's `copies:{copier}`. Publishing is
thread-safe (the projection runner publishes from its thread); subscribers are asyncio queues
fed through their event loop. A slow subscriber loses its oldest messages rather than holding
up the read models.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


class Bus:
    """Topic-based publish/subscribe within one process."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._lock = threading.Lock()
        self._subscribers: dict[
            str, list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Any]]]
        ] = {}

    def publish(self, topic: str, message: Any) -> None:
        """Deliver `message` to every subscriber of `topic` (from any thread)."""
        with self._lock:
            targets = list(self._subscribers.get(topic, ()))
        for loop, queue in targets:
            if not loop.is_closed():
                loop.call_soon_threadsafe(_offer, queue, message)

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[asyncio.Queue[Any]]:
        """A queue receiving the topic's messages while the context is open."""
        queue: asyncio.Queue[Any] = asyncio.Queue(self._queue_size)
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            self._subscribers.setdefault(topic, []).append(entry)
        try:
            yield queue
        finally:
            with self._lock:
                subscribers = self._subscribers.get(topic, [])
                if entry in subscribers:
                    subscribers.remove(entry)
                if not subscribers:
                    self._subscribers.pop(topic, None)

    def topics(self, prefix: str) -> list[str]:
        """The topics starting with `prefix` that have subscribers."""
        with self._lock:
            return [topic for topic in self._subscribers if topic.startswith(prefix)]

    def subscriber_count(self, topic: str) -> int:
        """How many subscribers listen to `topic`."""
        with self._lock:
            return len(self._subscribers.get(topic, ()))


def _offer(queue: asyncio.Queue[Any], message: Any) -> None:
    if queue.full():
        queue.get_nowait()  # drop the oldest: live views catch up from the next snapshot
    queue.put_nowait(message)
