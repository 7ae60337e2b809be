"""`load_many` gives what `repository.get` gives, for many ids at once, on both stores; the
writer's social cache loads a batch's stored aggregates through it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from socialtrading.commands.models import RegisterTrader
from socialtrading.commands.social import CommentOnPost, LikePost, PublishPost, UnlikePost
from socialtrading.commands.social_store import SocialCache
from socialtrading.commands.writer import Writer
from socialtrading.domain.ids import account_id
from socialtrading.domain.social.like import Like, like_id
from socialtrading.domain.social.post import Post, post_id
from socialtrading.infra.load_many import load_many
from socialtrading.infra.store import EventStore


def _state(aggregate: Aggregate) -> dict[str, Any]:
    return dict(vars(aggregate))


def test_load_many_equals_repository_get_with_and_without_snapshots(
    make_writer: Callable[..., Writer],
) -> None:
    writer = make_writer(snapshot_interval=3)
    alice, bob = account_id("alice"), account_id("bob")
    for handle in ("alice", "bob"):
        assert writer.execute(RegisterTrader(command_id="r", handle=handle)).accepted
    posts = []
    for n in range(3):
        publish = PublishPost(command_id=f"p{n}", actor=alice, body=f"idea {n} $BTC")
        assert writer.execute(publish).stored
        posts.append(post_id(alice, f"p{n}"))
    # bob's like of the first post goes back and forth past the snapshot interval
    for n in range(4):
        assert writer.execute(LikePost(command_id=f"l{n}", actor=bob, post_id=posts[0])).stored
        assert writer.execute(UnlikePost(command_id=f"u{n}", actor=bob, post_id=posts[0])).stored
    assert writer.execute(LikePost(command_id="l", actor=bob, post_id=posts[1])).stored
    assert writer.execute(
        CommentOnPost(command_id="c", actor=bob, post_id=posts[2], body="yes")
    ).stored
    writer.stop()
    store = writer.store
    toggled = like_id(posts[0], bob)
    assert store.snapshots is not None
    assert store.snapshots.get(toggled)  # the case with a snapshot is exercised
    liked = like_id(posts[1], bob)
    unknown = UUID(int=7)
    ids = [*posts, toggled, liked, unknown, posts[0], alice]

    found = load_many(store, ids)

    assert set(found) == {*posts, toggled, liked, alice}
    for id_, aggregate in found.items():
        assert _state(aggregate) == _state(store.repository.get(id_))
    like = found[toggled]
    assert isinstance(like, Like) and like.version == 8 and like.liked is False
    assert isinstance(found[posts[2]], Post)
    assert load_many(store, []) == {}
    assert load_many(store, [unknown]) == {}


def test_load_many_reads_past_a_chunk_of_ids(make_writer: Callable[..., Writer]) -> None:
    writer = make_writer()
    alice = account_id("alice")
    assert writer.execute(RegisterTrader(command_id="r", handle="alice")).accepted
    acks = [
        writer.submit(PublishPost(command_id=f"p{n}", actor=alice, body=f"idea {n}"))
        for n in range(1_100)
    ]
    assert all(ack.result(30).stored for ack in acks)
    writer.stop()
    store: EventStore = writer.store
    ids = [post_id(alice, f"p{n}") for n in range(1_100)]
    found = load_many(store, [*ids, UUID(int=1)])
    assert list(found) == ids
    assert all(
        isinstance(post, Post) and post.body == f"idea {n}" for n, post in enumerate(found.values())
    )


class _Loads:
    """A store of aggregates counting the look-ups of each kind."""

    def __init__(self, aggregates: Sequence[Aggregate]) -> None:
        self.by_id = {aggregate.id: aggregate for aggregate in aggregates}
        self.one: list[UUID] = []
        self.many: list[list[UUID]] = []

    def load(self, id_: UUID) -> Aggregate | None:
        self.one.append(id_)
        return self.by_id.get(id_)

    def listed(self, ids: Sequence[UUID]) -> set[UUID]:
        return {id_ for id_ in ids if id_ in self.by_id}

    def load_many(self, ids: Sequence[UUID]) -> dict[UUID, Aggregate]:
        self.many.append(list(ids))
        return {id_: self.by_id[id_] for id_ in ids if id_ in self.by_id}


def test_the_cache_loads_a_batchs_stored_aggregates_together() -> None:
    author = str(account_id("alice"))
    posts = [
        Post.publish(
            post_id(UUID(int=1), str(n)), author, "x", None, "NEUTRAL", [], [], [], None, "c", 1
        )
        for n in range(3)
    ]
    for post in posts:
        post.collect_events()
    loads = _Loads(posts)
    cache = SocialCache(loads.load, listed=loads.listed, load_many=loads.load_many)
    new = UUID(int=9)
    cache.prefetch([posts[0].id, new, posts[1].id, posts[0].id])
    assert loads.many == [[posts[0].id, posts[1].id]]  # the stored ones, once, in one call
    assert cache.get(posts[0].id, Post) is posts[0]
    assert cache.get(posts[1].id, Post) is posts[1]
    assert cache.get(new, Post) is None  # known absent
    assert loads.one == []  # no look-up one at a time
    cache.prefetch([posts[0].id, posts[2].id])  # one in memory already
    assert loads.many[-1] == [posts[2].id]
    assert cache.get(posts[2].id, Post) is posts[2] and loads.one == []
    assert cache.get(posts[2].id, Like) is None
