"""Social events made by the domain aggregates themselves and saved into a real event store,
for the social read-model tests (the write side's handlers are not needed)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Engine, select

from socialtrading.domain.account import TRADER, Account
from socialtrading.domain.errors import Refused
from socialtrading.domain.ids import account_id
from socialtrading.domain.market import Market
from socialtrading.domain.social import text
from socialtrading.domain.social.comment import Comment, comment_id
from socialtrading.domain.social.like import Like, like_id
from socialtrading.domain.social.post import NEUTRAL, Post, post_id
from socialtrading.domain.social.report import Report, report_id
from socialtrading.engine.book import BUY, LIMIT
from socialtrading.engine.spec import MarketSpec
from socialtrading.infra.store import EventStore
from socialtrading.projections.base import Projection, metadata
from socialtrading.projections.runner import ProjectionRunner
from socialtrading.projections.social.feed import FeedProjection
from socialtrading.projections.social.fills import FillsProjection
from socialtrading.projections.social.projection import SocialProjection
from socialtrading.projections.social.sentiment import TrackRecordsProjection

T0 = 1_800_000_000_000_000  # 2027-01-15T08:00:00Z
HOUR = 3_600_000_000
SOCIAL_TABLE_PREFIX = "social_"


def social_projections(threshold: int = 3, copied: int = 50) -> list[Projection]:
    """The social read models, with a small pull threshold."""
    return [
        SocialProjection(),
        FeedProjection(pull_threshold=threshold, copied=copied),
        FillsProjection(),
        TrackRecordsProjection(),
    ]


def social_dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every social read-model table's rows, sorted."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            if table.name.startswith(SOCIAL_TABLE_PREFIX):
                rows = connection.execute(select(table)).all()
                out[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return out


class World:
    """Accounts, posts, comments, likes and markets, their events saved into `store`."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.now = T0
        self.accounts: dict[str, Account] = {}
        self.posts: dict[str, Post] = {}
        self.comments: dict[str, Comment] = {}
        self.likes: dict[tuple[str, str], Like] = {}
        self.markets: dict[str, Market] = {}
        self._count = 0

    # ------------------------------------------------------------------ helpers

    def cid(self) -> str:
        self._count += 1
        return f"c{self._count}"

    def ts(self) -> int:
        self.now += 1_000
        return self.now

    def id(self, handle: str) -> str:
        return str(self.accounts[handle].id)

    def save(self, *aggregates: Any) -> None:
        self.store.save(*aggregates)

    # ------------------------------------------------------------------ accounts

    def register(self, *handles: str) -> None:
        for handle in handles:
            account = Account.register(
                account_id(handle), handle, handle.title(), [TRADER], self.cid(), self.ts()
            )
            self.accounts[handle] = account
            self.save(account)

    def profile(self, handle: str, name: str, bio: str, avatar: str | None) -> None:
        account = self.accounts[handle]
        account.update_profile(name, bio, avatar, self.cid(), self.ts())
        self.save(account)

    def follow(self, who: str, whom: str) -> bool:
        me, them = self.accounts[who], self.accounts[whom]
        done = me.follow(str(me.id), them, str(them.id), self.cid(), self.ts())
        self.save(me)
        return done

    def unfollow(self, who: str, whom: str) -> bool:
        me = self.accounts[who]
        done = me.unfollow(self.id(whom), self.cid(), self.ts())
        self.save(me)
        return done

    def block(self, who: str, whom: str) -> bool:
        me, them = self.accounts[who], self.accounts[whom]
        done = me.block(str(me.id), them, str(them.id), self.cid(), self.ts())
        self.save(me, them)
        return done

    def unblock(self, who: str, whom: str) -> bool:
        me = self.accounts[who]
        done = me.unblock(self.id(whom), self.cid(), self.ts())
        self.save(me)
        return done

    def read_notifications(self, who: str, up_to: int) -> None:
        account = self.accounts[who]
        account.mark_notifications_read(up_to, self.cid(), self.ts())
        self.save(account)

    # ------------------------------------------------------------------ posts

    def publish(
        self,
        author: str,
        body: str,
        *,
        market: str | None = None,
        sentiment: str = NEUTRAL,
        trades: list[dict[str, Any]] | None = None,
        position: dict[str, Any] | None = None,
        at: int | None = None,
    ) -> str:
        """Publish a post; mentions of known handles are resolved as the writer does."""
        command = self.cid()
        me = self.accounts[author]
        mentions = [self.id(h) for h in text.mentions(body) if h in self.accounts]
        post = Post.publish(
            post_id(me.id, command),
            str(me.id),
            body,
            market,
            sentiment,
            text.cashtags(body),
            mentions,
            trades or [],
            position,
            command,
            self.ts() if at is None else at,
        )
        self.posts[str(post.id)] = post
        self.save(post)
        return str(post.id)

    def edit(self, post: str, body: str, sentiment: str = NEUTRAL) -> None:
        aggregate = self.posts[post]
        mentions = [self.id(h) for h in text.mentions(body) if h in self.accounts]
        aggregate.edit(
            aggregate.author,
            body,
            sentiment,
            text.cashtags(body),
            mentions,
            self.cid(),
            self.ts(),
        )
        self.save(aggregate)

    def delete(self, post: str) -> None:
        aggregate = self.posts[post]
        aggregate.delete(aggregate.author, self.cid(), self.ts())
        self.save(aggregate)

    def hide(self, post: str) -> None:
        aggregate = self.posts[post]
        aggregate.hide(str(uuid4()), "spam", self.cid(), self.ts())
        self.save(aggregate)

    def comment(self, who: str, post: str, body: str, reply_to: str | None = None) -> str:
        command = self.cid()
        me = self.accounts[who]
        mentions = [self.id(h) for h in text.mentions(body) if h in self.accounts]
        comment = Comment.write(
            comment_id(me.id, command),
            post,
            str(me.id),
            body,
            None if reply_to is None else self.comments[reply_to],
            mentions,
            command,
            self.ts(),
        )
        self.comments[str(comment.id)] = comment
        self.save(comment)
        return str(comment.id)

    def hide_comment(self, comment: str) -> None:
        aggregate = self.comments[comment]
        aggregate.hide(str(uuid4()), "rude", self.cid(), self.ts())
        self.save(aggregate)

    def like(self, who: str, post: str) -> bool:
        key = (who, post)
        like = self.likes.get(key)
        if like is None:
            me = self.accounts[who]
            like = Like.give(like_id(UUID(post), me.id), post, str(me.id), self.cid(), self.ts())
            self.likes[key] = like
            self.save(like)
            return True
        done = like.like(self.cid(), self.ts())
        self.save(like)
        return done

    def unlike(self, who: str, post: str) -> bool:
        like = self.likes.get((who, post))
        if like is None:
            return False
        done = like.unlike(self.cid(), self.ts())
        self.save(like)
        return done

    def report(self, who: str, post: str, comment: str | None = None) -> str:
        command = self.cid()
        me = self.accounts[who]
        report = Report.file(
            report_id(me.id, command), str(me.id), post, comment, "spam", command, self.ts()
        )
        self.save(report)
        return str(report.id)

    # ------------------------------------------------------------------ trading

    def list_market(
        self, symbol: str = "BTC-USD", maker_bps: int = 10, taker_bps: int = 20
    ) -> None:
        base, quote = symbol.split("-")
        spec = MarketSpec(symbol, Decimal("0.01"), Decimal("0.001"))
        market = Market.create(
            uuid4(), spec, base, quote, maker_bps, taker_bps, uuid4(), self.cid(), self.ts()
        )
        self.markets[symbol] = market
        self.save(market)

    def order(
        self, who: str, symbol: str, side: str, price: str, qty: str, at: int | None = None
    ) -> list[Any]:
        """Place a limit order (`at`: its time, else the next tick); return its records."""
        market = self.markets[symbol]
        spec = market.spec
        ticks = int(Decimal(price) / spec.tick_size)
        lots = int(Decimal(qty) / spec.lot_size)
        order = f"o{self._count}"
        ts = self.ts() if at is None else at
        self.now = max(self.now, ts)
        records = market.book.submit(ts, order, self.id(who), side, LIMIT, ticks, lots)
        market.record(
            Market.OrderAccepted,
            self.id(who),
            self.cid(),
            order,
            records,
        )
        self.save(market)
        return records

    def trade(
        self, buyer: str, seller: str, symbol: str, price: str, qty: str, at: int | None = None
    ) -> None:
        """The seller rests, the buyer takes: one trade."""
        self.order(seller, symbol, "sell", price, qty, at)
        self.order(buyer, symbol, BUY, price, qty, at)


class Graph:
    """The follows and blocks a world's accounts must have: each change is made through the
    world and checked against this model (a repeat stores nothing, a follow of oneself or
    across a block is refused, a block ends follows both ways)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.follows: set[tuple[str, str]] = set()
        self.blocks: set[tuple[str, str]] = set()

    def blocked(self, a: str, b: str) -> bool:
        return (a, b) in self.blocks or (b, a) in self.blocks

    def follow(self, a: str, b: str) -> None:
        try:
            done = self.world.follow(a, b)
        except Refused:
            assert a == b or self.blocked(a, b)
            return
        assert done == ((a, b) not in self.follows)
        self.follows.add((a, b))

    def unfollow(self, a: str, b: str) -> None:
        assert self.world.unfollow(a, b) == ((a, b) in self.follows)
        self.follows.discard((a, b))

    def block(self, a: str, b: str) -> None:
        try:
            done = self.world.block(a, b)
        except Refused:
            assert a == b
            return
        assert done == ((a, b) not in self.blocks)
        self.blocks.add((a, b))
        self.follows -= {(a, b), (b, a)}

    def unblock(self, a: str, b: str) -> None:
        assert self.world.unblock(a, b) == ((a, b) in self.blocks)
        self.blocks.discard((a, b))


def runner(
    store: EventStore, engine: Engine, projections: list[Projection], **options: Any
) -> ProjectionRunner:
    """A set-up runner of `projections`."""
    options.setdefault("read_size", options.get("batch_size", 20_000))
    options.setdefault("catch_up_batch_size", 3 * options["read_size"])
    made = ProjectionRunner(store, engine, projections, **options)
    made.setup()
    return made
