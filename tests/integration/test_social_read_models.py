"""The social read models on each backend, fed real events made by the domain aggregates:
counts, pages, the hybrid feed across the pull threshold, deletes, hides and blocks, notifications,
trending, fills and sentiment; following live equals a rebuild from zero."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text

from socialtrading.domain.social.post import BEARISH, BULLISH, NEUTRAL
from socialtrading.infra.bus import Bus
from socialtrading.infra.store import EventStore
from socialtrading.projections.runner import ProjectionRunner
from socialtrading.projections.social.feed import FeedProjection, home_feed, pulled_authors
from socialtrading.projections.social.fills import fills_of
from socialtrading.projections.social.projection import SocialProjection
from socialtrading.projections.social.queries import (
    blocked_by,
    blocks_between,
    comments_of,
    followed_by,
    followers,
    following,
    liked_by,
    moderation_queue,
    notifications_of,
    posts_by_ids,
    posts_page,
    profiles_by_ids,
    trending,
    unread_count,
)
from socialtrading.projections.social.sentiment import market_sentiment, weight
from tests.integration.social_world import (
    HOUR,
    World,
    runner,
    social_dump,
    social_projections,
)


@pytest.fixture
def world(open_event_store: Callable[[], EventStore]) -> World:
    return World(open_event_store())


@pytest.fixture
def catch_up(world: World, read_engine: Engine) -> Iterator[Callable[[], ProjectionRunner]]:
    """Bring the social read models up to the store's head (one runner for the test)."""
    made = runner(world.store, read_engine, social_projections(threshold=3), batch_size=5)

    def run() -> ProjectionRunner:
        made.catch_up()
        return made

    yield run


# ---------------------------------------------------------------------- profiles and follows


def test_profiles_count_followers_following_and_visible_posts(
    world: World, read_engine: Engine, catch_up: Callable[[], ProjectionRunner]
) -> None:
    world.register("alice", "bob", "carol", "dave")
    world.profile("alice", "Alice A.", "I trade BTC", "https://example.com/a.png")
    world.follow("bob", "alice")
    world.follow("carol", "alice")
    world.follow("dave", "alice")
    world.follow("alice", "bob")
    assert not world.follow("bob", "alice")  # twice: nothing stored
    world.unfollow("dave", "alice")
    first = world.publish("alice", "gm $BTC")
    world.publish("alice", "second")
    hidden = world.publish("alice", "third")
    world.delete(first)
    world.hide(hidden)
    catch_up()
    a, b, c = world.id("alice"), world.id("bob"), world.id("carol")
    with read_engine.connect() as connection:
        profiles = profiles_by_ids(connection, [a, b, "nobody"])
        assert set(profiles) == {a, b}
        alice = profiles[a]
        assert (alice.display_name, alice.bio, alice.avatar_url) == (
            "Alice A.",
            "I trade BTC",
            "https://example.com/a.png",
        )
        assert (alice.follower_count, alice.following_count, alice.post_count) == (2, 1, 1)
        assert (profiles[b].follower_count, profiles[b].following_count) == (1, 1)
        # followers newest first, paged by cursor
        page = followers(connection, a, first=1)
        assert [row.account_id for row in page] == [c]
        rest = followers(connection, a, first=10, after=page[-1].cursor)
        assert [row.account_id for row in rest] == [b]
        assert [row.account_id for row in following(connection, a, first=10)] == [b]
        assert followed_by(connection, b, [a, c]) == {a}


def test_a_block_ends_follows_both_ways_and_is_listed(
    world: World, read_engine: Engine, catch_up: Callable[[], ProjectionRunner]
) -> None:
    world.register("alice", "bob")
    world.follow("alice", "bob")
    world.follow("bob", "alice")
    world.block("alice", "bob")
    catch_up()
    a, b = world.id("alice"), world.id("bob")
    with read_engine.connect() as connection:
        profiles = profiles_by_ids(connection, [a, b])
        assert [(p.follower_count, p.following_count) for p in profiles.values()] == [(0, 0)] * 2
        assert blocked_by(connection, a) == [b]
        assert blocks_between(connection, b, a)
    world.unblock("alice", "bob")
    catch_up()
    with read_engine.connect() as connection:
        assert blocked_by(connection, a) == []
        assert not blocks_between(connection, a, b)


# ---------------------------------------------------------------------- posts, comments, likes


def test_posts_carry_trades_position_tags_and_mentions_and_list_by_filter(
    world: World, read_engine: Engine, catch_up: Callable[[], ProjectionRunner]
) -> None:
    world.register("alice", "bob")
    trade = {
        "trade_id": "BTC-USD:7",
        "market": "BTC-USD",
        "side": "buy",
        "price": "100.5",
        "quantity": "0.25",
        "executed_at": world.now,
    }
    long = world.publish(
        "alice",
        "Long $BTC with @bob, $eth later",
        market="BTC-USD",
        sentiment=BULLISH,
        trades=[trade],
        position={"quantity": "0.25", "average_entry": "100.5"},
    )
    other = world.publish("bob", "$ETH looks weak", market="ETH-USD", sentiment=BEARISH)
    hidden = world.publish("alice", "rumour $BTC")
    world.hide(hidden)
    catch_up()
    a, b = world.id("alice"), world.id("bob")
    with read_engine.connect() as connection:
        row = posts_by_ids(connection, [long])[long]
        assert (row.author, row.market, row.sentiment) == (a, "BTC-USD", BULLISH)
        assert row.cashtags == ("BTC", "ETH") and row.mentions == (b,)
        assert row.position is not None
        assert (row.position.quantity, row.position.average_entry) == (
            Decimal("0.25"),
            Decimal("100.5"),
        )
        (attached,) = row.trades
        assert (attached.trade_id, attached.side, attached.price, attached.quantity) == (
            "BTC-USD:7",
            "buy",
            Decimal("100.5"),
            Decimal("0.25"),
        )
        assert row.status == "VISIBLE" and row.edited_at is None
        everything = posts_page(connection, first=10)
        assert [p.id for p in everything] == [other, long]  # the hidden one is not listed
        assert [p.id for p in posts_page(connection, first=10, viewer=a)] == [
            hidden,
            other,
            long,
        ]
        assert posts_by_ids(connection, [hidden]) == {}
        assert posts_by_ids(connection, [hidden], viewer=a)[hidden].status == "HIDDEN"
        assert [p.id for p in posts_page(connection, author=b, first=10)] == [other]
        assert [p.id for p in posts_page(connection, market="BTC-USD", first=10)] == [long]
        assert [p.id for p in posts_page(connection, cashtag="$eth", first=10)] == [other, long]
        assert [p.id for p in posts_page(connection, cashtag="BTC", first=10, viewer=a)] == [
            hidden,
            long,
        ]
        page = posts_page(connection, first=1)
        assert posts_page(connection, first=5, after=page[-1].cursor) == everything[1:]


def test_an_edit_changes_body_tags_and_notifies_new_mentions_only(
    world: World, read_engine: Engine, catch_up: Callable[[], ProjectionRunner]
) -> None:
    world.register("alice", "bob", "carol")
    post = world.publish("alice", "hi @bob $BTC")
    world.edit(post, "hi @bob and @carol $SOL", BEARISH)
    catch_up()
    with read_engine.connect() as connection:
        row = posts_by_ids(connection, [post])[post]
        assert (row.body, row.sentiment, row.cashtags) == (
            "hi @bob and @carol $SOL",
            BEARISH,
            ("SOL",),
        )
        assert row.edited_at is not None
        assert posts_page(connection, cashtag="BTC", first=5) == []
        assert [n.kind for n in notifications_of(connection, world.id("bob"), first=5)] == [
            "MENTION"
        ]
        assert [n.kind for n in notifications_of(connection, world.id("carol"), first=5)] == [
            "MENTION"
        ]


def test_comments_likes_and_their_counts(
    world: World, read_engine: Engine, catch_up: Callable[[], ProjectionRunner]
) -> None:
    world.register("alice", "bob", "carol")
    post = world.publish("alice", "idea")
    first = world.comment("bob", post, "agree")
    reply = world.comment("carol", post, "no", reply_to=first)
    rude = world.comment("carol", post, "rude")
    world.hide_comment(rude)
    world.like("bob", post)
    world.like("carol", post)
    world.unlike("carol", post)
    world.like("carol", post)
    world.unlike("bob", post)
    catch_up()
    a, b, c = world.id("alice"), world.id("bob"), world.id("carol")
    with read_engine.connect() as connection:
        row = posts_by_ids(connection, [post])[post]
        assert (row.like_count, row.comment_count) == (1, 2)
        assert liked_by(connection, c, [post]) == {post}
        assert liked_by(connection, b, [post]) == set()
        listed = comments_of(connection, post, first=10)
        assert [(x.id, x.reply_to) for x in listed] == [(first, None), (reply, first)]
        assert [x.id for x in comments_of(connection, post, first=10, viewer=c)] == [
            first,
            reply,
            rude,
        ]
        assert [x.id for x in comments_of(connection, post, first=10, after=listed[0].cursor)] == [
            reply
        ]
        # alice: bob's comment, carol's comment (the reply), bob's like, carol's like
        kinds = [(n.kind, n.actor) for n in notifications_of(connection, a, first=10)]
        assert kinds == [("LIKE", c), ("LIKE", b), ("COMMENT", c), ("COMMENT", b)]
        assert [(n.kind, n.actor) for n in notifications_of(connection, b, first=10)] == [
            ("REPLY", c)
        ]


def test_a_deleted_post_leaves_every_read_model(
    world: World, read_engine: Engine, catch_up: Callable[[], ProjectionRunner]
) -> None:
    world.register("alice", "bob")
    world.follow("bob", "alice")
    post = world.publish("alice", "$BTC to the moon @bob")
    comment = world.comment("bob", post, "sure")
    world.like("bob", post)
    world.report("bob", post)
    world.report("alice", post, comment)
    catch_up()
    a, b = world.id("alice"), world.id("bob")
    with read_engine.connect() as connection:
        assert len(moderation_queue(connection, first=10)) == 2
        assert [e.post for e in home_feed(connection, b, first=10)] == [post]
        assert trending(connection, hours=1, first=5, now=world.now)[0].tag == "BTC"
    world.delete(post)
    catch_up()
    with read_engine.connect() as connection:
        assert posts_by_ids(connection, [post], viewer=a) == {}
        assert posts_page(connection, first=10, viewer=a) == []
        assert comments_of(connection, post, first=10, viewer=b) == []
        assert liked_by(connection, b, [post]) == set()
        assert moderation_queue(connection, first=10) == []
        assert home_feed(connection, b, first=10) == []
        assert trending(connection, hours=1, first=5, now=world.now) == []
        assert notifications_of(connection, b, first=10) == []  # the mention went too
        assert [n.kind for n in notifications_of(connection, a, first=10)] == ["FOLLOW"]
        assert profiles_by_ids(connection, [a])[a].post_count == 0


def test_reports_stay_open_until_their_content_is_hidden(
    world: World, read_engine: Engine, catch_up: Callable[[], ProjectionRunner]
) -> None:
    world.register("alice", "bob", "carol")
    post = world.publish("alice", "scam?")
    other = world.publish("alice", "fine")
    comment = world.comment("bob", other, "rude")
    first = world.report("bob", post)
    second = world.report("carol", other, comment)
    third = world.report("carol", other)
    world.hide(post)
    world.report("carol", post)  # hidden already: not open
    catch_up()
    with read_engine.connect() as connection:
        queue = moderation_queue(connection, first=10)
        assert [r.id for r in queue] == [second, third]
        assert queue[0].comment == comment
        assert [r.id for r in moderation_queue(connection, first=10, after=queue[0].cursor)] == [
            third
        ]
    world.hide_comment(comment)
    catch_up()
    with read_engine.connect() as connection:
        assert [r.id for r in moderation_queue(connection, first=10)] == [third]
    assert first


# ---------------------------------------------------------------------- notifications


def test_notifications_are_numbered_read_and_never_about_oneself(
    world: World, read_engine: Engine, catch_up: Callable[[], ProjectionRunner]
) -> None:
    world.register("alice", "bob", "carol")
    world.follow("bob", "alice")
    post = world.publish("alice", "hello @alice and @carol")  # self mention: no notification
    world.like("alice", post)  # own like: none
    world.comment("alice", post, "me again")  # own comment: none
    world.like("bob", post)
    world.comment("carol", post, "hi @alice")  # COMMENT, not also MENTION
    catch_up()
    a, c = world.id("alice"), world.id("carol")
    with read_engine.connect() as connection:
        listed = notifications_of(connection, a, first=10)
        assert [(n.number, n.kind) for n in listed] == [(3, "COMMENT"), (2, "LIKE"), (1, "FOLLOW")]
        assert not any(n.read for n in listed)
        assert [n.kind for n in notifications_of(connection, c, first=10)] == ["MENTION"]
        assert unread_count(connection, a) == 3
    world.read_notifications("alice", 2)
    catch_up()
    with read_engine.connect() as connection:
        listed = notifications_of(connection, a, first=10)
        assert [n.read for n in listed] == [False, True, True]
        assert [n.number for n in notifications_of(connection, a, first=10, unread_only=True)] == [
            3
        ]
        assert [n.number for n in notifications_of(connection, a, first=10, after=3)] == [2, 1]
        assert unread_count(connection, a) == 1


def test_a_mention_of_a_blocker_is_not_linked_nor_notified(
    world: World, read_engine: Engine, catch_up: Callable[[], ProjectionRunner]
) -> None:
    world.register("alice", "bob", "carol")
    world.block("alice", "bob")
    post = world.publish("bob", "@alice and @carol look")
    world.comment("bob", post, "@alice?")
    catch_up()
    a, c = world.id("alice"), world.id("carol")
    with read_engine.connect() as connection:
        assert posts_by_ids(connection, [post])[post].mentions == (c,)
        assert notifications_of(connection, a, first=10) == []
        assert len(notifications_of(connection, c, first=10)) == 1


def test_notifications_are_published_after_the_commit(world: World, read_engine: Engine) -> None:
    bus = Bus()
    world.register("alice", "bob")
    world.follow("bob", "alice")
    projection = SocialProjection(bus)
    made = runner(world.store, read_engine, [projection])
    published: list[tuple[str, Any]] = []
    bus.subscriber_count = lambda topic: 1  # type: ignore[method-assign]
    bus.publish = lambda topic, message: published.append((topic, message))  # type: ignore[method-assign]
    made.catch_up()
    ((topic, rows),) = published
    assert topic == f"notifications:{world.id('alice')}"
    assert [row.kind for row in rows] == ["FOLLOW"]


# ---------------------------------------------------------------------- trending


def test_trending_counts_visible_posts_and_authors_in_the_window(
    world: World, read_engine: Engine, catch_up: Callable[[], ProjectionRunner]
) -> None:
    world.register("alice", "bob", "carol")
    old = world.now
    world.publish("alice", "$DOGE", at=old)  # outside a 1 hour window later on
    world.now = old + 2 * HOUR
    world.publish("alice", "$BTC $ETH")
    world.publish("alice", "$BTC again")
    world.publish("bob", "$ETH")
    world.publish("carol", "$ETH")
    hidden = world.publish("carol", "$SOL")
    world.hide(hidden)
    catch_up()
    now = world.now
    with read_engine.connect() as connection:
        found = trending(connection, hours=1, first=10, now=now)
        assert [(t.tag, t.posts, t.authors) for t in found] == [("ETH", 3, 3), ("BTC", 2, 1)]
        assert [t.tag for t in trending(connection, hours=3, first=10, now=now)] == [
            "ETH",
            "BTC",
            "DOGE",
        ]
        assert len(trending(connection, hours=24, first=1, now=now)) == 1
        assert trending(connection, hours=1, first=10, now=old) == [type(found[0])("DOGE", 1, 1)]


# ---------------------------------------------------------------------- the feed


def test_the_feed_merges_pushed_rows_and_pulled_authors(
    world: World, read_engine: Engine, catch_up: Callable[[], ProjectionRunner]
) -> None:
    # threshold 3: `star` is pulled once 3 accounts follow it when it posts
    world.register("star", "small", "v1", "v2", "v3")
    world.follow("v1", "star")
    world.follow("v2", "star")
    pushed = world.publish("star", "pushed while small")  # 2 followers: fanned out
    world.follow("v3", "star")  # copies the latest posts
    pulled = [world.publish("star", f"pulled {i}") for i in range(3)]
    for viewer in ("v1", "v2"):
        world.follow(viewer, "small")  # 2 followers: pushed
    mine = world.publish("small", "small post")
    catch_up()
    star, v1 = world.id("star"), world.id("v1")
    with read_engine.connect() as connection:
        assert pulled_authors(connection, v1) == [star]
        everything = [pulled[0], pulled[1], pulled[2], mine]
        expected = [mine, pulled[2], pulled[1], pulled[0], pushed]
        for viewer in ("v1", "v2"):
            feed = home_feed(connection, world.id(viewer), first=10)
            assert [e.post for e in feed] == expected, viewer
        feed = home_feed(connection, world.id("v3"), first=10)
        assert [e.post for e in feed] == expected[1:]
        # pages: stable cursors, no repeats or gaps across the two sources
        seen: list[str] = []
        after = None
        while True:
            page = home_feed(connection, v1, first=2, after=after)
            if not page:
                break
            seen += [e.post for e in page]
            after = page[-1].cursor
        assert seen == expected
        assert set(everything) < set(seen)
    # unfollowing the pulled author and the small one empties the feed of their posts
    world.unfollow("v1", "star")
    world.block("small", "v2")  # a block unfollows too
    world.delete(pulled[1])
    catch_up()
    with read_engine.connect() as connection:
        assert [e.post for e in home_feed(connection, v1, first=10)] == [mine]
        assert [e.post for e in home_feed(connection, world.id("v2"), first=10)] == [
            pulled[2],
            pulled[0],
            pushed,
        ]
        assert [e.post for e in home_feed(connection, world.id("v3"), first=10)] == [
            pulled[2],
            pulled[0],
            pushed,
        ]


def test_a_follow_copies_the_latest_posts_and_hiding_removes_them(
    world: World, read_engine: Engine
) -> None:
    world.register("author", "reader", "other")
    posts = [world.publish("author", f"post {i}") for i in range(5)]
    world.follow("reader", "author")
    world.follow("other", "author")
    world.hide(posts[4])
    made = runner(world.store, read_engine, social_projections(threshold=100, copied=3))
    made.catch_up()
    with read_engine.connect() as connection:
        assert [e.post for e in home_feed(connection, world.id("reader"), first=10)] == [
            posts[3],
            posts[2],
        ]
    world.unfollow("reader", "author")
    made.catch_up()
    with read_engine.connect() as connection:
        assert home_feed(connection, world.id("reader"), first=10) == []
        assert len(home_feed(connection, world.id("other"), first=10)) == 2


def test_the_feed_publishes_new_entries_to_subscribed_viewers(
    world: World, read_engine: Engine
) -> None:
    world.register("star", "fan", "idle")
    world.follow("fan", "star")
    world.follow("idle", "star")
    bus = Bus()
    made = runner(world.store, read_engine, [FeedProjection(bus, pull_threshold=3)])
    made.catch_up()
    published: list[tuple[str, object]] = []
    bus.topics = lambda prefix: [f"feed:{world.id('fan')}"]  # type: ignore[method-assign]
    bus.subscriber_count = lambda topic: 1  # type: ignore[method-assign]
    bus.publish = lambda topic, message: published.append((topic, message))  # type: ignore[method-assign]
    post = world.publish("star", "news")
    made.catch_up()
    ((topic, entries),) = published
    assert topic == f"feed:{world.id('fan')}"
    assert [e.post for e in entries] == [post]  # type: ignore[attr-defined]
    world.register("x")
    world.follow("x", "star")  # 3 followers: the next post is pulled
    published.clear()
    pulled = world.publish("star", "pulled")
    made.catch_up()
    ((topic, entries),) = published
    assert topic == f"posts:{world.id('star')}"
    assert [e.post for e in entries] == [pulled]  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- fills and sentiment


def test_fills_list_both_sides_with_fees_newest_first(
    world: World, read_engine: Engine, catch_up: Callable[[], ProjectionRunner]
) -> None:
    world.register("alice", "bob")
    world.list_market("BTC-USD", maker_bps=10, taker_bps=20)
    world.trade("alice", "bob", "BTC-USD", "100", "2")  # alice takes (buys) from bob
    world.trade("bob", "alice", "BTC-USD", "110", "1")  # bob takes (buys) from alice
    catch_up()
    a, b = world.id("alice"), world.id("bob")
    with read_engine.connect() as connection:
        mine = fills_of(connection, a, first=10)
        assert [(f.side, f.liquidity, f.price, f.quantity, f.fee) for f in mine] == [
            ("sell", "MAKER", Decimal(110), Decimal(1), Decimal("0.11")),
            ("buy", "TAKER", Decimal(100), Decimal(2), Decimal("0.4")),
        ]
        assert {f.fee_asset for f in mine} == {"USD"}
        assert mine[0].trade_id.startswith("BTC-USD:") and mine[0].id == mine[0].trade_id + ":M"
        theirs = fills_of(connection, b, first=1)
        assert theirs[0].trade_id == mine[0].trade_id and theirs[0].liquidity == "TAKER"
        rest = fills_of(connection, b, first=5, after=theirs[0].cursor)
        assert [f.trade_id for f in rest] == [mine[1].trade_id]


def test_sentiment_weights_posts_by_realized_pnl_in_the_window(
    world: World, read_engine: Engine, catch_up: Callable[[], ProjectionRunner]
) -> None:
    world.register("winner", "loser", "fresh", "mm")
    world.list_market("BTC-USD")
    # winner buys 10 at 100 and sells at 200: +1,000; loser the other way round: -1,000
    world.trade("winner", "mm", "BTC-USD", "100", "10")
    world.trade("mm", "winner", "BTC-USD", "200", "10")
    world.trade("loser", "mm", "BTC-USD", "200", "10")
    world.trade("mm", "loser", "BTC-USD", "100", "10")
    world.publish("winner", "up", market="BTC-USD", sentiment=BULLISH)
    world.publish("loser", "down", market="BTC-USD", sentiment=BEARISH)
    world.publish("fresh", "meh", market="BTC-USD", sentiment=NEUTRAL)
    world.publish("fresh", "other market", market="ETH-USD", sentiment=BEARISH)
    catch_up()
    with read_engine.connect() as connection:
        found = market_sentiment(connection, "BTC-USD", hours=24, now=world.now)
        assert (found.bullish, found.bearish, found.neutral) == (1, 1, 1)
        w_win, w_lose = weight(Decimal(1000)), weight(Decimal(-1000))
        assert w_win == pytest.approx(1 + 3.000434 / 4, rel=1e-5) and w_lose == 0.25
        assert found.score == pytest.approx((w_win - w_lose) / (w_win + w_lose + 1))
        later = market_sentiment(connection, "BTC-USD", hours=1, now=world.now + 2 * HOUR)
        assert (later.bullish, later.bearish, later.neutral, later.score) == (0, 0, 0, 0.0)
        assert market_sentiment(connection, "NOPE-USD", hours=24, now=world.now).score == 0.0


def test_weights_are_bounded() -> None:
    assert weight(Decimal(0)) == 1.0
    assert weight(Decimal(10**30)) == 2.0
    assert weight(Decimal(-(10**30))) == 0.25
    assert weight(Decimal(999)) == pytest.approx(1.75)
    assert weight(Decimal(-9)) == pytest.approx(0.75)


# ---------------------------------------------------------------------- rebuilds


def _busy_world(world: World) -> None:
    world.register("alice", "bob", "carol", "dave", "erin")
    world.list_market("BTC-USD")
    world.trade("alice", "bob", "BTC-USD", "100", "3")
    world.trade("bob", "alice", "BTC-USD", "120", "1")
    for viewer in ("bob", "carol", "dave", "erin"):
        world.follow(viewer, "alice")
    world.follow("alice", "bob")
    posts = [world.publish("alice", f"$BTC idea {i} @bob", market="BTC-USD") for i in range(4)]
    posts.append(world.publish("bob", "$ETH @alice", sentiment=BEARISH))
    first = world.comment("bob", posts[0], "nice @carol")
    world.comment("carol", posts[0], "hm", reply_to=first)
    world.like("bob", posts[0])
    world.like("carol", posts[1])
    world.unlike("carol", posts[1])
    world.report("dave", posts[2])
    world.edit(posts[3], "edited $SOL @dave")
    world.hide(posts[2])
    world.delete(posts[1])
    world.block("carol", "alice")
    world.unfollow("erin", "alice")
    world.read_notifications("alice", 2)
    world.profile("bob", "Bob B.", "bio", None)


def test_following_in_small_batches_equals_a_rebuild_from_zero(
    world: World, read_engine: Engine
) -> None:
    _busy_world(world)
    made = runner(world.store, read_engine, social_projections(threshold=3), batch_size=2)
    made.catch_up()
    followed = social_dump(read_engine)
    assert followed["social_posts"] and followed["social_feed_rows"] and followed["social_fills"]
    made.rebuild()
    assert social_dump(read_engine) == followed
    one_batch = runner(world.store, read_engine, social_projections(threshold=3), batch_size=10_000)
    one_batch.rebuild()
    assert social_dump(read_engine) == followed


def test_a_feed_table_with_other_columns_is_rebuilt(
    world: World, read_engine: Engine, catch_up: Callable[[], ProjectionRunner]
) -> None:
    """A read store made when feed rows carried the post and its author (before they were
    read from the author's posts by position) is dropped and rebuilt at start, not misread."""
    world.register("small", "v1")
    world.follow("v1", "small")
    mine = world.publish("small", "small post")
    made = catch_up()
    with read_engine.begin() as connection:
        connection.execute(text("DROP TABLE social_feed_rows"))
        connection.execute(
            text(
                "CREATE TABLE social_feed_rows (viewer VARCHAR(36), seq BIGINT,"
                " post VARCHAR(36) NOT NULL, author VARCHAR(36) NOT NULL,"
                " PRIMARY KEY (viewer, seq))"
            )
        )
    rebuilt = runner(world.store, read_engine, social_projections(threshold=3))
    positions = {s.name: s.position for s in rebuilt.status()}
    assert positions[FeedProjection.name] == 0
    assert positions[SocialProjection.name] == made.position
    columns = {c["name"] for c in inspect(read_engine).get_columns("social_feed_rows")}
    assert columns == {"viewer", "seq"}
    rebuilt.catch_up()
    with read_engine.connect() as connection:
        assert [e.post for e in home_feed(connection, world.id("v1"), first=10)] == [mine]
