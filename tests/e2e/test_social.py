"""The social layer through GraphQL: profiles, follows, posts with verified trades, comments,
likes, feeds, moderation, notifications, on both backends."""

from __future__ import annotations

import uuid

from socialtrading.infra.settings import Settings
from tests.e2e.server import Server, running
from tests.e2e.social import (
    ACCOUNT,
    COMMENT,
    DELETE,
    EDIT,
    FEED,
    FILLS,
    GRANT,
    HIDE_COMMENT,
    HIDE_POST,
    LIKE,
    MARK_READ,
    NOTIFICATIONS,
    POST,
    POSTS,
    QUEUE,
    REPORT,
    UNLIKE,
    UPDATE_PROFILE,
    act,
    code,
    publish,
    published,
    relation,
    trade,
    traders,
)

FOLLOW, UNFOLLOW, BLOCK, UNBLOCK = (relation(n) for n in ("follow", "unfollow", "block", "unblock"))


def test_profiles_follows_and_blocks_and_their_rejections(server: Server) -> None:
    people = traders(server, "alice", "bob")
    alice, bob = people["alice"][1], people["bob"][1]

    done = act(
        server,
        alice,
        UPDATE_PROFILE,
        displayName="Alice A.",
        bio="Swing trader.",
        avatarUrl="https://example.com/a.png",
    )
    assert done["__typename"] == "UpdateProfileSuccess", done
    assert done["account"] | {} == {
        "handle": "alice",
        "displayName": "Alice A.",
        "bio": "Swing trader.",
        "avatarUrl": "https://example.com/a.png",
        "followerCount": 0,
        "followingCount": 0,
        "postCount": 0,
        "viewerFollows": False,
    }
    assert code(act(server, alice, UPDATE_PROFILE, avatarUrl="http://example.com/a.png")) == (
        "invalid_avatar_url"
    )
    assert code(act(server, alice, UPDATE_PROFILE, bio="x" * 281)) == "invalid_bio"
    assert code(act(server, alice, UPDATE_PROFILE, displayName="A\x07")) == ("invalid_display_name")
    assert code(act(server, alice, UPDATE_PROFILE, bio="bell\x07")) == "invalid_bio"
    assert server.gql(ACCOUNT, {"handle": "alice"})["account"]["bio"] == "Swing trader."

    followed = act(server, bob, FOLLOW, handle="alice")
    assert followed["__typename"] == "FollowSuccess", followed
    assert (followed["account"]["viewerFollows"], followed["account"]["followerCount"]) == (True, 1)
    assert act(server, bob, FOLLOW, handle="alice")["__typename"] == "FollowSuccess"  # no-op
    assert code(act(server, bob, FOLLOW, handle="bob")) == "cannot_follow_self"
    assert code(act(server, bob, FOLLOW, handle="nobody")) == "unknown_account"
    assert code(act(server, bob, FOLLOW, handle="al\x00ice")) == "invalid_input"
    profile = server.gql(ACCOUNT, {"handle": "alice"}, token=bob)["account"]
    assert profile["followers"]["edges"] == [{"node": {"handle": "bob"}}]
    assert (profile["followerCount"], profile["viewerFollows"]) == (1, True)
    assert server.gql(ACCOUNT, {"handle": "alice"})["account"]["viewerFollows"] is False
    mine = server.gql(ACCOUNT, {"handle": "bob"})["account"]
    assert mine["following"]["edges"] == [{"node": {"handle": "alice"}}]

    unfollowed = act(server, bob, UNFOLLOW, handle="alice")
    assert unfollowed["__typename"] == "UnfollowSuccess", unfollowed
    assert unfollowed["account"]["followerCount"] == 0
    assert code(act(server, bob, UNFOLLOW, handle="nobody")) == "unknown_account"

    assert act(server, bob, FOLLOW, handle="alice")["__typename"] == "FollowSuccess"
    blocked = act(server, alice, BLOCK, handle="bob")
    assert blocked["__typename"] == "BlockSuccess", blocked
    assert server.gql(ACCOUNT, {"handle": "alice"})["account"]["followerCount"] == 0
    assert code(act(server, bob, FOLLOW, handle="alice")) == "blocked"
    assert code(act(server, alice, BLOCK, handle="alice")) == "cannot_block_self"
    assert act(server, alice, UNBLOCK, handle="bob")["__typename"] == "UnblockSuccess"
    assert act(server, bob, FOLLOW, handle="alice")["__typename"] == "FollowSuccess"


def test_a_post_with_its_authors_trades_is_read_at_once_by_its_author_and_followers(
    server: Server,
) -> None:
    people = traders(server, "alice", "bob", "carol")
    alice, bob, carol = (people[h][1] for h in ("alice", "bob", "carol"))
    trade(server, buyer=alice, seller=bob, price="100", quantity="2")
    trade(server, buyer=carol, seller=bob, price="110", quantity="1")  # the mark: 110
    fills = server.gql(FILLS, {"handle": "alice"}, token=alice)["account"]["fills"]
    [fill] = [edge["node"] for edge in fills["edges"]]
    assert (fill["market"], fill["side"], fill["price"], fill["quantity"]) == (
        "BTC-USD",
        "BUY",
        "100",
        "2",
    )
    assert (fill["liquidity"], fill["fee"], fill["feeAsset"]) == ("TAKER", "0.4", "USD")
    errors = server.errors(FILLS, {"handle": "alice"}, token=bob)
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    bob_fills = server.gql(FILLS, {"handle": "bob"}, token=bob)["account"]["fills"]["edges"]
    bob_trade = bob_fills[0]["node"]["tradeId"]
    assert act(server, bob, FOLLOW, handle="alice")["__typename"] == "FollowSuccess"

    post = published(
        server,
        alice,
        "Long $BTC from 100, cc @carol",
        market="BTC-USD",
        sentiment="BULLISH",
        tradeIds=[fill["tradeId"]],
        clientPostId="idea-1",
    )
    assert post["trades"] == [
        {
            "tradeId": fill["tradeId"],
            "market": "BTC-USD",
            "side": "BUY",
            "price": "100",
            "quantity": "2",
            "markPrice": "110",
            "pnlSinceEntry": "20",
        }
    ]
    assert post["disclosedPosition"] == {
        "market": "BTC-USD",
        "quantity": "2",
        "averageEntryPrice": "100",
    }
    assert (post["cashtags"], post["mentions"]) == (["BTC"], [{"handle": "carol"}])
    assert (post["sentiment"], post["status"], post["author"]) == (
        "BULLISH",
        "VISIBLE",
        {"handle": "alice"},
    )
    # read-your-writes: the author's posts and a follower's feed show it at once
    mine = server.gql(POSTS, {"author": "alice"})["posts"]["edges"]
    assert [edge["node"]["id"] for edge in mine] == [post["id"]]
    feed = server.gql(FEED, token=bob)["feed"]["edges"]
    assert [edge["node"]["id"] for edge in feed] == [post["id"]]
    assert server.gql(POSTS, {"cashtag": "$btc"})["posts"]["edges"][0]["node"]["id"] == post["id"]
    assert (
        server.gql(POSTS, {"market": "BTC-USD"})["posts"]["edges"][0]["node"]["id"] == (post["id"])
    )
    assert server.gql(POSTS, {"author": "nobody"})["posts"]["edges"] == []
    # the same client post id: the same post, once
    again = published(server, alice, "Long $BTC from 100, cc @carol", clientPostId="idea-1")
    assert again["id"] == post["id"]
    assert server.gql(ACCOUNT, {"handle": "alice"})["account"]["postCount"] == 1

    # bad input: nothing stored
    assert code(publish(server, alice, "")) == "invalid_body"
    assert code(publish(server, alice, "x" * 2001)) == "invalid_body"
    assert code(publish(server, alice, "bell \x07")) == "invalid_body"
    assert code(publish(server, alice, "mine?", tradeIds=[bob_trade])) == "not_your_trade"
    assert code(publish(server, alice, "which?", tradeIds=["BTC-USD:999999"])) == "unknown_trade"
    six = [f"BTC-USD:{n}" for n in range(1, 7)]
    assert code(publish(server, alice, "six", tradeIds=six)) == "too_many_trades"
    assert code(publish(server, alice, "odd", tradeIds=["not a trade"])) == "invalid_input"
    assert code(publish(server, alice, "where?", market="ETH-USD")) == "unknown_market"
    assert server.gql(ACCOUNT, {"handle": "alice"})["account"]["postCount"] == 1


def test_comments_likes_edits_and_deletes_and_their_rejections(server: Server) -> None:
    people = traders(server, "alice", "bob")
    alice, bob = people["alice"][1], people["bob"][1]
    post = published(server, alice, "What do you think of $ETH?")
    unknown = str(uuid.uuid4())

    comment = act(server, bob, COMMENT, postId=post["id"], body="Bearish.")
    assert comment["__typename"] == "CommentOnPostSuccess", comment
    first = comment["comment"]
    assert (first["body"], first["status"], first["author"], first["post"]) == (
        "Bearish.",
        "VISIBLE",
        {"handle": "bob"},
        {"id": post["id"]},
    )
    reply = act(server, alice, COMMENT, postId=post["id"], body="Why?", replyTo=first["id"])
    assert reply["comment"]["replyTo"] == {"id": first["id"]}
    assert code(act(server, bob, COMMENT, postId=unknown, body="?")) == "unknown_post"
    assert code(act(server, bob, COMMENT, postId=post["id"], body="?", replyTo=unknown)) == (
        "unknown_comment"
    )
    assert code(act(server, bob, COMMENT, postId=post["id"], body="")) == "invalid_body"
    assert code(act(server, bob, COMMENT, postId=post["id"], body="x" * 1001)) == "invalid_body"
    assert code(act(server, bob, COMMENT, postId="not-an-id", body="?")) == "invalid_input"

    liked = act(server, bob, LIKE, postId=post["id"])
    assert liked["post"] == {"id": post["id"], "likeCount": 1, "viewerLiked": True}
    assert act(server, bob, LIKE, postId=post["id"])["post"]["likeCount"] == 1  # no-op
    assert code(act(server, bob, LIKE, postId=unknown)) == "unknown_post"
    unliked = act(server, bob, UNLIKE, postId=post["id"])
    assert unliked["post"] == {"id": post["id"], "likeCount": 0, "viewerLiked": False}
    assert act(server, bob, LIKE, postId=post["id"])["post"]["likeCount"] == 1

    edited = act(server, alice, EDIT, postId=post["id"], body="$ETH: long.", sentiment="BULLISH")
    assert edited["__typename"] == "EditPostSuccess", edited
    assert (edited["post"]["body"], edited["post"]["sentiment"]) == ("$ETH: long.", "BULLISH")
    assert edited["post"]["editedAt"] is not None
    assert code(act(server, bob, EDIT, postId=post["id"], body="mine now")) == "not_author"
    assert code(act(server, alice, EDIT, postId=unknown, body="?")) == "unknown_post"
    assert code(act(server, alice, EDIT, postId=post["id"], body="")) == "invalid_body"
    read = server.gql(POST, {"id": post["id"]}, token=bob)["post"]
    assert (read["commentCount"], read["likeCount"], read["viewerLiked"]) == (2, 1, True)

    assert code(act(server, bob, DELETE, postId=post["id"])) == "not_author"
    assert code(act(server, alice, DELETE, postId=unknown)) == "unknown_post"
    deleted = act(server, alice, DELETE, postId=post["id"])
    assert deleted == {"__typename": "DeletePostSuccess", "postId": post["id"]}
    assert server.gql(POST, {"id": post["id"]}, token=alice)["post"] is None
    assert server.gql(POSTS, {"author": "alice"})["posts"]["edges"] == []
    assert code(act(server, bob, COMMENT, postId=post["id"], body="gone?")) == "unknown_post"


def test_the_feed_pages_newest_first_with_cursors_that_stay_put(server: Server) -> None:
    people = traders(server, "alice", "bob", "carol")
    alice, bob, carol = (people[h][1] for h in ("alice", "bob", "carol"))
    for handle in ("alice", "carol"):
        assert act(server, bob, FOLLOW, handle=handle)["__typename"] == "FollowSuccess"
    ids = [published(server, (alice, carol)[n % 2], f"post {n}")["id"] for n in range(5)]

    page = server.gql(FEED, {"first": 2}, token=bob)["feed"]
    assert [edge["node"]["id"] for edge in page["edges"]] == [ids[4], ids[3]]
    assert page["pageInfo"]["hasNextPage"] is True
    newer = published(server, alice, "post 5")["id"]  # does not shift the pages already read
    page = server.gql(FEED, {"first": 2, "after": page["pageInfo"]["endCursor"]}, token=bob)
    assert [edge["node"]["id"] for edge in page["feed"]["edges"]] == [ids[2], ids[1]]
    cursor = page["feed"]["pageInfo"]["endCursor"]
    page = server.gql(FEED, {"first": 2, "after": cursor}, token=bob)["feed"]
    assert [edge["node"]["id"] for edge in page["edges"]] == [ids[0]]
    assert page["pageInfo"]["hasNextPage"] is False
    top = server.gql(FEED, {"first": 1}, token=bob)["feed"]["edges"]
    assert top[0]["node"]["id"] == newer
    # bounds
    assert server.errors(FEED, {"first": 0}, token=bob)[0]["extensions"]["code"] == "PAGE_SIZE"
    assert server.errors(FEED, {"first": 101}, token=bob)[0]["extensions"]["code"] == "PAGE_SIZE"
    assert server.errors(FEED, {"after": "bogus"}, token=bob)[0]["extensions"]["code"] == (
        "BAD_CURSOR"
    )
    assert server.errors(FEED)[0]["extensions"]["code"] == "UNAUTHENTICATED"
    trending = "{ trending(hours: 721) { tag } }"
    assert server.errors(trending)[0]["extensions"]["code"] == "HOURS"
    # unfollowing takes the author's posts out of the feed
    assert act(server, bob, UNFOLLOW, handle="carol")["__typename"] == "UnfollowSuccess"
    page = server.gql(FEED, {"first": 10}, token=bob)["feed"]
    assert [edge["node"]["id"] for edge in page["edges"]] == [newer, ids[4], ids[2], ids[0]]


def test_moderators_hide_what_is_reported_and_only_its_author_still_sees_it(
    server: Server,
) -> None:
    people = traders(server, "alice", "bob", "mod")
    (_, alice), (_, bob), (mod_id, mod) = (people[h] for h in ("alice", "bob", "mod"))
    admin = server.admin()
    post = published(server, alice, "Buy $DOGE now!!! guaranteed")
    comment = act(server, alice, COMMENT, postId=post["id"], body="to the moon")["comment"]

    reported = act(server, bob, REPORT, postId=post["id"], reason="pump")
    assert reported["__typename"] == "ReportContentSuccess", reported
    assert act(server, bob, REPORT, commentId=comment["id"], reason="spam")["__typename"] == (
        "ReportContentSuccess"
    )
    assert code(act(server, bob, REPORT, postId=str(uuid.uuid4()), reason="?")) == "unknown_post"
    assert code(act(server, bob, REPORT, commentId=str(uuid.uuid4()), reason="?")) == (
        "unknown_comment"
    )
    assert code(act(server, bob, REPORT, reason="nothing")) == "invalid_input"

    assert server.errors(QUEUE, token=bob)[0]["extensions"]["code"] == "FORBIDDEN"
    assert server.errors(QUEUE)[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert server.gql(GRANT, {"account": mod_id, "role": "MODERATOR"}, token=admin)
    queue = server.gql(QUEUE, token=mod)["moderationQueue"]["edges"]
    assert [(e["node"]["reason"], e["node"]["reporter"]) for e in queue] == [
        ("pump", {"handle": "bob"}),
        ("spam", {"handle": "bob"}),
    ]
    assert queue[1]["node"]["comment"] == {"id": comment["id"]}

    assert code(act(server, bob, HIDE_POST, postId=post["id"], reason="pump")) == ("not_authorized")
    hidden = act(server, mod, HIDE_COMMENT, commentId=comment["id"], reason="spam")
    assert hidden == {"__typename": "HideCommentSuccess", "commentId": comment["id"]}
    hidden = act(server, mod, HIDE_POST, postId=post["id"], reason="pump")
    assert hidden == {"__typename": "HidePostSuccess", "postId": post["id"]}
    assert code(act(server, mod, HIDE_POST, postId=str(uuid.uuid4()), reason="?")) == (
        "unknown_post"
    )
    assert server.gql(QUEUE, token=admin)["moderationQueue"]["edges"] == []

    for viewer in (bob, None):
        assert server.gql(POST, {"id": post["id"]}, token=viewer)["post"] is None
        assert server.gql(POSTS, {"author": "alice"}, token=viewer)["posts"]["edges"] == []
    own = server.gql(POST, {"id": post["id"]}, token=alice)["post"]
    assert own["status"] == "HIDDEN"
    [edge] = server.gql(POSTS, {"author": "alice"}, token=alice)["posts"]["edges"]
    assert edge["node"]["status"] == "HIDDEN"
    assert code(act(server, bob, LIKE, postId=post["id"])) == "unknown_post"


def test_notifications_arrive_and_are_marked_read(server: Server) -> None:
    people = traders(server, "alice", "bob")
    alice, bob = people["alice"][1], people["bob"][1]
    assert act(server, bob, FOLLOW, handle="alice")["__typename"] == "FollowSuccess"
    post = published(server, alice, "hello")
    assert act(server, bob, LIKE, postId=post["id"])["__typename"] == "LikePostSuccess"
    comment = act(server, bob, COMMENT, postId=post["id"], body="hi @alice")["comment"]

    found = server.gql(NOTIFICATIONS, token=alice)["notifications"]["edges"]
    kinds = [(e["node"]["kind"], e["node"]["actor"]["handle"]) for e in found]
    # one notification per post or comment: the mention in a comment on her post is the comment
    assert kinds == [("COMMENT", "bob"), ("LIKE", "bob"), ("FOLLOW", "bob")]
    assert [e["node"]["id"] for e in found] == ["3", "2", "1"]
    assert all(not e["node"]["read"] for e in found)
    assert (found[0]["node"]["post"], found[0]["node"]["comment"]) == (
        {"id": post["id"]},
        {"id": comment["id"]},
    )
    oldest = found[-1]["node"]

    done = act(server, alice, MARK_READ, upTo=oldest["id"])
    assert done["__typename"] == "MarkNotificationsReadSuccess", done
    assert done["unreadCount"] == len(found) - 1
    unread = server.gql(NOTIFICATIONS, {"unreadOnly": True}, token=alice)["notifications"]
    assert len(unread["edges"]) == len(found) - 1
    assert act(server, alice, MARK_READ)["unreadCount"] == 0
    assert code(act(server, alice, MARK_READ, upTo="x")) == "invalid_input"
    assert server.gql(NOTIFICATIONS, {"unreadOnly": True}, token=alice)["notifications"] == {
        "edges": []
    }


def test_the_feed_and_notifications_stream_over_websocket(server: Server) -> None:
    people = traders(server, "alice", "bob")
    (alice_id, alice), (bob_id, bob) = people["alice"], people["bob"]
    assert act(server, bob, FOLLOW, handle="alice")["__typename"] == "FollowSuccess"
    with server.ws(bob) as bob_ws, server.ws(alice) as alice_ws:
        bob_ws.subscribe("feed", "subscription { feed { id body author { handle } } }")
        alice_ws.subscribe("notes", "subscription { notifications { kind actor { handle } } }")
        server.wait_for_listeners(f"feed:{bob_id}")
        server.wait_for_listeners(f"notifications:{alice_id}")
        post = published(server, alice, "live")
        assert bob_ws.next("feed")["feed"] == {
            "id": post["id"],
            "body": "live",
            "author": {"handle": "alice"},
        }
        assert act(server, bob, LIKE, postId=post["id"])["__typename"] == "LikePostSuccess"
        assert alice_ws.next("notes")["notifications"] == {
            "kind": "LIKE",
            "actor": {"handle": "bob"},
        }


def test_social_rate_limits_refuse_with_rate_limited(settings: Settings) -> None:
    limited = settings.model_copy(
        update={"social_posts_per_minute": 2, "social_follows_per_minute": 1}
    )
    with running(limited) as server:
        people = traders(server, "alice", "bob")
        alice = people["alice"][1]
        assert published(server, alice, "one") and published(server, alice, "two")
        assert code(publish(server, alice, "three")) == "rate_limited"
        assert act(server, alice, FOLLOW, handle="bob")["__typename"] == "FollowSuccess"
        assert code(act(server, alice, UNFOLLOW, handle="bob")) == "rate_limited"
        assert server.gql(ACCOUNT, {"handle": "alice"})["account"]["postCount"] == 2


def test_a_restarted_server_keeps_the_social_graph_posts_and_notifications(
    settings: Settings,
) -> None:
    with running(settings) as server:
        people = traders(server, "alice", "bob")
        alice, bob = people["alice"][1], people["bob"][1]
        assert act(server, bob, FOLLOW, handle="alice")["__typename"] == "FollowSuccess"
        post = published(server, alice, "before the restart $BTC")
        comment = act(server, bob, COMMENT, postId=post["id"], body="noted")["comment"]
        assert act(server, bob, LIKE, postId=post["id"])["__typename"] == "LikePostSuccess"
        before = (
            server.gql(ACCOUNT, {"handle": "alice"}, token=bob)["account"],
            server.gql(FEED, token=bob)["feed"],
            server.gql(NOTIFICATIONS, token=alice)["notifications"],
            server.gql(POST, {"id": post["id"]}, token=bob)["post"],
        )
    with running(settings) as server:
        after = (
            server.gql(ACCOUNT, {"handle": "alice"}, token=bob)["account"],
            server.gql(FEED, token=bob)["feed"],
            server.gql(NOTIFICATIONS, token=alice)["notifications"],
            server.gql(POST, {"id": post["id"]}, token=bob)["post"],
        )
        assert after == before
        assert after[3]["likeCount"] == 1 and after[3]["commentCount"] == 1
        reply = act(server, alice, COMMENT, postId=post["id"], body="yes", replyTo=comment["id"])
        assert reply["__typename"] == "CommentOnPostSuccess", reply
