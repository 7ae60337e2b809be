"""The in-process event bus: projections publish committed changes, subscribers listen.

Topics: `trades:{symbol}`, `book:{symbol}`, `orders:{account_id}`, `markets`, and the social
ones: `feed:{viewer}`, `posts:{author}` (authors whose posts are pulled into feeds),
`feed-follows:{viewer}` (changes of the pulled authors a viewer follows),
`notifications:{account}`; copy trading's `copies:{copier}`. Publishing is thread-safe (the
projection runner publishes from its thread); subscribers are asyncio queues fed through
their event loop. A slow subscriber loses its oldest messages rather than holding up the
read models.

A subscriber listens to one topic (`subscribe`) or to several through one `Inbox`, which
receives every message in publication order and may join and leave topics at any time. A
publisher may also make the inboxes that listen to one topic join or leave another
(`Bus.join`, `Bus.leave`) at the moment it publishes, so that a subscriber told "listen to
X from now on" misses none of X's messages while it reads that news.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

# A subscriber: its event loop, what to call there with each (topic, message), its inbox.
_Entry = tuple[asyncio.AbstractEventLoop, Callable[[str, Any], object], "Inbox | None"]


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
        for loop, deliver, _ in targets:
            if not loop.is_closed():
                loop.call_soon_threadsafe(deliver, topic, message)

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[asyncio.Queue[Any]]:
        """A queue receiving the topic's messages while the context is open."""
        queue: asyncio.Queue[Any] = asyncio.Queue(self._queue_size)
        loop = asyncio.get_running_loop()
        entry: _Entry = (loop, lambda _topic, message: _offer(queue, message), None)
        with self._lock:
            self._add(topic, entry)
        try:
            yield queue
        finally:
            with self._lock:
                self._remove(topic, entry)

    @asynccontextmanager
    async def inbox(self, max_topics: int) -> AsyncIterator[Inbox]:
        """An inbox, joined to no topic yet, that may join `max_topics` topics at most and
        leaves them all when the context ends."""
        inbox = Inbox(self, asyncio.get_running_loop(), self._queue_size, max_topics)
        try:
            yield inbox
        finally:
            inbox.leave_all()

    def join(self, topic: str, *, listeners_of: str) -> None:
        """Make every inbox listening to `listeners_of` join `topic` (from any thread): the
        messages published on `topic` from now on reach them."""
        with self._lock:
            for _, _, inbox in list(self._subscribers.get(listeners_of, ())):
                if inbox is not None:
                    inbox._join(topic)

    def leave(self, topic: str, *, listeners_of: str) -> None:
        """Make every inbox listening to `listeners_of` leave `topic` (from any thread)."""
        with self._lock:
            for _, _, inbox in list(self._subscribers.get(listeners_of, ())):
                if inbox is not None:
                    inbox._leave(topic)

    def topics(self, prefix: str) -> list[str]:
        """The topics starting with `prefix` that have subscribers."""
        with self._lock:
            return [topic for topic in self._subscribers if topic.startswith(prefix)]

    def subscriber_count(self, topic: str) -> int:
        """How many subscribers listen to `topic`."""
        with self._lock:
            return len(self._subscribers.get(topic, ()))

    def _add(self, topic: str, entry: _Entry) -> None:  # the lock held
        self._subscribers.setdefault(topic, []).append(entry)

    def _remove(self, topic: str, entry: _Entry) -> None:  # the lock held
        subscribers = self._subscribers.get(topic, [])
        if entry in subscribers:
            subscribers.remove(entry)
        if not subscribers:
            self._subscribers.pop(topic, None)


class Inbox:
    """One bounded queue of `(topic, message)` pairs, in publication order, from the topics
    it has joined (at most `max_topics`). Leaving a topic stops its new messages; those
    already queued stay. `dropped` counts the pairs lost to a full queue (the oldest go
    first)."""

    def __init__(
        self, bus: Bus, loop: asyncio.AbstractEventLoop, size: int, max_topics: int
    ) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(size)
        self._entry: _Entry = (loop, self._deliver, self)
        self._joined: set[str] = set()  # changed under the bus's lock only
        self._max_topics = max_topics
        self.dropped = 0

    def join(self, topic: str) -> bool:
        """Receive the topic's messages from now on (joining twice changes nothing); False if
        the inbox is at its topic cap."""
        with self._bus._lock:
            return self._join(topic)

    def leave(self, topic: str) -> None:
        """Receive no more of the topic's messages."""
        with self._bus._lock:
            self._leave(topic)

    def leave_all(self) -> None:
        """Leave every joined topic."""
        with self._bus._lock:
            for topic in sorted(self._joined):
                self._leave(topic)

    def topics(self, prefix: str) -> list[str]:
        """The joined topics starting with `prefix`, sorted."""
        with self._bus._lock:
            return sorted(topic for topic in self._joined if topic.startswith(prefix))

    def empty(self) -> bool:
        """Whether no pair is waiting."""
        return self._queue.empty()

    async def get(self) -> tuple[str, Any]:
        """The next `(topic, message)` pair (waits for one)."""
        return await self._queue.get()

    def _join(self, topic: str) -> bool:  # the bus's lock held
        if topic in self._joined:
            return True
        if len(self._joined) >= self._max_topics:
            return False
        self._joined.add(topic)
        self._bus._add(topic, self._entry)
        return True

    def _leave(self, topic: str) -> None:  # the bus's lock held
        if topic in self._joined:
            self._joined.discard(topic)
            self._bus._remove(topic, self._entry)

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
