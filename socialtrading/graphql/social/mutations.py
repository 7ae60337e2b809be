"""The social mutations: profile, follows and blocks, posts, comments, likes, reports,
moderation, notifications read.

Each answers a union of its `<Name>Success` and `Rejection`. Like every mutation they go
through `graphql/commands.execute` (the writer decides, then the answer waits for the read
models to reach the command's position: read-your-writes), after the general mutation limit
and, for posts, comments, likes and follows, the per-account social limits (social/limits.py).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Annotated, TypeVar
from uuid import UUID

import strawberry
from strawberry.dataloader import DataLoader

from socialtrading.commands.models import Command
from socialtrading.commands.social import (
    Block,
    CommentOnPost,
    DeletePost,
    EditPost,
    Follow,
    HideComment,
    HidePost,
    LikePost,
    MarkNotificationsRead,
    PublishPost,
    ReportContent,
    Unblock,
    Unfollow,
    UnlikePost,
    UpdateProfile,
    subject_of,
)
from socialtrading.commands.state import Outcome
from socialtrading.domain.social.report import report_id
from socialtrading.graphql.commands import execute, new_command_id
from socialtrading.graphql.context import Info
from socialtrading.graphql.errors import Rejection, clip
from socialtrading.graphql.loaders import load_fresh
from socialtrading.graphql.permissions import IsAuthenticated, guarded
from socialtrading.graphql.social.limits import Kind
from socialtrading.graphql.social.permissions import IsModerator
from socialtrading.graphql.social.types import Comment, Post, Sentiment, viewer_key
from socialtrading.projections import accounts
from socialtrading.projections.social import queries

if TYPE_CHECKING:
    from socialtrading.graphql.accounts.types import Account

K = TypeVar("K")
V = TypeVar("V")
AccountType = Annotated["Account", strawberry.lazy("socialtrading.graphql.accounts.types")]


@strawberry.input(description="A new post: up to 2,000 characters, up to 5 of your own trades")
class PublishPostInput:
    body: str
    market: str | None = strawberry.field(
        default=None, description="The market it is about: the post discloses your position in it"
    )
    sentiment: Sentiment = Sentiment.NEUTRAL
    trade_ids: list[str] = strawberry.field(
        default_factory=list, description="`Fill.tradeId`s of your own fills (at most 5)"
    )
    client_post_id: str | None = strawberry.field(
        default=None,
        description="Your id for this post; resending it returns the same post (idempotent)",
    )


@strawberry.type
class UpdateProfileSuccess:
    account: AccountType


@strawberry.type
class FollowSuccess:
    account: AccountType


@strawberry.type
class UnfollowSuccess:
    account: AccountType


@strawberry.type
class BlockSuccess:
    account: AccountType


@strawberry.type
class UnblockSuccess:
    account: AccountType


@strawberry.type
class PublishPostSuccess:
    post: Post


@strawberry.type
class EditPostSuccess:
    post: Post


@strawberry.type
class DeletePostSuccess:
    post_id: strawberry.ID


@strawberry.type
class CommentOnPostSuccess:
    comment: Comment


@strawberry.type
class LikePostSuccess:
    post: Post


@strawberry.type
class UnlikePostSuccess:
    post: Post


@strawberry.type
class ReportContentSuccess:
    report_id: strawberry.ID


@strawberry.type
class HidePostSuccess:
    post_id: strawberry.ID


@strawberry.type
class HideCommentSuccess:
    comment_id: strawberry.ID


@strawberry.type
class MarkNotificationsReadSuccess:
    unread_count: int


UpdateProfileResult = Annotated[
    UpdateProfileSuccess | Rejection, strawberry.union("UpdateProfileResult")
]
FollowResult = Annotated[FollowSuccess | Rejection, strawberry.union("FollowResult")]
UnfollowResult = Annotated[UnfollowSuccess | Rejection, strawberry.union("UnfollowResult")]
BlockResult = Annotated[BlockSuccess | Rejection, strawberry.union("BlockResult")]
UnblockResult = Annotated[UnblockSuccess | Rejection, strawberry.union("UnblockResult")]
PublishPostResult = Annotated[PublishPostSuccess | Rejection, strawberry.union("PublishPostResult")]
EditPostResult = Annotated[EditPostSuccess | Rejection, strawberry.union("EditPostResult")]
DeletePostResult = Annotated[DeletePostSuccess | Rejection, strawberry.union("DeletePostResult")]
CommentOnPostResult = Annotated[
    CommentOnPostSuccess | Rejection, strawberry.union("CommentOnPostResult")
]
LikePostResult = Annotated[LikePostSuccess | Rejection, strawberry.union("LikePostResult")]
UnlikePostResult = Annotated[UnlikePostSuccess | Rejection, strawberry.union("UnlikePostResult")]
ReportContentResult = Annotated[
    ReportContentSuccess | Rejection, strawberry.union("ReportContentResult")
]
HidePostResult = Annotated[HidePostSuccess | Rejection, strawberry.union("HidePostResult")]
HideCommentResult = Annotated[HideCommentSuccess | Rejection, strawberry.union("HideCommentResult")]
MarkNotificationsReadResult = Annotated[
    MarkNotificationsReadSuccess | Rejection, strawberry.union("MarkNotificationsReadResult")
]

_LAGGING = "The read models have not shown it yet; retry the query"


async def _run(
    info: Info, kind: Kind | None, build: Callable[[UUID], Command]
) -> tuple[Outcome | Rejection, Command | None]:
    """Check the social limit of `kind`, then run the command `build(actor)` makes; the
    outcome and the command (None if it did not validate)."""
    actor = await info.context.actor()
    services = info.context.services
    if kind is not None and not services.social_limits.allow(services.settings, kind, str(actor)):
        return Rejection(code="rate_limited", message=f"Too many {kind}s: slow down"), None
    built: list[Command] = []

    def make() -> Command:
        built.append(build(actor))
        return built[-1]

    outcome = await execute(info.context, make)
    return outcome, built[0] if built else None


async def _post(info: Info, post_id: str) -> Post | Rejection:
    """A post after a command changed it, read past the request's cache."""
    key = (await viewer_key(info), post_id)
    row = await load_fresh(info.context.loaders.social.posts, key)
    if row is None:
        return Rejection(code="unavailable", message=_LAGGING)
    return Post.from_row(row)


async def _account(info: Info, handle: str) -> Account | Rejection:
    from socialtrading.graphql.accounts.types import Account

    row = await info.context.services.read(accounts.account_by_handle, handle)
    if row is None:
        return Rejection(code="unavailable", message=_LAGGING)
    _forget(info.context.loaders.social.profiles, row.id)  # read past the request's cache
    _forget(info.context.loaders.social.follows, (await viewer_key(info), row.id))
    return Account.from_row(row)


async def _graph_change(
    info: Info, command: type[Follow | Unfollow | Block | Unblock], handle: str
) -> Account | Rejection:
    """Follow, unfollow, block or unblock `handle` (one social limit for the four); the
    other account as it stands after, or the Rejection."""
    outcome, _ = await _run(
        info,
        "follow",
        lambda actor: command(command_id=new_command_id(), actor=actor, handle=handle),
    )
    if isinstance(outcome, Rejection):
        return outcome
    return await _account(info, handle)


async def _like_change(
    info: Info, command: type[LikePost | UnlikePost], post_id: str
) -> Post | Rejection:
    """Like or unlike `post_id` (one social limit for both); the post as it stands after, or
    the Rejection."""
    outcome, built = await _run(
        info,
        "like",
        lambda actor: command.model_validate(
            {"command_id": new_command_id(), "actor": actor, "post_id": post_id}
        ),
    )
    if isinstance(outcome, Rejection):
        return outcome
    subject = _subject(built)
    _forget(info.context.loaders.social.likes, (await viewer_key(info), subject))
    return await _post(info, subject)


def _forget(loader: DataLoader[K, V], key: K) -> None:
    with suppress(KeyError):  # not cached
        loader.clear(key)


def _subject(command: Command | None) -> str:
    assert command is not None  # an accepted outcome comes from a command that validated
    subject = subject_of(command)
    assert subject is not None
    return str(subject)


def _up_to(value: str) -> int | Rejection:
    if not (value.isascii() and value.isdigit()) or len(value) > 19:
        return Rejection(
            code="invalid_input", message=f"upTo: {clip(value)!r} is not a notification id"
        )
    return int(value)


@strawberry.type
class SocialMutations:
    @strawberry.mutation(
        extensions=guarded(IsAuthenticated),
        description=(
            "Set your display name, bio (up to 280 characters) and avatar URL (https, up to 500 "
            "characters; empty removes it); an omitted field keeps its value"
        ),
    )
    async def update_profile(
        self,
        info: Info,
        display_name: str | None = None,
        bio: str | None = None,
        avatar_url: str | None = None,
    ) -> UpdateProfileResult:
        outcome, _ = await _run(
            info,
            None,
            lambda actor: UpdateProfile(
                command_id=new_command_id(),
                actor=actor,
                display_name=display_name,
                bio=bio,
                avatar_url=avatar_url,
            ),
        )
        if isinstance(outcome, Rejection):
            return outcome
        viewer = await info.context.viewer()
        assert viewer is not None
        found = await _account(info, viewer.handle)
        return found if isinstance(found, Rejection) else UpdateProfileSuccess(account=found)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated),
        description="Follow a trader by handle; following twice changes nothing",
    )
    async def follow(self, info: Info, handle: str) -> FollowResult:
        found = await _graph_change(info, Follow, handle)
        return found if isinstance(found, Rejection) else FollowSuccess(account=found)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated),
        description="Stop following a trader; not following changes nothing",
    )
    async def unfollow(self, info: Info, handle: str) -> UnfollowResult:
        found = await _graph_change(info, Unfollow, handle)
        return found if isinstance(found, Rejection) else UnfollowSuccess(account=found)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated),
        description=(
            "Block a trader: they cannot follow you, comment on or like your posts, or mention "
            "you; a follow either way ends"
        ),
    )
    async def block(self, info: Info, handle: str) -> BlockResult:
        found = await _graph_change(info, Block, handle)
        return found if isinstance(found, Rejection) else BlockSuccess(account=found)

    @strawberry.mutation(extensions=guarded(IsAuthenticated), description="Lift a block")
    async def unblock(self, info: Info, handle: str) -> UnblockResult:
        found = await _graph_change(info, Unblock, handle)
        return found if isinstance(found, Rejection) else UnblockSuccess(account=found)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated),
        description=(
            "Publish a post. Attached trades must be your own fills (not_your_trade, "
            "unknown_trade); a post about a market records your position in it"
        ),
    )
    async def publish_post(self, info: Info, input: PublishPostInput) -> PublishPostResult:
        outcome, command = await _run(
            info,
            "post",
            lambda actor: PublishPost.model_validate(
                {
                    "command_id": new_command_id(),
                    "actor": actor,
                    "body": input.body,
                    "market": input.market,
                    "sentiment": input.sentiment.value,
                    "trade_ids": input.trade_ids,
                    "client_post_id": input.client_post_id,
                }
            ),
        )
        if isinstance(outcome, Rejection):
            return outcome
        post = await _post(info, _subject(command))
        return post if isinstance(post, Rejection) else PublishPostSuccess(post=post)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated),
        description=(
            "Change the body and sentiment of your post within 15 minutes of publishing "
            "(edit_window_closed after); an omitted sentiment is kept"
        ),
    )
    async def edit_post(
        self, info: Info, post_id: strawberry.ID, body: str, sentiment: Sentiment | None = None
    ) -> EditPostResult:
        outcome, command = await _run(
            info,
            None,
            lambda actor: EditPost.model_validate(
                {
                    "command_id": new_command_id(),
                    "actor": actor,
                    "post_id": post_id,
                    "body": body,
                    "sentiment": None if sentiment is None else sentiment.value,
                }
            ),
        )
        if isinstance(outcome, Rejection):
            return outcome
        post = await _post(info, _subject(command))
        return post if isinstance(post, Rejection) else EditPostSuccess(post=post)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated), description="Retract one of your posts"
    )
    async def delete_post(self, info: Info, post_id: strawberry.ID) -> DeletePostResult:
        outcome, command = await _run(
            info,
            None,
            lambda actor: DeletePost.model_validate(
                {"command_id": new_command_id(), "actor": actor, "post_id": post_id}
            ),
        )
        if isinstance(outcome, Rejection):
            return outcome
        return DeletePostSuccess(post_id=strawberry.ID(_subject(command)))

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated),
        description="Comment on a post (up to 1,000 characters), or reply to one of its comments",
    )
    async def comment_on_post(
        self,
        info: Info,
        post_id: strawberry.ID,
        body: str,
        reply_to: strawberry.ID | None = None,
    ) -> CommentOnPostResult:
        outcome, command = await _run(
            info,
            "comment",
            lambda actor: CommentOnPost.model_validate(
                {
                    "command_id": new_command_id(),
                    "actor": actor,
                    "post_id": post_id,
                    "body": body,
                    "reply_to": reply_to,
                }
            ),
        )
        if isinstance(outcome, Rejection):
            return outcome
        key = (await viewer_key(info), _subject(command))
        row = await load_fresh(info.context.loaders.social.comments, key)
        if row is None:
            return Rejection(code="unavailable", message=_LAGGING)
        return CommentOnPostSuccess(comment=Comment.from_row(row))

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated), description="Like a post; twice changes nothing"
    )
    async def like_post(self, info: Info, post_id: strawberry.ID) -> LikePostResult:
        post = await _like_change(info, LikePost, post_id)
        return post if isinstance(post, Rejection) else LikePostSuccess(post=post)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated), description="Withdraw your like of a post"
    )
    async def unlike_post(self, info: Info, post_id: strawberry.ID) -> UnlikePostResult:
        post = await _like_change(info, UnlikePost, post_id)
        return post if isinstance(post, Rejection) else UnlikePostSuccess(post=post)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated),
        description="Report a post or a comment to the moderators, with a reason",
    )
    async def report_content(
        self,
        info: Info,
        reason: str,
        post_id: strawberry.ID | None = None,
        comment_id: strawberry.ID | None = None,
    ) -> ReportContentResult:
        outcome, command = await _run(
            info,
            None,
            lambda actor: ReportContent.model_validate(
                {
                    "command_id": new_command_id(),
                    "actor": actor,
                    "post_id": post_id,
                    "comment_id": comment_id,
                    "reason": reason,
                }
            ),
        )
        if isinstance(outcome, Rejection):
            return outcome
        assert command is not None
        report = report_id(command.actor, command.command_id)
        return ReportContentSuccess(report_id=strawberry.ID(str(report)))

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated, IsModerator),
        description="Hide a post from everybody but its author (admins, compliance, moderators)",
    )
    async def hide_post(self, info: Info, post_id: strawberry.ID, reason: str) -> HidePostResult:
        outcome, command = await _run(
            info,
            None,
            lambda actor: HidePost.model_validate(
                {
                    "command_id": new_command_id(),
                    "actor": actor,
                    "post_id": post_id,
                    "reason": reason,
                }
            ),
        )
        if isinstance(outcome, Rejection):
            return outcome
        return HidePostSuccess(post_id=strawberry.ID(_subject(command)))

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated, IsModerator),
        description="Hide a comment from everybody but its author (admins, compliance, moderators)",
    )
    async def hide_comment(
        self, info: Info, comment_id: strawberry.ID, reason: str
    ) -> HideCommentResult:
        outcome, command = await _run(
            info,
            None,
            lambda actor: HideComment.model_validate(
                {
                    "command_id": new_command_id(),
                    "actor": actor,
                    "comment_id": comment_id,
                    "reason": reason,
                }
            ),
        )
        if isinstance(outcome, Rejection):
            return outcome
        return HideCommentSuccess(comment_id=strawberry.ID(_subject(command)))

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated),
        description=(
            "Mark your notifications read up to (and including) the one with id `upTo`; "
            "without it, all of them"
        ),
    )
    async def mark_notifications_read(
        self, info: Info, up_to: strawberry.ID | None = None
    ) -> MarkNotificationsReadResult:
        viewer = await viewer_key(info)
        if up_to is None:
            newest = await info.context.services.read(queries.notifications_of, viewer, first=1)
            number: int | Rejection = newest[0].number if newest else 0
        else:
            number = _up_to(str(up_to))
        if isinstance(number, Rejection):
            return number
        read = number
        outcome, _ = await _run(
            info,
            None,
            lambda actor: MarkNotificationsRead(
                command_id=new_command_id(), actor=actor, up_to=read
            ),
        )
        if isinstance(outcome, Rejection):
            return outcome
        unread = await info.context.services.read(queries.unread_count, viewer)
        return MarkNotificationsReadSuccess(unread_count=unread)
