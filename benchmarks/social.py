"""The social layer on SQLite: home feed reads, posts and likes through the writer, and a post
by a trader with many followers.

    python benchmarks/social.py            # the full sizes below (several minutes)
    python benchmarks/social.py --quick    # a small smoke run (seconds)

Prints one JSON object:

- `feed`: `home_feed` (the real query) over a read store holding 1,000,000 posts by 10,000
  authors. `following_500`: a viewer following 500 pushed authors; `following_pulled`: a
  viewer following a trader with 100,000 followers (so pulled) and 499 pushed authors. For
  each, p50/p99 ms of the first page of 20 and of the next page (each read opens a pooled
  connection, as a request does). The rows are bulk-loaded (`feed_rows_of` computes what
  `FeedProjection` writes for the same events); `sample_rows_checked` rows of a small world
  built through the real writer and projections were found equal to what `feed_rows_of`
  gives for that world's log. `raw_page_p50_ms`: a plain sqlite3 query of one page of the
  viewer's rows (the floor); `pushed_fan_out_seconds`: what writing the 100,000-follower
  trader's post into every follower's rows would cost (the INSERT ... SELECT, rolled back).
- `write`: through the single writer (acknowledged, group committed) with every projection
  following: `posts_per_sec` and `likes_per_sec` (first likes: each a new Like aggregate),
  and `*_lag_seconds`, from the last acknowledgement until the projections have applied
  everything; `*_writer_cpu_us`, the writer thread's CPU time per command (steadier than
  the rates on a shared machine). `raw_rows_per_sec`: plain SQLite inserts of event-shaped
  rows, 100 per transaction, on the same disk (as `write_path.py`).
- `celebrity_post`: one post by a trader with 100,000 followers, from its submission (and
  from its commit) until every read model, the feed's included, has applied it.
- `targets`: the issue's targets beside the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple
from uuid import UUID

from sqlalchemy import Connection, Engine, Table, select, text

from socialtrading.commands.models import Command, RegisterTrader
from socialtrading.commands.social import Follow, LikePost, PublishPost, subject_of
from socialtrading.commands.writer import Ack, Writer
from socialtrading.domain.account import Account
from socialtrading.domain.ids import account_id
from socialtrading.domain.social.post import Post, post_id
from socialtrading.infra.collector import tune_collector
from socialtrading.infra.readstore import open_read_store
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import open_store
from socialtrading.projections.base import Item, Projection, metadata
from socialtrading.projections.registry import all_projections
from socialtrading.projections.runner import ProjectionRunner
from socialtrading.projections.social.feed import (
    FeedProjection,
    feed_authors,
    feed_follows,
    feed_posts,
    feed_rows,
    home_feed,
)

PAGE = 20
FOLLOW, POST = "follow", "post"


class Sizes(NamedTuple):
    posts: int  # feed: posts in the read store
    authors: int  # feed: their authors (author 0 is the trader with many followers)
    celebrity_followers: int  # feed and writer: that trader's followers
    background: int  # feed: of those followers, how many also follow one pushed author
    reads: int  # feed: timed reads per case
    traders: int  # writer: accounts that post and like
    follows_each: int  # writer: how many of the others each of them follows
    write_posts: int
    write_likes: int
    threshold: int  # the feed's pull threshold


FULL = Sizes(1_000_000, 10_000, 100_000, 10_000, 2_000, 2_000, 20, 20_000, 40_000, 5_000)
QUICK = Sizes(20_000, 200, 1_000, 200, 100, 100, 5, 500, 1_000, 100)
SAMPLE = Sizes(3_000, 60, 40, 30, 0, 0, 0, 0, 0, 20)  # built through the real projections


# ---------------------------------------------------------------------- the feed's world


def _author(n: int) -> str:
    return str(account_id(f"au{n}"))


def _follower(n: int) -> str:
    return str(account_id(f"fo{n}"))


VIEWER_A, VIEWER_B = str(account_id("viewer_a")), str(account_id("viewer_b"))


def world_log(sizes: Sizes) -> Iterable[tuple[str, str, str]]:
    """The feed's world as (kind, who, what) in log order: every follow, then every post.

    Author 0 has `celebrity_followers` followers; the first `background` of them also follow
    one other author each; viewer A follows authors 1..500, viewer B author 0 and 1..499
    (fewer when there are fewer authors). Post k is author k mod `authors`'s, id
    `post_id(author, "pk")`.
    """
    others = sizes.authors - 1
    for n in range(sizes.celebrity_followers):
        yield FOLLOW, _follower(n), _author(0)
        if n < sizes.background:
            yield FOLLOW, _follower(n), _author(1 + n % others)
    for n in range(1, 1 + min(500, others)):
        yield FOLLOW, VIEWER_A, _author(n)
    yield FOLLOW, VIEWER_B, _author(0)
    for n in range(1, min(500, others + 1)):
        yield FOLLOW, VIEWER_B, _author(n)
    authors = [account_id(f"au{n}") for n in range(sizes.authors)]
    for k in range(sizes.posts):
        author = authors[k % sizes.authors]
        yield POST, str(author), str(post_id(author, f"p{k}"))


class FeedTables(NamedTuple):
    follows: list[tuple[str, str]]  # (followee, follower)
    authors: list[tuple[str, int, bool]]  # (author, followers, pulled)
    posts: list[tuple[str, int, str]]  # (author, seq, post)
    rows: list[tuple[str, int]]  # (viewer, seq)


def feed_rows_of(log: Iterable[tuple[int, str, str, str]], threshold: int) -> FeedTables:
    """The rows `FeedProjection` writes for a log of (position, kind, who, what) follows and
    posts in which no one follows an author after that author's first post (so no follow
    copies posts; checked)."""
    followers: dict[str, list[str]] = {}
    pulled: set[str] = set()
    posted: set[str] = set()
    tables = FeedTables([], [], [], [])
    for position, kind, who, what in log:
        if kind == FOLLOW:
            if what in posted:
                raise ValueError("a follow after the followee's first post would copy posts")
            tables.follows.append((what, who))
            followers.setdefault(what, []).append(who)
            continue
        posted.add(who)
        theirs = followers.get(who, ())
        if who not in pulled and len(theirs) >= threshold:
            pulled.add(who)
        if who not in pulled:
            tables.rows.extend((viewer, position) for viewer in theirs)
        tables.posts.append((who, position, what))
    tables.authors.extend((a, len(f), a in pulled) for a, f in followers.items())
    return tables


def _bulk_load(path: Path, tables: FeedTables) -> None:
    """Insert the feed's rows into the (empty) tables of the read store at `path`."""
    lite = sqlite3.connect(path, isolation_level=None)
    lite.execute("PRAGMA synchronous=OFF")
    lite.execute("BEGIN")
    for table, rows in (
        (feed_follows, sorted(tables.follows)),
        (feed_authors, tables.authors),
        (feed_posts, sorted(tables.posts)),
        (feed_rows, sorted(tables.rows)),
    ):
        columns = [column.name for column in table.columns]
        lite.executemany(
            f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})",
            rows,
        )
    lite.execute("COMMIT")
    lite.execute("ANALYZE")
    lite.close()


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for table in FeedProjection.tables:
            rows = connection.execute(select(table)).all()
            out[table.name] = sorted(tuple(row) for row in rows)
    return out


def _as_dump(tables: FeedTables) -> dict[str, list[tuple[Any, ...]]]:
    return {
        feed_follows.name: sorted(tables.follows),
        feed_authors.name: sorted(tables.authors),
        feed_posts.name: sorted(tables.posts),
        feed_rows.name: sorted(tables.rows),
    }


class _Recorder(Projection):
    """Notes the follows and posts of the log with their positions (for the sample check)."""

    name: ClassVar[str] = "bench_recorder"
    tables: ClassVar[tuple[Table, ...]] = ()

    def __init__(self) -> None:
        self.log: list[tuple[int, str, str, str]] = []

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        for position, event in items:
            if type(event) is Account.Followed:
                self.log.append((position, FOLLOW, str(event.originator_id), event.target))
            elif type(event) is Post.Published:
                self.log.append((position, POST, event.author, str(event.originator_id)))


def check_sample(workdir: Path) -> int:
    """Build a small feed world through the real writer and projections, and check that
    `feed_rows_of` gives the same rows for its log; return how many rows were compared."""
    settings = Settings(
        store=f"sqlite:///{workdir}/sample-events.db",
        read_store=f"sqlite:///{workdir}/sample-read.db",
    )
    store = open_store(settings)
    engine = open_read_store(settings)
    try:
        with Writer(store, demo_funding=True) as writer:
            handles: dict[str, str] = {}
            for n in range(SAMPLE.authors):
                handles[_author(n)] = f"au{n}"
            for n in range(SAMPLE.celebrity_followers):
                handles[_follower(n)] = f"fo{n}"
            handles[VIEWER_A], handles[VIEWER_B] = "viewer_a", "viewer_b"
            commands: list[Command] = [
                RegisterTrader(command_id="r", handle=handle) for handle in handles.values()
            ]
            for n, (kind, who, what) in enumerate(world_log(SAMPLE)):
                actor = UUID(who)
                if kind == FOLLOW:
                    commands.append(Follow(command_id=f"f{n}", actor=actor, handle=handles[what]))
                else:
                    body = f"idea {n} $BTC"
                    commands.append(PublishPost(command_id=f"p{n}", actor=actor, body=body))
            _submit_all(writer, commands, 2_000)
        recorder = _Recorder()
        projections = [FeedProjection(pull_threshold=SAMPLE.threshold), recorder]
        runner = ProjectionRunner(store, engine, projections)
        runner.setup()
        runner.catch_up()
        built = _dump(engine)
        expected = _as_dump(feed_rows_of(recorder.log, SAMPLE.threshold))
        if built != expected:
            raise AssertionError("the bulk-loaded rows differ from the projection's")
        return sum(len(rows) for rows in built.values())
    finally:
        engine.dispose()
        store.close()


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)

    def at(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000, 3)

    return at(0.50), at(0.99)


def _time_reads(engine: Engine, viewer: str, reads: int) -> dict[str, float]:
    first: list[float] = []
    second: list[float] = []
    for _ in range(reads):
        started = time.perf_counter()
        with engine.connect() as connection:
            page = home_feed(connection, viewer, first=PAGE)
        middle = time.perf_counter()
        with engine.connect() as connection:
            following = home_feed(connection, viewer, first=PAGE, after=page[-1].cursor)
        ended = time.perf_counter()
        assert len(page) == PAGE and len(following) == PAGE, (len(page), len(following))
        first.append(middle - started)
        second.append(ended - middle)
    p50, p99 = _percentiles(first)
    n50, n99 = _percentiles(second)
    return {
        "first_page_p50_ms": p50,
        "first_page_p99_ms": p99,
        "next_page_p50_ms": n50,
        "next_page_p99_ms": n99,
    }


def bench_feed(sizes: Sizes, workdir: Path) -> dict[str, Any]:
    sample_rows = check_sample(workdir)
    started = time.perf_counter()
    counter = iter(range(1, 1 << 62))
    log = ((next(counter), *item) for item in world_log(sizes))
    tables = feed_rows_of(log, sizes.threshold)
    settings = Settings(
        store=f"sqlite:///{workdir}/feed-events.db", read_store=f"sqlite:///{workdir}/feed.db"
    )
    engine = open_read_store(settings)
    try:
        metadata.create_all(engine, tables=list(FeedProjection.tables))
        engine.dispose()
        _bulk_load(workdir / "feed.db", tables)
        loaded = time.perf_counter() - started
        counts = {"feed_rows": len(tables.rows), "posts": len(tables.posts)}
        del tables
        result: dict[str, Any] = {
            "posts": counts["posts"],
            "authors": sizes.authors,
            "feed_rows": counts["feed_rows"],
            "pulled_author_followers": sizes.celebrity_followers,
            "load_seconds": round(loaded, 1),
            "sample_rows_checked": sample_rows,
        }
        for viewer in (VIEWER_A, VIEWER_B):  # warm the pages once
            _time_reads(engine, viewer, 3)
        result["following_500"] = _time_reads(engine, VIEWER_A, sizes.reads)
        result["following_pulled"] = _time_reads(engine, VIEWER_B, sizes.reads)
        result["raw_page_p50_ms"] = _raw_page(workdir / "feed.db", VIEWER_A, sizes.reads)
        with engine.connect() as connection:
            transaction = connection.begin()
            began = time.perf_counter()
            connection.execute(
                text(
                    "INSERT INTO social_feed_rows (viewer, seq) "
                    "SELECT follower, :seq FROM social_feed_follows "
                    "WHERE followee = :author"
                ),
                {"seq": 1 << 60, "author": _author(0)},
            )
            result["pushed_fan_out_seconds"] = round(time.perf_counter() - began, 3)
            transaction.rollback()
        return result
    finally:
        engine.dispose()


def _raw_page(path: Path, viewer: str, reads: int) -> float:
    lite = sqlite3.connect(path)
    statement = (
        "SELECT r.seq, p.post, p.author FROM social_feed_rows AS r "
        "JOIN social_feed_posts AS p ON p.seq = r.seq "
        "WHERE r.viewer = ? ORDER BY r.seq DESC LIMIT 20"
    )
    took = []
    for _ in range(reads):
        began = time.perf_counter()
        rows = lite.execute(statement, (viewer,)).fetchall()
        took.append(time.perf_counter() - began)
        assert len(rows) == PAGE
    lite.close()
    return _percentiles(took)[0]


# ---------------------------------------------------------------------- through the writer


def _submit_all(writer: Writer, commands: Sequence[Command], in_flight: int) -> list[Ack]:
    """Submit with at most `in_flight` unacknowledged; return the acknowledgements (each
    command was accepted)."""
    acks: list[Ack] = []
    for index, command in enumerate(commands):
        if index >= in_flight:
            acks[index - in_flight].result()
        acks.append(writer.submit(command))
    for ack in acks[-in_flight:]:
        ack.result()
    for ack in acks:
        outcome = ack.result()
        if not outcome.accepted:
            raise AssertionError(f"refused: {outcome}")
    return acks


def _burst(
    writer: Writer, runner: ProjectionRunner, commands: Sequence[Command]
) -> tuple[float, float, float]:
    """(commands per second, seconds from the last acknowledgement until the projections
    have applied everything, the writer thread's CPU µs per command)."""
    began, cpu = time.perf_counter(), writer.cpu_seconds()
    acks = _submit_all(writer, commands, 4_000)
    done, cpu = time.perf_counter(), writer.cpu_seconds() - cpu
    head = max(ack.result().position for ack in acks)
    if not runner.wait_for(head, 600):
        raise AssertionError(f"the projections did not catch up: {runner.error}")
    return len(commands) / (done - began), time.perf_counter() - done, cpu / len(commands) * 1e6


def bench_write(sizes: Sizes, workdir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    settings = Settings(
        store=f"sqlite:///{workdir}/events.db", read_store=f"sqlite:///{workdir}/read.db"
    )
    raw = _raw_rows_per_sec(workdir / "raw.db", 100_000 if sizes is FULL else 10_000)
    store = open_store(settings)
    engine = open_read_store(settings)
    writer = Writer(
        store,
        batch_max=settings.batch_max,
        batch_ms=settings.batch_ms,
        snapshot_interval=settings.snapshot_interval,
        demo_funding=True,
    ).start()
    runner = ProjectionRunner(store, engine, all_projections(None, sizes.threshold))
    runner.setup()
    runner.start()
    writer.add_listener(runner.wake)
    try:
        # celeb is followed by fo0..; the first `traders` of them post, like, follow each other
        setup: list[Command] = [RegisterTrader(command_id="r", handle="celeb")]
        followers = max(sizes.celebrity_followers, sizes.traders)
        setup += [RegisterTrader(command_id="r", handle=f"fo{n}") for n in range(followers)]
        setup += [
            Follow(command_id="follow-c0", actor=account_id(f"fo{n}"), handle="celeb")
            for n in range(followers)
        ]
        for n in range(sizes.traders):
            for step in range(1, sizes.follows_each + 1):
                other = (n + step * 7) % sizes.traders
                if other != n:
                    setup.append(
                        Follow(
                            command_id=f"follow-{other}",
                            actor=account_id(f"fo{n}"),
                            handle=f"fo{other}",
                        )
                    )
        began = time.perf_counter()
        _burst(writer, runner, setup)
        setup_seconds = time.perf_counter() - began

        posts: list[Command] = [
            PublishPost(
                command_id=f"p{k}",
                actor=account_id(f"fo{k % sizes.traders}"),
                body=f"idea {k}: long $BTC, short $ETH",
                sentiment="BULLISH",
            )
            for k in range(sizes.write_posts)
        ]
        post_ids = [subject_of(command) for command in posts]
        posts_per_sec, posts_lag, posts_cpu = _burst(writer, runner, posts)
        likes: list[Command] = []
        for n in range(sizes.write_likes):
            liker = n % sizes.traders
            post = post_ids[(n // sizes.traders + liker * 13) % len(post_ids)]
            assert post is not None
            likes.append(LikePost(command_id=f"l{n}", actor=account_id(f"fo{liker}"), post_id=post))
        likes_per_sec, likes_lag, likes_cpu = _burst(writer, runner, likes)
        write = {
            "traders": sizes.traders,
            "accounts": followers + 1,
            "setup_commands": len(setup),
            "setup_seconds": round(setup_seconds, 1),
            "posts": len(posts),
            "posts_per_sec": round(posts_per_sec),
            "posts_lag_seconds": round(posts_lag, 3),
            "posts_writer_cpu_us": round(posts_cpu, 1),
            "likes": len(likes),
            "likes_per_sec": round(likes_per_sec),
            "likes_lag_seconds": round(likes_lag, 3),
            "likes_writer_cpu_us": round(likes_cpu, 1),
            "raw_rows_per_sec": round(raw),
        }

        big = PublishPost(command_id="big", actor=account_id("celeb"), body="$BTC to the moon")
        submitted = time.perf_counter()
        outcome = writer.submit(big).result()
        committed = time.perf_counter()
        assert outcome.accepted, outcome
        if not runner.wait_for(outcome.position, 60):
            raise AssertionError(f"the projections did not catch up: {runner.error}")
        absorbed = time.perf_counter()
        with engine.connect() as connection:
            seen = home_feed(connection, str(account_id("fo0")), first=1)
        assert seen and seen[0].post == str(subject_of(big)), seen
        celebrity = {
            "followers": followers,
            "absorbed_seconds": round(absorbed - submitted, 3),
            "absorbed_after_commit_seconds": round(absorbed - committed, 3),
        }
        return write, celebrity
    finally:
        runner.stop()
        writer.stop()
        engine.dispose()
        store.close()


def _raw_rows_per_sec(path: Path, rows: int) -> float:
    """Plain INSERTs of event-shaped rows, 100 per transaction (as `write_path.py`)."""
    payload = b"x" * 300
    lite = sqlite3.connect(path, isolation_level=None)
    lite.execute("PRAGMA journal_mode=WAL")
    lite.execute(
        "CREATE TABLE scratch_events (originator_id TEXT, originator_version INTEGER, "
        "topic TEXT, state BLOB, notification_id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "UNIQUE (originator_id, originator_version))"
    )
    rng = random.Random(1)
    batches = [
        [
            (
                f"{rng.getrandbits(128):032x}",
                1,
                "socialtrading.domain.social.like:Like.Liked",
                payload,
            )
            for _ in range(100)
        ]
        for _ in range(rows // 100)
    ]
    started = time.perf_counter()
    for batch in batches:
        lite.execute("BEGIN")
        lite.executemany(
            "INSERT INTO scratch_events (originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?)",
            batch,
        )
        lite.execute("COMMIT")
    elapsed = time.perf_counter() - started
    lite.close()
    return rows / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", choices=("feed", "write"), help="run one part")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    tune_collector()  # as the server does
    workdir = Path(tempfile.mkdtemp(prefix="social_bench_"))
    try:
        result: dict[str, Any] = {"quick": args.quick, "store": "sqlite"}
        if args.only in (None, "feed"):
            result["feed"] = bench_feed(sizes, workdir)
        if args.only in (None, "write"):
            result["write"], result["celebrity_post"] = bench_write(sizes, workdir)
        result["targets"] = {
            "feed_p99_ms": 25,
            "posts_per_sec": 5_000,
            "likes_per_sec": 10_000,
            "lag_seconds": 2,
            "celebrity_post_seconds": 1,
        }
        print(json.dumps(result))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
