"""The home feed: hybrid fan-out (see docs/decisions.md, "The social layer's design").

- A published post is written into the feed rows of each follower of its author (fan-out on
  write) unless the author has at least `pull_threshold` followers when the post is applied:
  then the author is marked `pulled`, for good, and their posts are read from the author's
  own list when a feed is read (fan-out on read).
- A follow copies the followed author's latest `copied` posts into the follower's rows
  (not a pulled author's: those are merged at read time anyway); an unfollow removes the
  author's rows from the follower's feed (a block unfollows both ways: the domain stores
  those `Unfollowed` events). So an author's posts are in the rows of current followers
  only, and deleting or hiding a post removes it from exactly those rows.
- `home_feed` merges, newest first by the post's log position (the cursor), a page of the
  viewer's rows and a page of each pulled author the viewer follows: one index range scan
  per source. A post of an author pushed before being pulled can be in both sources: the
  merge keeps it once (same post, same position).

Held in memory within a batch: the published posts, written in bulk (one INSERT ... SELECT
per post, executemany) before any follow, unfollow, delete or hide, which run at once.
Publishes after the commit, to viewers with a live feed subscription in this process, first
`feed-follows:{viewer}` (PulledFollow list) when the pulled authors they follow change: a
follow or an unfollow of a pulled author (blocks included), or a followed author crossing
the threshold (only the subscribed viewers' follows are read, so a star's crossing costs a
query bounded by the subscriptions, not by the followers). With each such message the
viewer's inboxes join `posts:{author}` at once (`Bus.join`), so the subscription gets the
crossing post, and every post after the change, through that topic even before it has read
the change. Then `feed:{viewer}` (FeedEntry list) when their rows got new posts, then
`posts:{author}` for pulled authors' new posts, and last the inboxes leave the authors
whose last change in the batch is an unfollow (so a post before the unfollow still reaches
them; the subscription keeps only the posts inside a follow's window).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    String,
    Table,
    bindparam,
    delete,
    select,
)

from socialtrading.domain.account import Account
from socialtrading.domain.social.post import Post
from socialtrading.infra.bus import Bus
from socialtrading.projections.base import Item, Projection, metadata
from socialtrading.projections.social.rows import FeedEntry, PulledFollow
from socialtrading.projections.sql import Bulk, bulk_upsert, rows_in

PULL_THRESHOLD = 5_000  # followers from which an author's posts are pulled
COPIED = 50  # posts a new follow copies into the follower's feed

feed_follows = Table(
    "social_feed_follows",
    metadata,
    Column("followee", String(36), primary_key=True),
    Column("follower", String(36), primary_key=True),
    Index("ix_social_feed_follows_follower", "follower", "followee"),
    sqlite_with_rowid=False,
)

feed_authors = Table(
    "social_feed_authors",
    metadata,
    Column("author", String(36), primary_key=True),
    Column("followers", Integer, nullable=False),
    Column("pulled", Boolean, nullable=False),
)

feed_posts = Table(
    "social_feed_posts",
    metadata,
    Column("author", String(36), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("post", String(36), nullable=False, unique=True),
    Index("ix_social_feed_posts_seq", "seq", unique=True),  # a feed row's post
    sqlite_with_rowid=False,
)

# A pushed post's row in a viewer's feed: the viewer and the post's position, nothing more
# (its id and author are read from `feed_posts` by position). The fan-out writes one such row
# per follower, so a row's size is what a burst of posts costs the read store.
feed_rows = Table(
    "social_feed_rows",
    metadata,
    Column("viewer", String(36), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),  # the post's position
    sqlite_with_rowid=False,
)

_insert_post = Bulk(
    feed_posts.insert().values(
        author=bindparam("author"), seq=bindparam("seq"), post=bindparam("post")
    ),
    ["author", "seq", "post"],
)
_fan_out = Bulk(
    feed_rows.insert().from_select(
        ["viewer", "seq"],
        select(feed_follows.c.follower, bindparam("seq", type_=BigInteger)).where(
            feed_follows.c.followee == bindparam("followee")
        ),
    ),
    ["seq", "followee"],
)
_upsert_authors = bulk_upsert(feed_authors, ["author"])


class FeedProjection(Projection):
    """The home feed's rows, the follow graph it needs, and each author's posts."""

    name: ClassVar[str] = "social_feed"
    tables: ClassVar[tuple[Table, ...]] = (feed_follows, feed_authors, feed_posts, feed_rows)

    def __init__(
        self, bus: Bus | None = None, pull_threshold: int = PULL_THRESHOLD, copied: int = COPIED
    ) -> None:
        self.bus = bus
        self.pull_threshold = pull_threshold
        self.copied = copied
        self._posts: list[tuple[int, str, str]] = []  # held: (position, post, author)
        self._authors: dict[str, list[Any]] = {}  # author -> [followers, pulled], cached
        self._changed: set[str] = set()  # authors to write
        self._pushed: dict[str, list[FeedEntry]] = {}  # viewer -> new entries (subscribed)
        self._pulled: dict[str, list[FeedEntry]] = {}  # pulled author -> new posts
        self._follows: dict[str, list[PulledFollow]] = {}  # viewer -> changes
        self._listening: set[str] | None = None  # subscribed viewers, read once a batch

    def reset(self) -> None:
        self._posts = []
        self._authors = {}
        self._changed = set()
        self._pushed = {}
        self._pulled = {}
        self._follows = {}
        self._listening = None

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        for position, event in items:
            kind = type(event)
            if kind is Post.Published:
                self._posts.append((position, str(event.originator_id), event.author))
            elif kind is Account.Followed or kind is Account.Unfollowed:
                self._write_posts(connection)
                follows = kind is Account.Followed
                self._relate(connection, position, str(event.originator_id), event.target, follows)
            elif kind is Post.Deleted or kind is Post.Hidden:
                self._write_posts(connection)
                self._remove(connection, str(event.originator_id))

    def flush(self, connection: Connection) -> None:
        self._write_posts(connection)
        if self._changed:
            authors = self._authors
            _upsert_authors.run(connection, [(a, *authors[a]) for a in sorted(self._changed)])
            self._changed = set()
        if len(self._authors) > 200_000:
            self._authors = {}

    def after_commit(self) -> None:
        pushed, self._pushed = self._pushed, {}
        pulled, self._pulled = self._pulled, {}
        follows, self._follows = self._follows, {}
        self._listening = None
        bus = self.bus
        if bus is None:
            return
        if follows:
            listening = set(bus.topics("feed-follows:"))
            follows = {v: c for v, c in follows.items() if f"feed-follows:{v}" in listening}
        for viewer, changes in follows.items():
            topic = f"feed-follows:{viewer}"
            bus.publish(topic, changes)
            for author in sorted({change.author for change in changes if change.follows}):
                bus.join(f"posts:{author}", listeners_of=topic)
        for viewer, entries in pushed.items():
            bus.publish(f"feed:{viewer}", entries)
        for author, entries in pulled.items():
            topic = f"posts:{author}"
            if bus.subscriber_count(topic):
                bus.publish(topic, entries)
        for viewer, changes in follows.items():
            last = {change.author: change.follows for change in changes}
            for author in sorted(author for author, still in last.items() if not still):
                bus.leave(f"posts:{author}", listeners_of=f"feed-follows:{viewer}")

    # ------------------------------------------------------------------ authors

    def _load(self, connection: Connection, authors: set[str]) -> None:
        known = self._authors
        missing = {author for author in authors if author not in known}
        for author in missing:
            known[author] = [0, False]
        for row in rows_in(connection, select(feed_authors), feed_authors.c.author, missing):
            known[row.author] = [row.followers, bool(row.pulled)]

    def _author(self, connection: Connection, author: str) -> list[Any]:
        self._load(connection, {author})
        return self._authors[author]

    def _listeners(self) -> set[str]:
        """The viewers with a live feed subscription (none without a bus), for crossings."""
        if self._listening is None:
            topics = self.bus.topics("feed-follows:") if self.bus is not None else []
            self._listening = {topic.removeprefix("feed-follows:") for topic in topics}
        return self._listening

    # ------------------------------------------------------------------ events

    def _write_posts(self, connection: Connection) -> None:
        held = self._posts
        if not held:
            return
        self._posts = []
        self._load(connection, {author for _, _, author in held})
        authors = self._authors
        pushed: list[tuple[Any, ...]] = []
        crossed: dict[str, int] = {}  # author -> the post that made them pulled
        for position, post, author in held:
            state = authors[author]
            if not state[1] and state[0] >= self.pull_threshold:
                state[1] = True
                self._changed.add(author)
                crossed[author] = position
            if state[1]:
                if self.bus is not None:
                    self._pulled.setdefault(author, []).append(FeedEntry(post, author, position))
            elif state[0]:
                pushed.append((position, post, author))
        _insert_post.run(connection, [(author, position, post) for position, post, author in held])
        _fan_out.run(connection, [(position, author) for position, _, author in pushed])
        if pushed and self.bus is not None:
            self._tell_viewers(connection, pushed)
        if crossed and self._listeners():
            self._tell_followers(connection, crossed)

    def _tell_viewers(self, connection: Connection, pushed: list[tuple[Any, ...]]) -> None:
        """Note the new entries of the viewers subscribed to their feed (in this process)."""
        assert self.bus is not None
        viewers = [topic.removeprefix("feed:") for topic in self.bus.topics("feed:")]
        if not viewers:
            return
        authors = {row[2] for row in pushed}
        statement = select(feed_follows.c.follower, feed_follows.c.followee).where(
            feed_follows.c.followee.in_(sorted(authors))
        )
        followed: dict[str, list[str]] = {}
        for row in rows_in(connection, statement, feed_follows.c.follower, viewers):
            followed.setdefault(row.followee, []).append(row.follower)
        for position, post, author in pushed:
            for viewer in followed.get(author, ()):
                self._pushed.setdefault(viewer, []).append(FeedEntry(post, author, position))

    def _tell_followers(self, connection: Connection, crossed: dict[str, int]) -> None:
        """Note, for the subscribed viewers among their followers, that authors became pulled
        (one `IN` per chunk of subscribed viewers: a star's other followers are not read)."""
        statement = select(feed_follows.c.follower, feed_follows.c.followee).where(
            feed_follows.c.followee.in_(sorted(crossed))
        )
        viewers = self._listeners()
        for row in rows_in(connection, statement, feed_follows.c.follower, viewers):
            change = PulledFollow(row.followee, crossed[row.followee], True)
            self._follows.setdefault(row.follower, []).append(change)

    def _relate(
        self, connection: Connection, position: int, viewer: str, author: str, follows: bool
    ) -> None:
        """A follow or an unfollow; the viewer is told when the author is pulled (if they
        have a feed subscription when the batch is published: one that starts after its
        commit reads the follow graph with the change in it)."""
        pulled = (self._follow if follows else self._unfollow)(connection, viewer, author)
        if pulled and self.bus is not None:  # kept for any viewer: filtered after the commit
            self._follows.setdefault(viewer, []).append(PulledFollow(author, position, follows))

    def _follow(self, connection: Connection, follower: str, followee: str) -> bool:
        """Store a follow; whether the followee is pulled."""
        connection.execute(feed_follows.insert(), {"followee": followee, "follower": follower})
        state = self._author(connection, followee)
        state[0] += 1
        self._changed.add(followee)
        if state[1]:
            return True  # pulled: merged at read time
        latest = (
            select(bindparam("viewer", follower, type_=String), feed_posts.c.seq)
            .where(feed_posts.c.author == followee)
            .order_by(feed_posts.c.seq.desc())
            .limit(self.copied)
        )
        connection.execute(feed_rows.insert().from_select(["viewer", "seq"], latest))
        return False

    def _unfollow(self, connection: Connection, follower: str, followee: str) -> bool:
        """Remove a follow; whether the followee is pulled."""
        connection.execute(
            delete(feed_follows).where(
                feed_follows.c.followee == followee, feed_follows.c.follower == follower
            )
        )
        state = self._author(connection, followee)
        state[0] -= 1
        self._changed.add(followee)
        theirs = select(feed_posts.c.seq).where(feed_posts.c.author == followee)
        connection.execute(
            delete(feed_rows).where(feed_rows.c.viewer == follower, feed_rows.c.seq.in_(theirs))
        )
        return bool(state[1])

    def _remove(self, connection: Connection, post: str) -> None:
        row = connection.execute(
            select(feed_posts.c.author, feed_posts.c.seq).where(feed_posts.c.post == post)
        ).first()
        if row is None:
            return
        connection.execute(
            delete(feed_posts).where(feed_posts.c.author == row.author, feed_posts.c.seq == row.seq)
        )
        followers = select(feed_follows.c.follower).where(feed_follows.c.followee == row.author)
        connection.execute(
            delete(feed_rows).where(feed_rows.c.seq == row.seq, feed_rows.c.viewer.in_(followers))
        )


# ---------------------------------------------------------------------- queries


def home_feed(
    connection: Connection, viewer: str, *, first: int, after: int | None = None
) -> list[FeedEntry]:
    """The viewer's home timeline, newest first: the posts of the traders they follow.
    `after` (an entry's cursor) continues to older posts. Hydrate with `posts_by_ids`."""
    first = max(first, 0)
    if not first:
        return []
    found: dict[int, FeedEntry] = {}
    own = (
        select(feed_rows.c.seq, feed_posts.c.post, feed_posts.c.author)
        .join(feed_posts, feed_posts.c.seq == feed_rows.c.seq)
        .where(feed_rows.c.viewer == viewer)
    )
    if after is not None:
        own = own.where(feed_rows.c.seq < after)
    for row in connection.execute(own.order_by(feed_rows.c.seq.desc()).limit(first)):
        found[row.seq] = FeedEntry(row.post, row.author, row.seq)
    pulled = (
        select(feed_follows.c.followee)
        .join(feed_authors, feed_authors.c.author == feed_follows.c.followee)
        .where(feed_follows.c.follower == viewer, feed_authors.c.pulled.is_(True))
    )
    for (author,) in connection.execute(pulled).all():
        theirs = select(feed_posts.c.seq, feed_posts.c.post).where(feed_posts.c.author == author)
        if after is not None:
            theirs = theirs.where(feed_posts.c.seq < after)
        for seq, post in connection.execute(theirs.order_by(feed_posts.c.seq.desc()).limit(first)):
            found.setdefault(seq, FeedEntry(post, author, seq))
    return [found[seq] for seq in sorted(found, reverse=True)[:first]]


def pulled_authors(connection: Connection, viewer: str) -> list[str]:
    """The pulled authors `viewer` follows (a feed subscription also listens to
    `posts:{author}` for each)."""
    statement = (
        select(feed_follows.c.followee)
        .join(feed_authors, feed_authors.c.author == feed_follows.c.followee)
        .where(feed_follows.c.follower == viewer, feed_authors.c.pulled.is_(True))
        .order_by(feed_follows.c.followee)
    )
    return [row.followee for row in connection.execute(statement)]
