"""The bus's inboxes: one queue of (topic, message) pairs in publication order, topics joined
and left by the subscriber or, at the moment they publish, by a publisher."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from socialtrading.infra.bus import Bus, Inbox


async def _drain(inbox: Inbox) -> list[tuple[str, Any]]:
    await asyncio.sleep(0)  # run the deliveries the publishers scheduled
    pairs = []
    while not inbox.empty():
        pairs.append(await inbox.get())
    return pairs


def test_an_inbox_gets_its_topics_in_publication_order_and_leaves_them_at_the_end() -> None:
    bus = Bus()

    async def scenario() -> list[tuple[str, Any]]:
        async with bus.inbox(max_topics=10) as inbox, bus.subscribe("a") as queue:
            assert inbox.join("a") and inbox.join("b") and inbox.join("a")  # twice: once
            assert bus.subscriber_count("a") == 2 and bus.subscriber_count("b") == 1
            for topic, message in [("a", 1), ("c", 2), ("b", 3), ("a", 4)]:
                bus.publish(topic, message)
            pairs = await _drain(inbox)
            assert [queue.get_nowait(), queue.get_nowait()] == [1, 4]  # a plain subscriber
            assert inbox.topics("") == ["a", "b"]
        assert bus.topics("") == []
        return pairs

    assert asyncio.run(scenario()) == [("a", 1), ("b", 3), ("a", 4)]


def test_leaving_stops_new_messages_and_keeps_the_queued_ones() -> None:
    bus = Bus()

    async def scenario() -> list[tuple[str, Any]]:
        async with bus.inbox(max_topics=10) as inbox:
            inbox.join("a")
            bus.publish("a", 1)
            inbox.leave("a")
            inbox.leave("a")  # twice: harmless
            bus.publish("a", 2)
            assert bus.subscriber_count("a") == 0
            return await _drain(inbox)

    assert asyncio.run(scenario()) == [("a", 1)]


def test_a_publisher_joins_and_leaves_the_inboxes_of_one_topic_to_another() -> None:
    bus = Bus()

    async def scenario() -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
        async with bus.inbox(max_topics=2) as told, bus.inbox(max_topics=2) as other:
            told.join("control")
            other.join("elsewhere")

            def publisher() -> None:  # another thread, as the projection runner is
                bus.publish("control", "listen to x")
                bus.join("x", listeners_of="control")
                bus.publish("x", 1)  # reaches `told` even before it reads the news
                bus.join("y", listeners_of="control")  # over the cap of 2: not joined
                bus.publish("y", 2)
                bus.leave("x", listeners_of="control")
                bus.publish("x", 3)

            thread = threading.Thread(target=publisher)
            thread.start()
            thread.join()
            assert told.topics("") == ["control"]
            assert other.topics("") == ["elsewhere"]
            return await _drain(told), await _drain(other)

    told, other = asyncio.run(scenario())
    assert told == [("control", "listen to x"), ("x", 1)]
    assert other == []


def test_a_full_inbox_drops_its_oldest_pairs_and_counts_them() -> None:
    bus = Bus(queue_size=2)

    async def scenario() -> tuple[int, list[tuple[str, Any]]]:
        async with bus.inbox(max_topics=1) as inbox:
            inbox.join("a")
            assert not inbox.join("b")  # the cap
            for message in range(5):
                bus.publish("a", message)
            pairs = await _drain(inbox)
            return inbox.dropped, pairs

    assert asyncio.run(scenario()) == (3, [("a", 3), ("a", 4)])
