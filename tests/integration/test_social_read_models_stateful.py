"""A hypothesis state machine over follow, unfollow, block, unblock, post, like, unlike, comment,
hide and delete, made by the domain aggregates and saved into a real SQLite store: after
every step the social read models' counts and every home feed equal a model of the rules
(with a pull threshold of 2, so both fan-out paths are taken)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import create_engine

from socialtrading.infra.settings import Settings
from socialtrading.infra.store import open_store
from socialtrading.projections.social.feed import home_feed
from socialtrading.projections.social.queries import posts_by_ids, profiles_by_ids
from tests.integration.social_world import Graph, World, runner, social_projections

HANDLES = ("ann", "ben", "cat", "dan")
who = st.sampled_from(HANDLES)


class SocialMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        self.store = open_store(Settings(store=f"sqlite:///{self.dir}/events.db"))
        self.engine = create_engine(f"sqlite:///{self.dir}/read.db")
        self.world = World(self.store)
        self.world.register(*HANDLES)
        self.runner = runner(self.store, self.engine, social_projections(threshold=2), batch_size=4)
        self.graph = Graph(self.world)
        self.posts: dict[str, tuple[str, str]] = {}  # post -> (author, VISIBLE | HIDDEN)
        self.order: list[str] = []  # posts in publishing order
        self.likes: dict[tuple[str, str], bool] = {}
        self.comments: dict[str, int] = {}  # post -> visible comments

    def teardown(self) -> None:
        self.engine.dispose()
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _readable(self, account: str, post: str) -> bool:
        author, status = self.posts[post]
        return status == "VISIBLE" or author == account

    # ------------------------------------------------------------------ rules

    @rule(a=who, b=who)
    def follow(self, a: str, b: str) -> None:
        self.graph.follow(a, b)

    @rule(a=who, b=who)
    def unfollow(self, a: str, b: str) -> None:
        self.graph.unfollow(a, b)

    @rule(a=who, b=who)
    def block(self, a: str, b: str) -> None:
        self.graph.block(a, b)

    @rule(a=who, b=who)
    def unblock(self, a: str, b: str) -> None:
        self.graph.unblock(a, b)

    @rule(a=who)
    def publish(self, a: str) -> None:
        post = self.world.publish(a, f"post {len(self.order)} $BTC @{HANDLES[len(self.order) % 4]}")
        self.posts[post] = (a, "VISIBLE")
        self.order.append(post)
        self.comments[post] = 0

    @precondition(lambda self: self.posts)
    @rule(a=who, n=st.integers(0, 1000))
    def like(self, a: str, n: int) -> None:
        post = list(self.posts)[n % len(self.posts)]
        if not self._readable(a, post) or self.graph.blocked(a, self.posts[post][0]):
            return  # the writer refuses these
        assert self.world.like(a, post) == (not self.likes.get((a, post), False))
        self.likes[(a, post)] = True

    @precondition(lambda self: self.posts)
    @rule(a=who, n=st.integers(0, 1000))
    def unlike(self, a: str, n: int) -> None:
        post = list(self.posts)[n % len(self.posts)]
        assert self.world.unlike(a, post) == self.likes.get((a, post), False)
        if (a, post) in self.likes:
            self.likes[(a, post)] = False

    @precondition(lambda self: self.posts)
    @rule(a=who, n=st.integers(0, 1000), hide=st.booleans())
    def comment(self, a: str, n: int, hide: bool) -> None:
        post = list(self.posts)[n % len(self.posts)]
        if not self._readable(a, post) or self.graph.blocked(a, self.posts[post][0]):
            return
        comment = self.world.comment(a, post, "hm @ann")
        if hide:
            self.world.hide_comment(comment)
        else:
            self.comments[post] += 1

    @precondition(lambda self: self.posts)
    @rule(n=st.integers(0, 1000))
    def hide(self, n: int) -> None:
        post = list(self.posts)[n % len(self.posts)]
        if self.posts[post][1] == "VISIBLE":
            self.world.hide(post)
            self.posts[post] = (self.posts[post][0], "HIDDEN")

    @precondition(lambda self: self.posts)
    @rule(n=st.integers(0, 1000))
    def delete(self, n: int) -> None:
        post = list(self.posts)[n % len(self.posts)]
        self.world.delete(post)
        del self.posts[post]
        del self.comments[post]
        self.order.remove(post)
        self.likes = {key: liked for key, liked in self.likes.items() if key[1] != post}

    # ------------------------------------------------------------------ the read models

    @invariant()
    def read_models_agree(self) -> None:
        self.runner.catch_up()
        ids = {handle: self.world.id(handle) for handle in HANDLES}
        follows = self.graph.follows
        with self.engine.connect() as connection:
            profiles = profiles_by_ids(connection, list(ids.values()))
            for handle, account in ids.items():
                profile = profiles[account]
                assert profile.follower_count == sum(1 for _, b in follows if b == handle)
                assert profile.following_count == sum(1 for a, _ in follows if a == handle)
                assert profile.post_count == sum(
                    1
                    for author, status in self.posts.values()
                    if author == handle and status == "VISIBLE"
                )
            rows = posts_by_ids(connection, list(self.posts), viewer=None)
            visible = [p for p in self.order if self.posts[p][1] == "VISIBLE"]
            assert set(rows) == set(visible)
            for post, row in rows.items():
                likes = sum(1 for (_, p), liked in self.likes.items() if p == post and liked)
                assert (row.like_count, row.comment_count) == (likes, self.comments[post])
            for handle, account in ids.items():
                expected = [p for p in reversed(visible) if (handle, self.posts[p][0]) in follows]
                feed = home_feed(connection, account, first=100)
                assert [entry.post for entry in feed] == expected


TestSocialReadModels = SocialMachine.TestCase
TestSocialReadModels.settings = settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
