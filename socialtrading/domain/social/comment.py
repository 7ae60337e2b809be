"""The Comment aggregate: a comment on a post, optionally replying to a top-level comment of
the same post (one level of threading), and its moderation."""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from socialtrading.domain.errors import InvalidCommand
from socialtrading.domain.ids import NAMESPACE
from socialtrading.domain.time import to_datetime


def comment_id(author: UUID, command_id: str) -> UUID:
    """The id of the comment `author` writes with `command_id`."""
    return uuid5(NAMESPACE, f"comment:{author}:{command_id}")


class Comment(Aggregate):
    """A comment on a post."""

    class Written(Aggregate.Created):
        post: str  # the post's id (text)
        author: str
        body: str
        reply_to: str | None  # a top-level comment of the same post, or None
        mentions: list[str]
        command_id: str

    class Hidden(Aggregate.Event):
        by: str
        reason: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Comment)
            aggregate.hidden = True

    def __init__(
        self,
        post: str,
        author: str,
        body: str,
        reply_to: str | None,
        mentions: list[str],
        command_id: str,
    ) -> None:
        self.post = post
        self.author = author
        self.body = body
        self.reply_to = reply_to
        self.mentions = mentions
        self.hidden = False

    @classmethod
    def write(
        cls,
        id: UUID,
        post: str,
        author: str,
        body: str,
        reply_to: Comment | None,
        mentions: list[str],
        command_id: str,
        ts: int,
    ) -> Comment:
        """Write a comment. A reply names a comment of the same post; a reply to a reply
        becomes a reply to the comment that one answers, so threads stay one level deep."""
        parent: str | None = None
        if reply_to is not None:
            if reply_to.post != post:
                raise InvalidCommand("unknown_comment", "replies answer a comment of the same post")
            parent = reply_to.reply_to or str(reply_to.id)
        return cls._create(
            cls.Written,
            id=id,
            post=post,
            author=author,
            body=body,
            reply_to=parent,
            mentions=mentions,
            command_id=command_id,
            timestamp=to_datetime(ts),
        )

    def readable_by(self, account: str) -> bool:
        """Whether `account` sees it: not hidden, or `account` wrote it."""
        return not self.hidden or account == self.author

    def hide(self, by: str, reason: str, command_id: str, ts: int) -> bool:
        """Hide the comment (a moderator): False, storing nothing, when hidden already."""
        if self.hidden:
            return False
        self.trigger_event(
            self.Hidden, by=by, reason=reason, command_id=command_id, timestamp=to_datetime(ts)
        )
        return True
