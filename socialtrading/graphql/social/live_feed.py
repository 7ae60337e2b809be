"""What one `feed` subscription listens to, and which posts it sends.

It reads one bus `Inbox` (every message in the order the read models published it):

- `feed:{viewer}`: posts fanned out to the viewer's feed rows, sent as they come (the feed
  projection writes rows for current followers only);
- `feed-follows:{viewer}`: changes of the pulled authors the viewer follows (`PulledFollow`:
  a follow or an unfollow of a pulled author, blocks included, or a followed author crossing
  the pull threshold), joined BEFORE the pulled authors are read at the start, so that no
  change falls between the read and the subscription;
- `posts:{author}` for each pulled author followed (at most MAX_PULLED_TOPICS): joined at the
  start, and by the feed projection itself as it publishes a follow or a crossing (so the
  crossing post, and any post after the change, comes through it even before the change is
  read here), left as it publishes an unfollow.

Each post comes by one path (a pushed author's on `feed:{viewer}`, a pulled author's on
`posts:{author}`, each topic joined once), so none is sent twice. A pulled author's post is
sent only inside a follow's window, kept here from the changes: at or after the follow (or
the crossing), and before the unfollow. The windows also cover the posts of the change's
own batch (published after the join, before the leave) and an unfollow published between
the start-up read and the joins that follow it (the topic then stays joined, uselessly:
only the projection joins and leaves on changes, since a subscription reading them late
would undo a later change). If the inbox overflowed (a client far behind), changes may
have been lost with the oldest messages: the windows start again from the topics joined
then.
"""

from __future__ import annotations

from typing import Any

from socialtrading.infra.bus import Inbox
from socialtrading.projections.social.rows import FeedEntry, PulledFollow

MAX_PULLED_TOPICS = 1_000  # pulled authors a feed subscription listens to, at most
ENDED_WINDOWS = 8  # closed windows kept per author (a batch may follow and unfollow often)
INBOX_TOPICS = MAX_PULLED_TOPICS + 2  # with the viewer's own two


class LiveFeed:
    """One viewer's live home feed over an inbox (of at least INBOX_TOPICS topics): make it
    (it joins the viewer's topics), `listen` to the pulled authors read after that, then
    `take` each message."""

    def __init__(self, inbox: Inbox, viewer: str) -> None:
        self._inbox = inbox
        self._feed_topic = f"feed:{viewer}"
        self._changes_topic = f"feed-follows:{viewer}"
        inbox.join(self._feed_topic)
        inbox.join(self._changes_topic)
        self._since: dict[str, int] = {}  # followed pulled author -> the follow's position
        self._ended: dict[str, list[tuple[int, int]]] = {}  # author -> [(since, until)]
        self._dropped = 0

    def listen(self, pulled: list[str]) -> None:
        """Listen to the posts of the pulled authors the viewer follows (read after the
        inbox joined the viewer's topics)."""
        for author in pulled:
            if len(self._since) < MAX_PULLED_TOPICS and self._inbox.join(f"posts:{author}"):
                self._since[author] = 0

    def following(self) -> list[str]:
        """The pulled authors whose posts are sent, sorted."""
        return sorted(self._since)

    def take(self, topic: str, message: Any) -> list[FeedEntry]:
        """The entries of one `(topic, message)` of the inbox to send, oldest first."""
        if self._inbox.dropped != self._dropped:
            self._dropped = self._inbox.dropped
            joined = self._inbox.topics("posts:")
            self._since = {topic.removeprefix("posts:"): 0 for topic in joined}
            self._ended = {}
        if topic == self._changes_topic:
            changes: list[PulledFollow] = message
            for change in changes:
                if change.follows:
                    self._follow(change.author, change.position)
                else:
                    self._unfollow(change.author, change.position)
            return []
        entries: list[FeedEntry] = message
        if topic == self._feed_topic:
            return entries
        return [entry for entry in entries if self._in_window(entry)]

    def _follow(self, author: str, position: int) -> None:
        """Open a window (the feed projection joined the topic as it published the change)."""
        since = self._since
        if author in since:
            since[author] = min(since[author], position)
        elif len(since) < MAX_PULLED_TOPICS:
            since[author] = position

    def _unfollow(self, author: str, position: int) -> None:
        """Close a window (the feed projection left the topic as it published the change)."""
        since = self._since.pop(author, None)
        if since is None:
            return
        ended = self._ended.pop(author, [])  # popped: the dict keeps the latest last
        self._ended[author] = [*ended[1 - ENDED_WINDOWS :], (since, position)]
        if len(self._ended) > MAX_PULLED_TOPICS:
            del self._ended[next(iter(self._ended))]

    def _in_window(self, entry: FeedEntry) -> bool:
        cursor = entry.cursor
        since = self._since.get(entry.author)
        if since is not None and cursor >= since:
            return True
        return any(start <= cursor < end for start, end in self._ended.get(entry.author, ()))
