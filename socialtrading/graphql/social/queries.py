"""Posts, the home feed, trending cashtags, notifications, the moderation queue and market
sentiment."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import strawberry
from sqlalchemy import Connection as Db

from socialtrading.domain.time import to_micros
from socialtrading.graphql.context import Info
from socialtrading.graphql.errors import ApiError, clip
from socialtrading.graphql.pagination import Connection, int_cursor, page_size, paginate
from socialtrading.graphql.permissions import IsAuthenticated, requires
from socialtrading.graphql.social.permissions import IsModerator
from socialtrading.graphql.social.types import (
    POST_CURSOR,
    MarketSentiment,
    Notification,
    Post,
    Report,
    TrendingTag,
    load_post,
    viewer_key,
)
from socialtrading.projections import accounts
from socialtrading.projections.social import feed, queries, sentiment
from socialtrading.projections.social.rows import PostRow

FEED_CURSOR = "feed"
NOTIFICATION_CURSOR = "notification"
REPORT_CURSOR = "report"
MAX_HOURS = 720  # 30 days: the longest window of `trending` and `marketSentiment`


def window(hours: int) -> int:
    """`hours`, checked to lie within 1..MAX_HOURS."""
    if not 1 <= hours <= MAX_HOURS:
        raise ApiError("HOURS", f"`hours` must be between 1 and {MAX_HOURS}")
    return hours


def _now() -> int:
    return to_micros(datetime.now(UTC))  # the read side may use the wall clock


def _home_feed(db: Db, viewer: str, first: int, after: int | None) -> tuple[int, list[PostRow]]:
    """The feed entries' count and the posts of them the viewer may read, newest first."""
    entries = feed.home_feed(db, viewer, first=first, after=after)
    found = queries.posts_by_ids(db, [entry.post for entry in entries], viewer)
    rows = [found[entry.post] for entry in entries if entry.post in found]
    return len(entries), rows


def _posts(
    db: Db,
    viewer: str | None,
    author: str | None,
    market: str | None,
    cashtag: str | None,
    first: int,
    after: int | None,
) -> list[PostRow]:
    author_id = None
    if author is not None:
        row = accounts.account_by_handle(db, author.removeprefix("@"))
        if row is None:
            return []
        author_id = row.id
    return queries.posts_page(
        db,
        viewer=viewer,
        author=author_id,
        market=market,
        cashtag=cashtag,
        first=first,
        after=after,
    )


@strawberry.type
class SocialQueries:
    @strawberry.field(description="A post by id, or null (unknown, deleted, or hidden from you)")
    async def post(self, info: Info, id: strawberry.ID) -> Post | None:
        try:
            UUID(str(id))
        except ValueError:
            return None
        return await load_post(info, str(UUID(str(id))))

    @strawberry.field(
        extensions=requires(IsAuthenticated),
        description="Your home timeline: the posts of the traders you follow, newest first",
    )
    async def feed(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Post]:
        size = page_size(first, info.context.services.settings.max_page_size)
        cursor = int_cursor(FEED_CURSOR, after)
        viewer = await viewer_key(info)
        fetched, rows = await info.context.services.read(_home_feed, viewer, size + 1, cursor)
        page = paginate(rows, size, FEED_CURSOR, lambda row: row.cursor, Post.from_row)
        # an entry the viewer may not read (hidden since) still counts for the next page
        page.page_info.has_next_page = fetched > size
        return page

    @strawberry.field(
        description=(
            "Posts newest first, optionally by one author (handle), about one market, or "
            "tagged with one cashtag (`BTC` or `$BTC`)"
        )
    )
    async def posts(
        self,
        info: Info,
        author: str | None = None,
        market: str | None = None,
        cashtag: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Post]:
        size = page_size(first, info.context.services.settings.max_page_size)
        cursor = int_cursor(POST_CURSOR, after)
        for name, value in (("author", author), ("market", market), ("cashtag", cashtag)):
            if value is not None and len(value) > 64:
                raise ApiError("BAD_USER_INPUT", f"`{name}` is too long: {clip(value, 16)}")
        rows = await info.context.services.read(
            _posts, await viewer_key(info) or None, author, market, cashtag, size + 1, cursor
        )
        return paginate(rows, size, POST_CURSOR, lambda row: row.cursor, Post.from_row)

    @strawberry.field(
        description="The cashtags of the last `hours` (1 to 720): most posts first, then authors"
    )
    async def trending(self, info: Info, hours: int = 24, first: int = 10) -> list[TrendingTag]:
        size = page_size(first, info.context.services.settings.max_page_size)
        rows = await info.context.services.read(
            queries.trending, hours=window(hours), first=size, now=_now()
        )
        return [TrendingTag.from_row(row) for row in rows]

    @strawberry.field(
        extensions=requires(IsAuthenticated),
        description="Your notifications, newest first",
    )
    async def notifications(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        unread_only: bool = False,
    ) -> Connection[Notification]:
        size = page_size(first, info.context.services.settings.max_page_size)
        cursor = int_cursor(NOTIFICATION_CURSOR, after)
        rows = await info.context.services.read(
            queries.notifications_of,
            await viewer_key(info),
            first=size + 1,
            after=cursor,
            unread_only=unread_only,
        )
        return paginate(
            rows, size, NOTIFICATION_CURSOR, lambda row: row.number, Notification.from_row
        )

    @strawberry.field(
        extensions=requires(IsAuthenticated),
        description="How many of your notifications are unread",
    )
    async def unread_notifications(self, info: Info) -> int:
        return await info.context.services.read(queries.unread_count, await viewer_key(info))

    @strawberry.field(
        extensions=requires(IsAuthenticated, IsModerator),
        description="Open reports, oldest first (admins, compliance, moderators)",
    )
    async def moderation_queue(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Report]:
        size = page_size(first, info.context.services.settings.max_page_size)
        cursor = int_cursor(REPORT_CURSOR, after)
        rows = await info.context.services.read(
            queries.moderation_queue, first=size + 1, after=cursor
        )
        return paginate(rows, size, REPORT_CURSOR, lambda row: row.cursor, Report.from_row)

    @strawberry.field(
        description=(
            "The posts about a market in the last `hours` (1 to 720): counts by sentiment and "
            "a score weighted by each author's verified results"
        )
    )
    async def market_sentiment(self, info: Info, market: str, hours: int = 24) -> MarketSentiment:
        services = info.context.services
        hours = window(hours)
        if not await services.read(services.is_listed, market):
            raise ApiError("UNKNOWN_MARKET", f"no market {clip(market)}")
        row = await services.read(sentiment.market_sentiment, market, hours=hours, now=_now())
        return MarketSentiment.from_row(row)
