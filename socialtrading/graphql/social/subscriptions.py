"""Live social updates over graphql-transport-ws: the caller's home feed and notifications.

Both are private to the caller, so each subscription listens on its own bus topics (as
`myOrders` does): `feed:{viewer}` (posts fanned out to the viewer's feed rows) and
`posts:{author}` for each pulled author the viewer follows when it starts (their posts are
merged at read time, not fanned out; a follow made later is seen by the next subscription),
and `notifications:{viewer}`. Each completes when the connection's token stops working.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import strawberry

from socialtrading.graphql.context import Info
from socialtrading.graphql.permissions import IsAuthenticated, requires
from socialtrading.graphql.social.types import Notification, Post
from socialtrading.projections.social import feed, queries
from socialtrading.projections.social.rows import FeedEntry, NotificationRow

MAX_PULLED_TOPICS = 1_000  # pulled authors a feed subscription listens to, at most


async def _merged(queues: list[asyncio.Queue[Any]]) -> AsyncIterator[Any]:
    """The messages of several queues, as they come."""
    if len(queues) == 1:
        while True:
            yield await queues[0].get()
    waiting = {asyncio.ensure_future(queue.get()): queue for queue in queues}
    try:
        while True:
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                queue = waiting.pop(task)
                yield task.result()
                waiting[asyncio.ensure_future(queue.get())] = queue
    finally:
        for task in waiting:
            task.cancel()


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
        async with AsyncExitStack() as stack:
            queues = [await stack.enter_async_context(services.bus.subscribe(f"feed:{viewer.id}"))]
            pulled = await services.read(feed.pulled_authors, viewer.id)
            for author in pulled[:MAX_PULLED_TOPICS]:
                topic = f"posts:{author}"
                queues.append(await stack.enter_async_context(services.bus.subscribe(topic)))
            async for entries in _merged(queues):
                if await info.context.viewer() is None:
                    return
                listed: list[FeedEntry] = entries
                found = await services.read(
                    queries.posts_by_ids, [entry.post for entry in listed], viewer.id
                )
                for entry in listed:
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
