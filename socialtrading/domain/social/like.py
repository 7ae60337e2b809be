"""The Like aggregate: one account's like of one post, given, withdrawn and given again.

One small aggregate per (post, account), so liking costs the same on a post with a hundred
thousand likes as on a new one, and whether an account likes a post is one lookup by id.
"""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from socialtrading.domain.ids import NAMESPACE
from socialtrading.domain.time import to_datetime


@lru_cache(maxsize=8192)  # the writer asks twice per like (prefetch, then the handler)
def like_id(post: UUID, account: UUID) -> UUID:
    """The id of `account`'s like of `post`."""
    return uuid5(NAMESPACE, f"like:{post}:{account}")


class Like(Aggregate):
    """Whether an account likes a post."""

    class Liked(Aggregate.Created):
        post: str
        account: str
        command_id: str

    class Unliked(Aggregate.Event):
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Like)
            aggregate.liked = False

    class Reliked(Aggregate.Event):
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Like)
            aggregate.liked = True

    def __init__(self, post: str, account: str, command_id: str) -> None:
        self.post = post
        self.account = account
        self.liked = True

    @classmethod
    def give(cls, id: UUID, post: str, account: str, command_id: str, ts: int) -> Like:
        """The first like of `post` by `account`."""
        return cls._create(
            cls.Liked,
            id=id,
            post=post,
            account=account,
            command_id=command_id,
            timestamp=to_datetime(ts),
        )

    def like(self, command_id: str, ts: int) -> bool:
        """Like again; False (nothing stored) when liked already."""
        if self.liked:
            return False
        self.trigger_event(self.Reliked, command_id=command_id, timestamp=to_datetime(ts))
        return True

    def unlike(self, command_id: str, ts: int) -> bool:
        """Withdraw the like; False (nothing stored) when not liked."""
        if not self.liked:
            return False
        self.trigger_event(self.Unliked, command_id=command_id, timestamp=to_datetime(ts))
        return True
