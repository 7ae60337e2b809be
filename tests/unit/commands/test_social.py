"""The social commands through the real writer on SQLite: every rule and refusal code,
idempotent publishing, restarts, trades verified from the log, disclosed positions and the
edit window by sequencer time.

BTC-USD trades with a tick of 0.01 USD and a lot of 0.01 BTC, without fees. alice, bob and
carol are demo-funded traders; mod holds the moderator role; root is an admin without the
trader role.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

import pytest
from pydantic import ValidationError

from socialtrading.commands import remembered
from socialtrading.commands.handlers import Outcome
from socialtrading.commands.models import (
    Command,
    CreateAdmin,
    Deposit,
    GrantRole,
    ListMarket,
    PlaceOrder,
    RegisterTrader,
    Side,
)
from socialtrading.commands.social import (
    Block,
    CommentOnPost,
    DeletePost,
    EditPost,
    Follow,
    HideComment,
    HidePost,
    LikePost,
    MarkNotificationsRead,
    PublishPost,
    ReportContent,
    Unblock,
    Unfollow,
    UnlikePost,
    UpdateProfile,
    subject_of,
)
from socialtrading.commands.writer import Ack, Writer
from socialtrading.domain.errors import DomainError
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id
from socialtrading.domain.market import Market
from socialtrading.domain.social.comment import Comment
from socialtrading.domain.social.like import like_id
from socialtrading.domain.social.post import EDIT_WINDOW_US, Post
from socialtrading.domain.social.report import Report, report_id
from socialtrading.engine.records import KIND, SEQ, TRADE
from socialtrading.infra.command_index import LIKE, POST

SYMBOL = "BTC-USD"
ALICE, BOB, CAROL, MOD = (account_id(h) for h in ("alice", "bob", "carol", "mod"))
ROOT = account_id("root")
START = 1_800_000_000_000_000  # the sequencer clock's first reading (µs)
OK = "ok"


@pytest.fixture
def backend() -> str:
    """These tests run on SQLite only (the writer is the same on both stores)."""
    return "sqlite"


class Clock:
    """The writer's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> int:
        self.now += 1
        return self.now


class Social:
    """A writer with the cast of the module's text, and helpers to drive it."""

    def __init__(self, make_writer: Callable[..., Writer], clock: Clock, **options: Any) -> None:
        self.make_writer = make_writer
        self.clock = clock
        self.options = options
        self.writer = make_writer(clock=clock, **options)
        self.n = 0

    def restart(self) -> None:
        """Stop the writer and start a new one over the same store."""
        self.writer.stop()
        self.writer = self.make_writer(clock=self.clock, **self.options)

    def run(self, command: Command) -> Outcome:
        """Execute; a refusal raised as an error comes back as an exception."""
        return self.writer.execute(command)

    def code(self, command: Command) -> str:
        """`ok` for an accepted command, else its refusal code."""
        try:
            outcome = self.run(command)
        except DomainError as error:
            return error.code
        return OK if outcome.accepted else str(outcome.code)

    def head(self) -> int:
        """The newest notification id stored."""
        return self.writer.store.recorder.max_notification_id() or 0

    def refused(self, command: Command) -> str:
        """The refusal code of a command that must store nothing."""
        before = self.head()
        code = self.code(command)
        assert code != OK, command
        assert self.head() == before, "a refusal stored something"
        return code

    def id(self) -> str:
        self.n += 1
        return f"c{self.n}"

    def post(self, actor: UUID, body: str = "hello $BTC", **fields: Any) -> UUID:
        """Publish a post; its id."""
        command = PublishPost(command_id=self.id(), actor=actor, body=body, **fields)
        outcome = self.run(command)
        assert outcome.accepted, outcome
        found = subject_of(command)
        assert found is not None
        return found

    def comment(self, actor: UUID, post: UUID, body: str = "nice", **fields: Any) -> UUID:
        command = CommentOnPost(
            command_id=self.id(), actor=actor, post_id=post, body=body, **fields
        )
        assert self.run(command).accepted
        found = subject_of(command)
        assert found is not None
        return found

    def trade(self, seller: UUID, buyer: UUID, price: str, quantity: str) -> str:
        """`seller` rests an ask that `buyer` takes whole; the trade id."""
        sides: tuple[tuple[UUID, Side], ...] = ((seller, "sell"), (buyer, "buy"))
        for actor, side in sides:
            outcome = self.run(
                PlaceOrder(
                    command_id=self.id(),
                    actor=actor,
                    market=SYMBOL,
                    side=side,
                    price=Decimal(price),
                    quantity=Decimal(quantity),
                )
            )
        (trade,) = [r for r in outcome.records if r[KIND] == TRADE]
        return f"{SYMBOL}:{trade[SEQ]}"

    def id_of(self, command: Command) -> UUID:
        """The post or comment a command is about."""
        found = subject_of(command)
        assert found is not None
        return found

    def stored(self, aggregate_id: UUID) -> Any:
        """The aggregate as stored (read from the store, not the writer's memory)."""
        return self.writer.store.repository.get(aggregate_id)

    def follows(self, who: UUID) -> list[str]:
        return list(self.writer.state.accounts[who].following())


def one_batch(writer: Writer, commands: list[Command]) -> list[Outcome]:
    """Run `commands` as ONE batch: the writer is stopped, and its batch step is called as
    its thread would call it."""
    writer.stop()
    acks = [Ack(command, threading.Condition()) for command in commands]
    writer._process(acks)
    writer.start()
    return [ack.result(0) for ack in acks]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def social(make_writer: Callable[..., Writer], clock: Clock) -> Iterator[Social]:
    """The writer with BTC-USD listed and the cast registered and funded."""
    social = Social(make_writer, clock)
    social.run(
        ListMarket(
            command_id="list",
            actor=SYSTEM_ACTOR,
            symbol=SYMBOL,
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.01"),
        )
    )
    for handle in ("alice", "bob", "carol", "mod"):
        trader = social.run(RegisterTrader(command_id="r", handle=handle)).account_id
        assert trader is not None
        for asset, amount in (("USD", "100000"), ("BTC", "100")):
            social.run(
                Deposit(
                    command_id=f"d{asset}",
                    actor=trader,
                    account=trader,
                    asset=asset,
                    amount=Decimal(amount),
                )
            )
    social.run(GrantRole(command_id="g", actor=SYSTEM_ACTOR, account=MOD, role="moderator"))
    social.run(
        CreateAdmin(command_id="root", actor=SYSTEM_ACTOR, handle="root", token_hash="a" * 64)
    )
    yield social


# ---------------------------------------------------------------------- who may act


def test_the_system_and_accounts_without_the_trader_role_take_no_social_action(
    social: Social,
) -> None:
    assert social.refused(Follow(command_id="f", actor=SYSTEM_ACTOR, handle="bob")) == (
        "not_authorized"
    )
    assert social.refused(Follow(command_id="f", actor=ROOT, handle="bob")) == "not_authorized"
    ghost = account_id("ghost")
    assert social.refused(Follow(command_id="f", actor=ghost, handle="bob")) == "unknown_actor"


# ---------------------------------------------------------------------- profiles


def test_a_profile_is_set_once_and_an_unchanged_one_stores_nothing(social: Social) -> None:
    update = UpdateProfile(
        command_id="p1",
        actor=ALICE,
        display_name=" Alice\u0301 ",  # e + combining acute: NFC makes one code point
        bio="Trend follower.\nBTC only.",
        avatar_url="https://example.com/a.png",
    )
    first = social.run(update)
    assert first.accepted and first.stored
    account = social.writer.state.accounts[ALICE]
    assert (account.display_name, account.bio, account.avatar_url) == (
        "Alicé",
        "Trend follower.\nBTC only.",
        "https://example.com/a.png",
    )
    again = social.run(update.model_copy(update={"command_id": "p2"}))
    assert again.accepted and not again.stored
    # None keeps a field; an empty avatar URL removes it
    assert social.run(UpdateProfile(command_id="p3", actor=ALICE, avatar_url="")).stored
    assert account.avatar_url is None and account.bio == "Trend follower.\nBTC only."


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"bio": "x" * 281}, "invalid_bio"),
        ({"bio": "bad\x07bell"}, "invalid_bio"),
        ({"avatar_url": "http://example.com/a.png"}, "invalid_avatar_url"),
        ({"avatar_url": "https://example.com/" + "a" * 500}, "invalid_avatar_url"),
        ({"avatar_url": "javascript:alert(1)"}, "invalid_avatar_url"),
        ({"display_name": "a\nb"}, "invalid_display_name"),
        ({"display_name": "   "}, "invalid_display_name"),
    ],
)
def test_a_bad_profile_is_refused_with_its_code(
    social: Social, fields: dict[str, str], code: str
) -> None:
    assert social.refused(UpdateProfile(command_id="p", actor=ALICE, **fields)) == code


def test_sizes_far_beyond_the_limits_are_refused_at_the_edge() -> None:
    with pytest.raises(ValidationError):
        UpdateProfile(command_id="p", actor=ALICE, bio="x" * 2_000)
    with pytest.raises(ValidationError):
        PublishPost(command_id="p", actor=ALICE, body="x" * 8_001)
    with pytest.raises(ValidationError):
        PublishPost(
            command_id="p", actor=ALICE, body="x", trade_ids=[f"BTC-USD:{n}" for n in range(1, 22)]
        )
    with pytest.raises(ValidationError):
        PublishPost(command_id="p", actor=ALICE, body="x", trade_ids=["BTC-USD:0"])
    with pytest.raises(ValidationError):
        Follow(command_id="f", actor=ALICE, handle="bob\x00")
    with pytest.raises(ValidationError):
        ReportContent(command_id="r", actor=ALICE, reason="spam")  # neither post nor comment
    with pytest.raises(ValidationError):
        MarkNotificationsRead(command_id="m", actor=ALICE, up_to=-1)


# ---------------------------------------------------------------------- follows and blocks


def test_follow_rules(social: Social) -> None:
    assert social.refused(Follow(command_id="f0", actor=ALICE, handle="nobody")) == (
        "unknown_account"
    )
    assert social.refused(Follow(command_id="f0", actor=ALICE, handle="root")) == (
        "unknown_account"  # not a trader
    )
    assert social.refused(Follow(command_id="f0", actor=ALICE, handle="ALICE")) == (
        "cannot_follow_self"
    )
    first = social.run(Follow(command_id="f1", actor=ALICE, handle="Bob"))
    assert first.accepted and first.stored
    twice = social.run(Follow(command_id="f2", actor=ALICE, handle="bob"))
    assert twice.accepted and not twice.stored
    assert social.follows(ALICE) == [str(BOB)]
    assert social.run(Unfollow(command_id="u1", actor=ALICE, handle="bob")).stored
    not_following = social.run(Unfollow(command_id="u2", actor=ALICE, handle="bob"))
    assert not_following.accepted and not not_following.stored
    assert social.follows(ALICE) == []
    assert social.refused(Unfollow(command_id="u3", actor=ALICE, handle="nobody")) == (
        "unknown_account"
    )


def test_a_block_ends_follows_both_ways_and_stops_follows_likes_and_comments(
    social: Social,
) -> None:
    social.run(Follow(command_id="f", actor=ALICE, handle="bob"))
    social.run(Follow(command_id="f", actor=BOB, handle="alice"))
    post = social.post(ALICE)
    top = social.comment(ALICE, post)
    assert social.run(Block(command_id="b", actor=ALICE, handle="bob")).stored
    assert social.follows(ALICE) == [] and social.follows(BOB) == []
    assert social.run(Block(command_id="b2", actor=ALICE, handle="bob")).stored is False
    assert social.refused(Follow(command_id="f2", actor=BOB, handle="alice")) == "blocked"
    assert social.refused(Follow(command_id="f2", actor=ALICE, handle="bob")) == "blocked"
    assert social.refused(LikePost(command_id="l", actor=BOB, post_id=post)) == "blocked"
    assert social.refused(CommentOnPost(command_id="c", actor=BOB, post_id=post, body="x")) == (
        "blocked"
    )
    # replying to the blocker's comment on someone else's post
    carols = social.post(CAROL)
    alices = social.comment(ALICE, carols)
    reply = CommentOnPost(command_id="c2", actor=BOB, post_id=carols, body="x", reply_to=alices)
    assert social.refused(reply) == "blocked"
    assert top is not None
    # a mention of the blocker is kept as text, not linked
    mention = social.post(BOB, "hey @alice and @carol and @nobody")
    assert social.stored(mention).mentions == [str(CAROL)]
    assert social.refused(Block(command_id="b3", actor=ALICE, handle="alice")) == (
        "cannot_block_self"
    )
    assert social.run(Unblock(command_id="ub", actor=ALICE, handle="bob")).stored
    assert social.run(Unblock(command_id="ub2", actor=ALICE, handle="bob")).stored is False
    assert social.code(Follow(command_id="f3", actor=BOB, handle="alice")) == OK
    assert social.code(LikePost(command_id="l2", actor=BOB, post_id=post)) == OK


# ---------------------------------------------------------------------- posts


def test_a_post_parses_cashtags_and_links_mentions_of_existing_traders(social: Social) -> None:
    post = social.post(
        ALICE,
        "Long $btc and $ETH, cc @Bob @nobody @alice @root",
        market=SYMBOL,
        sentiment="BULLISH",
    )
    stored = social.stored(post)
    assert isinstance(stored, Post)
    assert stored.cashtags == ["BTC", "ETH"]
    assert stored.mentions == [str(BOB)]  # unknown handles, oneself and non-traders: not linked
    assert (stored.market, stored.sentiment, stored.author) == (SYMBOL, "BULLISH", str(ALICE))
    assert stored.trades == []
    assert stored.position == {"quantity": "0", "average_entry": None}
    plain = social.stored(social.post(ALICE, "no market"))
    assert plain.position is None and plain.market is None and plain.sentiment == "NEUTRAL"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"body": ""}, "invalid_body"),
        ({"body": " \n\t "}, "invalid_body"),
        ({"body": "x" * 2_001}, "invalid_body"),
        ({"body": "evil\u202etext"}, "invalid_body"),
        ({"body": "x", "market": "ETH-USD"}, "unknown_market"),
        ({"body": "x", "trade_ids": [f"BTC-USD:{n}" for n in range(1, 7)]}, "too_many_trades"),
        ({"body": "x", "trade_ids": ["BTC-USD:1", "BTC-USD:1"]}, "duplicate_trade"),
        ({"body": "x", "trade_ids": ["BTC-USD:999"]}, "unknown_trade"),
        ({"body": "x", "trade_ids": ["ETH-USD:1"]}, "unknown_trade"),
    ],
)
def test_a_bad_post_is_refused_with_its_code(
    social: Social, fields: dict[str, Any], code: str
) -> None:
    assert social.refused(PublishPost(command_id="p", actor=ALICE, **fields)) == code


def test_a_body_of_exactly_the_limit_after_nfc_is_accepted(social: Social) -> None:
    body = "e\u0301" * 2_000  # 4,000 code points before NFC, 2,000 after
    assert social.stored(social.post(ALICE, body)).body == "\u00e9" * 2_000


def test_publishing_with_a_client_post_id_twice_gives_one_post(social: Social) -> None:
    first = PublishPost(command_id="p1", actor=ALICE, body="once", client_post_id="k")
    second = PublishPost(command_id="p2", actor=ALICE, body="once", client_post_id="k")
    assert subject_of(first) == subject_of(second)
    a = social.run(first)
    head = social.head()
    b = social.run(second)
    assert a.accepted and a.stored and b.accepted and not b.stored
    assert social.head() == head
    assert social.run(first) == a  # a repeat of the command: its first outcome
    events = list(social.writer.store.events.get(social.id_of(first)))
    assert [type(e).__name__ for e in events] == ["Published"]
    # the same client post id of another author is another post
    assert social.run(PublishPost(command_id="p1", actor=BOB, body="x", client_post_id="k")).stored


def test_attached_trades_are_the_authors_fills_read_from_the_log(social: Social) -> None:
    sold = social.trade(BOB, ALICE, "100", "1")  # bob sells alice 1 BTC at 100
    others = [social.trade(CAROL, BOB, str(100 + n), "0.5") for n in range(1, 6)]
    bought = social.trade(BOB, ALICE, "102", "1")
    social.restart()  # the trades are found in the store, not in memory
    post = social.post(ALICE, "my fills", market=SYMBOL, trade_ids=[sold, bought])
    stored = social.stored(post)
    seq = int(sold.split(":")[1])
    assert stored.trades[0] == {
        "trade_id": sold,
        "market": SYMBOL,
        "side": "buy",
        "price": "100",
        "quantity": "1",
        "executed_at": stored.trades[0]["executed_at"],
    }
    assert stored.trades[0]["executed_at"] > START
    assert [t["price"] for t in stored.trades] == ["100", "102"] and seq > 0
    # the maker's side is the other one
    bobs = social.stored(social.post(BOB, "sold", trade_ids=[sold, others[0]]))
    assert [t["side"] for t in bobs.trades] == ["sell", "buy"]
    assert social.refused(
        PublishPost(command_id="x", actor=ALICE, body="x", trade_ids=[others[2]])
    ) == ("not_your_trade")
    # every trade of the log is found by the binary search, the last of a batch too
    for trade_id in others:
        assert (
            social.code(
                PublishPost(command_id=f"y{trade_id}", actor=CAROL, body="x", trade_ids=[trade_id])
            )
            == OK
        )


def test_a_trade_of_the_same_batch_is_found_before_it_is_stored(social: Social) -> None:
    sides: tuple[tuple[UUID, Side], ...] = ((BOB, "sell"), (ALICE, "buy"))
    orders = [
        PlaceOrder(
            command_id=f"o{side}",
            actor=actor,
            market=SYMBOL,
            side=side,
            price=Decimal(100),
            quantity=Decimal(1),
        )
        for actor, side in sides
    ]
    # the sell's accepted and rested records, the buy's accepted record, then the trade
    trade_id = f"{SYMBOL}:{social.writer.state.markets[SYMBOL].book.seq + 4}"
    post = PublishPost(command_id="p", actor=ALICE, body="x", trade_ids=[trade_id])
    assert all(o.accepted for o in one_batch(social.writer, [*orders, post]))
    assert social.stored(social.id_of(post)).trades[0]["side"] == "buy"


def test_a_post_about_a_market_discloses_the_authors_position(social: Social) -> None:
    social.trade(BOB, ALICE, "100", "1")
    social.trade(BOB, ALICE, "103", "2")
    social.trade(ALICE, CAROL, "110", "0.5")  # alice sells half a BTC
    alice = social.stored(social.post(ALICE, "long", market=SYMBOL))
    assert alice.position == {"quantity": "2.5", "average_entry": "102"}
    bob = social.stored(social.post(BOB, "short", market=SYMBOL))
    assert bob.position == {"quantity": "-3", "average_entry": "102"}
    social.trade(CAROL, ALICE, "90", "0.5")  # carol goes flat
    carol = social.stored(social.post(CAROL, "flat", market=SYMBOL))
    assert carol.position == {"quantity": "0", "average_entry": None}
    # the positions survive a restart (from the market's events and snapshots)
    positions = dict(social.writer.state.markets[SYMBOL].positions.held)
    social.restart()
    assert social.writer.state.markets[SYMBOL].positions.held == positions


def test_positions_survive_snapshots_and_old_snapshots_recover_them(
    make_writer: Callable[..., Writer], clock: Clock
) -> None:
    social = Social(make_writer, clock, snapshot_interval=1)
    social.run(
        ListMarket(
            command_id="list",
            actor=SYSTEM_ACTOR,
            symbol=SYMBOL,
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.01"),
        )
    )
    for handle in ("alice", "bob"):
        trader = account_id(handle)
        social.run(RegisterTrader(command_id="r", handle=handle))
        for asset, amount in (("USD", "100000"), ("BTC", "100")):
            social.run(
                Deposit(
                    command_id=asset,
                    actor=trader,
                    account=trader,
                    asset=asset,
                    amount=Decimal(amount),
                )
            )
    social.trade(BOB, ALICE, "100", "1")
    social.trade(BOB, ALICE, "101", "1")
    market = social.writer.state.markets[SYMBOL]
    positions = dict(market.positions.held)
    assert positions == {str(ALICE): [200, 2_010_000], str(BOB): [-200, 2_010_000]}
    store = social.writer.store
    assert store.snapshots is not None
    snapshots = list(store.snapshots.get(market.id))
    assert snapshots and all("positions" in cast(Any, s).state for s in snapshots)
    social.restart()
    assert social.writer.state.markets[SYMBOL].positions.held == positions
    # a snapshot taken before positions existed: recovered from the market's events
    restored: Market = social.writer.store.repository.get(market.id)
    del restored.__dict__["positions"]
    assert not restored.knows_positions()
    restored.recover_positions(social.writer.store.events.get(market.id))
    assert restored.positions.held == positions


def test_sums_beyond_64_bits_survive_a_snapshot(social: Social) -> None:
    from socialtrading.domain.positions import Positions

    transcoder = social.writer.store.mapper.transcoder
    big = Positions({"a": [-(2**70), 3**50]})
    assert transcoder.decode(transcoder.encode({"p": big}))["p"] == big


# ---------------------------------------------------------------------- edits and deletes


def test_the_author_edits_within_15_minutes_of_sequencer_time(social: Social, clock: Clock) -> None:
    post = social.post(ALICE, "first $BTC")
    published = social.stored(post).published_at
    clock.now = published + EDIT_WINDOW_US - 10
    edit = EditPost(
        command_id="e1", actor=ALICE, post_id=post, body="second $ETH @bob", sentiment="BEARISH"
    )
    assert social.run(edit).accepted
    stored = social.stored(post)
    assert (stored.body, stored.sentiment, stored.cashtags, stored.mentions) == (
        "second $ETH @bob",
        "BEARISH",
        ["ETH"],
        [str(BOB)],
    )
    keep = EditPost(command_id="e2", actor=ALICE, post_id=post, body="third")
    assert social.run(keep).accepted and social.stored(post).sentiment == "BEARISH"
    assert (
        social.refused(EditPost(command_id="e3", actor=BOB, post_id=post, body="x")) == "not_author"
    )
    assert (
        social.refused(EditPost(command_id="e3", actor=ALICE, post_id=post, body=""))
        == "invalid_body"
    )
    clock.now = published + EDIT_WINDOW_US + 1
    assert social.refused(EditPost(command_id="e4", actor=ALICE, post_id=post, body="late")) == (
        "edit_window_closed"
    )
    assert social.refused(
        EditPost(command_id="e5", actor=ALICE, post_id=UUID(int=7), body="x")
    ) == ("unknown_post")


def test_only_the_author_deletes_and_a_deleted_post_is_gone(social: Social) -> None:
    post = social.post(ALICE)
    assert social.refused(DeletePost(command_id="d", actor=BOB, post_id=post)) == "not_author"
    assert social.run(DeletePost(command_id="d", actor=ALICE, post_id=post)).accepted
    for command in (
        DeletePost(command_id="gone1", actor=ALICE, post_id=post),
        EditPost(command_id="gone2", actor=ALICE, post_id=post, body="x"),
        LikePost(command_id="gone3", actor=BOB, post_id=post),
        UnlikePost(command_id="gone4", actor=BOB, post_id=post),
        CommentOnPost(command_id="gone5", actor=BOB, post_id=post, body="x"),
        ReportContent(command_id="gone6", actor=BOB, post_id=post, reason="spam"),
        HidePost(command_id="gone7", actor=MOD, post_id=post, reason="spam"),
    ):
        assert social.refused(command) == "unknown_post", command


# ---------------------------------------------------------------------- comments


def test_comments_and_one_level_of_replies(social: Social) -> None:
    post = social.post(ALICE)
    other = social.post(BOB)
    top = social.comment(BOB, post, "first @alice")
    reply = social.comment(CAROL, post, "re", reply_to=top)
    deeper = social.comment(ALICE, post, "re re", reply_to=reply)
    assert social.stored(top).mentions == [str(ALICE)]
    assert social.stored(reply).reply_to == str(top)
    assert social.stored(deeper).reply_to == str(top)  # flattened to one level
    assert (
        social.refused(
            CommentOnPost(command_id="x", actor=BOB, post_id=other, body="x", reply_to=top)
        )
        == "unknown_comment"
    )
    assert (
        social.refused(
            CommentOnPost(command_id="x", actor=BOB, post_id=post, body="x", reply_to=UUID(int=3))
        )
        == "unknown_comment"
    )
    assert social.refused(
        CommentOnPost(command_id="x", actor=BOB, post_id=UUID(int=3), body="x")
    ) == ("unknown_post")
    assert social.refused(
        CommentOnPost(command_id="x", actor=BOB, post_id=post, body="x" * 1_001)
    ) == ("invalid_body")


# ---------------------------------------------------------------------- likes and restarts


def test_likes_are_idempotent_and_survive_a_restart(social: Social) -> None:
    post = social.post(ALICE, client_post_id="p")
    assert social.run(LikePost(command_id="l1", actor=BOB, post_id=post)).stored
    assert social.run(LikePost(command_id="l2", actor=BOB, post_id=post)).stored is False
    assert social.run(UnlikePost(command_id="u1", actor=BOB, post_id=post)).stored
    assert social.run(UnlikePost(command_id="u2", actor=BOB, post_id=post)).stored is False
    assert social.run(UnlikePost(command_id="u3", actor=CAROL, post_id=post)).stored is False
    assert social.run(LikePost(command_id="l3", actor=BOB, post_id=post)).stored  # again
    assert social.run(LikePost(command_id="l1", actor=CAROL, post_id=post)).stored
    assert social.run(LikePost(command_id="own", actor=ALICE, post_id=post)).stored
    social.run(Follow(command_id="f", actor=BOB, handle="alice"))
    assert (
        social.refused(LikePost(command_id="l", actor=BOB, post_id=UUID(int=5))) == "unknown_post"
    )

    social.restart()
    writer = social.writer
    assert len(writer.state.social) == 0  # nothing social loaded at start-up
    kinds = [kind for _, kind in writer.store.aggregates()]
    assert kinds.count(POST) == 1 and kinds.count(LIKE) == 3
    head = social.head()
    assert social.run(LikePost(command_id="l4", actor=BOB, post_id=post)).stored is False
    assert social.run(Follow(command_id="f2", actor=BOB, handle="alice")).stored is False
    assert (
        social.run(
            PublishPost(command_id="again", actor=ALICE, body="x", client_post_id="p")
        ).stored
        is False
    )
    assert social.head() == head
    events = writer.store.events.get(like_id(post, BOB))
    assert [type(e).__name__ for e in events] == ["Liked", "Unliked", "Reliked"]
    assert social.run(UnlikePost(command_id="u4", actor=BOB, post_id=post)).stored


def test_the_cache_is_bounded_and_reloads_what_it_evicted(
    make_writer: Callable[..., Writer], clock: Clock, social: Social
) -> None:
    social.writer.state.social.maxsize = 3
    posts = [social.post(ALICE, f"post {n}") for n in range(6)]
    assert len(social.writer.state.social) <= 3
    for post in posts:
        assert social.run(LikePost(command_id=f"l{post}", actor=BOB, post_id=post)).stored
    assert len(social.writer.state.social) <= 3
    for post in posts:
        assert social.run(LikePost(command_id=f"m{post}", actor=BOB, post_id=post)).stored is False


def test_new_aggregates_are_seen_by_later_commands_of_the_same_batch(social: Social) -> None:
    writer = social.writer
    writer.state.social.maxsize = 1
    publish = PublishPost(command_id="p", actor=ALICE, body="x")
    post = subject_of(publish)
    assert post is not None
    commands: list[Command] = [
        publish,
        LikePost(command_id="l", actor=BOB, post_id=post),
        LikePost(command_id="l2", actor=BOB, post_id=post),
        CommentOnPost(command_id="c", actor=CAROL, post_id=post, body="x"),
        LikePost(command_id="l", actor=CAROL, post_id=post),
        EditPost(command_id="e", actor=ALICE, post_id=post, body="y"),
    ]
    outcomes = one_batch(writer, commands)
    assert [o.stored for o in outcomes] == [True, True, False, True, True, True]
    assert social.stored(post).body == "y"


# ---------------------------------------------------------------------- reports and moderation


def test_reports_name_a_post_or_a_comment_of_it(social: Social) -> None:
    post = social.post(ALICE)
    other = social.post(ALICE)
    comment = social.comment(BOB, post)
    on_post = ReportContent(command_id="r1", actor=CAROL, post_id=post, reason="spam")
    assert social.run(on_post).accepted
    on_comment = ReportContent(command_id="r2", actor=CAROL, comment_id=comment, reason=" rude ")
    assert social.run(on_comment).accepted
    filed = social.stored(report_id(CAROL, "r2"))
    assert isinstance(filed, Report)
    assert (filed.post, filed.comment, filed.reason) == (str(post), str(comment), "rude")
    assert social.stored(report_id(CAROL, "r1")).comment is None
    assert (
        social.refused(
            ReportContent(
                command_id="r3", actor=CAROL, post_id=other, comment_id=comment, reason="x"
            )
        )
        == "unknown_comment"
    )
    assert social.refused(ReportContent(command_id="r3", actor=CAROL, post_id=post, reason="")) == (
        "invalid_reason"
    )
    assert social.refused(
        ReportContent(command_id="r3", actor=CAROL, comment_id=UUID(int=1), reason="x")
    ) == ("unknown_comment")


def test_moderators_hide_and_hidden_content_is_only_its_authors(social: Social) -> None:
    post = social.post(ALICE)
    comment = social.comment(BOB, post)
    hide = HidePost(command_id="mod1", actor=CAROL, post_id=post, reason="spam")
    assert social.refused(hide) == "not_authorized"
    assert social.refused(
        HideComment(command_id="mod2", actor=ALICE, comment_id=comment, reason="x")
    ) == ("not_authorized")
    assert social.run(
        HideComment(command_id="mod3", actor=MOD, comment_id=comment, reason="rude")
    ).stored
    assert (
        social.refused(
            CommentOnPost(command_id="mod4", actor=CAROL, post_id=post, body="x", reply_to=comment)
        )
        == "unknown_comment"
    )
    assert (
        social.code(
            CommentOnPost(command_id="mod5", actor=BOB, post_id=post, body="x", reply_to=comment)
        )
        == OK
    )
    assert social.run(HidePost(command_id="mod6", actor=MOD, post_id=post, reason="spam")).stored
    again = social.run(HidePost(command_id="mod7", actor=MOD, post_id=post, reason="spam"))
    assert again.accepted and not again.stored
    assert (
        social.run(HidePost(command_id="mod8", actor=ROOT, post_id=post, reason="x")).stored
        is False
    )
    assert social.refused(LikePost(command_id="mod9", actor=BOB, post_id=post)) == "unknown_post"
    assert social.code(LikePost(command_id="mod10", actor=ALICE, post_id=post)) == OK  # its author
    assert (
        social.refused(EditPost(command_id="mod11", actor=BOB, post_id=post, body="x"))
        == "unknown_post"
    )
    assert social.refused(
        HidePost(command_id="mod12", actor=MOD, post_id=UUID(int=1), reason="x")
    ) == ("unknown_post")
    assert social.refused(
        HideComment(command_id="mod13", actor=MOD, comment_id=UUID(int=1), reason="x")
    ) == ("unknown_comment")
    stored = social.stored(post)
    assert stored.hidden and isinstance(social.stored(comment), Comment)


def test_notifications_are_marked_read_forward_only(social: Social) -> None:
    assert social.run(MarkNotificationsRead(command_id="m1", actor=ALICE, up_to=5)).stored
    assert social.run(MarkNotificationsRead(command_id="m2", actor=ALICE, up_to=3)).stored is False
    assert social.writer.state.accounts[ALICE].notifications_read == 5


def test_the_command_index_agrees_with_the_log_after_social_commands(social: Social) -> None:
    social.run(Follow(command_id="x", actor=ALICE, handle="bob"))
    social.run(Follow(command_id="x", actor=BOB, handle="alice"))
    post = social.post(ALICE, client_post_id="k")
    social.run(LikePost(command_id="x2", actor=BOB, post_id=post))
    social.run(UnlikePost(command_id="x3", actor=BOB, post_id=post))
    comment = social.comment(BOB, post)
    social.run(ReportContent(command_id="x4", actor=CAROL, comment_id=comment, reason="x"))
    social.run(HideComment(command_id="x5", actor=MOD, comment_id=comment, reason="x"))
    social.run(HidePost(command_id="x5", actor=MOD, post_id=social.post(BOB), reason="x"))
    social.run(EditPost(command_id="x6", actor=ALICE, post_id=post, body="y"))
    social.run(DeletePost(command_id="x7", actor=ALICE, post_id=post))
    social.run(UpdateProfile(command_id="x8", actor=ALICE, bio="hi"))
    social.run(MarkNotificationsRead(command_id="x9", actor=ALICE, up_to=1))
    social.run(Block(command_id="x10", actor=ALICE, handle="bob"))  # unfollows bob too
    social.run(Unblock(command_id="x11", actor=ALICE, handle="bob"))
    social.writer.stop()
    assert remembered.check(social.writer.store).disagreements == []
    _, created = remembered.derive(social.writer.store)
    assert created == social.writer.store.aggregates()
