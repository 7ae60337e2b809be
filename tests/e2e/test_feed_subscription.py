"""The `feed` subscription through websockets follows the viewer's follows as they change:
a pulled trader followed after it started, unfollowed or blocking the viewer, and a
followed trader crossing the pull threshold (a small SOCIALTRADING_FEED_PULL_THRESHOLD), on
both backends. A post that must not arrive is proved absent by a later post that arrives
next."""

from __future__ import annotations

from typing import Any

from socialtrading.infra.settings import Settings
from tests.e2e.server import Server, Subscriber, running
from tests.e2e.social import act, published, relation, traders

FOLLOW, UNFOLLOW, BLOCK = (relation(name) for name in ("follow", "unfollow", "block"))
FEED = "subscription { feed { id body author { handle } } }"


def _follow(server: Server, token: str, handle: str, document: str = FOLLOW) -> None:
    result = act(server, token, document, handle=handle)
    assert result["__typename"].endswith("Success"), result


def _next_post(ws: Subscriber) -> dict[str, Any]:
    post: dict[str, Any] = ws.next("feed")["feed"]
    return post


def _posted(server: Server, token: str, body: str) -> dict[str, Any]:
    """Publish; the post as the feed subscription sends it."""
    post = published(server, token, body)
    return {"id": post["id"], "body": body, "author": post["author"]}


def test_a_pulled_trader_followed_after_the_start_arrives_until_unfollowed_or_blocking(
    settings: Settings,
) -> None:
    with running(settings.model_copy(update={"feed_pull_threshold": 2})) as server:
        people = traders(server, "star", "fan1", "fan2", "bob", "small")
        (star_id, star), (bob_id, bob) = people["star"], people["bob"]
        small = people["small"][1]
        for fan in ("fan1", "fan2"):
            _follow(server, people[fan][1], "star")
        _follow(server, bob, "small")  # one follower: pushed
        published(server, star, "two followers: pulled from this post on")
        with server.ws(bob) as ws:
            ws.subscribe("feed", FEED)
            server.wait_for_listeners(f"feed-follows:{bob_id}")
            assert server.services.bus.subscriber_count(f"posts:{star_id}") == 0

            _follow(server, bob, "star")
            server.wait_for_listeners(f"posts:{star_id}")
            assert _posted(server, star, "for bob too") == _next_post(ws)

            _follow(server, bob, "star", UNFOLLOW)
            published(server, star, "after the unfollow")
            assert _posted(server, small, "the next one bob gets") == _next_post(ws)
            assert server.services.bus.subscriber_count(f"posts:{star_id}") == 0

            _follow(server, bob, "star")
            assert _posted(server, star, "followed again") == _next_post(ws)
            _follow(server, star, "bob", BLOCK)  # ends bob's follow of star
            published(server, star, "after the block")
            assert _posted(server, small, "still the next one") == _next_post(ws)
            assert server.services.bus.subscriber_count(f"posts:{star_id}") == 0


def test_a_followed_trader_crossing_the_threshold_arrives_from_the_crossing_post_exactly_once(
    settings: Settings,
) -> None:
    with running(settings.model_copy(update={"feed_pull_threshold": 3})) as server:
        people = traders(server, "star", "bob", "fan1", "fan2", "small")
        (star_id, star), (bob_id, bob) = people["star"], people["bob"]
        _follow(server, bob, "star")
        _follow(server, bob, "small")
        with server.ws(bob) as ws:
            ws.subscribe("feed", FEED)
            server.wait_for_listeners(f"feed-follows:{bob_id}")
            assert _posted(server, star, "pushed: one follower") == _next_post(ws)
            for fan in ("fan1", "fan2"):
                _follow(server, people[fan][1], "star")  # three followers
            assert _posted(server, star, "the crossing post") == _next_post(ws)
            assert server.services.bus.subscriber_count(f"posts:{star_id}") == 1
            assert _posted(server, star, "pulled") == _next_post(ws)
            assert _posted(server, people["small"][1], "nothing twice before") == _next_post(ws)
