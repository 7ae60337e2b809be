"""The social layer's GraphQL types: posts, verified trades, comments, notifications, fills,
reports, trending tags, market sentiment, and the social fields of `Account`.

Who may read what: hidden posts and comments are shown to their author only (with status
HIDDEN); deleted ones to nobody. The loaders (social/loaders.py) apply this per viewer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from socialtrading.graphql.context import Info
from socialtrading.graphql.errors import ApiError
from socialtrading.graphql.pagination import (
    MAX_INT_CURSOR,
    Connection,
    decode_cursor,
    int_cursor,
    page_size,
    paginate,
)
from socialtrading.graphql.permissions import IsOwnerOrStaff, requires
from socialtrading.graphql.trading.types import Side
from socialtrading.projections.social import fills, queries
from socialtrading.projections.social.rows import (
    CommentRow,
    FillRow,
    FollowRow,
    NotificationRow,
    PostRow,
    PostTradeRow,
    ReportRow,
    SentimentRow,
    TrendingRow,
)

if TYPE_CHECKING:
    from socialtrading.graphql.accounts.types import Account

AccountType = Annotated["Account", strawberry.lazy("socialtrading.graphql.accounts.types")]

POST_CURSOR = "post"
COMMENT_CURSOR = "comment"
FOLLOW_CURSOR = "follow"
FILL_CURSOR = "fill"


@strawberry.enum
class Sentiment(Enum):
    BULLISH = "BULLISH"
    BEARISH = "BEARISH"
    NEUTRAL = "NEUTRAL"


@strawberry.enum(description="VISIBLE, or HIDDEN by a moderator (shown to its author only)")
class PostStatus(Enum):
    VISIBLE = "VISIBLE"
    HIDDEN = "HIDDEN"


@strawberry.enum
class NotificationKind(Enum):
    FOLLOW = "FOLLOW"
    LIKE = "LIKE"
    COMMENT = "COMMENT"
    REPLY = "REPLY"
    MENTION = "MENTION"


@strawberry.enum
class Liquidity(Enum):
    MAKER = "MAKER"
    TAKER = "TAKER"


async def viewer_key(info: Info) -> str:
    """The caller's account id, or "" when anonymous (the social loaders' viewer key)."""
    viewer = await info.context.viewer()
    return "" if viewer is None else viewer.id


async def load_account(info: Info, account_id: str) -> Account | None:
    """The account with this id (None: unknown, or not in the read model yet)."""
    from socialtrading.graphql.accounts.types import Account

    row = await info.context.loaders.accounts.load(account_id)
    return None if row is None else Account.from_row(row)


async def author_of(info: Info, account_id: str) -> Account:
    """The author of a post or comment: the accounts read model has it, or soon will."""
    account = await load_account(info, account_id)
    if account is None:
        raise ApiError("UNAVAILABLE", "The author is not readable yet; retry")
    return account


async def load_post(info: Info, post_id: str) -> Post | None:
    """The post with this id if the caller may read it."""
    row = await info.context.loaders.social.posts.load((await viewer_key(info), post_id))
    return None if row is None else Post.from_row(row)


async def load_comment(info: Info, comment_id: str) -> Comment | None:
    """The comment with this id if the caller may read it."""
    key = (await viewer_key(info), comment_id)
    row = await info.context.loaders.social.comments.load(key)
    return None if row is None else Comment.from_row(row)


@strawberry.type(
    description="One of the author's fills attached to a post, checked against the log"
)
class VerifiedTrade:
    trade_id: str = strawberry.field(description="`MARKET:SEQ`, as `Fill.tradeId`")
    market: str
    side: Side = strawberry.field(description="The author's side")
    price: Decimal
    quantity: Decimal
    executed_at: datetime

    @strawberry.field(description="The market's last trade price (null before any trade)")
    async def mark_price(self, info: Info) -> Decimal | None:
        return await info.context.loaders.social.last_prices.load(self.market)

    @strawberry.field(
        description=(
            "What the fill has gained or lost at the mark price, in the quote asset: "
            "(mark - price) x quantity for a buy, the opposite for a sell"
        )
    )
    async def pnl_since_entry(self, info: Info) -> Decimal | None:
        mark = await info.context.loaders.social.last_prices.load(self.market)
        if mark is None:
            return None
        gain = (mark - self.price) * self.quantity
        return gain if self.side is Side.BUY else -gain

    @classmethod
    def from_row(cls, row: PostTradeRow) -> VerifiedTrade:
        """The GraphQL view of a read-model row."""
        return cls(
            trade_id=row.trade_id,
            market=row.market,
            side=Side(row.side),
            price=row.price,
            quantity=row.quantity,
            executed_at=row.executed_at,
        )


@strawberry.type(
    description="The author's position in the post's market when it was published (disclosure)"
)
class DisclosedPosition:
    market: str
    quantity: Decimal = strawberry.field(description="Signed base quantity: > 0 long, < 0 short")
    average_entry_price: Decimal | None = strawberry.field(description="Null when flat")


@strawberry.type(description="A trader's post, with its verified trades")
class Post:
    id: strawberry.ID
    body: str
    market: str | None
    sentiment: Sentiment
    cashtags: list[str] = strawberry.field(description="Upper case, without `$`")
    trades: list[VerifiedTrade]
    disclosed_position: DisclosedPosition | None = strawberry.field(
        description="For a post about a market: the author's position in it when published"
    )
    like_count: int
    comment_count: int = strawberry.field(description="Visible comments")
    status: PostStatus
    created_at: datetime
    edited_at: datetime | None
    author_id: strawberry.Private[str]
    mention_ids: strawberry.Private[tuple[str, ...]]

    @strawberry.field
    async def author(self, info: Info) -> AccountType:
        return await author_of(info, self.author_id)

    @strawberry.field(description="The traders the body mentions (linked mentions only)")
    async def mentions(self, info: Info) -> list[AccountType]:
        from socialtrading.graphql.accounts.types import Account

        rows = await info.context.loaders.accounts.load_many(list(self.mention_ids))
        return [Account.from_row(row) for row in rows if row is not None]

    @strawberry.field(description="Whether the caller likes it (false when anonymous)")
    async def viewer_liked(self, info: Info) -> bool:
        viewer = await viewer_key(info)
        return bool(viewer) and await info.context.loaders.social.likes.load((viewer, self.id))

    @strawberry.field(description="Its comments, oldest first; replies name their `replyTo`")
    async def comments(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Comment]:
        size = page_size(first, info.context.services.settings.max_page_size)
        cursor = int_cursor(COMMENT_CURSOR, after)
        rows = await info.context.services.read(
            queries.comments_of,
            str(self.id),
            viewer=await viewer_key(info) or None,
            first=size + 1,
            after=cursor,
        )
        return paginate(rows, size, COMMENT_CURSOR, lambda row: row.cursor, Comment.from_row)

    @classmethod
    def from_row(cls, row: PostRow) -> Post:
        """The GraphQL view of a read-model row."""
        position = row.position
        return cls(
            id=strawberry.ID(row.id),
            body=row.body,
            market=row.market,
            sentiment=Sentiment(row.sentiment),
            cashtags=list(row.cashtags),
            trades=[VerifiedTrade.from_row(trade) for trade in row.trades],
            disclosed_position=None
            if position is None or row.market is None
            else DisclosedPosition(
                market=row.market,
                quantity=position.quantity,
                average_entry_price=position.average_entry,
            ),
            like_count=row.like_count,
            comment_count=row.comment_count,
            status=PostStatus(row.status),
            created_at=row.created_at,
            edited_at=row.edited_at,
            author_id=row.author,
            mention_ids=row.mentions,
        )


@strawberry.type(description="A comment on a post, or a reply to one of its comments")
class Comment:
    id: strawberry.ID
    body: str
    status: PostStatus
    created_at: datetime
    author_id: strawberry.Private[str]
    post_id: strawberry.Private[str]
    reply_to_id: strawberry.Private[str | None]

    @strawberry.field
    async def author(self, info: Info) -> AccountType:
        return await author_of(info, self.author_id)

    @strawberry.field(description="The post commented on (null if the caller may not read it)")
    async def post(self, info: Info) -> Post | None:
        return await load_post(info, self.post_id)

    @strawberry.field(description="The comment this one answers, if any (and readable)")
    async def reply_to(self, info: Info) -> Comment | None:
        return None if self.reply_to_id is None else await load_comment(info, self.reply_to_id)

    @classmethod
    def from_row(cls, row: CommentRow) -> Comment:
        """The GraphQL view of a read-model row."""
        return cls(
            id=strawberry.ID(row.id),
            body=row.body,
            status=PostStatus(row.status),
            created_at=row.created_at,
            author_id=row.author,
            post_id=row.post,
            reply_to_id=row.reply_to,
        )


@strawberry.type(description="Something that happened to the caller: a follower, a like...")
class Notification:
    id: strawberry.ID = strawberry.field(
        description="Its number (1, 2, ... per account): what `markNotificationsRead` takes"
    )
    kind: NotificationKind
    created_at: datetime
    read: bool
    actor_id: strawberry.Private[str]
    post_id: strawberry.Private[str | None]
    comment_id: strawberry.Private[str | None]

    @strawberry.field(description="Who followed, liked, commented, replied or mentioned")
    async def actor(self, info: Info) -> AccountType | None:
        return await load_account(info, self.actor_id)

    @strawberry.field
    async def post(self, info: Info) -> Post | None:
        return None if self.post_id is None else await load_post(info, self.post_id)

    @strawberry.field
    async def comment(self, info: Info) -> Comment | None:
        return None if self.comment_id is None else await load_comment(info, self.comment_id)

    @classmethod
    def from_row(cls, row: NotificationRow) -> Notification:
        """The GraphQL view of a read-model row."""
        return cls(
            id=strawberry.ID(str(row.number)),
            kind=NotificationKind(row.kind),
            created_at=row.created_at,
            read=row.read,
            actor_id=row.actor,
            post_id=row.post,
            comment_id=row.comment,
        )


@strawberry.type(description="An open report of a post or comment, for moderators")
class Report:
    id: strawberry.ID
    reason: str
    created_at: datetime
    reporter_id: strawberry.Private[str]
    post_id: strawberry.Private[str]
    comment_id: strawberry.Private[str | None]

    @strawberry.field
    async def reporter(self, info: Info) -> AccountType | None:
        return await load_account(info, self.reporter_id)

    @strawberry.field(description="The post reported, or the post of the comment reported")
    async def post(self, info: Info) -> Post | None:
        return await load_post(info, self.post_id)

    @strawberry.field(description="The comment reported, if it is a comment")
    async def comment(self, info: Info) -> Comment | None:
        return None if self.comment_id is None else await load_comment(info, self.comment_id)

    @classmethod
    def from_row(cls, row: ReportRow) -> Report:
        """The GraphQL view of a read-model row."""
        return cls(
            id=strawberry.ID(row.id),
            reason=row.reason,
            created_at=row.created_at,
            reporter_id=row.reporter,
            post_id=row.post,
            comment_id=row.comment,
        )


@strawberry.type(description="A cashtag of recent posts")
class TrendingTag:
    tag: str = strawberry.field(description="Upper case, without `$`")
    posts: int
    authors: int

    @classmethod
    def from_row(cls, row: TrendingRow) -> TrendingTag:
        """The GraphQL view of a read-model row."""
        return cls(tag=row.tag, posts=row.posts, authors=row.authors)


@strawberry.type(description="What the posts about a market say, weighted by verified results")
class MarketSentiment:
    market: str
    window: int = strawberry.field(description="The hours looked back")
    bullish: int
    bearish: int
    neutral: int
    score: float = strawberry.field(
        description=(
            "In [-1, 1]: the posts' sentiments (+1, -1, 0), each weighted by its author's "
            "realized PnL in the market over the window (docs/graphql.md); 0 without posts"
        )
    )

    @classmethod
    def from_row(cls, row: SentimentRow) -> MarketSentiment:
        """The GraphQL view of a read-model row."""
        return cls(
            market=row.market,
            window=row.hours,
            bullish=row.bullish,
            bearish=row.bearish,
            neutral=row.neutral,
            score=row.score,
        )


@strawberry.type(description="One side of a trade: what an account bought or sold")
class Fill:
    id: strawberry.ID
    trade_id: str = strawberry.field(description="`MARKET:SEQ`: what a post attaches")
    market: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    liquidity: Liquidity
    order_id: strawberry.ID
    executed_at: datetime

    @classmethod
    def from_row(cls, row: FillRow) -> Fill:
        """The GraphQL view of a read-model row."""
        return cls(
            id=strawberry.ID(row.id),
            trade_id=row.trade_id,
            market=row.market,
            side=Side(row.side),
            price=row.price,
            quantity=row.quantity,
            fee=row.fee,
            fee_asset=row.fee_asset,
            liquidity=Liquidity(row.liquidity),
            order_id=strawberry.ID(row.order_id),
            executed_at=row.executed_at,
        )


def fill_cursor(cursor: str | None) -> tuple[int, int, str] | None:
    """The key inside a fill cursor: (log position, trade seq, liquidity)."""
    value = decode_cursor(FILL_CURSOR, cursor)
    if value is None:
        return None
    parts = value.split(":")
    if (
        len(parts) == 3
        and all(part.isascii() and part.isdigit() for part in parts[:2])
        and all(int(part) <= MAX_INT_CURSOR for part in parts[:2])
        and parts[2] in ("MAKER", "TAKER")
    ):
        return int(parts[0]), int(parts[1]), parts[2]
    raise ApiError("BAD_CURSOR", "`after` is not a cursor this field gave out")


def _fill_key(row: FillRow) -> str:
    position, seq, liquidity = row.cursor
    return f"{position}:{seq}:{liquidity}"


@strawberry.type
class SocialAccount:
    """The social fields of `Account` (its base class)."""

    id: strawberry.ID
    registered_name: strawberry.Private[str]

    @strawberry.field(description="The profile's display name")
    async def display_name(self, info: Info) -> str:
        profile = await info.context.loaders.social.profiles.load(self.id)
        return self.registered_name if profile is None else profile.display_name

    @strawberry.field(description="Up to 280 characters")
    async def bio(self, info: Info) -> str:
        profile = await info.context.loaders.social.profiles.load(self.id)
        return "" if profile is None else profile.bio

    @strawberry.field(description="An https URL, or null")
    async def avatar_url(self, info: Info) -> str | None:
        profile = await info.context.loaders.social.profiles.load(self.id)
        return None if profile is None else profile.avatar_url

    @strawberry.field
    async def follower_count(self, info: Info) -> int:
        profile = await info.context.loaders.social.profiles.load(self.id)
        return 0 if profile is None else profile.follower_count

    @strawberry.field
    async def following_count(self, info: Info) -> int:
        profile = await info.context.loaders.social.profiles.load(self.id)
        return 0 if profile is None else profile.following_count

    @strawberry.field(description="Visible posts")
    async def post_count(self, info: Info) -> int:
        profile = await info.context.loaders.social.profiles.load(self.id)
        return 0 if profile is None else profile.post_count

    @strawberry.field(description="Whether the caller follows this account (false when anonymous)")
    async def viewer_follows(self, info: Info) -> bool:
        viewer = await viewer_key(info)
        return bool(viewer) and await info.context.loaders.social.follows.load((viewer, self.id))

    @strawberry.field(description="Who follows this account, most recent follow first")
    async def followers(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[AccountType]:
        return await _follow_page(info, queries.followers, str(self.id), first, after)

    @strawberry.field(description="Whom this account follows, most recent follow first")
    async def following(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[AccountType]:
        return await _follow_page(info, queries.following, str(self.id), first, after)

    @strawberry.field(description="This account's posts, newest first")
    async def posts(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Post]:
        size = page_size(first, info.context.services.settings.max_page_size)
        cursor = int_cursor(POST_CURSOR, after)
        rows = await info.context.services.read(
            queries.posts_page,
            viewer=await viewer_key(info) or None,
            author=str(self.id),
            first=size + 1,
            after=cursor,
        )
        return paginate(rows, size, POST_CURSOR, lambda row: row.cursor, Post.from_row)

    @strawberry.field(
        extensions=requires(IsOwnerOrStaff),
        description="Private; every fill of the account, newest first",
    )
    async def fills(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Fill]:
        size = page_size(first, info.context.services.settings.max_page_size)
        cursor = fill_cursor(after)
        rows = await info.context.services.read(
            fills.fills_of, str(self.id), first=size + 1, after=cursor
        )
        return paginate(rows, size, FILL_CURSOR, _fill_key, Fill.from_row)


async def _follow_page(
    info: Info,
    query: Callable[..., list[FollowRow]],
    account: str,
    first: int | None,
    after: str | None,
) -> Connection[Account]:
    from socialtrading.graphql.accounts.types import Account

    size = page_size(first, info.context.services.settings.max_page_size)
    cursor = int_cursor(FOLLOW_CURSOR, after)
    rows: list[FollowRow] = await info.context.services.read(
        query,
        account,
        first=size + 1,
        after=cursor,
    )
    found = await info.context.loaders.accounts.load_many([row.account_id for row in rows])
    accounts = {row.id: row for row in found if row is not None}
    present = [row for row in rows if row.account_id in accounts]
    return paginate(
        present,
        size,
        FOLLOW_CURSOR,
        lambda row: row.cursor,
        lambda row: Account.from_row(accounts[row.account_id]),
    )
