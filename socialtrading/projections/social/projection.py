"""The `social` read model: profiles and their counts, follows and blocks, posts with their
trades and tags, comments, likes, reports and notifications, from the Account and social
events (the tables are in `tables.py`, the queries in `queries.py`).

Rules:

- Counts: `follower_count`, `following_count`, `post_count` (posts neither hidden nor
  deleted) per profile; `like_count` (likes given and not withdrawn) and `comment_count`
  (comments not hidden) per post.
- A deleted post leaves every table (its trades, tags, comments, likes, reports and the
  notifications about it); a hidden one stays with status HIDDEN (queries show it to its
  author only), its reports close and the notifications it gave others go.
- Mentions are linked (stored on the post or comment, and notified) unless the mentioned
  account blocks the author; nobody is notified of their own doing. Notifications: FOLLOW
  (the followed), LIKE (the post's author, on the first like only, not a like given again),
  COMMENT (the post's author), REPLY (the author of the comment answered; the post's author
  then gets COMMENT unless they are that same author), MENTION (once per account per post,
  comment or edit; an edit notifies only accounts it newly mentions). They are numbered per
  account from 1 in log order: `NotificationsRead(up_to)` marks read those up to that number.
- A report is open while its content is visible: filed against hidden content it is not
  listed, and hiding or deleting the content closes it.

How it is applied: the common events (registrations, follows, posts, comments, likes,
reports) are held in memory and written in bulk at the end of the batch (inserts as
executemany, counts as summed deltas); the rare ones that rewrite or delete rows (edits,
deletes, hides, blocks, profile changes, marking notifications read) first write what is held,
then run their statements. What the held events need to look up (a post's author and status,
a comment's post and author, a like's state, an account's notification count) is kept in
bounded caches, valid because this read model alone writes these tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from sqlalchemy import Connection, Table, bindparam, delete, select, update

from socialtrading.domain.account import COPY, Account
from socialtrading.domain.social.comment import Comment
from socialtrading.domain.social.like import Like
from socialtrading.domain.social.post import Post
from socialtrading.domain.social.report import Report
from socialtrading.domain.time import to_datetime, to_micros
from socialtrading.infra.bus import Bus
from socialtrading.projections.base import Item, Projection
from socialtrading.projections.social.rows import NotificationRow
from socialtrading.projections.social.tables import (
    HIDDEN,
    TABLES,
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
from socialtrading.projections.sql import Bulk, bulk_insert, bulk_upsert

FOLLOW = "FOLLOW"
LIKE = "LIKE"
COMMENT = "COMMENT"
REPLY = "REPLY"
MENTION = "MENTION"

# Forget the caches beyond this many entries (read again when next needed).
_CACHE = 200_000

_insert_profile = bulk_insert(profiles)
_insert_follow = bulk_insert(follows)
_insert_post = bulk_insert(posts)
_insert_trade = bulk_insert(post_trades)
_insert_tag = bulk_insert(post_tags)
_insert_comment = bulk_insert(comments)
_insert_report = bulk_insert(reports)
_insert_notification = bulk_insert(notifications)
_upsert_like = bulk_upsert(likes, ["id"])
_delete_follow = Bulk(
    delete(follows).where(
        follows.c.follower == bindparam("follower"), follows.c.followee == bindparam("followee")
    ),
    ["follower", "followee"],
)
_count_profile = Bulk(
    update(profiles)
    .where(profiles.c.account_id == bindparam("account"))
    .values(
        follower_count=profiles.c.follower_count + bindparam("followers"),
        following_count=profiles.c.following_count + bindparam("following"),
        post_count=profiles.c.post_count + bindparam("posts"),
    ),
    ["followers", "following", "posts", "account"],
)
_count_post = Bulk(
    update(posts)
    .where(posts.c.id == bindparam("post"))
    .values(
        like_count=posts.c.like_count + bindparam("likes"),
        comment_count=posts.c.comment_count + bindparam("comments"),
    ),
    ["likes", "comments", "post"],
)
_number_notifications = Bulk(
    update(profiles)
    .where(profiles.c.account_id == bindparam("account"))
    .values(notifications=bindparam("n")),
    ["n", "account"],
)


def _text(values: Iterable[str]) -> str:
    return " ".join(values)


class _Held:
    """What the batch's common events will write (see the module docstring)."""

    def __init__(self) -> None:
        self.profiles: list[tuple[Any, ...]] = []
        self.follows: dict[tuple[str, str], tuple[Any, ...]] = {}  # to insert
        self.unfollows: set[tuple[str, str]] = set()  # to delete (before the inserts)
        self.posts: list[tuple[Any, ...]] = []
        self.trades: list[tuple[Any, ...]] = []
        self.tags: list[tuple[Any, ...]] = []
        self.comments: list[tuple[Any, ...]] = []
        self.reports: list[tuple[Any, ...]] = []
        self.notifications: list[tuple[Any, ...]] = []
        self.likes: dict[str, tuple[Any, ...]] = {}  # like id -> row, upserted
        self.profile_counts: dict[str, list[int]] = {}  # followers, following, posts
        self.post_counts: dict[str, list[int]] = {}  # likes, comments
        self.numbered: set[str] = set()  # accounts whose notification count changed

    def __bool__(self) -> bool:
        return bool(
            self.profiles
            or self.follows
            or self.unfollows
            or self.posts
            or self.comments
            or self.reports
            or self.notifications
            or self.likes
            or self.profile_counts
            or self.post_counts
        )

    def profile(self, account: str) -> list[int]:
        counts = self.profile_counts.get(account)
        if counts is None:
            counts = self.profile_counts[account] = [0, 0, 0]
        return counts

    def post(self, post: str) -> list[int]:
        counts = self.post_counts.get(post)
        if counts is None:
            counts = self.post_counts[post] = [0, 0]
        return counts


class SocialProjection(Projection):
    """Profiles, the follow graph, posts, comments, likes, reports and notifications."""

    name: ClassVar[str] = "social"
    tables: ClassVar[tuple[Table, ...]] = TABLES

    def __init__(self, bus: Bus | None = None) -> None:
        self.bus = bus
        self._held = _Held()
        self._posts: dict[str, list[str]] = {}  # post -> [author, status]
        self._comments: dict[str, list[str]] = {}  # comment -> [post, author, status]
        self._likes: dict[str, list[Any]] = {}  # like -> [post, account, liked]
        self._numbers: dict[str, int] = {}  # account -> its last notification's number
        self._new: list[NotificationRow] = []  # published after the commit
        self._handlers: dict[type, Callable[[Connection, int, Any], None]] = {
            Account.Registered: self._registered,
            Account.ProfileUpdated: self._profile_updated,
            Account.Followed: self._followed,
            Account.Unfollowed: self._unfollowed,
            Account.Blocked: self._blocked,
            Account.Unblocked: self._unblocked,
            Account.NotificationsRead: self._notifications_read,
            Post.Published: self._published,
            Post.Edited: self._edited,
            Post.Deleted: self._deleted,
            Post.Hidden: self._post_hidden,
            Comment.Written: self._written,
            Comment.Hidden: self._comment_hidden,
            Like.Liked: self._liked,
            Like.Unliked: self._unliked,
            Like.Reliked: self._reliked,
            Report.Filed: self._filed,
        }

    def reset(self) -> None:
        self._held = _Held()
        self._posts = {}
        self._comments = {}
        self._likes = {}
        self._numbers = {}
        self._new = []

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        handlers = self._handlers
        for position, event in items:
            handler = handlers.get(type(event))
            if handler is not None:
                handler(connection, position, event)

    def flush(self, connection: Connection) -> None:
        self._write(connection)
        for cache in (self._posts, self._comments, self._likes, self._numbers):
            if len(cache) > _CACHE:
                cache.clear()

    def after_commit(self) -> None:
        new, self._new = self._new, []
        bus = self.bus
        if bus is None or not new:
            return
        by_account: dict[str, list[NotificationRow]] = {}
        for row in new:
            by_account.setdefault(row.account_id, []).append(row)
        for account, rows in by_account.items():
            topic = f"notifications:{account}"
            if bus.subscriber_count(topic):
                bus.publish(topic, rows)

    # ------------------------------------------------------------------ writing what is held

    def _write(self, connection: Connection) -> None:
        held = self._held
        if not held:
            return
        self._held = _Held()
        _insert_profile.run(connection, held.profiles)
        _delete_follow.run(connection, sorted(held.unfollows))
        _insert_follow.run(connection, list(held.follows.values()))
        _insert_post.run(connection, held.posts)
        _insert_trade.run(connection, held.trades)
        _insert_tag.run(connection, held.tags)
        _insert_comment.run(connection, held.comments)
        _insert_report.run(connection, held.reports)
        _insert_notification.run(connection, held.notifications)
        _upsert_like.run(connection, list(held.likes.values()))
        _count_profile.run(
            connection,
            [(*counts, account) for account, counts in held.profile_counts.items() if any(counts)],
        )
        _count_post.run(
            connection,
            [(*counts, post) for post, counts in held.post_counts.items() if any(counts)],
        )
        numbers = self._numbers
        _number_notifications.run(
            connection, [(numbers[account], account) for account in sorted(held.numbered)]
        )

    # ------------------------------------------------------------------ look-ups

    def _post(self, connection: Connection, post: str) -> list[str] | None:
        """[author, status] of a post not deleted (None: unknown or deleted)."""
        meta = self._posts.get(post)
        if meta is None:
            row = connection.execute(
                select(posts.c.author, posts.c.status).where(posts.c.id == post)
            ).first()
            if row is None:
                return None
            meta = self._posts[post] = [row.author, row.status]
        return meta

    def _comment(self, connection: Connection, comment: str) -> list[str] | None:
        """[post, author, status] of a comment still stored."""
        meta = self._comments.get(comment)
        if meta is None:
            row = connection.execute(
                select(comments.c.post, comments.c.author, comments.c.status).where(
                    comments.c.id == comment
                )
            ).first()
            if row is None:
                return None
            meta = self._comments[comment] = [row.post, row.author, row.status]
        return meta

    def _like(self, connection: Connection, like: str) -> list[Any] | None:
        """[post, account, liked] of a like still stored."""
        meta = self._likes.get(like)
        if meta is None:
            row = connection.execute(
                select(likes.c.post, likes.c.account_id, likes.c.liked).where(likes.c.id == like)
            ).first()
            if row is None:
                return None
            meta = self._likes[like] = [row.post, row.account_id, bool(row.liked)]
        return meta

    def _blocks(self, connection: Connection, blocker: str, blocked: str) -> bool:
        """Whether `blocker` blocks `blocked` (blocks are written at once, never held)."""
        statement = select(blocks.c.since).where(
            blocks.c.blocker == blocker, blocks.c.blocked == blocked
        )
        return connection.execute(statement).first() is not None

    def _linked(self, connection: Connection, author: str, mentioned: Sequence[str]) -> list[str]:
        """The mentions that link: those whose account does not block `author`."""
        return [m for m in mentioned if m == author or not self._blocks(connection, m, author)]

    def _notify(
        self,
        connection: Connection,
        account: str,
        kind: str,
        actor: str,
        at: int,
        post: str | None = None,
        comment: str | None = None,
    ) -> None:
        if account == actor:
            return  # nobody is notified of their own doing
        numbers = self._numbers
        last = numbers.get(account)
        if last is None:
            row = connection.execute(
                select(profiles.c.notifications).where(profiles.c.account_id == account)
            ).first()
            last = 0 if row is None else int(row.notifications)
        n = numbers[account] = last + 1
        self._held.numbered.add(account)
        self._held.notifications.append((account, n, kind, actor, post, comment, at))
        if self.bus is not None:
            self._new.append(
                NotificationRow(account, n, kind, actor, post, comment, to_datetime(at), False)
            )

    # ------------------------------------------------------------------ accounts

    def _registered(self, connection: Connection, position: int, event: Any) -> None:
        if COPY in event.roles:
            return  # copy trading's allocation and block accounts have no profile
        account = str(event.originator_id)
        self._numbers[account] = 0
        self._held.profiles.append((account, event.display_name, "", None, 0, 0, 0, 0, 0))

    def _profile_updated(self, connection: Connection, position: int, event: Any) -> None:
        self._write(connection)
        connection.execute(
            update(profiles)
            .where(profiles.c.account_id == str(event.originator_id))
            .values(display_name=event.display_name, bio=event.bio, avatar_url=event.avatar_url)
        )

    def _followed(self, connection: Connection, position: int, event: Any) -> None:
        held = self._held
        follower, followee = str(event.originator_id), event.target
        at = to_micros(event.timestamp)
        held.follows[(follower, followee)] = (follower, followee, at, position)
        held.profile(followee)[0] += 1
        held.profile(follower)[1] += 1
        self._notify(connection, followee, FOLLOW, follower, at)

    def _unfollowed(self, connection: Connection, position: int, event: Any) -> None:
        held = self._held
        key = (str(event.originator_id), event.target)
        if held.follows.pop(key, None) is None:
            held.unfollows.add(key)
        held.profile(key[1])[0] -= 1
        held.profile(key[0])[1] -= 1

    def _blocked(self, connection: Connection, position: int, event: Any) -> None:
        self._write(connection)
        blocker, blocked = str(event.originator_id), event.target
        connection.execute(
            blocks.delete().where(blocks.c.blocker == blocker, blocks.c.blocked == blocked)
        )
        connection.execute(
            blocks.insert(),
            {"blocker": blocker, "blocked": blocked, "since": to_micros(event.timestamp)},
        )

    def _unblocked(self, connection: Connection, position: int, event: Any) -> None:
        self._write(connection)
        connection.execute(
            blocks.delete().where(
                blocks.c.blocker == str(event.originator_id), blocks.c.blocked == event.target
            )
        )

    def _notifications_read(self, connection: Connection, position: int, event: Any) -> None:
        self._write(connection)
        connection.execute(
            update(profiles)
            .where(
                profiles.c.account_id == str(event.originator_id),
                profiles.c.notifications_read < event.up_to,
            )
            .values(notifications_read=event.up_to)
        )

    # ------------------------------------------------------------------ posts

    def _published(self, connection: Connection, position: int, event: Any) -> None:
        held = self._held
        post = str(event.originator_id)
        author = event.author
        at = to_micros(event.timestamp)
        linked = self._linked(connection, author, event.mentions)
        disclosed = event.position
        held.posts.append(
            (
                post,
                author,
                event.body,
                event.market,
                event.sentiment,
                _text(event.cashtags),
                _text(linked),
                None if disclosed is None else str(disclosed["quantity"]),
                None
                if disclosed is None or disclosed.get("average_entry") is None
                else str(disclosed["average_entry"]),
                VISIBLE,
                0,
                0,
                at,
                None,
                position,
            )
        )
        for n, trade in enumerate(event.trades):
            held.trades.append(
                (
                    post,
                    n,
                    trade["trade_id"],
                    trade["market"],
                    trade["side"],
                    str(trade["price"]),
                    str(trade["quantity"]),
                    int(trade["executed_at"]),
                )
            )
        for tag in event.cashtags:
            held.tags.append((tag, position, post, author, at, VISIBLE))
        self._posts[post] = [author, VISIBLE]
        held.profile(author)[2] += 1
        for mentioned in linked:
            self._notify(connection, mentioned, MENTION, author, at, post)

    def _edited(self, connection: Connection, position: int, event: Any) -> None:
        self._write(connection)
        post = str(event.originator_id)
        row = connection.execute(
            select(
                posts.c.author, posts.c.mentions, posts.c.status, posts.c.created_at, posts.c.seq
            ).where(posts.c.id == post)
        ).first()
        if row is None:
            return
        at = to_micros(event.timestamp)
        linked = self._linked(connection, row.author, event.mentions)
        connection.execute(
            update(posts)
            .where(posts.c.id == post)
            .values(
                body=event.body,
                sentiment=event.sentiment,
                cashtags=_text(event.cashtags),
                mentions=_text(linked),
                edited_at=at,
            )
        )
        connection.execute(delete(post_tags).where(post_tags.c.post == post))
        _insert_tag.run(
            connection,
            [
                (tag, row.seq, post, row.author, row.created_at, row.status)
                for tag in event.cashtags
            ],
        )
        if row.status == VISIBLE:
            before = set(row.mentions.split())
            for mentioned in linked:
                if mentioned not in before:
                    self._notify(connection, mentioned, MENTION, row.author, at, post)

    def _deleted(self, connection: Connection, position: int, event: Any) -> None:
        self._write(connection)
        post = str(event.originator_id)
        meta = self._post(connection, post)
        if meta is None:
            return
        author, status = meta
        for table, column in (
            (posts, posts.c.id),
            (post_trades, post_trades.c.post),
            (post_tags, post_tags.c.post),
            (comments, comments.c.post),
            (likes, likes.c.post),
            (reports, reports.c.post),
            (notifications, notifications.c.post),
        ):
            connection.execute(delete(table).where(column == post))
        if status == VISIBLE:
            self._count_posts(connection, author, -1)
        del self._posts[post]
        self._comments.clear()  # some were this post's (rare: not worth an index)
        self._likes.clear()

    def _post_hidden(self, connection: Connection, position: int, event: Any) -> None:
        self._write(connection)
        post = str(event.originator_id)
        meta = self._post(connection, post)
        if meta is None or meta[1] == HIDDEN:
            return
        author = meta[0]
        meta[1] = HIDDEN
        connection.execute(update(posts).where(posts.c.id == post).values(status=HIDDEN))
        connection.execute(update(post_tags).where(post_tags.c.post == post).values(status=HIDDEN))
        connection.execute(delete(reports).where(reports.c.post == post))
        connection.execute(
            delete(notifications).where(
                notifications.c.post == post, notifications.c.account_id != author
            )
        )
        self._count_posts(connection, author, -1)

    def _count_posts(self, connection: Connection, author: str, delta: int) -> None:
        connection.execute(
            update(profiles)
            .where(profiles.c.account_id == author)
            .values(post_count=profiles.c.post_count + delta)
        )

    # ------------------------------------------------------------------ comments

    def _written(self, connection: Connection, position: int, event: Any) -> None:
        held = self._held
        comment = str(event.originator_id)
        post, author, reply_to = event.post, event.author, event.reply_to
        meta = self._post(connection, post)
        if meta is None:
            return  # its post is gone
        at = to_micros(event.timestamp)
        linked = self._linked(connection, author, event.mentions)
        held.comments.append(
            (comment, post, author, event.body, reply_to, _text(linked), VISIBLE, at, position)
        )
        self._comments[comment] = [post, author, VISIBLE]
        held.post(post)[1] += 1
        notified = {author}
        if reply_to is not None:
            parent = self._comment(connection, reply_to)
            if parent is not None:
                self._notify(connection, parent[1], REPLY, author, at, post, comment)
                notified.add(parent[1])
        if meta[0] not in notified:
            self._notify(connection, meta[0], COMMENT, author, at, post, comment)
            notified.add(meta[0])
        for mentioned in linked:
            if mentioned not in notified:
                self._notify(connection, mentioned, MENTION, author, at, post, comment)
                notified.add(mentioned)

    def _comment_hidden(self, connection: Connection, position: int, event: Any) -> None:
        self._write(connection)
        comment = str(event.originator_id)
        meta = self._comment(connection, comment)
        if meta is None or meta[2] == HIDDEN:
            return
        meta[2] = HIDDEN
        connection.execute(update(comments).where(comments.c.id == comment).values(status=HIDDEN))
        connection.execute(
            update(posts)
            .where(posts.c.id == meta[0])
            .values(comment_count=posts.c.comment_count - 1)
        )
        connection.execute(delete(reports).where(reports.c.comment == comment))
        connection.execute(delete(notifications).where(notifications.c.comment == comment))

    # ------------------------------------------------------------------ likes and reports

    def _liked(self, connection: Connection, position: int, event: Any) -> None:
        post, account = event.post, event.account
        meta = self._post(connection, post)
        if meta is None:
            return
        like = str(event.originator_id)
        at = to_micros(event.timestamp)
        self._likes[like] = [post, account, True]
        self._held.likes[like] = (like, post, account, True, at)
        self._held.post(post)[0] += 1
        self._notify(connection, meta[0], LIKE, account, at, post)

    def _unliked(self, connection: Connection, position: int, event: Any) -> None:
        self._relike(connection, event, False)

    def _reliked(self, connection: Connection, position: int, event: Any) -> None:
        self._relike(connection, event, True)

    def _relike(self, connection: Connection, event: Any, liked: bool) -> None:
        like = str(event.originator_id)
        meta = self._like(connection, like)
        if meta is None or meta[2] == liked:
            return  # its post is gone, or nothing changes
        meta[2] = liked
        post, account = meta[0], meta[1]
        self._held.likes[like] = (like, post, account, liked, to_micros(event.timestamp))
        self._held.post(post)[0] += 1 if liked else -1

    def _filed(self, connection: Connection, position: int, event: Any) -> None:
        post = self._post(connection, event.post)
        if post is None or post[1] != VISIBLE:
            return  # hidden or deleted content has no open report
        if event.comment is not None:
            comment = self._comment(connection, event.comment)
            if comment is None or comment[2] != VISIBLE:
                return
        self._held.reports.append(
            (
                str(event.originator_id),
                event.reporter,
                event.post,
                event.comment,
                event.reason,
                to_micros(event.timestamp),
                position,
            )
        )
