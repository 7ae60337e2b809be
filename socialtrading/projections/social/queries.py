"""Queries of the `social` read model, for the GraphQL layer.

Pages are newest first (`after`: the last row's cursor, to continue to older ones) except
comments and the moderation queue, oldest first. `viewer` is the account asking (None:
anonymous): hidden posts and comments are shown to their author only.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Select, func, or_, select

from socialtrading.domain.social.like import like_id
from socialtrading.domain.time import to_datetime
from socialtrading.projections.social.rows import (
    CommentRow,
    DisclosedPosition,
    FollowRow,
    NotificationRow,
    PostRow,
    PostTradeRow,
    ProfileRow,
    ReportRow,
    TrendingRow,
)
from socialtrading.projections.social.tables import (
    VISIBLE,
    blocks,
    comments,
    follows,
    likes,
    notifications,
    post_tags,
    post_trades,
    posts,
    profiles,
    reports,
)
from socialtrading.projections.sql import rows_in

HOUR_US = 3_600_000_000

# ---------------------------------------------------------------------- profiles and follows


def profiles_by_ids(connection: Connection, ids: Sequence[str]) -> dict[str, ProfileRow]:
    """The profiles of these accounts (unknown ids are left out)."""
    return {
        row.account_id: ProfileRow(
            account_id=row.account_id,
            display_name=row.display_name,
            bio=row.bio,
            avatar_url=row.avatar_url,
            follower_count=row.follower_count,
            following_count=row.following_count,
            post_count=row.post_count,
            notifications_read=row.notifications_read,
        )
        for row in rows_in(connection, select(profiles), profiles.c.account_id, ids)
    }


def followers(
    connection: Connection, account: str, *, first: int, after: int | None = None
) -> list[FollowRow]:
    """Who follows `account`, most recent follow first."""
    statement = select(follows.c.follower, follows.c.since, follows.c.seq).where(
        follows.c.followee == account
    )
    if after is not None:
        statement = statement.where(follows.c.seq < after)
    statement = statement.order_by(follows.c.seq.desc()).limit(max(first, 0))
    return [
        FollowRow(r.follower, to_datetime(r.since), r.seq) for r in connection.execute(statement)
    ]


def following(
    connection: Connection, account: str, *, first: int, after: int | None = None
) -> list[FollowRow]:
    """Whom `account` follows, most recent follow first."""
    statement = select(follows.c.followee, follows.c.since, follows.c.seq).where(
        follows.c.follower == account
    )
    if after is not None:
        statement = statement.where(follows.c.seq < after)
    statement = statement.order_by(follows.c.seq.desc()).limit(max(first, 0))
    return [
        FollowRow(r.followee, to_datetime(r.since), r.seq) for r in connection.execute(statement)
    ]


def followed_by(connection: Connection, viewer: str, accounts: Sequence[str]) -> set[str]:
    """Which of `accounts` `viewer` follows (for `viewerFollows`)."""
    statement = select(follows.c.followee).where(follows.c.follower == viewer)
    return {row.followee for row in rows_in(connection, statement, follows.c.followee, accounts)}


def blocked_by(connection: Connection, account: str) -> list[str]:
    """The accounts `account` blocks, most recent first."""
    statement = (
        select(blocks.c.blocked)
        .where(blocks.c.blocker == account)
        .order_by(blocks.c.since.desc(), blocks.c.blocked)
    )
    return [row.blocked for row in connection.execute(statement)]


def blocks_between(connection: Connection, a: str, b: str) -> bool:
    """Whether either account blocks the other."""
    statement = select(blocks.c.since).where(
        or_(
            (blocks.c.blocker == a) & (blocks.c.blocked == b),
            (blocks.c.blocker == b) & (blocks.c.blocked == a),
        )
    )
    return connection.execute(statement).first() is not None


# ---------------------------------------------------------------------- posts


def _readable(viewer: str | None) -> Any:
    if viewer is None:
        return posts.c.status == VISIBLE
    return or_(posts.c.status == VISIBLE, posts.c.author == viewer)


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _post_rows(connection: Connection, rows: Sequence[Any]) -> list[PostRow]:
    trades: dict[str, list[PostTradeRow]] = {row.id: [] for row in rows}
    statement = select(post_trades).order_by(post_trades.c.post, post_trades.c.n)
    for trade in rows_in(connection, statement, post_trades.c.post, list(trades)):
        trades[trade.post].append(
            PostTradeRow(
                trade_id=trade.trade_id,
                market=trade.market,
                side=trade.side,
                price=Decimal(trade.price),
                quantity=Decimal(trade.quantity),
                executed_at=to_datetime(trade.executed_at),
            )
        )
    found = []
    for row in rows:
        quantity = _decimal(row.position_quantity)
        found.append(
            PostRow(
                id=row.id,
                author=row.author,
                body=row.body,
                market=row.market,
                sentiment=row.sentiment,
                cashtags=tuple(row.cashtags.split()),
                mentions=tuple(row.mentions.split()),
                trades=tuple(trades[row.id]),
                position=None
                if quantity is None
                else DisclosedPosition(quantity, _decimal(row.position_average_entry)),
                status=row.status,
                like_count=row.like_count,
                comment_count=row.comment_count,
                created_at=to_datetime(row.created_at),
                edited_at=None if row.edited_at is None else to_datetime(row.edited_at),
                cursor=row.seq,
            )
        )
    return found


def posts_by_ids(
    connection: Connection,
    ids: Sequence[str],
    viewer: str | None = None,
    *,
    every_status: bool = False,
) -> dict[str, PostRow]:
    """The posts with these ids that `viewer` may read (others are left out); with
    `every_status`, hidden ones too (compliance reviews evidence)."""
    statement = select(posts)
    if not every_status:
        statement = statement.where(_readable(viewer))
    rows = list(rows_in(connection, statement, posts.c.id, ids))
    return {row.id: row for row in _post_rows(connection, rows)}


def posts_page(
    connection: Connection,
    *,
    viewer: str | None = None,
    author: str | None = None,
    market: str | None = None,
    cashtag: str | None = None,
    first: int,
    after: int | None = None,
) -> list[PostRow]:
    """Posts newest first, optionally by one author, about one market, or tagged with one
    cashtag (upper-cased, without `$`); hidden ones only for their author."""
    statement: Select[Any] = select(posts).where(_readable(viewer))
    order = posts.c.seq
    if cashtag is not None:  # walk the tag's rows, newest first
        statement = statement.join(post_tags, post_tags.c.seq == posts.c.seq).where(
            post_tags.c.tag == cashtag.upper().lstrip("$")
        )
        order = post_tags.c.seq
    if author is not None:
        statement = statement.where(posts.c.author == author)
    if market is not None:
        statement = statement.where(posts.c.market == market)
    if after is not None:
        statement = statement.where(order < after)
    statement = statement.order_by(order.desc()).limit(max(first, 0))
    return _post_rows(connection, connection.execute(statement).all())


def liked_by(connection: Connection, viewer: str, post_ids: Sequence[str]) -> set[str]:
    """Which of these posts `viewer` likes (for `viewerLiked`): one key look-up per post."""
    ids = {str(like_id(UUID(post), UUID(viewer))): post for post in post_ids}
    statement = select(likes.c.id).where(likes.c.liked.is_(True))
    return {ids[row.id] for row in rows_in(connection, statement, likes.c.id, list(ids))}


def trending(connection: Connection, *, hours: int, first: int, now: int) -> list[TrendingRow]:
    """The cashtags of the visible posts of the last `hours` before `now` (microseconds):
    most posts first, then most authors, then by tag."""
    posts_count = func.count().label("posts")
    authors_count = func.count(post_tags.c.author.distinct()).label("authors")
    statement = (
        select(post_tags.c.tag, posts_count, authors_count)
        .where(
            post_tags.c.created_at > now - hours * HOUR_US,
            post_tags.c.created_at <= now,
            post_tags.c.status == VISIBLE,
        )
        .group_by(post_tags.c.tag)
        .order_by(posts_count.desc(), authors_count.desc(), post_tags.c.tag)
        .limit(max(first, 0))
    )
    return [TrendingRow(row.tag, row.posts, row.authors) for row in connection.execute(statement)]


# ---------------------------------------------------------------------- comments


def _comment_row(row: Any) -> CommentRow:
    return CommentRow(
        id=row.id,
        post=row.post,
        author=row.author,
        body=row.body,
        reply_to=row.reply_to,
        mentions=tuple(row.mentions.split()),
        status=row.status,
        created_at=to_datetime(row.created_at),
        cursor=row.seq,
    )


def _readable_comment(viewer: str | None) -> Any:
    if viewer is None:
        return comments.c.status == VISIBLE
    return or_(comments.c.status == VISIBLE, comments.c.author == viewer)


def comments_of(
    connection: Connection,
    post: str,
    *,
    viewer: str | None = None,
    first: int,
    after: int | None = None,
) -> list[CommentRow]:
    """A post's comments, oldest first (replies among them, naming their `reply_to`)."""
    statement = select(comments).where(comments.c.post == post, _readable_comment(viewer))
    if after is not None:
        statement = statement.where(comments.c.seq > after)
    statement = statement.order_by(comments.c.seq).limit(max(first, 0))
    return [_comment_row(row) for row in connection.execute(statement)]


def comments_by_ids(
    connection: Connection,
    ids: Sequence[str],
    viewer: str | None = None,
    *,
    every_status: bool = False,
) -> dict[str, CommentRow]:
    """The comments with these ids that `viewer` may read; with `every_status`, hidden ones
    too (compliance reviews evidence)."""
    statement = select(comments)
    if not every_status:
        statement = statement.where(_readable_comment(viewer))
    return {row.id: _comment_row(row) for row in rows_in(connection, statement, comments.c.id, ids)}


# ---------------------------------------------------------------------- notifications, reports


def notifications_of(
    connection: Connection,
    account: str,
    *,
    first: int,
    after: int | None = None,
    unread_only: bool = False,
) -> list[NotificationRow]:
    """An account's notifications, newest first; `after` is a notification number."""
    read_up_to = connection.execute(
        select(profiles.c.notifications_read).where(profiles.c.account_id == account)
    ).scalar()
    read = int(read_up_to or 0)
    statement = select(notifications).where(notifications.c.account_id == account)
    if after is not None:
        statement = statement.where(notifications.c.n < after)
    if unread_only:
        statement = statement.where(notifications.c.n > read)
    statement = statement.order_by(notifications.c.n.desc()).limit(max(first, 0))
    return [
        NotificationRow(
            account_id=row.account_id,
            number=row.n,
            kind=row.kind,
            actor=row.actor,
            post=row.post,
            comment=row.comment,
            created_at=to_datetime(row.created_at),
            read=row.n <= read,
        )
        for row in connection.execute(statement)
    ]


def unread_count(connection: Connection, account: str) -> int:
    """How many of an account's notifications are unread."""
    read = connection.execute(
        select(profiles.c.notifications_read).where(profiles.c.account_id == account)
    ).scalar()
    statement = select(func.count()).where(
        notifications.c.account_id == account, notifications.c.n > int(read or 0)
    )
    return int(connection.execute(statement).scalar() or 0)


def moderation_queue(
    connection: Connection, *, first: int, after: int | None = None
) -> list[ReportRow]:
    """The open reports (their content neither hidden nor deleted), oldest first."""
    statement = select(reports)
    if after is not None:
        statement = statement.where(reports.c.seq > after)
    statement = statement.order_by(reports.c.seq).limit(max(first, 0))
    return [
        ReportRow(
            id=row.id,
            reporter=row.reporter,
            post=row.post,
            comment=row.comment,
            reason=row.reason,
            created_at=to_datetime(row.created_at),
            cursor=row.seq,
        )
        for row in connection.execute(statement)
    ]
