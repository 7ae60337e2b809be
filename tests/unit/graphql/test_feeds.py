"""Shared feeds: one producer per key, whatever the number of subscribers."""

from __future__ import annotations

import asyncio
import tracemalloc
from contextlib import AsyncExitStack

import pytest

from socialtrading.graphql.feeds import Feed, Feeds, Subscription


class Source:
    """A producer over a queue of changes that counts its reads (the spy)."""

    def __init__(self) -> None:
        self.changes: asyncio.Queue[int] = asyncio.Queue()
        self.reads = 0
        self.running = 0
        self.fail_with: Exception | None = None

    async def produce(self, feed: Feed[int]) -> None:
        self.running += 1
        try:
            feed.listening()
            while True:
                value = await self.changes.get()
                if self.fail_with is not None:
                    raise self.fail_with
                self.reads += 1
                feed.emit(value)
        finally:
            self.running -= 1


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_many_subscribers_share_one_producer_that_reads_once_per_change() -> None:
    async def scenario() -> None:
        feeds, source = Feeds(), Source()
        async with AsyncExitStack() as stack:
            subscribers: list[Subscription[int]] = [
                await stack.enter_async_context(feeds.subscribe("book", source.produce))
                for _ in range(500)
            ]
            assert (feeds.producers(), feeds.subscribers("book")) == (1, 500)
            source.changes.put_nowait(7)
            assert [await s.next() for s in subscribers] == [7] * 500
            assert source.reads == 1
        await settle()
        assert (feeds.producers(), source.running) == (0, 0)  # gone with the last subscriber

    asyncio.run(scenario())


def test_a_slow_subscriber_keeps_only_the_latest_and_a_newcomer_gets_it_at_once() -> None:
    async def scenario() -> None:
        feeds, source = Feeds(), Source()
        async with feeds.subscribe("book", source.produce, replay=True) as slow:
            for value in (1, 2, 3):
                source.changes.put_nowait(value)
            await settle()
            assert await slow.next() == 3  # 1 and 2 were dropped, not queued
            async with feeds.subscribe("book", source.produce, replay=True) as late:
                assert await late.next() == 3  # no new read for the newcomer
            assert source.reads == 3

    asyncio.run(scenario())


def test_a_tape_queue_keeps_every_value_up_to_its_size() -> None:
    async def scenario() -> None:
        feeds, source = Feeds(), Source()
        async with feeds.subscribe("tape", source.produce, size=3) as tape:
            for value in range(5):
                source.changes.put_nowait(value)
            await settle()
            assert [await tape.next() for _ in range(3)] == [2, 3, 4]

    asyncio.run(scenario())


def test_a_failing_producer_fails_every_subscriber_and_the_next_one_starts_afresh() -> None:
    async def scenario() -> None:
        feeds, source = Feeds(), Source()
        async with (
            feeds.subscribe("book", source.produce) as one,
            feeds.subscribe("book", source.produce) as two,
        ):
            source.fail_with = LookupError("no market")
            source.changes.put_nowait(1)
            for subscriber in (one, two):
                with pytest.raises(LookupError, match="no market"):
                    await subscriber.next()
            assert feeds.producers() == 0
            source.fail_with = None
            async with feeds.subscribe("book", source.produce) as three:
                source.changes.put_nowait(2)
                assert await three.next() == 2
                assert source.running == 1

    asyncio.run(scenario())


def test_keys_have_their_own_producers() -> None:
    async def scenario() -> None:
        feeds = Feeds()
        sources = {key: Source() for key in ("a", "b")}
        async with (
            feeds.subscribe("a", sources["a"].produce) as a,
            feeds.subscribe("b", sources["b"].produce) as b,
        ):
            sources["a"].changes.put_nowait(1)
            sources["b"].changes.put_nowait(2)
            assert (await a.next(), await b.next()) == (1, 2)
            assert feeds.producers() == 2

    asyncio.run(scenario())


def test_subscribers_share_each_value_rather_than_copy_it() -> None:
    async def scenario() -> None:
        feeds = Feeds()
        book = list(range(20_000))  # ~800 KB: a deep book's worth of objects

        async def produce(feed: Feed[list[int]]) -> None:
            feed.listening()
            feed.emit(book)
            await asyncio.Event().wait()

        async with AsyncExitStack() as stack:
            tracemalloc.start()
            try:
                before = tracemalloc.get_traced_memory()[0]
                subscribers = [
                    await stack.enter_async_context(feeds.subscribe("book", produce, replay=True))
                    for _ in range(1000)
                ]
                for subscriber in subscribers:
                    assert await subscriber.next() is book
                grown = tracemalloc.get_traced_memory()[0] - before
            finally:
                tracemalloc.stop()
        # a queue and a context manager each (~4 KB measured), never a copy of the book (~800 KB)
        assert grown < 1000 * 10_000, grown

    asyncio.run(scenario())
