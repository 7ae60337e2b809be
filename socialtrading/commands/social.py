"""The social commands (profiles, follows, blocks, posts, comments, likes, reports, moderation,
notifications read) and their handlers.

The models bound every size at the edge (generously: the exact limits are counted after
Unicode NFC, in `domain/social/text.py`, by the handlers, which refuse with the codes of the
issue: `invalid_body`, `invalid_bio`, `invalid_avatar_url`, `too_many_trades`...). The
handlers have the signature of every handler (`commands/state.py`'s `Handler`) and join the
one table in `commands/registry.py`.

Who may act: any account with the trader role uses the social layer (no KYC needed: posting is
not trading; an attached trade proves itself). Hiding is for the roles ADMIN, COMPLIANCE and
MODERATOR (and the system actor). A command that changes nothing (following twice, liking a
liked post, publishing a client post id again) is accepted with `stored=False`.

Posts, comments, likes and reports are read through `state.social` (loaded when needed);
trades through `state.social.find_trade` (from the log, not a read model).
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import Field, model_validator

from socialtrading.commands.models import Command, Handle
from socialtrading.commands.state import Outcome, State
from socialtrading.domain.account import ADMIN, COMPLIANCE, MODERATOR, TRADER, Account
from socialtrading.domain.errors import InvalidCommand, Refused
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id
from socialtrading.domain.market import Market
from socialtrading.domain.social import text
from socialtrading.domain.social.comment import Comment, comment_id
from socialtrading.domain.social.like import Like, like_id
from socialtrading.domain.social.post import (
    MAX_TRADES,
    NEUTRAL,
    Disclosure,
    Post,
    VerifiedTrade,
    post_id,
)
from socialtrading.domain.social.report import Report, report_id
from socialtrading.engine.book import BUY, SELL
from socialtrading.engine.records import (
    TRADE_MAKER_ACCOUNT,
    TRADE_PRICE,
    TRADE_QTY,
    TRADE_TAKER_ACCOUNT,
    TRADE_TAKER_SIDE,
    TS,
)
from socialtrading.engine.spec import format_decimal

# ---------------------------------------------------------------------- models

# Raw sizes accepted at the edge: four times the limit in code points after NFC (what the
# handlers check exactly), so no normalization ever runs on a huge text.
_RAW = 4
Sentiment = Literal["BULLISH", "BEARISH", "NEUTRAL"]
# `BTC-USD:42`: a market symbol and the sequence number of one of its trade records
TradeId = Annotated[
    str, Field(max_length=40, pattern=r"^[A-Z][A-Z0-9]{1,9}-[A-Z][A-Z0-9]{1,9}:[1-9][0-9]{0,17}$")
]
# printable, no control characters
ClientPostId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
Reason = Annotated[str, Field(max_length=_RAW * text.MAX_REASON)]


class UpdateProfile(Command):
    """Set the actor's display name, bio and avatar URL (None keeps one as it is; an empty
    avatar URL removes it)."""

    display_name: Annotated[str, Field(max_length=_RAW * text.MAX_DISPLAY_NAME)] | None = None
    bio: Annotated[str, Field(max_length=_RAW * text.MAX_BIO)] | None = None
    avatar_url: Annotated[str, Field(max_length=_RAW * text.MAX_AVATAR_URL)] | None = None


class _AboutAccount(Command):
    handle: Handle


class Follow(_AboutAccount):
    """Follow the trader with this handle."""


class Unfollow(_AboutAccount):
    """Stop following the trader with this handle."""


class Block(_AboutAccount):
    """Block the trader with this handle (ends a follow either way)."""


class Unblock(_AboutAccount):
    """Lift a block."""


class PublishPost(Command):
    """Publish a post, optionally about a market and with up to 5 of the actor's own trades.

    `client_post_id` makes publishing idempotent: the same id gives the same post.
    """

    body: Annotated[str, Field(max_length=_RAW * text.MAX_POST_BODY)]
    market: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,9}-[A-Z][A-Z0-9]{1,9}$")] | None = None
    sentiment: Sentiment = NEUTRAL
    trade_ids: Sequence[TradeId] = Field(default=(), max_length=4 * MAX_TRADES)
    client_post_id: ClientPostId | None = None


class EditPost(Command):
    """Change a post's body and sentiment (None keeps it): its author, within 15 minutes."""

    post_id: UUID
    body: Annotated[str, Field(max_length=_RAW * text.MAX_POST_BODY)]
    sentiment: Sentiment | None = None


class DeletePost(Command):
    """Retract one of the actor's posts."""

    post_id: UUID


class CommentOnPost(Command):
    """Comment on a post, optionally replying to one of its comments."""

    post_id: UUID
    body: Annotated[str, Field(max_length=_RAW * text.MAX_COMMENT_BODY)]
    reply_to: UUID | None = None


class LikePost(Command):
    """Like a post."""

    post_id: UUID


class UnlikePost(Command):
    """Withdraw a like."""

    post_id: UUID


class ReportContent(Command):
    """Report a post, or a comment (of `post_id` when both are given), to the moderators."""

    post_id: UUID | None = None
    comment_id: UUID | None = None
    reason: Reason

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.post_id is None and self.comment_id is None:
            raise ValueError("a report names a post or a comment")
        return self


class HidePost(Command):
    """Hide a post from everybody but its author (moderators)."""

    post_id: UUID
    reason: Reason


class HideComment(Command):
    """Hide a comment from everybody but its author (moderators)."""

    comment_id: UUID
    reason: Reason


class MarkNotificationsRead(Command):
    """Mark the actor's notifications read up to (and including) number `up_to`."""

    up_to: Annotated[int, Field(ge=0, le=2**63 - 1)]


def subject_of(command: Command) -> UUID | None:
    """The post or comment a social command creates or acts on (ids are deterministic, so
    this is also what a repeated command's first outcome was about)."""
    if isinstance(command, PublishPost):
        return post_id(command.actor, command.client_post_id or command.command_id)
    if isinstance(command, CommentOnPost):
        return comment_id(command.actor, command.command_id)
    if isinstance(command, HideComment):
        return command.comment_id
    if isinstance(command, ReportContent):
        return command.comment_id or command.post_id
    found: UUID | None = getattr(command, "post_id", None)
    return found


def wanted(command: Command) -> list[UUID]:
    """The social aggregates a command's handler will ask `state.social` for first (the
    writer learns in one query per batch which of them are not stored)."""
    if isinstance(command, PublishPost):
        return [post_id(command.actor, command.client_post_id or command.command_id)]
    if isinstance(command, LikePost | UnlikePost):
        return [command.post_id, like_id(command.post_id, command.actor)]
    if isinstance(command, CommentOnPost):
        return [command.post_id, comment_id(command.actor, command.command_id)]
    return []


# ---------------------------------------------------------------------- helpers

_MODERATORS = (ADMIN, COMPLIANCE, MODERATOR)


def _member(state: State, actor: UUID) -> Account:
    """The acting account, which must hold the trader role."""
    account = state.accounts.get(actor) if actor != SYSTEM_ACTOR else None
    if account is None:
        if actor == SYSTEM_ACTOR:
            raise Refused("not_authorized", "social actions are taken by accounts")
        raise Refused("unknown_actor", "the acting account does not exist")
    if not account.has_role(TRADER):
        raise Refused("not_authorized", "the social layer needs the trader role")
    return account


def _moderator(state: State, actor: UUID) -> None:
    if actor == SYSTEM_ACTOR:
        return
    account = state.accounts.get(actor)
    if account is None:
        raise Refused("unknown_actor", "the acting account does not exist")
    if not any(account.has_role(role) for role in _MODERATORS):
        raise Refused("not_authorized", "hiding needs the admin, compliance or moderator role")


def _trader_by_handle(state: State, handle: str) -> Account:
    account = state.accounts.get(account_id(handle))
    if account is None or not account.has_role(TRADER):
        raise InvalidCommand("unknown_account", f"no trader @{handle}")
    return account


def _done(command: Command, stored: bool = True) -> Outcome:
    return Outcome(command.command_id, True, stored=stored)


def _post(state: State, post: UUID, reader: str) -> Post:
    """A post `reader` may see (so act on), or InvalidCommand `unknown_post`."""
    found = state.social.get(post, Post)
    if found is None or not found.readable_by(reader):
        raise InvalidCommand("unknown_post", f"no post {post}")
    return found


def _comment(state: State, comment: UUID, reader: str) -> Comment:
    """A comment `reader` may see, on a post they may see, or `unknown_comment`."""
    found = state.social.get(comment, Comment)
    if found is None or not found.readable_by(reader):
        raise InvalidCommand("unknown_comment", f"no comment {comment}")
    post = state.social.get(UUID(found.post), Post)
    if post is None or not post.readable_by(reader):
        raise InvalidCommand("unknown_comment", f"no comment {comment}")
    return found


def _blocks(state: State, blocker: str, other: str) -> bool:
    """Whether the account `blocker` (id text) blocks `other`."""
    account = state.by_text.get(blocker)
    return account is not None and other in account.blocking()


def _mentions(state: State, body: str, author: str) -> list[str]:
    """The ids (text) of the traders `body` mentions who exist, other than the author and
    those who block the author (kept as text, not linked: refusing would tell the author)."""
    found: list[str] = []
    for handle in text.mentions(body):
        account = state.accounts.get(account_id(handle))
        if account is None or not account.has_role(TRADER):
            continue
        them = state.text(account.id)
        if them != author and author not in account.blocking() and them not in found:
            found.append(them)
    return found


# An average entry price is shown with the 28 significant digits of Python's default
# context, as the positions read model shows it.
_AVERAGE = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN)


def _disclosure(market: Market, author: str) -> Disclosure:
    """The author's position in `market` now: signed quantity and average entry price."""
    lots, cost = market.positions.of(author)
    spec = market.spec
    if not lots:
        return {"quantity": "0", "average_entry": None}
    average = _AVERAGE.multiply(_AVERAGE.divide(Decimal(cost), Decimal(abs(lots))), spec.tick_size)
    return {
        "quantity": format_decimal(spec.qty(lots)),
        "average_entry": format_decimal(average),
    }


def _trades(state: State, trade_ids: Sequence[str], author: str) -> list[VerifiedTrade]:
    """Each trade verified from the log as one of `author`'s fills."""
    if len(trade_ids) > MAX_TRADES:
        raise InvalidCommand("too_many_trades", f"a post attaches at most {MAX_TRADES} trades")
    if len(set(trade_ids)) != len(trade_ids):
        raise InvalidCommand("duplicate_trade", "a trade is attached once")
    verified: list[VerifiedTrade] = []
    for trade_id in trade_ids:
        symbol, seq = trade_id.split(":")
        market = state.markets.get(symbol)
        record = None if market is None else state.social.find_trade(market, int(seq))
        if market is None or record is None:
            raise InvalidCommand("unknown_trade", f"no trade {trade_id}")
        taker_side = record[TRADE_TAKER_SIDE]
        if record[TRADE_TAKER_ACCOUNT] == author:
            side = taker_side
        elif record[TRADE_MAKER_ACCOUNT] == author:
            side = SELL if taker_side == BUY else BUY
        else:
            raise Refused("not_your_trade", f"trade {trade_id} is not one of your fills")
        spec = market.spec
        verified.append(
            {
                "trade_id": trade_id,
                "market": symbol,
                "side": side,
                "price": format_decimal(spec.price(record[TRADE_PRICE])),
                "quantity": format_decimal(spec.qty(record[TRADE_QTY])),
                "executed_at": record[TS],
            }
        )
    return verified


# ---------------------------------------------------------------------- handlers


def update_profile(state: State, command: UpdateProfile, ts: int) -> Outcome:
    """Set the profile; an unchanged one stores nothing."""
    account = _member(state, command.actor)
    display_name = account.display_name
    if command.display_name is not None:
        display_name = text.line(
            command.display_name, text.MAX_DISPLAY_NAME, "invalid_display_name", "display name"
        )
    bio = account.bio if command.bio is None else text.bio(command.bio)
    avatar = account.avatar_url
    if command.avatar_url is not None:
        avatar = text.avatar_url(command.avatar_url)
    changed = account.update_profile(display_name, bio, avatar, command.command_id, ts)
    if changed:
        state.touch(account)
    return _done(command, changed)


def follow(state: State, command: Follow, ts: int) -> Outcome:
    """Follow a trader: refused for oneself and across a block; twice stores nothing."""
    account = _member(state, command.actor)
    target = _trader_by_handle(state, command.handle)
    changed = account.follow(
        state.text(account.id), target, state.text(target.id), command.command_id, ts
    )
    if changed:
        state.touch(account)
    return _done(command, changed)


def unfollow(state: State, command: Unfollow, ts: int) -> Outcome:
    """Stop following a trader; not following stores nothing."""
    account = _member(state, command.actor)
    target = _trader_by_handle(state, command.handle)
    changed = account.unfollow(state.text(target.id), command.command_id, ts)
    if changed:
        state.touch(account)
    return _done(command, changed)


def block(state: State, command: Block, ts: int) -> Outcome:
    """Block a trader, ending a follow either way; twice stores nothing."""
    account = _member(state, command.actor)
    target = _trader_by_handle(state, command.handle)
    changed = account.block(
        state.text(account.id), target, state.text(target.id), command.command_id, ts
    )
    if changed:
        state.touch(account)
        if target.pending_events:
            state.touch(target)
    return _done(command, changed)


def unblock(state: State, command: Unblock, ts: int) -> Outcome:
    """Lift a block; no block stores nothing."""
    account = _member(state, command.actor)
    target = _trader_by_handle(state, command.handle)
    changed = account.unblock(state.text(target.id), command.command_id, ts)
    if changed:
        state.touch(account)
    return _done(command, changed)


def mark_notifications_read(state: State, command: MarkNotificationsRead, ts: int) -> Outcome:
    """Mark notifications read up to a number; going back stores nothing."""
    account = _member(state, command.actor)
    changed = account.mark_notifications_read(command.up_to, command.command_id, ts)
    if changed:
        state.touch(account)
    return _done(command, changed)


def publish_post(state: State, command: PublishPost, ts: int) -> Outcome:
    """Publish a post with its verified trades and, about a market, the author's position."""
    account = _member(state, command.actor)
    author = state.text(account.id)
    new_id = post_id(command.actor, command.client_post_id or command.command_id)
    if state.social.get(new_id, Post) is not None:
        return _done(command, False)  # published already with this client post id
    body = text.body(command.body, text.MAX_POST_BODY, "post")
    market = None
    if command.market is not None:
        market = state.markets.get(command.market)
        if market is None:
            raise InvalidCommand("unknown_market", f"no market {command.market}")
    trades = _trades(state, command.trade_ids, author)
    post = Post.publish(
        new_id,
        author,
        body,
        command.market,
        command.sentiment,
        text.cashtags(body),
        _mentions(state, body, author),
        trades,
        None if market is None else _disclosure(market, author),
        command.command_id,
        ts,
    )
    state.social.add(post)
    state.touch(post)
    return _done(command)


def edit_post(state: State, command: EditPost, ts: int) -> Outcome:
    """Change a post's body and sentiment (its author, within the edit window)."""
    account = _member(state, command.actor)
    author = state.text(account.id)
    post = state.social.get(command.post_id, Post)
    if post is None or post.deleted:
        raise InvalidCommand("unknown_post", f"no post {command.post_id}")
    if post.author != author:
        # someone else's hidden post is answered as an unknown one
        if not post.readable_by(author):
            raise InvalidCommand("unknown_post", f"no post {command.post_id}")
        raise Refused("not_author", "only its author changes a post")
    body = text.body(command.body, text.MAX_POST_BODY, "post")
    post.edit(
        author,
        body,
        command.sentiment or post.sentiment,
        text.cashtags(body),
        _mentions(state, body, author),
        command.command_id,
        ts,
    )
    state.touch(post)
    return _done(command)


def delete_post(state: State, command: DeletePost, ts: int) -> Outcome:
    """Retract one of the actor's posts."""
    account = _member(state, command.actor)
    author = state.text(account.id)
    post = _post(state, command.post_id, author)
    post.delete(author, command.command_id, ts)
    state.touch(post)
    return _done(command)


def comment_on_post(state: State, command: CommentOnPost, ts: int) -> Outcome:
    """Comment on a post (refused when its author, or the replied comment's, blocks the
    actor)."""
    account = _member(state, command.actor)
    author = state.text(account.id)
    post = _post(state, command.post_id, author)
    if _blocks(state, post.author, author):
        raise Refused("blocked", "the post's author blocks you")
    parent = None
    if command.reply_to is not None:
        parent = _comment(state, command.reply_to, author)
        if _blocks(state, parent.author, author):
            raise Refused("blocked", "the comment's author blocks you")
    body = text.body(command.body, text.MAX_COMMENT_BODY, "comment")
    new_id = comment_id(command.actor, command.command_id)
    if state.social.get(new_id, Comment) is not None:
        return _done(command, False)
    comment = Comment.write(
        new_id,
        str(post.id),
        author,
        body,
        parent,
        _mentions(state, body, author),
        command.command_id,
        ts,
    )
    state.social.add(comment)
    state.touch(comment)
    return _done(command)


def like_post(state: State, command: LikePost, ts: int) -> Outcome:
    """Like a post (refused when its author blocks the actor); twice stores nothing."""
    account = _member(state, command.actor)
    liker = state.text(account.id)
    post = _post(state, command.post_id, liker)
    if _blocks(state, post.author, liker):
        raise Refused("blocked", "the post's author blocks you")
    key = like_id(post.id, account.id)
    like = state.social.get(key, Like)
    if like is None:
        like = Like.give(key, str(post.id), liker, command.command_id, ts)
        state.social.add(like)
    elif not like.like(command.command_id, ts):
        return _done(command, False)
    state.touch(like)
    return _done(command)


def unlike_post(state: State, command: UnlikePost, ts: int) -> Outcome:
    """Withdraw a like; not liking stores nothing."""
    account = _member(state, command.actor)
    post = _post(state, command.post_id, state.text(account.id))
    like = state.social.get(like_id(post.id, account.id), Like)
    if like is None or not like.unlike(command.command_id, ts):
        return _done(command, False)
    state.touch(like)
    return _done(command)


def report_content(state: State, command: ReportContent, ts: int) -> Outcome:
    """File a report of a post or a comment."""
    account = _member(state, command.actor)
    reporter = state.text(account.id)
    reason = text.line(command.reason, text.MAX_REASON, "invalid_reason", "reason")
    comment: str | None = None
    if command.comment_id is not None:
        found = _comment(state, command.comment_id, reporter)
        if command.post_id is not None and found.post != str(command.post_id):
            raise InvalidCommand("unknown_comment", f"no comment {command.comment_id}")
        post, comment = found.post, str(found.id)
    else:
        assert command.post_id is not None
        post = str(_post(state, command.post_id, reporter).id)
    report = Report.file(
        report_id(command.actor, command.command_id),
        reporter,
        post,
        comment,
        reason,
        command.command_id,
        ts,
    )
    state.social.add(report)
    state.touch(report)
    return _done(command)


def hide_post(state: State, command: HidePost, ts: int) -> Outcome:
    """Hide a post (moderators); hidden already stores nothing."""
    _moderator(state, command.actor)
    reason = text.line(command.reason, text.MAX_REASON, "invalid_reason", "reason")
    post = state.social.get(command.post_id, Post)
    if post is None:
        raise InvalidCommand("unknown_post", f"no post {command.post_id}")
    changed = post.hide(state.text(command.actor), reason, command.command_id, ts)
    if changed:
        state.touch(post)
    return _done(command, changed)


def hide_comment(state: State, command: HideComment, ts: int) -> Outcome:
    """Hide a comment (moderators); hidden already stores nothing."""
    _moderator(state, command.actor)
    reason = text.line(command.reason, text.MAX_REASON, "invalid_reason", "reason")
    comment = state.social.get(command.comment_id, Comment)
    if comment is None:
        raise InvalidCommand("unknown_comment", f"no comment {command.comment_id}")
    changed = comment.hide(state.text(command.actor), reason, command.command_id, ts)
    if changed:
        state.touch(comment)
    return _done(command, changed)


SOCIAL_HANDLERS: dict[type[Command], Callable[[State, Any, int], Outcome]] = {
    UpdateProfile: update_profile,
    Follow: follow,
    Unfollow: unfollow,
    Block: block,
    Unblock: unblock,
    MarkNotificationsRead: mark_notifications_read,
    PublishPost: publish_post,
    EditPost: edit_post,
    DeletePost: delete_post,
    CommentOnPost: comment_on_post,
    LikePost: like_post,
    UnlikePost: unlike_post,
    ReportContent: report_content,
    HidePost: hide_post,
    HideComment: hide_comment,
}
