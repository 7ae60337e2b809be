"""The demo's social graph: bios, follows, a trade of each demo trader's own, posts about
those trades (cashtags, a market, a sentiment, the attached fill, a mention), comments, a
reply and likes.

Idempotent across restarts like the rest of the demo: every command has a fixed command id
(posts also a fixed client post id), so a restart's repeats are answered from the command
index and store nothing. A trade's id is read from its order's outcome, which a repeat gets
again from the stored market event. Seeding is best effort: a store that served before this
seeding existed may have moved on (liquidity taken, blocks), so a refused step is skipped
(logged), never an error that stops the server.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Literal, NamedTuple

from socialtrading.commands.models import Command, PlaceOrder
from socialtrading.commands.social import (
    CommentOnPost,
    Follow,
    LikePost,
    PublishPost,
    Sentiment,
    UpdateProfile,
    subject_of,
)
from socialtrading.commands.state import Outcome
from socialtrading.commands.writer import Writer
from socialtrading.domain.ids import account_id
from socialtrading.engine.records import KIND, SEQ, TRADE

log = logging.getLogger(__name__)

PROFILES = {
    "alice": ("Alice Chen", "Momentum trader. BTC swings, tight stops, no leverage."),
    "bob": ("Bob Okafor", "ETH maximalist, mean reversion on the 4h. Posts every fill."),
    "carol": ("Carol Diaz", "Macro first, charts second. Long-term $BTC, tactical $ETH."),
}
FOLLOWS = (
    ("alice", "bob"),
    ("bob", "alice"),
    ("carol", "alice"),
    ("carol", "bob"),
    ("alice", "carol"),
)


class DemoTrade(NamedTuple):
    handle: str
    market: str
    side: Literal["buy", "sell"]
    price: Decimal  # a limit that reaches the demo maker's first level
    quantity: Decimal


# Each takes liquidity the demo maker seeded (immediate or cancel: nothing rests).
TRADES = (
    DemoTrade("alice", "BTC-USD", "buy", Decimal("60050"), Decimal("0.05")),
    DemoTrade("bob", "ETH-USD", "sell", Decimal("2997.5"), Decimal("0.5")),
    DemoTrade("carol", "BTC-USD", "sell", Decimal("59950"), Decimal("0.02")),
)


class DemoPost(NamedTuple):
    key: str  # its command id and client post id: demo:post:<key>
    handle: str
    body: str
    market: str | None
    sentiment: Sentiment
    with_trade: bool  # attach the author's demo trade


POSTS = (
    DemoPost(
        "alice-btc",
        "alice",
        "Bought the dip on $BTC at 60,050; stop under 58k. @bob still think it's a fakeout?",
        "BTC-USD",
        "BULLISH",
        True,
    ),
    DemoPost(
        "bob-eth",
        "bob",
        "Trimmed my $ETH into this bounce. Sitting on hands until 2,900 holds.",
        "ETH-USD",
        "BEARISH",
        True,
    ),
    DemoPost(
        "carol-macro",
        "carol",
        "Took some $BTC off the table ahead of the CPI print. @alice nice entry, though.",
        "BTC-USD",
        "NEUTRAL",
        True,
    ),
    DemoPost(
        "alice-eth",
        "alice",
        "Watching $ETH/$BTC: a break above the range and I rotate. No position yet.",
        None,
        "NEUTRAL",
        False,
    ),
)

# (key, author, post key, body, the key of the comment it answers)
COMMENTS = (
    ("bob-on-alice", "bob", "alice-btc", "Fakeout until 61k closes. Good stop though.", None),
    ("alice-reply", "alice", "alice-btc", "@bob fair, I'll add above 61k then.", "bob-on-alice"),
    ("carol-on-bob", "carol", "bob-eth", "Same read on $ETH, the funding is too hot.", None),
)
# (liker, post key)
LIKES = (
    ("bob", "alice-btc"),
    ("carol", "alice-btc"),
    ("alice", "bob-eth"),
    ("carol", "bob-eth"),
    ("alice", "carol-macro"),
    ("bob", "carol-macro"),
)


def _try(writer: Writer, command: Command) -> Outcome | None:
    """The outcome of an accepted command; None (logged) for a refused one."""
    outcome = writer.execute(command)
    if not outcome.accepted:
        log.warning("demo seeding: %s skipped: %s", command.command_id, outcome.code)
        return None
    return outcome


def _trade_id(outcome: Outcome | None, market: str) -> str | None:
    """`MARKET:SEQ` of the first trade of an order's outcome (None if it did not trade)."""
    if outcome is None:
        return None
    for record in outcome.records:
        if record[KIND] == TRADE:
            return f"{market}:{record[SEQ]}"
    return None


def seed_social(writer: Writer) -> None:
    """Seed the demo traders' social graph (they and the demo markets exist already)."""
    for handle, (name, bio) in PROFILES.items():
        _try(
            writer,
            UpdateProfile(
                command_id=f"demo:profile:{handle}",
                actor=account_id(handle),
                display_name=name,
                bio=bio,
            ),
        )
    for who, whom in FOLLOWS:
        _try(writer, Follow(command_id=f"demo:follow:{whom}", actor=account_id(who), handle=whom))
    trades: dict[str, str | None] = {}
    for trade in TRADES:
        placed = _try(
            writer,
            PlaceOrder(
                command_id=f"demo:trade:{trade.handle}",
                actor=account_id(trade.handle),
                market=trade.market,
                side=trade.side,
                price=trade.price,
                quantity=trade.quantity,
                time_in_force="IOC",
            ),
        )
        trades[trade.handle] = _trade_id(placed, trade.market)
    posts: dict[str, PublishPost] = {}
    for post in POSTS:
        trade_id = trades.get(post.handle) if post.with_trade else None
        command = PublishPost(
            command_id=f"demo:post:{post.key}",
            actor=account_id(post.handle),
            body=post.body,
            market=post.market,
            sentiment=post.sentiment,
            trade_ids=[trade_id] if trade_id else [],
            client_post_id=f"demo:post:{post.key}",
        )
        if _try(writer, command) is not None:
            posts[post.key] = command
    comments: dict[str, CommentOnPost] = {}
    for key, author, post_key, body, answers in COMMENTS:
        target = posts.get(post_key)
        if target is None or (answers is not None and answers not in comments):
            continue
        post_id = subject_of(target)
        assert post_id is not None
        comment = CommentOnPost(
            command_id=f"demo:comment:{key}",
            actor=account_id(author),
            post_id=post_id,
            body=body,
            reply_to=None if answers is None else subject_of(comments[answers]),
        )
        if _try(writer, comment) is not None:
            comments[key] = comment
    for liker, post_key in LIKES:
        target = posts.get(post_key)
        post_id = None if target is None else subject_of(target)
        if post_id is not None:
            _try(
                writer,
                LikePost(
                    command_id=f"demo:like:{post_key}", actor=account_id(liker), post_id=post_id
                ),
            )
