"""Live social updates over graphql-transport-ws: the caller's home feed and notifications.

Both are private to the caller, so each subscription listens on its own bus topics (as
`myOrders` does). `feed` reads one inbox of `feed:{viewer}`, `feed-follows:{viewer}` and
`posts:{author}` for each pulled author the viewer follows, joined and left as the follows
change (`live_feed.LiveFeed`); `notifications` listens on `notifications:{viewer}`. Each
completes when the connection's token stops working.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from socialtrading.graphql.context import Info
from socialtrading.graphql.permissions import IsAuthenticated, requires
from socialtrading.graphql.social.live_feed import INBOX_TOPICS, LiveFeed
from socialtrading.graphql.social.types import Notification, Post
from socialtrading.projections.social import feed, queries
from socialtrading.projections.social.rows import NotificationRow


@strawberry.type
class SocialSubscriptions:
    @strawberry.subscription(
        extensions=requires(IsAuthenticated),
        description=(
            "Each new post of your home timeline (the traders you follow); it completes when "
            "the connection's token is revoked or expires"
        ),
    )
    async def feed(self, info: Info) -> AsyncGenerator[Post, None]:
        viewer = await info.context.viewer()
        assert viewer is not None  # IsAuthenticated
        services = info.context.services
        async with services.bus.inbox(INBOX_TOPICS) as inbox:
            live = LiveFeed(inbox, viewer.id)  # joins the viewer's topics before the read
            live.listen(await services.read(feed.pulled_authors, viewer.id))
            while True:
                topic, message = await inbox.get()
                if await info.context.viewer() is None:
                    return
                entries = live.take(topic, message)
                if not entries:
                    continue
                found = await services.read(
                    queries.posts_by_ids, [entry.post for entry in entries], viewer.id
                )
                for entry in entries:
                    row = found.get(entry.post)
                    if row is not None:
                        yield Post.from_row(row)

    @strawberry.subscription(
        extensions=requires(IsAuthenticated),
        description=(
            "Each new notification of yours; it completes when the connection's token is "
            "revoked or expires"
        ),
    )
    async def notifications(self, info: Info) -> AsyncGenerator[Notification, None]:
        viewer = await info.context.viewer()
        assert viewer is not None  # IsAuthenticated
        topic = f"notifications:{viewer.id}"
        async with info.context.services.bus.subscribe(topic) as queue:
            while True:
                rows: list[NotificationRow] = await queue.get()
                if await info.context.viewer() is None:
                    return
                for row in rows:
                    yield Notification.from_row(row)
