"""The in-process event bus: projections publish committed changes, subscribers listen.

Topics: `trades:{symbol}`, `book:{symbol}`, `orders:{account_id}`, `markets`, and the social
ones: `feed:{viewer}`, `posts:{author}` (authors whose posts are pulled into feeds),
`feed-follows:{viewer}` (changes of the pulled authors a viewer follows),
`notifications:{account}`; copy trading's `copies:{copier}`. Publishing is thread-safe (the
projection runner publishes from its thread); subscribers are asyncio queues fed through
their event loop. A slow subscriber loses its oldest messages rather than holding up the
read models.

A subscriber listens to one topic (`subscribe`) or to several through one `Inbox`, which it
may join to and leave topics at any time and which receives every message in publication
order, so a subscriber that changes what it listens to as messages come (the home feed's)
sees one sequence.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

# A subscriber: its event loop, and what to call there with each (topic, message).
_Entry = tuple[asyncio.AbstractEventLoop, Callable[[str, Any], object]]


class Bus:
    """Topic-based publish/subscribe within one process."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._lock = threading.Lock()
        self._subscribers: dict[str, list[_Entry]] = {}

    def publish(self, topic: str, message: Any) -> None:
        """Deliver `message` to every subscriber of `topic` (from any thread)."""
        with self._lock:
            targets = list(self._subscribers.get(topic, ()))
        for loop, deliver in targets:
            if not loop.is_closed():
                loop.call_soon_threadsafe(deliver, topic, message)

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[asyncio.Queue[Any]]:
        """A queue receiving the topic's messages while the context is open."""
        queue: asyncio.Queue[Any] = asyncio.Queue(self._queue_size)
        entry: _Entry = (asyncio.get_running_loop(), lambda _topic, message: _offer(queue, message))
        self._add(topic, entry)
        try:
            yield queue
        finally:
            self._remove(topic, entry)

    @asynccontextmanager
    async def inbox(self) -> AsyncIterator[Inbox]:
        """An inbox, joined to no topic yet, that leaves every topic when the context ends."""
        inbox = Inbox(self, asyncio.get_running_loop(), self._queue_size)
        try:
            yield inbox
        finally:
            inbox.leave_all()

    def topics(self, prefix: str) -> list[str]:
        """The topics starting with `prefix` that have subscribers."""
        with self._lock:
            return [topic for topic in self._subscribers if topic.startswith(prefix)]

    def subscriber_count(self, topic: str) -> int:
        """How many subscribers listen to `topic`."""
        with self._lock:
            return len(self._subscribers.get(topic, ()))

    def _add(self, topic: str, entry: _Entry) -> None:
        with self._lock:
            self._subscribers.setdefault(topic, []).append(entry)

    def _remove(self, topic: str, entry: _Entry) -> None:
        with self._lock:
            subscribers = self._subscribers.get(topic, [])
            if entry in subscribers:
                subscribers.remove(entry)
            if not subscribers:
                self._subscribers.pop(topic, None)


class Inbox:
    """One bounded queue of `(topic, message)` pairs, in publication order, from the topics
    it has joined. Leaving a topic stops its new messages; those already queued stay.
    `dropped` counts the pairs lost to a full queue (the oldest go first)."""

    def __init__(self, bus: Bus, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(size)
        self._entry: _Entry = (loop, self._deliver)
        self._joined: set[str] = set()
        self.dropped = 0

    def join(self, topic: str) -> None:
        """Receive the topic's messages from now on (joining twice changes nothing)."""
        if topic not in self._joined:
            self._joined.add(topic)
            self._bus._add(topic, self._entry)

    def leave(self, topic: str) -> None:
        """Receive no more of the topic's messages."""
        if topic in self._joined:
            self._joined.discard(topic)
            self._bus._remove(topic, self._entry)

    def leave_all(self) -> None:
        """Leave every joined topic."""
        for topic in sorted(self._joined):
            self.leave(topic)

    def joined(self, topic: str) -> bool:
        """Whether the inbox receives the topic's messages."""
        return topic in self._joined

    def empty(self) -> bool:
        """Whether no pair is waiting."""
        return self._queue.empty()

    async def get(self) -> tuple[str, Any]:
        """The next `(topic, message)` pair (waits for one)."""
        return await self._queue.get()

    def _deliver(self, topic: str, message: Any) -> None:
        if _offer(self._queue, (topic, message)):
            self.dropped += 1


def _offer(queue: asyncio.Queue[Any], message: Any) -> bool:
    """Queue `message`; True if the oldest message was dropped to make room."""
    dropped = queue.full()
    if dropped:
        queue.get_nowait()  # drop the oldest: live views catch up from the next snapshot
    queue.put_nowait(message)
    return dropped
