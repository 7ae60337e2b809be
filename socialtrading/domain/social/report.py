"""The Report aggregate: an account reports a post or a comment to the moderators.

A report is open until its content is hidden (or deleted by its author); the moderation
queue is a read model of open reports.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from socialtrading.domain.ids import NAMESPACE
from socialtrading.domain.time import to_datetime


def report_id(reporter: UUID, command_id: str) -> UUID:
    """The id of the report `reporter` files with `command_id`."""
    return uuid5(NAMESPACE, f"report:{reporter}:{command_id}")


class Report(Aggregate):
    """A report of a post or a comment."""

    class Filed(Aggregate.Created):
        reporter: str
        post: str  # the reported post, or the post of the reported comment
        comment: str | None
        reason: str
        command_id: str

    def __init__(
        self, reporter: str, post: str, comment: str | None, reason: str, command_id: str
    ) -> None:
        self.reporter = reporter
        self.post = post
        self.comment = comment
        self.reason = reason

    @classmethod
    def file(
        cls,
        id: UUID,
        reporter: str,
        post: str,
        comment: str | None,
        reason: str,
        command_id: str,
        ts: int,
    ) -> Report:
        """File a report."""
        return cls._create(
            cls.Filed,
            id=id,
            reporter=reporter,
            post=post,
            comment=comment,
            reason=reason,
            command_id=command_id,
            timestamp=to_datetime(ts),
        )
