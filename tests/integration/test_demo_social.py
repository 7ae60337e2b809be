"""The demo's social graph (`entrypoints/demo_social.py`), seeded by `bootstrap_demo`: bios,
follows, posts with cashtags, a market, a sentiment, the author's own fill and a mention,
comments with a reply, likes; a restart seeds nothing twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from socialtrading.commands.writer import Writer
from socialtrading.domain.ids import account_id
from socialtrading.entrypoints.bootstrap import bootstrap_demo
from socialtrading.entrypoints.demo_social import COMMENTS, FOLLOWS, LIKES, POSTS, PROFILES
from socialtrading.projections.registry import all_projections
from socialtrading.projections.runner import ProjectionRunner
from socialtrading.projections.social.feed import home_feed
from socialtrading.projections.social.queries import (
    comments_of,
    followers,
    notifications_of,
    posts_page,
    profiles_by_ids,
)


def _id(handle: str) -> str:
    return str(account_id(handle))


def _social(writer: Writer, engine: Engine) -> dict[str, Any]:
    """What the read models show of the demo's social graph, after catching up."""
    runner = ProjectionRunner(writer.store, engine, all_projections())
    runner.setup()
    runner.catch_up()
    assert runner.dead_letters() == []
    handles = list(PROFILES)
    with engine.connect() as connection:
        profiles = profiles_by_ids(connection, [_id(h) for h in handles])
        posts = posts_page(connection, first=50)
        return {
            "profiles": {h: profiles[_id(h)] for h in handles},
            "followers": {
                h: sorted(row.account_id for row in followers(connection, _id(h), first=50))
                for h in handles
            },
            "posts": posts,
            "comments": {post.id: comments_of(connection, post.id, first=50) for post in posts},
            "feeds": {h: home_feed(connection, _id(h), first=50) for h in handles},
            "notifications": {
                h: len(notifications_of(connection, _id(h), first=100)) for h in handles
            },
        }


def test_the_demo_seeds_a_social_graph_once_across_restarts(
    make_writer: Callable[..., Writer], read_engine: Engine
) -> None:
    writer = make_writer()
    bootstrap_demo(writer)
    seen = _social(writer, read_engine)

    for handle, (name, bio) in PROFILES.items():
        profile = seen["profiles"][handle]
        assert (profile.display_name, profile.bio) == (name, bio)
    for handle in PROFILES:
        expected = sorted(_id(who) for who, whom in FOLLOWS if whom == handle)
        assert seen["followers"][handle] == expected
    posts = {post.body: post for post in seen["posts"]}
    assert set(posts) == {post.body for post in POSTS}
    for demo in POSTS:
        post = posts[demo.body]
        assert post.author == _id(demo.handle)
        assert (post.market, post.sentiment) == (demo.market, demo.sentiment)
        assert post.cashtags  # every demo post names a coin
        if demo.with_trade:  # the author's own fill, verified by the writer
            (trade,) = post.trades
            assert trade.market == demo.market
            assert trade.trade_id.startswith(f"{demo.market}:")
            assert post.position is not None
        else:
            assert post.trades == ()
    alice_btc = posts[POSTS[0].body]
    assert alice_btc.mentions == (_id("bob"),)
    assert alice_btc.like_count == sum(1 for _, key in LIKES if key == "alice-btc")
    assert alice_btc.comment_count == sum(1 for c in COMMENTS if c[2] == "alice-btc")
    thread = seen["comments"][alice_btc.id]
    assert [c.author for c in thread] == [_id("bob"), _id("alice")]
    assert thread[1].reply_to == thread[0].id
    # carol follows alice and bob: their posts are in her home feed
    carol_feed = {entry.post for entry in seen["feeds"]["carol"]}
    assert {p.id for p in seen["posts"] if p.author in (_id("alice"), _id("bob"))} <= carol_feed
    assert all(count > 0 for count in seen["notifications"].values())

    head = writer.store.recorder.max_notification_id() or 0
    writer.stop()
    restarted = make_writer()
    bootstrap_demo(restarted)
    again = _social(restarted, read_engine)
    assert again == seen
    # a restart stores only the demo tokens' revocations and new tokens
    stored = restarted.store.recorder.select_notifications(head + 1, 1_000)
    assert {row.topic.rsplit(".", 1)[-1] for row in stored} <= {"TokenIssued", "TokenRevoked"}
