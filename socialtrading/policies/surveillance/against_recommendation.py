"""Trading against one's own recommendation (MAR Annex II): a post about a market whose
author then trades the other way soon after.

A post about a market discloses its author's position there (the writer records it). When
the post's sentiment goes with that position (BULLISH and long, BEARISH and short), or the
post is NEUTRAL and discloses a position, it recommends that position: for
`against_window_seconds` after it, every trade of the author the other way (selling after a
long one, buying after a short one) is added up, and the author is reported, once per post,
when that reaches `against_min_percent` of the disclosed position: they opened a position,
published about it, and closed it soon after; or published a position their trading right
after contradicts. A later recommending post of the same author in the same market takes
the place of the earlier one; an edit that changes the sentiment counts as a new post.
"""

from __future__ import annotations

from typing import Any

from socialtrading.domain.social.post import BEARISH, BULLISH
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
    AGAINST_OWN_RECOMMENDATION,
    MAX_EVIDENCE,
    POST,
    TRADE,
    Evidence,
    score,
)

# a recommendation: [ts, post id, position, disclosed lots (signed), lots traded against,
# those trades [[position, seq]]]
_TS, _POST, _AT, _HELD, _AGAINST, _TRADES = range(6)


class AgainstRecommendation(Detector):
    """An author closes or reverses, soon after, the position their post recommends."""

    kind = AGAINST_OWN_RECOMMENDATION

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.window = self.settings.against_window_seconds * MICROS
        self.open: dict[str, dict[str, list[Any]]] = {}  # market -> author -> recommendation

    def published(self, position: int, event: Any) -> None:
        held = self.context.disclosed(event.market, event.position)
        self._recommend(event.market, event.author, str(event.originator_id), position, event, held)

    def edited(self, position: int, event: Any) -> None:
        post_id = str(event.originator_id)
        post = self.context.posts.get(post_id)
        if post is not None:
            author, market, _, held = post
            self._recommend(market, author, post_id, position, event, held)

    def _recommend(
        self, market: str | None, author: str, post_id: str, position: int, event: Any, held: int
    ) -> None:
        sentiment = event.sentiment
        if (
            market is None
            or not held
            or (sentiment == BULLISH and held < 0)
            or (sentiment == BEARISH and held > 0)
        ):
            return
        recommendations = self.open.get(market)
        if recommendations is None:
            recommendations = self.open[market] = {}
        recommendations.pop(author, None)
        recommendations[author] = [to_micros(event.timestamp), post_id, position, held, 0, []]
        trim(recommendations, self.settings.max_tracked_keys)

    def trade(self, position: int, market: str, record: Record) -> None:
        recommendations = self.open.get(market)
        if not recommendations:
            return
        taker = record[TRADE_TAKER_ACCOUNT]
        bought = record[TRADE_TAKER_SIDE] == BUY
        for account, buys in ((taker, bought), (record[TRADE_MAKER_ACCOUNT], not bought)):
            recommendation = recommendations.get(account)
            if recommendation is None:
                continue
            if recommendation[_TS] + self.window < record[TS]:
                del recommendations[account]
                continue
            if buys == (recommendation[_HELD] > 0):
                continue  # with the recommendation
            self._against(position, market, record, account, recommendation)

    def _against(
        self, position: int, market: str, record: Record, author: str, recommendation: list[Any]
    ) -> None:
        recommendation[_AGAINST] += record[TRADE_QTY]
        trades = recommendation[_TRADES]
        if len(trades) < MAX_EVIDENCE:
            trades.append([position, record[SEQ]])
        held = abs(recommendation[_HELD])
        against = recommendation[_AGAINST]
        wanted = self.settings.against_min_percent * held
        if against * 100 < wanted:
            return
        del self.open[market][author]
        long = recommendation[_HELD] > 0
        minutes = (record[TS] - recommendation[_TS]) // 60_000_000
        self.report(
            f"{author}:{market}:{recommendation[_AT]}",
            author,
            market,
            score(against * 100, wanted),
            f"{author} {'sold' if long else 'bought'} {against} lots of {market} within "
            f"{minutes} minute(s) of a post disclosing a {'long' if long else 'short'} "
            f"position of {held} lots ({against * 100 // held}% of it)",
            [
                Evidence(POST, recommendation[_POST], recommendation[_AT]),
                *(Evidence(TRADE, f"{market}:{seq}", at) for at, seq in trades),
            ],
            record[TS],
        )

    def sweep(self, now: int) -> None:
        """Forget recommendations past their window (it changes no finding)."""
        forget_ended(self.open, lambda found: found[_TS] + self.window < now)

    def dump(self) -> dict[str, Any]:
        return {"open": self.open}

    def load(self, data: dict[str, Any]) -> None:
        self.open = data["open"]
