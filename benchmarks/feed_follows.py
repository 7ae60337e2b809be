"""What telling live feed subscriptions costs when a followed trader crosses the pull threshold.

    python benchmarks/feed_follows.py                 # 5,000 and 100,000 followers
    python benchmarks/feed_follows.py --quick         # 5,000 only, fewer runs

A SQLite read store (WAL, synchronous NORMAL, as the server's) holds a trader with N
followers, not yet pulled. The crossing post is applied by `FeedProjection` (apply, flush,
commit, publish) with 0, 10 and 1,000 of those followers subscribed (inboxes on
`feed-follows:{viewer}`), and the author reset between runs. Prints one JSON object: per
N, the p50 ms of the crossing batch for each number of subscribers, `told` (the
subscriptions told, which must equal the subscribers), and `raw_all_followers_ms`, a plain
SELECT of every follower of the trader: what telling each
follower would have read at least.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from sqlalchemy import Engine, create_engine, delete, event, select, update

from socialtrading.domain.social.post import NEUTRAL, Post
from socialtrading.infra.bus import Bus
from socialtrading.projections.base import metadata
from socialtrading.projections.social.feed import (
    FeedProjection,
    feed_authors,
    feed_follows,
    feed_posts,
)

STAR = str(uuid5(NAMESPACE_URL, "star"))
THRESHOLD = 5_000


def _viewer(n: int) -> str:
    return str(uuid5(NAMESPACE_URL, f"viewer{n}"))


def _store(path: Path, followers: int) -> Engine:
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:  # as the read store's
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")

    metadata.create_all(engine, tables=list(FeedProjection.tables))
    with engine.begin() as connection:
        rows = [{"followee": STAR, "follower": _viewer(n)} for n in range(followers)]
        connection.execute(feed_follows.insert(), rows)
        connection.execute(
            feed_authors.insert(), {"author": STAR, "followers": followers, "pulled": False}
        )
    return engine


def _crossing(engine: Engine, bus: Bus, runs: int) -> tuple[float, int]:
    """p50 ms of the crossing batch; how many subscriptions were told (last run)."""
    told: list[str] = []
    original = bus.publish

    def publish(topic: str, message: Any) -> None:
        if topic.startswith("feed-follows:"):
            told.append(topic)
        original(topic, message)

    bus.publish = publish  # type: ignore[method-assign]
    times = []
    for run in range(runs):
        with engine.begin() as connection:  # the author as before the crossing
            connection.execute(delete(feed_posts))
            connection.execute(update(feed_authors).values(pulled=False))
        post = Post.publish(
            uuid5(NAMESPACE_URL, f"post{run}"), STAR, "crossing", None, NEUTRAL, [], [], [],
            None, f"c{run}", 1_800_000_000_000_000,
        )  # fmt: skip
        (event,) = post.collect_events()
        projection = FeedProjection(bus, pull_threshold=THRESHOLD)
        told.clear()
        started = time.perf_counter()
        with engine.begin() as connection:
            projection.apply(connection, [(1_000_000 + run, event)])
            projection.flush(connection)
        projection.after_commit()
        times.append((time.perf_counter() - started) * 1000)
    bus.publish = original  # type: ignore[method-assign]
    return statistics.median(times), len(told)


def _raw_all_followers(engine: Engine, runs: int) -> float:
    times = []
    statement = select(feed_follows.c.follower).where(feed_follows.c.followee == STAR)
    for _ in range(runs):
        started = time.perf_counter()
        with engine.connect() as connection:
            found = connection.execute(statement).all()
        times.append((time.perf_counter() - started) * 1000)
        assert found
    return statistics.median(times)


async def _bench(followers: int, runs: int, workdir: Path) -> dict[str, Any]:
    engine = _store(workdir / f"feed{followers}.db", followers)
    result: dict[str, Any] = {}
    try:
        for subscribers in (0, 10, 1_000):
            bus = Bus()
            async with AsyncExitStack() as stack:
                for n in range(0, followers, max(1, followers // max(subscribers, 1)))[
                    :subscribers
                ]:
                    inbox = await stack.enter_async_context(bus.inbox(4))
                    inbox.join(f"feed-follows:{_viewer(n)}")
                ms, told = _crossing(engine, bus, runs)
            assert told == subscribers, (told, subscribers)
            result[f"subscribers_{subscribers}"] = {"crossing_p50_ms": round(ms, 3), "told": told}
        result["raw_all_followers_ms"] = round(_raw_all_followers(engine, runs), 3)
    finally:
        engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 followers, fewer runs")
    args = parser.parse_args()
    sizes = (5_000,) if args.quick else (5_000, 100_000)
    runs = 5 if args.quick else 21
    workdir = Path(tempfile.mkdtemp(prefix="feed_follows_bench_"))
    try:
        result = {f"followers_{n}": asyncio.run(_bench(n, runs, workdir)) for n in sizes}
        print(json.dumps({"store": "sqlite", "runs": runs, **result}))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
