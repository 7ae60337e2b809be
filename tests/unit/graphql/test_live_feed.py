"""A live feed's windows over hand-made messages: a pulled author's posts are sent inside a
follow's window only, pushed entries as they come; the pulled topics are capped; after an
overflow the windows restart from the topics joined."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from socialtrading.graphql.social import live_feed
from socialtrading.graphql.social.live_feed import INBOX_TOPICS, LiveFeed
from socialtrading.infra.bus import Bus, Inbox
from socialtrading.projections.social.rows import FeedEntry, PulledFollow

T = TypeVar("T")


def _with_feed(bus: Bus, scenario: Callable[[Inbox, LiveFeed], T]) -> T:
    async def run() -> T:
        async with bus.inbox(INBOX_TOPICS) as inbox:
            return scenario(inbox, LiveFeed(inbox, "v"))

    return asyncio.run(run())


def _posts(live: LiveFeed, topic: str, message: Any) -> list[str]:
    return [entry.post for entry in live.take(topic, message)]


def test_a_pulled_authors_posts_are_sent_inside_the_follow_windows_only() -> None:
    def scenario(inbox: Inbox, live: LiveFeed) -> None:
        assert inbox.topics("") == ["feed-follows:v", "feed:v"]
        live.listen(["early"])
        assert inbox.topics("posts:") == ["posts:early"]
        a = [FeedEntry(f"a{cursor}", "a", cursor) for cursor in range(12)]
        changes = [PulledFollow("a", 3, True), PulledFollow("a", 6, False)]
        assert live.take("feed-follows:v", changes) == []
        assert live.following() == ["early"]
        assert _posts(live, "posts:a", a[:7]) == ["a3", "a4", "a5"]
        changes = [PulledFollow("a", 8, True), PulledFollow("a", 9, False)]
        changes += [PulledFollow("a", 10, True)]  # several windows in one batch
        assert live.take("feed-follows:v", changes) == []
        assert live.following() == ["a", "early"]
        assert _posts(live, "posts:a", a[7:]) == ["a8", "a10", "a11"]
        assert _posts(live, "posts:early", [FeedEntry("e", "early", 1)]) == ["e"]
        assert _posts(live, "posts:other", [FeedEntry("o", "other", 9)]) == []
        # pushed entries: as they come (the projection wrote them for a current follower)
        assert _posts(live, "feed:v", [FeedEntry("p", "pushed", 0)]) == ["p"]

    _with_feed(Bus(), scenario)


def test_a_feed_listens_to_at_most_max_pulled_topics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_feed, "MAX_PULLED_TOPICS", 2)

    def scenario(inbox: Inbox, live: LiveFeed) -> None:
        live.listen(["a", "b", "c"])
        assert live.following() == ["a", "b"]
        assert live.take("feed-follows:v", [PulledFollow("d", 5, True)]) == []
        assert live.following() == ["a", "b"]
        assert _posts(live, "posts:d", [FeedEntry("d5", "d", 5)]) == []

    _with_feed(Bus(), scenario)


def test_after_an_overflow_the_windows_restart_from_the_topics_joined() -> None:
    bus = Bus(queue_size=2)

    async def run() -> list[list[str]]:
        async with bus.inbox(INBOX_TOPICS) as inbox:
            live = LiveFeed(inbox, "v")
            live.listen(["a"])
            bus.publish("feed-follows:v", [PulledFollow("b", 4, True)])
            bus.join("posts:b", listeners_of="feed-follows:v")
            bus.publish("feed-follows:v", [PulledFollow("a", 5, False)])
            bus.leave("posts:a", listeners_of="feed-follows:v")  # as the projection does
            bus.publish("posts:b", [FeedEntry("b1", "b", 1)])  # before the follow: kept now
            bus.publish("posts:b", [FeedEntry("b6", "b", 6)])  # pushes the changes out
            await asyncio.sleep(0)
            assert inbox.dropped == 2
            sent = []
            while not inbox.empty():
                topic, message = await inbox.get()
                sent.append([entry.post for entry in live.take(topic, message)])
            assert live.following() == ["b"]
            return sent

    assert asyncio.run(run()) == [["b1"], ["b6"]]
