"""Pump and dump through posts: a BULLISH post about a market, then its author sells into the
buying that followed.

A BULLISH post (published so, or edited to BULLISH) opens a campaign of its author in its
market, or in every market whose base asset it cashtags (`$BTC`); more BULLISH posts of the
same author in that market join the campaign and keep it open `pump_window_seconds` after
the latest. Within it, each sale of the author is checked; the author is reported, once per
campaign, when

- the author sold at least `pump_min_sold_percent` of the long position the first post
  disclosed (when it disclosed one),
- the author's sales since the post are at least `pump_min_buying_share_percent` of the
  aggressive buying (lots bought by takers) of others in the market since the post,
- the author is a net seller since the post (bought at most half of what it sold), and
- at least `pump_min_buyers` distinct other accounts bought aggressively after the post.

Buyers who follow the author, or trade for the author's copiers (copy allocations, the
author's block account), are named in the evidence and raise the score. Aggressive buying is
counted exactly; the distinct buyers are read from the market's latest
`4 x max_events_per_key` aggressive buys (fewer seen can only make the detector stricter).
"""

from __future__ import annotations

from typing import Any

from socialtrading.domain.social.post import BULLISH
from socialtrading.domain.time import to_micros
from socialtrading.engine.book import BUY
from socialtrading.engine.records import (
    SEQ,
    TRADE_MAKER_ACCOUNT,
    TRADE_QTY,
    TRADE_TAKER_ACCOUNT,
    TRADE_TAKER_SIDE,
    TS,
    Record,
)
from socialtrading.policies.surveillance.base import Detector, forget_ended
from socialtrading.policies.surveillance.context import MICROS, Context, trim
from socialtrading.policies.surveillance.findings import (
    ACCOUNT,
    MAX_EVIDENCE,
    POST,
    PUMP_AND_DUMP,
    TRADE,
    Evidence,
    score,
)

# a campaign: [first post ts, latest post ts, posts [[id, position]], disclosed long lots,
# aggressive buying of the market at the first post, the author's aggressive buys since,
# everything the author bought since, what the author sold since, its sales [[position,
# seq]], reported]
(
    _FIRST,
    _LATEST,
    _POSTS,
    _HELD,
    _BOUGHT_BEFORE,
    _OWN_TAKEN,
    _OWN_BOUGHT,
    _SOLD,
    _SALES,
    _REPORTED,
) = range(10)
# an aggressive buy: [ts, buyer, lots, position, seq]
_TS, _BUYER, _LOTS, _AT, _SEQ = range(5)
POSTS_SHOWN = 5


class PumpAndDump(Detector):
    """An author sells into the buying that followed their BULLISH post."""

    kind = PUMP_AND_DUMP

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.window = self.settings.pump_window_seconds * MICROS
        self.kept = 4 * self.settings.max_events_per_key
        self.bought: dict[str, int] = {}  # market -> lots bought by takers, ever
        self.buys: dict[str, list[list[Any]]] = {}  # market -> its latest aggressive buys
        self.campaigns: dict[str, dict[str, list[Any]]] = {}  # market -> author -> campaign

    # ------------------------------------------------------------------ posts

    def published(self, position: int, event: Any) -> None:
        if event.sentiment != BULLISH:
            return
        context = self.context
        for market in context.markets_of(event.market, event.cashtags):
            held = context.disclosed(market, event.position) if market == event.market else 0
            self._open(market, event.author, str(event.originator_id), position, event, held)

    def edited(self, position: int, event: Any) -> None:
        if event.sentiment != BULLISH:
            return
        post_id = str(event.originator_id)
        post = self.context.posts.get(post_id)
        if post is None:
            return
        author, market, _, held = post
        for symbol in self.context.markets_of(market, event.cashtags):
            self._open(symbol, author, post_id, position, event, held if symbol == market else 0)

    def _open(
        self, market: str, author: str, post_id: str, position: int, event: Any, held: int
    ) -> None:
        ts = to_micros(event.timestamp)
        campaigns = self.campaigns.get(market)
        if campaigns is None:
            campaigns = self.campaigns[market] = {}
        campaign = campaigns.get(author)
        if campaign is not None and campaign[_LATEST] + self.window >= ts:
            campaign[_LATEST] = ts
            if len(campaign[_POSTS]) < POSTS_SHOWN:
                campaign[_POSTS].append([post_id, position])
            return
        campaigns.pop(author, None)
        campaigns[author] = [
            ts,
            ts,
            [[post_id, position]],
            max(0, held),
            self.bought.get(market, 0),
            0,
            0,
            0,
            [],
            False,
        ]
        trim(campaigns, self.settings.max_tracked_keys)

    # ------------------------------------------------------------------ trades

    def trade(self, position: int, market: str, record: Record) -> None:
        lots = record[TRADE_QTY]
        taker = record[TRADE_TAKER_ACCOUNT]
        maker = record[TRADE_MAKER_ACCOUNT]
        ts = record[TS]
        taker_buys = record[TRADE_TAKER_SIDE] == BUY
        if taker_buys:
            self.bought[market] = self.bought.get(market, 0) + lots
            buys = self.buys.get(market)
            if buys is None:
                buys = self.buys[market] = []
            buys.append([ts, taker, lots, position, record[SEQ]])
            if len(buys) > self.kept:
                del buys[: len(buys) - self.kept]
        campaigns = self.campaigns.get(market)
        if not campaigns:
            return
        seller, buyer = (maker, taker) if taker_buys else (taker, maker)
        campaign = campaigns.get(buyer)
        if campaign is not None:
            campaign[_OWN_BOUGHT] += lots
            if taker_buys:
                campaign[_OWN_TAKEN] += lots
        campaign = campaigns.get(seller)
        if campaign is None:
            return
        if campaign[_LATEST] + self.window < ts:
            del campaigns[seller]
            return
        campaign[_SOLD] += lots
        if len(campaign[_SALES]) < MAX_EVIDENCE:
            campaign[_SALES].append([position, record[SEQ]])
        if not campaign[_REPORTED]:
            self._check(market, seller, campaign, ts)

    def _check(self, market: str, author: str, campaign: list[Any], ts: int) -> None:
        settings = self.settings
        sold = campaign[_SOLD]
        held = campaign[_HELD]
        if held and sold * 100 < settings.pump_min_sold_percent * held:
            return
        if campaign[_OWN_BOUGHT] * 2 > sold:
            return
        others = self.bought.get(market, 0) - campaign[_BOUGHT_BEFORE] - campaign[_OWN_TAKEN]
        share = settings.pump_min_buying_share_percent
        if others <= 0 or sold * 100 < share * others:
            return
        context = self.context
        buyers: dict[str, list[Any]] = {}
        for buy in self.buys.get(market, ()):
            if buy[_TS] >= campaign[_FIRST] and context.owner(buy[_BUYER]) != author:
                buyers.setdefault(buy[_BUYER], buy)
        if len(buyers) < settings.pump_min_buyers:
            return
        campaign[_REPORTED] = True
        close = [b for b in buyers if context.follows_or_copies(b, author)]
        found = score(sold * 100, share * others)
        if close:
            found = min(100, found + 10 + 20 * len(close) // len(buyers))
        evidence = [Evidence(POST, post_id, at) for post_id, at in campaign[_POSTS]]
        evidence += [Evidence(TRADE, f"{market}:{seq}", at) for at, seq in campaign[_SALES]]
        for buyer in close:
            buy = buyers[buyer]
            evidence.append(Evidence(ACCOUNT, buyer, buy[_AT]))
            evidence.append(Evidence(TRADE, f"{market}:{buy[_SEQ]}", buy[_AT]))
        position = held and f", {sold * 100 // held}% of the {held} lots the post disclosed"
        self.report(
            f"{author}:{market}:{campaign[_POSTS][0][1]}",
            author,
            market,
            found,
            f"{author} sold {sold} lots of {market} after a BULLISH post{position or ''}, "
            f"{sold * 100 // others}% of the {others} lots others bought aggressively since; "
            f"{len(buyers)} accounts bought, {len(close)} of them following or copying {author}",
            evidence,
            ts,
        )

    # ------------------------------------------------------------------ upkeep

    def sweep(self, now: int) -> None:
        """Forget campaigns that have ended (it changes no finding)."""
        forget_ended(self.campaigns, lambda campaign: campaign[_LATEST] + self.window < now)

    def dump(self) -> dict[str, Any]:
        return {"bought": self.bought, "buys": self.buys, "campaigns": self.campaigns}

    def load(self, data: dict[str, Any]) -> None:
        self.bought = data["bought"]
        self.buys = data["buys"]
        self.campaigns = data["campaigns"]
