"""What one `feed` subscription listens to, and which posts it sends.

It reads one bus `Inbox` (every message in the order the read models published it):

- `feed:{viewer}`: posts fanned out to the viewer's feed rows, sent as they come (the feed
  projection writes rows for current followers only);
- `feed-follows:{viewer}`: changes of the pulled authors the viewer follows (`PulledFollow`:
  a follow or an unfollow of a pulled author, blocks included, or a followed author crossing
  the pull threshold), joined BEFORE the pulled authors are read at the start, so that no
  change falls between the read and the subscription;
- `posts:{author}` for each pulled author followed (at most MAX_PULLED_TOPICS): joined at the
  start and when told of a follow or a crossing, left when told of an unfollow.

A follow (or a crossing) at log position p joins `posts:{author}`, then reads the author's
posts at p or later (`posts_from`, at most CAUGHT_UP): the crossing post, a post in the same
batch as the follow, and any post published before the join would otherwise be lost. A post
of a pulled author is sent only if it falls in a follow's window: at or after the follow, and
before the unfollow when it was queued before the unfollow was applied. A post that comes by
two paths (the read and the topic) is sent once: the subscription remembers the last
REMEMBERED posts it sent. If the inbox overflowed (a client far behind), changes may have
been lost with the oldest messages: the pulled authors are read again and the topics joined
or left to match.

Known limit: the read after a follow sees the read model as it is when it runs; if the viewer
unfollowed that author meanwhile (that change still queued), posts between the unfollow and
the read are sent too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy import Connection

from socialtrading.infra.bus import Inbox
from socialtrading.projections.social import feed
from socialtrading.projections.social.rows import FeedEntry, PulledFollow

MAX_PULLED_TOPICS = 1_000  # pulled authors a feed subscription listens to, at most
CAUGHT_UP = 100  # posts of a newly followed pulled author read since the change, at most
REMEMBERED = 1_000  # posts a subscription remembers having sent (to send each once)

P = ParamSpec("P")
T = TypeVar("T")


class Read(Protocol):
    """How a read-model query is run (`Services.read`)."""

    def __call__(
        self, query: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> Awaitable[T]: ...


class LiveFeed:
    """One viewer's live home feed over an inbox: `start`, then `next` for each message."""

    def __init__(self, inbox: Inbox, viewer: str, read: Read) -> None:
        self._inbox = inbox
        self._viewer = viewer
        self._read = read
        self._feed_topic = f"feed:{viewer}"
        self._changes_topic = f"feed-follows:{viewer}"
        self._since: dict[str, int] = {}  # followed pulled author -> the follow's position
        self._ended: dict[str, tuple[int, int]] = {}  # unfollowed -> (since, until), bounded
        self._sent: dict[str, None] = {}  # posts sent lately, oldest first
        self._dropped = 0

    async def start(self) -> None:
        """Join the viewer's topics and those of the pulled authors they follow."""
        self._inbox.join(self._feed_topic)
        self._inbox.join(self._changes_topic)  # first: no change is lost before the read
        for author in await self._read(feed.pulled_authors, self._viewer):
            self._follow(author, 0)

    def following(self) -> list[str]:
        """The pulled authors whose posts the subscription listens to."""
        return sorted(self._since)

    async def next(self) -> list[FeedEntry]:
        """Wait for the next message; the entries to send for it, oldest first (maybe none)."""
        topic, message = await self._inbox.get()
        if self._inbox.dropped != self._dropped:
            await self._resync()
        if topic == self._changes_topic:
            return await self._changed(message)
        entries: list[FeedEntry] = message
        if topic != self._feed_topic:  # posts:{author}
            entries = [entry for entry in entries if self._in_window(entry)]
        return self._unsent(entries)

    # ------------------------------------------------------------------ changes

    async def _changed(self, changes: list[PulledFollow]) -> list[FeedEntry]:
        since: list[tuple[str, int]] = []
        for change in changes:
            if not change.follows:
                self._unfollow(change.author, change.position)
            elif self._follow(change.author, change.position):
                since.append((change.author, change.position))
        if not since:
            return []
        missed = await self._read(feed.posts_from, since, first=CAUGHT_UP)
        return self._unsent([entry for entry in missed if self._in_window(entry)])

    def _follow(self, author: str, position: int) -> bool:
        """Listen to `author`'s posts from `position` on; False at the cap."""
        since = self._since
        if author in since:
            since[author] = min(since[author], position)
            return True
        if len(since) >= MAX_PULLED_TOPICS:
            return False
        since[author] = position
        self._ended.pop(author, None)
        self._inbox.join(f"posts:{author}")
        return True

    def _unfollow(self, author: str, position: int | None) -> None:
        """Stop listening to `author`; queued posts before `position` are still sent."""
        since = self._since.pop(author, None)
        if since is None:
            return
        self._inbox.leave(f"posts:{author}")
        if position is not None:
            self._ended[author] = (since, position)
            if len(self._ended) > MAX_PULLED_TOPICS:
                del self._ended[next(iter(self._ended))]

    async def _resync(self) -> None:
        """Match the pulled authors read now, after the inbox lost messages."""
        self._dropped = self._inbox.dropped
        pulled = await self._read(feed.pulled_authors, self._viewer)
        now = set(pulled)
        for author in [author for author in self._since if author not in now]:
            self._unfollow(author, None)
        for author in pulled:
            self._follow(author, 0)

    # ------------------------------------------------------------------ posts

    def _in_window(self, entry: FeedEntry) -> bool:
        since = self._since.get(entry.author)
        if since is not None:
            return entry.cursor >= since
        ended = self._ended.get(entry.author)
        return ended is not None and ended[0] <= entry.cursor < ended[1]

    def _unsent(self, entries: list[FeedEntry]) -> list[FeedEntry]:
        sent = self._sent
        fresh: list[FeedEntry] = []
        for entry in entries:
            if entry.post in sent:
                continue
            sent[entry.post] = None
            if len(sent) > REMEMBERED:
                del sent[next(iter(sent))]
            fresh.append(entry)
        return fresh
