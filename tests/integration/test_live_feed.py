"""The feed projection tells live feed subscriptions when the pulled authors their viewer
follows change, and joins or leaves their inboxes to those authors' posts as it does, on
each backend; a star crossing the threshold reads the subscribed followers only, and
nothing at all when no one listens."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event

from socialtrading.infra.bus import Bus, Inbox
from socialtrading.infra.store import EventStore
from socialtrading.projections.runner import ProjectionRunner
from socialtrading.projections.social.feed import FeedProjection
from socialtrading.projections.social.rows import FeedEntry, PulledFollow
from tests.integration.social_world import World, runner


@pytest.fixture
def world(open_event_store: Callable[[], EventStore]) -> World:
    return World(open_event_store())


def _position(world: World) -> int:
    """The log position of the last event saved."""
    return world.store.recorder.max_notification_id() or 0


@pytest.fixture
def statements(read_engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements run on the read store, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(read_engine, "before_cursor_execute", record)
    yield seen
    event.remove(read_engine, "before_cursor_execute", record)


class Listener:
    """A viewer's inbox on the viewer's topics, drained after each catch-up."""

    def __init__(self, loop: asyncio.AbstractEventLoop, bus: Bus, viewer: str) -> None:
        self.loop = loop
        self._context = bus.inbox(max_topics=10)
        self.inbox: Inbox = loop.run_until_complete(self._context.__aenter__())
        self.inbox.join(f"feed:{viewer}")
        self.inbox.join(f"feed-follows:{viewer}")

    def pairs(self) -> list[tuple[str, Any]]:
        async def drain() -> list[tuple[str, Any]]:
            await asyncio.sleep(0)
            found = []
            while not self.inbox.empty():
                found.append(await self.inbox.get())
            return found

        return self.loop.run_until_complete(drain())

    def close(self) -> None:
        self.loop.run_until_complete(self._context.__aexit__(None, None, None))


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    made = asyncio.new_event_loop()
    yield made
    made.close()


def test_subscribed_viewers_are_told_of_follows_unfollows_blocks_and_crossings(
    world: World, read_engine: Engine, loop: asyncio.AbstractEventLoop
) -> None:
    world.register("star", "fan", "idle", "x", "small")
    world.follow("fan", "star")
    world.follow("idle", "star")
    bus = Bus()
    made: ProjectionRunner = runner(
        world.store, read_engine, [FeedProjection(bus, pull_threshold=3)]
    )
    made.catch_up()
    fan, idle = world.id("fan"), world.id("idle")
    x, star = world.id("x"), world.id("star")
    listener, other = Listener(loop, bus, fan), Listener(loop, bus, x)
    try:
        world.follow("x", "star")  # 3 followers, still pushed: nothing to tell
        world.publish("small", "followed by nobody")
        made.catch_up()
        assert listener.pairs() == other.pairs() == []

        # the crossing post: told, and the star's posts reach the inbox from it on
        crossing = world.publish("star", "the crossing post")
        at = _position(world)
        made.catch_up()
        assert listener.pairs() == [
            (f"feed-follows:{fan}", [PulledFollow(star, at, True)]),
            (f"posts:{star}", [FeedEntry(crossing, star, at)]),
        ]
        assert listener.inbox.topics("posts:") == [f"posts:{star}"]
        assert other.pairs() == [
            (f"feed-follows:{x}", [PulledFollow(star, at, True)]),
            (f"posts:{star}", [FeedEntry(crossing, star, at)]),
        ]
        assert bus.subscriber_count(f"feed-follows:{idle}") == 0  # idle: not subscribed

        world.unfollow("fan", "star")
        unfollowed = _position(world)
        later = world.publish("star", "after the unfollow")
        entry = FeedEntry(later, star, _position(world))
        made.catch_up()
        # the inbox leaves after the batch's posts: the subscription keeps the window
        assert listener.pairs() == [
            (f"feed-follows:{fan}", [PulledFollow(star, unfollowed, False)]),
            (f"posts:{star}", [entry]),
        ]
        assert listener.inbox.topics("posts:") == []
        assert other.pairs() == [(f"posts:{star}", [entry])]

        world.follow("fan", "star")
        followed = _position(world)
        world.block("star", "fan")  # ends fan's follow of star
        blocked = _position(world)
        world.follow("fan", "small")  # a pushed author: nothing to tell
        made.catch_up()
        assert listener.pairs() == [
            (
                f"feed-follows:{fan}",
                [PulledFollow(star, followed, True), PulledFollow(star, blocked, False)],
            )
        ]
        assert listener.inbox.topics("posts:") == []
        assert other.inbox.topics("posts:") == [f"posts:{star}"]
    finally:
        listener.close()
        other.close()


def test_a_follow_and_posts_in_one_batch_reach_the_inbox_in_log_order(
    world: World, read_engine: Engine, loop: asyncio.AbstractEventLoop
) -> None:
    world.register("star", "a", "b", "fan")
    world.follow("a", "star")
    world.follow("b", "star")
    world.publish("star", "pulled from here on")
    bus = Bus()
    made = runner(world.store, read_engine, [FeedProjection(bus, pull_threshold=2)])
    made.catch_up()
    fan, star = world.id("fan"), world.id("star")
    listener = Listener(loop, bus, fan)
    try:
        before = world.publish("star", "before the follow")
        world.follow("fan", "star")
        followed = _position(world)
        after = world.publish("star", "after the follow")
        world.unfollow("fan", "star")
        unfollowed = _position(world)
        last = world.publish("star", "after the unfollow")
        made.catch_up()  # one batch: the change first, the posts, then the inbox leaves
        ((changes_topic, changes), (posts_topic, entries)) = listener.pairs()
        assert changes_topic == f"feed-follows:{fan}"
        assert changes == [
            PulledFollow(star, followed, True),
            PulledFollow(star, unfollowed, False),
        ]
        assert posts_topic == f"posts:{star}"  # all three: the subscription keeps the window
        assert [entry.post for entry in entries] == [before, after, last]
        assert listener.inbox.topics("posts:") == []
    finally:
        listener.close()


def test_a_subscription_started_while_the_follows_batch_is_applied_is_told(
    world: World, read_engine: Engine, loop: asyncio.AbstractEventLoop
) -> None:
    world.register("star", "a", "fan")
    world.follow("a", "star")
    world.publish("star", "pulled from here on")
    bus = Bus()
    started: list[Listener] = []

    class Starting(FeedProjection):
        def flush(self, connection: Any) -> None:
            super().flush(connection)
            if not started:  # the subscription starts before the batch commits
                started.append(Listener(loop, bus, world.id("fan")))

    made = runner(world.store, read_engine, [FeedProjection(bus, pull_threshold=1)])
    made.catch_up()
    world.follow("fan", "star")
    followed = _position(world)
    made = runner(world.store, read_engine, [Starting(bus, pull_threshold=1)])
    made.catch_up()
    (listener,) = started
    try:
        change = PulledFollow(world.id("star"), followed, True)
        assert listener.pairs() == [(f"feed-follows:{world.id('fan')}", [change])]
        assert listener.inbox.topics("posts:") == [f"posts:{world.id('star')}"]
    finally:
        listener.close()


def test_a_crossing_reads_the_subscribed_followers_only_and_nothing_without_them(
    world: World,
    read_engine: Engine,
    loop: asyncio.AbstractEventLoop,
    statements: list[tuple[str, Any]],
) -> None:
    fans = [f"fan{i}" for i in range(5)]
    world.register("star", "other", *fans)
    for handle in fans:
        world.follow(handle, "star")
        world.follow(handle, "other")
    bus = Bus()
    made = runner(world.store, read_engine, [FeedProjection(bus, pull_threshold=5)])
    made.catch_up()

    def follower_reads() -> list[set[Any]]:
        """The parameters of each read of the follow graph by follower."""
        return [
            set(parameters.values() if isinstance(parameters, dict) else parameters)
            for statement, parameters in statements
            if "social_feed_follows" in statement and "follower IN" in statement
        ]

    statements.clear()
    world.publish("star", "crossing with nobody listening")
    made.catch_up()
    assert follower_reads() == []
    assert bus.topics("") == []

    listeners = [Listener(loop, bus, world.id(handle)) for handle in ("fan1", "fan3")]
    try:
        statements.clear()
        world.publish("other", "crossing with two of five listening")
        made.catch_up()
        assert follower_reads() == [{world.id(h) for h in ("other", "fan1", "fan3")}]
        for listener in listeners:
            ((topic, changes), _) = listener.pairs()
            assert topic.startswith("feed-follows:")
            assert [change.author for change in changes] == [world.id("other")]
    finally:
        for listener in listeners:
            listener.close()
