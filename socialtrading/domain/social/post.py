"""The Post aggregate: a trader's published idea, its edits, its deletion and moderation.

A post is decided once, when it is published: its attached trades (each verified against the
log as one of the author's own fills) and the author's disclosed position in its market are
part of the `Published` event and never change. An edit changes the body and the sentiment
only, within `EDIT_WINDOW_US` of publishing, by the author. Deleting is the author's; hiding
is a moderator's; both are events, so the log keeps everything and the read models forget.
"""

from __future__ import annotations

from typing import Any, Final
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from socialtrading.domain.errors import InvalidCommand, Refused
from socialtrading.domain.ids import NAMESPACE
from socialtrading.domain.time import to_datetime, to_micros

BULLISH: Final = "BULLISH"
BEARISH: Final = "BEARISH"
NEUTRAL: Final = "NEUTRAL"
SENTIMENTS: Final = (BULLISH, BEARISH, NEUTRAL)

MAX_TRADES: Final = 5  # trades one post may attach
EDIT_WINDOW_US: Final = 15 * 60 * 1_000_000  # an author edits within 15 minutes

# A verified trade, as the Published event stores it: trade_id ("BTC-USD:42", the market and
# the trade's sequence number), market, side (the author's: buy or sell), price and quantity
# (decimal strings), executed_at (microseconds).
VerifiedTrade = dict[str, Any]
# A disclosed position: quantity (signed decimal string, the base asset: > 0 long, < 0 short,
# "0" flat) and average_entry (decimal string, or None when flat).
Disclosure = dict[str, Any]


def post_id(author: UUID, key: str) -> UUID:
    """The id of the post `author` publishes with `key` (its client post id, else the
    command id): the same request gives the same post."""
    return uuid5(NAMESPACE, f"post:{author}:{key}")


class Post(Aggregate):
    """A published post."""

    class Published(Aggregate.Created):
        author: str
        body: str
        market: str | None
        sentiment: str
        cashtags: list[str]
        mentions: list[str]  # account ids (text) of the mentioned traders
        trades: list[VerifiedTrade]
        position: Disclosure | None
        command_id: str

    class Edited(Aggregate.Event):
        body: str
        sentiment: str
        cashtags: list[str]
        mentions: list[str]
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Post)
            aggregate.body = self.body
            aggregate.sentiment = self.sentiment
            aggregate.cashtags = self.cashtags
            aggregate.mentions = self.mentions
            aggregate.edits += 1

    class Deleted(Aggregate.Event):
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Post)
            aggregate.deleted = True

    class Hidden(Aggregate.Event):
        by: str
        reason: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Post)
            aggregate.hidden = True

    def __init__(
        self,
        author: str,
        body: str,
        market: str | None,
        sentiment: str,
        cashtags: list[str],
        mentions: list[str],
        trades: list[VerifiedTrade],
        position: Disclosure | None,
        command_id: str,
    ) -> None:
        self.author = author
        self.body = body
        self.market = market
        self.sentiment = sentiment
        self.cashtags = cashtags
        self.mentions = mentions
        self.trades = trades
        self.position = position
        self.edits = 0
        self.deleted = False
        self.hidden = False

    @classmethod
    def publish(
        cls,
        id: UUID,
        author: str,
        body: str,
        market: str | None,
        sentiment: str,
        cashtags: list[str],
        mentions: list[str],
        trades: list[VerifiedTrade],
        position: Disclosure | None,
        command_id: str,
        ts: int,
    ) -> Post:
        """Publish a post whose body is normalized and whose trades are verified already."""
        if sentiment not in SENTIMENTS:
            raise InvalidCommand("invalid_sentiment", f"sentiment is one of {SENTIMENTS}")
        if len(trades) > MAX_TRADES:
            raise InvalidCommand("too_many_trades", f"a post attaches at most {MAX_TRADES} trades")
        if position is not None and market is None:
            raise InvalidCommand("invalid_post", "a position is disclosed for a market")
        return cls._create(
            cls.Published,
            id=id,
            author=author,
            body=body,
            market=market,
            sentiment=sentiment,
            cashtags=cashtags,
            mentions=mentions,
            trades=trades,
            position=position,
            command_id=command_id,
            timestamp=to_datetime(ts),
        )

    # ------------------------------------------------------------------ queries

    @property
    def published_at(self) -> int:
        """When it was published, in microseconds."""
        return to_micros(self.created_on)

    @property
    def visible(self) -> bool:
        """Neither deleted nor hidden."""
        return not (self.deleted or self.hidden)

    def readable_by(self, account: str) -> bool:
        """Whether `account` may see it (and so comment on or like it): not deleted, and
        not hidden unless `account` is its author."""
        return not self.deleted and (not self.hidden or account == self.author)

    # ------------------------------------------------------------------ decisions

    def _own(self, actor: str) -> None:
        if self.deleted:
            raise InvalidCommand("unknown_post", "no such post")
        if actor != self.author:
            raise Refused("not_author", "only its author changes a post")

    def edit(
        self,
        actor: str,
        body: str,
        sentiment: str,
        cashtags: list[str],
        mentions: list[str],
        command_id: str,
        ts: int,
    ) -> None:
        """Change the body and the sentiment (the author, within the edit window)."""
        self._own(actor)
        if ts - self.published_at > EDIT_WINDOW_US:
            raise Refused("edit_window_closed", "a post is edited within 15 minutes of publishing")
        if sentiment not in SENTIMENTS:
            raise InvalidCommand("invalid_sentiment", f"sentiment is one of {SENTIMENTS}")
        self.trigger_event(
            self.Edited,
            body=body,
            sentiment=sentiment,
            cashtags=cashtags,
            mentions=mentions,
            command_id=command_id,
            timestamp=to_datetime(ts),
        )

    def delete(self, actor: str, command_id: str, ts: int) -> None:
        """Retract the post (its author): gone from every read model, kept in the log."""
        self._own(actor)
        self.trigger_event(self.Deleted, command_id=command_id, timestamp=to_datetime(ts))

    def hide(self, by: str, reason: str, command_id: str, ts: int) -> bool:
        """Hide the post (a moderator): False, storing nothing, when it is hidden already."""
        if self.deleted:
            raise InvalidCommand("unknown_post", "no such post")
        if self.hidden:
            return False
        self.trigger_event(
            self.Hidden, by=by, reason=reason, command_id=command_id, timestamp=to_datetime(ts)
        )
        return True
