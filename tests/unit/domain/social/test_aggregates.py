"""The social aggregates decide: posts, comments, likes, reports, and the follow graph kept
on accounts. Every aggregate rebuilt from its events equals the live one."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from socialtrading.domain.account import TRADER, Account
from socialtrading.domain.errors import InvalidCommand, Refused
from socialtrading.domain.ids import account_id
from socialtrading.domain.social.comment import Comment, comment_id
from socialtrading.domain.social.like import Like, like_id
from socialtrading.domain.social.post import (
    BULLISH,
    EDIT_WINDOW_US,
    NEUTRAL,
    Post,
    post_id,
)
from socialtrading.domain.social.report import Report, report_id

T0 = 1_800_000_000_000_000


def _account(handle: str) -> Account:
    return Account.register(account_id(handle), handle, handle, [TRADER], "r", T0)


def _replayed(aggregate: Aggregate) -> Aggregate:
    """`aggregate` rebuilt from every event it ever triggered (collected or pending)."""
    events = aggregate.collect_events()
    copy: Aggregate | None = None
    for event in events:
        copy = event.mutate(copy)
    assert copy is not None
    return copy


def _post(author: str = "alice", ts: int = T0) -> Post:
    return Post.publish(
        post_id(account_id(author), "c1"),
        str(account_id(author)),
        "Long $BTC",
        "BTC-USD",
        BULLISH,
        ["BTC"],
        [],
        [],
        {"quantity": "0.5", "average_entry": "100.25"},
        "c1",
        ts,
    )


# ---------------------------------------------------------------------- posts


def test_the_same_request_names_the_same_post() -> None:
    alice = account_id("alice")
    assert post_id(alice, "k") == post_id(alice, "k")
    assert post_id(alice, "k") != post_id(account_id("bob"), "k")


def test_an_author_edits_within_fifteen_minutes_only() -> None:
    post = _post()
    author = post.author
    post.edit(author, "Long $BTC, target 120", NEUTRAL, ["BTC"], [], "e1", T0 + EDIT_WINDOW_US)
    assert (post.body, post.sentiment, post.edits) == ("Long $BTC, target 120", NEUTRAL, 1)
    with pytest.raises(Refused) as raised:
        post.edit(author, "late", NEUTRAL, [], [], "e2", T0 + EDIT_WINDOW_US + 1)
    assert raised.value.code == "edit_window_closed"
    assert post.trades == [] and post.position == {"quantity": "0.5", "average_entry": "100.25"}


def test_only_the_author_edits_or_deletes() -> None:
    post = _post()
    bob = str(account_id("bob"))
    with pytest.raises(Refused) as raised:
        post.edit(bob, "mine now", BULLISH, [], [], "e", T0 + 1)
    assert raised.value.code == "not_author"
    with pytest.raises(Refused) as raised:
        post.delete(bob, "d", T0 + 1)
    assert raised.value.code == "not_author"
    assert post.visible and post.version == 1


def test_a_deleted_post_is_unknown_to_later_changes() -> None:
    post = _post()
    post.delete(post.author, "d", T0 + 1)
    assert not post.readable_by(post.author)
    with pytest.raises(InvalidCommand) as raised:
        post.delete(post.author, "d2", T0 + 2)
    assert raised.value.code == "unknown_post"
    with pytest.raises(InvalidCommand):
        post.hide("mod", "spam", "h", T0 + 2)


def test_hidden_content_is_readable_by_its_author_only() -> None:
    post = _post()
    assert post.hide("mod", "spam", "h", T0 + 1) is True
    assert post.hide("mod", "spam", "h2", T0 + 2) is False  # stored nothing
    assert post.version == 2
    assert post.readable_by(post.author) and not post.readable_by("someone")
    assert _replayed(post).__dict__ == post.__dict__


def test_publish_refuses_bad_sentiment_and_too_many_trades() -> None:
    alice = str(account_id("alice"))
    with pytest.raises(InvalidCommand) as raised:
        Post.publish(post_id(UUID(alice), "x"), alice, "b", None, "MOON", [], [], [], None, "x", T0)
    assert raised.value.code == "invalid_sentiment"
    trades: list[dict[str, Any]] = [{"trade_id": f"BTC-USD:{i}"} for i in range(6)]
    with pytest.raises(InvalidCommand) as raised:
        Post.publish(
            post_id(UUID(alice), "y"), alice, "b", None, BULLISH, [], [], trades, None, "y", T0
        )
    assert raised.value.code == "too_many_trades"


# ---------------------------------------------------------------------- comments


def test_replies_stay_one_level_deep_and_on_the_same_post() -> None:
    post = _post()
    bob, carol = account_id("bob"), account_id("carol")
    top = Comment.write(comment_id(bob, "c"), str(post.id), str(bob), "agreed", None, [], "c", T0)
    reply = Comment.write(
        comment_id(carol, "r"), str(post.id), str(carol), "why?", top, [], "r", T0 + 1
    )
    deeper = Comment.write(
        comment_id(bob, "d"), str(post.id), str(bob), "because", reply, [], "d", T0 + 2
    )
    assert reply.reply_to == str(top.id) and deeper.reply_to == str(top.id)
    with pytest.raises(InvalidCommand) as raised:
        Comment.write(comment_id(bob, "e"), "another-post", str(bob), "x", top, [], "e", T0)
    assert raised.value.code == "unknown_comment"


# ---------------------------------------------------------------------- likes and reports


def test_liking_twice_or_unliking_twice_stores_nothing() -> None:
    post, bob = _post(), account_id("bob")
    like = Like.give(like_id(post.id, bob), str(post.id), str(bob), "l1", T0)
    assert like.like("l2", T0 + 1) is False
    assert like.unlike("u1", T0 + 2) is True
    assert like.unlike("u2", T0 + 3) is False
    assert like.like("l3", T0 + 4) is True
    assert like.version == 3 and like.liked
    assert _replayed(like).__dict__ == like.__dict__


def test_a_report_is_one_event() -> None:
    bob = account_id("bob")
    report = Report.file(report_id(bob, "r"), str(bob), "p", None, "spam", "r", T0)
    assert (report.post, report.comment, report.reason, report.version) == ("p", None, "spam", 1)


# ---------------------------------------------------------------------- profiles


def test_a_profile_update_that_changes_nothing_stores_nothing() -> None:
    alice = _account("alice")
    assert alice.update_profile("Alice", "Swing trader", "https://x.example/a.png", "p", T0)
    assert not alice.update_profile("Alice", "Swing trader", "https://x.example/a.png", "q", T0)
    assert (alice.display_name, alice.bio, alice.avatar_url) == (
        "Alice",
        "Swing trader",
        "https://x.example/a.png",
    )
    assert alice.version == 2


# ---------------------------------------------------------------------- the follow graph


HANDLES = ("ann", "ben", "cat", "dan")


class FollowGraph(RuleBasedStateMachine):
    """Follows and blocks between accounts against a model: following yourself is refused,
    so is following across a block either way; a block ends a follow either way; repeats are
    successes that store nothing. Every account replayed from its events equals it."""

    def __init__(self) -> None:
        super().__init__()
        self.accounts = {h: _account(h) for h in HANDLES}
        self.ids = {h: str(account_id(h)) for h in HANDLES}
        self.follows: set[tuple[str, str]] = set()
        self.blocks: set[tuple[str, str]] = set()
        # every event each account triggered, its registration first
        self.events: dict[str, list[Any]] = {
            h: list(account.collect_events()) for h, account in self.accounts.items()
        }
        self.ts = T0

    def _collect(self) -> int:
        stored = 0
        for handle, account in self.accounts.items():
            pending = account.collect_events()
            self.events[handle].extend(pending)
            stored += len(pending)
        return stored

    @rule(a=st.sampled_from(HANDLES), b=st.sampled_from(HANDLES))
    def follow(self, a: str, b: str) -> None:
        self.ts += 1
        me, them = self.accounts[a], self.accounts[b]
        try:
            changed = me.follow(self.ids[a], them, self.ids[b], "f", self.ts)
        except Refused as error:
            if a == b:
                assert error.code == "cannot_follow_self"
            else:
                assert error.code == "blocked"
                assert (a, b) in self.blocks or (b, a) in self.blocks
            assert self._collect() == 0
            return
        assert a != b and (a, b) not in self.blocks and (b, a) not in self.blocks
        assert changed == ((a, b) not in self.follows)
        assert self._collect() == int(changed)
        self.follows.add((a, b))

    @rule(a=st.sampled_from(HANDLES), b=st.sampled_from(HANDLES))
    def unfollow(self, a: str, b: str) -> None:
        self.ts += 1
        changed = self.accounts[a].unfollow(self.ids[b], "u", self.ts)
        assert changed == ((a, b) in self.follows)
        assert self._collect() == int(changed)
        self.follows.discard((a, b))

    @rule(a=st.sampled_from(HANDLES), b=st.sampled_from(HANDLES))
    def block(self, a: str, b: str) -> None:
        self.ts += 1
        if a == b:
            with pytest.raises(Refused):
                self.accounts[a].block(self.ids[a], self.accounts[b], self.ids[b], "b", self.ts)
            return
        changed = self.accounts[a].block(self.ids[a], self.accounts[b], self.ids[b], "b", self.ts)
        assert changed == ((a, b) not in self.blocks)
        expected = 0
        if changed:
            expected = 1 + ((a, b) in self.follows) + ((b, a) in self.follows)
            self.follows -= {(a, b), (b, a)}
        assert self._collect() == expected
        self.blocks.add((a, b))

    @rule(a=st.sampled_from(HANDLES), b=st.sampled_from(HANDLES))
    def unblock(self, a: str, b: str) -> None:
        self.ts += 1
        changed = self.accounts[a].unblock(self.ids[b], "ub", self.ts)
        assert changed == ((a, b) in self.blocks)
        self.blocks.discard((a, b))
        assert self._collect() == int(changed)

    @invariant()
    def graph_matches_the_model(self) -> None:
        for a, account in self.accounts.items():
            assert set(account.following()) == {self.ids[b] for x, b in self.follows if x == a}
            assert set(account.blocking()) == {self.ids[b] for x, b in self.blocks if x == a}

    def teardown(self) -> None:
        for handle, account in self.accounts.items():
            copy: Aggregate | None = None
            for event in self.events[handle]:
                copy = event.mutate(copy)
            assert copy is not None
            assert isinstance(copy, Account)
            assert copy.following() == account.following()
            assert copy.blocking() == account.blocking()
            assert copy.version == account.version


TestFollowGraph = FollowGraph.TestCase
TestFollowGraph.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
