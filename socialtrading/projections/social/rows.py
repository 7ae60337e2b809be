"""What the social read models' queries return: plain immutable rows.

Times are aware UTC datetimes, amounts exact Decimals. `cursor` fields are what a page's
`after` takes to continue past that row (a log position: larger is newer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class ProfileRow:
    account_id: str
    display_name: str
    bio: str
    avatar_url: str | None
    follower_count: int
    following_count: int
    post_count: int  # visible posts
    notifications_read: int  # the newest notification number marked read


@dataclass(frozen=True, slots=True)
class FollowRow:
    account_id: str  # the follower (in `followers`) or the followed (in `following`)
    since: datetime
    cursor: int


@dataclass(frozen=True, slots=True)
class PostTradeRow:
    trade_id: str  # "SYMBOL:SEQ"
    market: str
    side: str  # the author's: buy | sell
    price: Decimal
    quantity: Decimal
    executed_at: datetime


@dataclass(frozen=True, slots=True)
class DisclosedPosition:
    quantity: Decimal  # signed base quantity: > 0 long, < 0 short
    average_entry: Decimal | None


@dataclass(frozen=True, slots=True)
class PostRow:
    id: str
    author: str
    body: str
    market: str | None
    sentiment: str  # BULLISH | BEARISH | NEUTRAL
    cashtags: tuple[str, ...]
    mentions: tuple[str, ...]  # account ids, linked mentions only
    trades: tuple[PostTradeRow, ...]
    position: DisclosedPosition | None
    status: str  # VISIBLE | HIDDEN
    like_count: int
    comment_count: int
    created_at: datetime
    edited_at: datetime | None
    cursor: int  # the log position of its publication


@dataclass(frozen=True, slots=True)
class CommentRow:
    id: str
    post: str
    author: str
    body: str
    reply_to: str | None
    mentions: tuple[str, ...]
    status: str  # VISIBLE | HIDDEN
    created_at: datetime
    cursor: int


@dataclass(frozen=True, slots=True)
class NotificationRow:
    account_id: str
    number: int  # the n-th notification of the account: its cursor, and what `up_to` names
    kind: str  # FOLLOW | LIKE | COMMENT | REPLY | MENTION
    actor: str
    post: str | None
    comment: str | None
    created_at: datetime
    read: bool


@dataclass(frozen=True, slots=True)
class ReportRow:
    id: str
    reporter: str
    post: str
    comment: str | None
    reason: str
    created_at: datetime
    cursor: int


@dataclass(frozen=True, slots=True)
class TrendingRow:
    tag: str
    posts: int
    authors: int


@dataclass(frozen=True, slots=True)
class FeedEntry:
    post: str
    author: str
    cursor: int  # the post's log position


@dataclass(frozen=True, slots=True)
class PulledFollow:
    """A change, at log position `position`, of the pulled authors a viewer follows (whose
    posts are merged at read time): the viewer starts (`follows`) or stops following
    `author`, or `author` became pulled while followed (`position` is then the post that
    crossed the threshold)."""

    author: str
    position: int
    follows: bool


@dataclass(frozen=True, slots=True)
class FillRow:
    id: str  # "SYMBOL:SEQ:T" (taker) or "SYMBOL:SEQ:M" (maker)
    trade_id: str  # "SYMBOL:SEQ"
    account_id: str
    market: str
    side: str  # buy | sell
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    liquidity: str  # MAKER | TAKER
    order_id: str
    executed_at: datetime
    cursor: tuple[int, int, str]  # (log position of the market event, trade seq, liquidity)


@dataclass(frozen=True, slots=True)
class SentimentRow:
    market: str
    hours: int
    bullish: int
    bearish: int
    neutral: int
    score: float  # in [-1, 1]; 0 when there is no post
