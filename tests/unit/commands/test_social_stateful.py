"""A stateful test of the social rules through the writer on SQLite: follows, unfollows,
blocks, unblocks, posts, likes, unlikes and deletes by three traders, with restarts in
between; every outcome (accepted or its code, stored or not) is checked against a model of
the rules, and the writer's follow graph against the model's."""

from __future__ import annotations

import shutil
import tempfile
from uuid import UUID

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from socialtrading.commands.handlers import Outcome
from socialtrading.commands.models import Command, RegisterTrader
from socialtrading.commands.social import (
    Block,
    DeletePost,
    Follow,
    LikePost,
    PublishPost,
    Unblock,
    Unfollow,
    UnlikePost,
)
from socialtrading.commands.writer import Writer
from socialtrading.domain.errors import DomainError
from socialtrading.domain.ids import account_id
from socialtrading.domain.social.post import post_id
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import open_store

HANDLES = ("alice", "bob", "carol")
traders = st.sampled_from(HANDLES)
STORED = "stored"  # accepted, something stored
NOTHING = "nothing"  # accepted, nothing stored


class SocialRules(RuleBasedStateMachine):
    """The writer against a model: who follows and blocks whom, posts, likes."""

    posts = Bundle("posts")

    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.mkdtemp(prefix="social-stateful-")
        self.settings = Settings(store=f"sqlite:///{self.directory}/events.db")
        self.writer = self._start()
        for handle in HANDLES:
            self.writer.execute(RegisterTrader(command_id="r", handle=handle))
        self.following: set[tuple[str, str]] = set()
        self.blocking: set[tuple[str, str]] = set()
        self.authors: dict[UUID, str] = {}
        self.deleted: set[UUID] = set()
        self.likes: set[tuple[UUID, str]] = set()
        self.n = 0

    def _start(self) -> Writer:
        return Writer(open_store(self.settings), demo_funding=True).start()

    def teardown(self) -> None:
        self.writer.stop()
        self.writer.store.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _run(self, command: Command) -> str:
        try:
            outcome: Outcome = self.writer.execute(command)
        except DomainError as error:
            return error.code
        if not outcome.accepted:
            return str(outcome.code)
        return STORED if outcome.stored else NOTHING

    def _id(self) -> str:
        self.n += 1
        return f"c{self.n}"

    def _blocked(self, a: str, b: str) -> bool:
        return (a, b) in self.blocking or (b, a) in self.blocking

    # ------------------------------------------------------------------ rules

    @rule(a=traders, b=traders)
    def follow(self, a: str, b: str) -> None:
        got = self._run(Follow(command_id=self._id(), actor=account_id(a), handle=b))
        if a == b:
            expected = "cannot_follow_self"
        elif self._blocked(a, b):
            expected = "blocked"
        elif (a, b) in self.following:
            expected = NOTHING
        else:
            expected = STORED
            self.following.add((a, b))
        assert got == expected, (a, b)

    @rule(a=traders, b=traders)
    def unfollow(self, a: str, b: str) -> None:
        got = self._run(Unfollow(command_id=self._id(), actor=account_id(a), handle=b))
        expected = STORED if (a, b) in self.following else NOTHING
        self.following.discard((a, b))
        assert got == expected, (a, b)

    @rule(a=traders, b=traders)
    def block(self, a: str, b: str) -> None:
        got = self._run(Block(command_id=self._id(), actor=account_id(a), handle=b))
        if a == b:
            expected = "cannot_block_self"
        elif (a, b) in self.blocking:
            expected = NOTHING
        else:
            expected = STORED
            self.blocking.add((a, b))
            self.following -= {(a, b), (b, a)}
        assert got == expected, (a, b)

    @rule(a=traders, b=traders)
    def unblock(self, a: str, b: str) -> None:
        got = self._run(Unblock(command_id=self._id(), actor=account_id(a), handle=b))
        expected = STORED if (a, b) in self.blocking else NOTHING
        self.blocking.discard((a, b))
        assert got == expected, (a, b)

    @rule(target=posts, a=traders)
    def publish(self, a: str) -> UUID:
        command_id = self._id()
        got = self._run(PublishPost(command_id=command_id, actor=account_id(a), body="hi $BTC"))
        assert got == STORED
        post = post_id(account_id(a), command_id)
        self.authors[post] = a
        return post

    @rule(post=posts, a=traders)
    def like(self, post: UUID, a: str) -> None:
        got = self._run(LikePost(command_id=self._id(), actor=account_id(a), post_id=post))
        if post in self.deleted:
            expected = "unknown_post"
        elif (self.authors[post], a) in self.blocking:
            expected = "blocked"
        elif (post, a) in self.likes:
            expected = NOTHING
        else:
            expected = STORED
            self.likes.add((post, a))
        assert got == expected, (post, a)

    @rule(post=posts, a=traders)
    def unlike(self, post: UUID, a: str) -> None:
        got = self._run(UnlikePost(command_id=self._id(), actor=account_id(a), post_id=post))
        if post in self.deleted:
            expected = "unknown_post"
        elif (post, a) in self.likes:
            expected = STORED
            self.likes.discard((post, a))
        else:
            expected = NOTHING
        assert got == expected, (post, a)

    @rule(post=posts, a=traders)
    def delete(self, post: UUID, a: str) -> None:
        got = self._run(DeletePost(command_id=self._id(), actor=account_id(a), post_id=post))
        if post in self.deleted:
            expected = "unknown_post"
        elif self.authors[post] != a:
            expected = "not_author"
        else:
            expected = STORED
            self.deleted.add(post)
        assert got == expected, (post, a)

    @rule()
    def restart(self) -> None:
        self.writer.stop()
        self.writer.store.close()
        self.writer = self._start()

    # ------------------------------------------------------------------ invariants

    @invariant()
    def the_follow_graph_is_the_models(self) -> None:
        accounts = self.writer.state.accounts
        for a in HANDLES:
            account = accounts[account_id(a)]
            following = {b for b in HANDLES if str(account_id(b)) in account.following()}
            blocking = {b for b in HANDLES if str(account_id(b)) in account.blocking()}
            assert following == {b for x, b in self.following if x == a}
            assert blocking == {b for x, b in self.blocking if x == a}


SocialRules.TestCase.settings = settings(max_examples=30, stateful_step_count=25, deadline=None)


TestSocialRules = SocialRules.TestCase
