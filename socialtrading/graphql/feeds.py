"""Shared live feeds: one producer per key, its values fanned out to every subscriber.

Public data (a market's book at a depth, its trade tape) is the same for every subscriber,
so it is read and built once per change, not once per subscriber: 6,000 `orderBook`
subscriptions to one market cost one book read per change, not 6,000. A feed's producer
starts with its first subscriber and is cancelled with its last.

Each subscriber has a small queue of its own; when it is full the oldest value is dropped,
so a slow subscriber misses values (the book: intermediate snapshots) rather than holding
the producer up or growing without bound. A feed that `replays` hands its latest value to
whoever joins (the book's first message is the current book). If the producer fails, every
subscriber gets its error and the feed is gone; the next subscriber starts a fresh one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


class Feed(Generic[T]):
    """One producer and its subscribers' queues: what a producer emits into."""

    def __init__(self, size: int, replay: bool) -> None:
        self._size = size
        self._replay = replay
        self._queues: list[asyncio.Queue[T | _Failure]] = []
        self._latest: list[T] = []  # the last value, if replayed
        self._listening = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def listening(self) -> None:
        """Say the producer listens for changes: a subscriber misses none from now on."""
        self._listening.set()

    def emit(self, value: T) -> None:
        """Offer `value` to every subscriber (and keep it for newcomers, if replayed)."""
        if self._replay:
            self._latest[:] = [value]
        for queue in self._queues:
            _offer(queue, value)

    @property
    def subscribers(self) -> int:
        """How many subscribers the feed has."""
        return len(self._queues)

    def _join(self) -> asyncio.Queue[T | _Failure]:
        queue: asyncio.Queue[T | _Failure] = asyncio.Queue(self._size)
        for value in self._latest:
            queue.put_nowait(value)
        self._queues.append(queue)
        return queue

    def _leave(self, queue: asyncio.Queue[T | _Failure]) -> None:
        self._queues.remove(queue)

    def _fail(self, error: Exception) -> None:
        failure = _Failure(error)
        for queue in self._queues:
            _offer(queue, failure)
        self._listening.set()  # wake those waiting to start: they get the error


class Subscription(Generic[T]):
    """One subscriber's end of a feed."""

    def __init__(self, queue: asyncio.Queue[T | _Failure]) -> None:
        self._queue = queue

    async def next(self) -> T:
        """The next value (raising the producer's error if it failed)."""
        item = await self._queue.get()
        if isinstance(item, _Failure):
            raise item.error
        return item


Producer = Callable[[Feed[T]], Awaitable[None]]
"""Runs until cancelled: calls `feed.listening()` once it listens, then `feed.emit(...)`."""


class Feeds:
    """The live feeds of one app, by key (for example `("book", "BTC-USD", 20)`)."""

    def __init__(self) -> None:
        self._feeds: dict[Hashable, Feed[Any]] = {}

    @asynccontextmanager
    async def subscribe(
        self, key: Hashable, produce: Producer[T], *, size: int = 1, replay: bool = False
    ) -> AsyncIterator[Subscription[T]]:
        """Join the feed of `key`, starting it with `produce` if it has no subscriber yet.

        `size` and `replay` apply to a feed this call starts; a key names one kind of feed.
        """
        found: Feed[T] | None = self._feeds.get(key)
        feed = self._start(key, produce, size, replay) if found is None else found
        queue = feed._join()
        try:
            await feed._listening.wait()
            yield Subscription(queue)
        finally:
            feed._leave(queue)
            if not feed.subscribers and self._feeds.get(key) is feed:
                del self._feeds[key]
                assert feed.task is not None
                feed.task.cancel()

    def _start(self, key: Hashable, produce: Producer[T], size: int, replay: bool) -> Feed[T]:
        feed: Feed[T] = Feed(size, replay)
        self._feeds[key] = feed
        feed.task = asyncio.create_task(self._run(key, feed, produce))
        return feed

    def producers(self) -> int:
        """How many feeds run."""
        return len(self._feeds)

    def subscribers(self, key: Hashable) -> int:
        """How many subscribers the feed of `key` has (0 if it does not run)."""
        feed = self._feeds.get(key)
        return 0 if feed is None else feed.subscribers

    async def _run(self, key: Hashable, feed: Feed[T], produce: Producer[T]) -> None:
        try:
            await produce(feed)
            raise RuntimeError(f"the feed {key!r} ended")
        except asyncio.CancelledError:
            raise
        except Exception as error:  # every subscriber gets it; the next starts afresh
            if self._feeds.get(key) is feed:
                del self._feeds[key]
            feed._fail(error)


def _offer(queue: asyncio.Queue[Any], value: Any) -> None:
    if queue.full():
        queue.get_nowait()  # drop the oldest: a slow subscriber misses values
    queue.put_nowait(value)
