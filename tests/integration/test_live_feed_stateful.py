"""A hypothesis state machine over follow, unfollow, block, unblock and post, made by the
domain aggregates and saved into a real SQLite store, with the feed projection publishing on
a real bus and a live feed (`LiveFeed` over an inbox) reading it, the read models and the
subscription each lagging by any number of batches: the live feed sends exactly the posts
of the authors the viewer follows when each is published, each once, whether the author's
posts are pushed or pulled (pull threshold 1 to 3) and whenever the author crossed it."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import create_engine

from socialtrading.graphql.social.live_feed import INBOX_TOPICS, LiveFeed
from socialtrading.infra.bus import Bus, Inbox
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import open_store
from socialtrading.projections.social.feed import FeedProjection, pulled_authors
from tests.integration.social_world import Graph, World, runner

VIEWER = "viewer"
HANDLES = (VIEWER, "ann", "ben", "cat")
who = st.sampled_from(HANDLES)
follower = st.sampled_from((VIEWER, *HANDLES))  # the viewer, more often
author = st.sampled_from(HANDLES[1:])


class LiveFeedMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        self.store = open_store(Settings(store=f"sqlite:///{self.dir}/events.db"))
        self.engine = create_engine(f"sqlite:///{self.dir}/read.db")
        self.world = World(self.store)
        self.world.register(*HANDLES)
        self.bus = Bus()
        self.graph = Graph(self.world)
        self.expected: list[str] = []  # posts the live feed must send
        self.unprojected: list[str] = []  # of those, the ones the read models have not seen
        self.projected: list[str] = []  # those the read models published
        self.due: list[str] = []  # those published before the inbox was last read
        self.sent: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.stack = AsyncExitStack()
        self.inbox: Inbox | None = None
        self.live: LiveFeed | None = None

    def teardown(self) -> None:
        self.loop.run_until_complete(self.stack.aclose())
        self.loop.close()
        self.engine.dispose()
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @initialize(
        threshold=st.integers(1, 3), follows=st.lists(st.tuples(follower, author), max_size=8)
    )
    def set_up(self, threshold: int, follows: list[tuple[str, str]]) -> None:
        """Follows and a post by each trader (authors with followers become pulled), then
        the live feed starts."""
        projection = FeedProjection(self.bus, pull_threshold=threshold)
        self.runner = runner(self.store, self.engine, [projection], batch_size=3)
        for a, b in follows:
            self.follow(a, b)
        for author in HANDLES:
            self.publish(author)
        self.subscribe()

    # ------------------------------------------------------------------ the subscription

    def subscribe(self) -> None:
        """Start the live feed: the read models catch up first, so the posts it must send
        are the ones published from now on."""
        self.runner.catch_up()
        self.inbox = self.loop.run_until_complete(
            self.stack.enter_async_context(self.bus.inbox(INBOX_TOPICS))
        )
        self.live = LiveFeed(self.inbox, self.world.id(VIEWER))
        with self.engine.connect() as connection:
            self.live.listen(pulled_authors(connection, self.world.id(VIEWER)))

    @rule()
    def project(self) -> None:
        self.runner.catch_up()
        self.projected += self.unprojected
        self.unprojected = []

    @rule()
    def read_the_inbox(self) -> None:
        if self.live is None or self.inbox is None:
            return
        live, inbox = self.live, self.inbox

        async def drain() -> list[str]:
            await asyncio.sleep(0)  # the deliveries the projection scheduled
            sent = []
            while not inbox.empty():
                topic, message = await inbox.get()
                sent += [entry.post for entry in live.take(topic, message)]
            return sent

        self.sent += self.loop.run_until_complete(drain())
        self.due = list(self.projected)

    # ------------------------------------------------------------------ the social graph

    @rule(a=follower, b=author)
    def follow(self, a: str, b: str) -> None:
        self.graph.follow(a, b)

    @rule(a=follower, b=author)
    def unfollow(self, a: str, b: str) -> None:
        self.graph.unfollow(a, b)

    @rule(a=who, b=who)
    def block(self, a: str, b: str) -> None:
        self.graph.block(a, b)

    @rule(a=who, b=who)
    def unblock(self, a: str, b: str) -> None:
        self.graph.unblock(a, b)

    @rule(a=author)
    def publish(self, a: str) -> None:
        post = self.world.publish(a, f"post by {a}")
        if self.live is not None and (VIEWER, a) in self.graph.follows:
            self.expected.append(post)
            self.unprojected.append(post)

    @rule(a=follower, b=author)
    def publish_then_follow(self, a: str, b: str) -> None:
        """`b` posts and `a` follows `b` at once (often in one batch of the read models)."""
        self.publish(b)
        self.follow(a, b)

    @rule(a=follower, b=author)
    def unfollow_then_publish(self, a: str, b: str) -> None:
        self.unfollow(a, b)
        self.publish(b)

    @rule(b=author)
    def follow_again(self, b: str) -> None:
        """The viewer unfollows `b`, `b` posts, the viewer follows `b` again, `b` posts."""
        self.unfollow(VIEWER, b)
        self.publish(b)
        self.follow(VIEWER, b)
        self.publish(b)

    # ------------------------------------------------------------------ what was sent

    @invariant()
    def sends_the_followed_posts_once_as_soon_as_read(self) -> None:
        assert len(set(self.sent)) == len(self.sent)
        assert set(self.due) <= set(self.sent) <= set(self.expected)

    @rule()
    def settle(self) -> None:
        """Once everything is projected and read, the subscription listens to exactly the
        pulled authors the viewer follows."""
        self.project()
        self.read_the_inbox()
        assert self.live is not None and self.inbox is not None
        assert sorted(self.sent) == sorted(self.expected)
        with self.engine.connect() as connection:
            pulled = pulled_authors(connection, self.world.id(VIEWER))
        assert self.live.following() == pulled
        assert self.inbox.topics("posts:") == [f"posts:{author}" for author in pulled]


TestLiveFeed = LiveFeedMachine.TestCase
TestLiveFeed.settings = settings(
    max_examples=40,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
