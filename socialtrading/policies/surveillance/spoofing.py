"""Spoofing and layering: large orders on one side, cancelled unfilled within seconds, while
their owner trades on the other side.

The detector follows every resting order (side, open quantity, placement) and each market's
resting quantity per side. While an order rests unfilled and is at most
`spoof_cancel_seconds` old, every trade of its owner on the OTHER side of the same market is
noted on it, with the quantity of the owner's order that traded (the genuine order) and the
resting quantity on the order's side at that moment. When the owner then cancels the order
(no fill at all, within `spoof_cancel_seconds` of placing it), it joins the owner's
episode on that side (several such orders: layering), and the episode is reported once

- its cancelled orders add up to `spoof_min_size_ratio` times the genuine orders that traded
  meanwhile (a market maker quotes both sides alike and is not caught by this), and
- they were at least `spoof_min_book_share_percent` of their side's resting quantity when
  the genuine trades happened.

Orders are followed up to `max_tracked_orders` (the oldest are forgotten past it: the
resting quantity then counts the followed orders only).
"""

from __future__ import annotations

from typing import Any

from socialtrading.engine.book import BUY, SELL
from socialtrading.engine.records import (
    ACCEPTED_ACCOUNT,
    ACCEPTED_ID,
    ACCEPTED_QTY,
    ACCEPTED_SIDE,
    ACCEPTED_STOP_PRICE,
    AMENDED_ID,
    AMENDED_NEW_OPEN,
    AMENDED_OLD_OPEN,
    CANCELLED_ID,
    CANCELLED_REASON,
    CANCELLED_REMAINING,
    EXPIRED_ID,
    RESTED_ID,
    RESTED_OPEN,
    SEQ,
    TRADE_MAKER,
    TRADE_MAKER_ACCOUNT,
    TRADE_QTY,
    TRADE_TAKER,
    TRADE_TAKER_ACCOUNT,
    TRADE_TAKER_SIDE,
    TS,
    Reason,
    Record,
)
from socialtrading.policies.surveillance.base import Detector
from socialtrading.policies.surveillance.context import MICROS, Context, trim
from socialtrading.policies.surveillance.findings import (
    MAX_EVIDENCE,
    ORDER,
    SPOOFING,
    TRADE,
    Evidence,
    score,
)

# a resting order: [market, account, side, open, quantity, placed ts, placed position,
# filled, trades of its owner on the other side while it rested]
_MARKET, _ACCOUNT, _SIDE, _OPEN, _QTY, _PLACED, _PLACED_AT, _FILLED, _SEEN = range(9)
# a trade seen: [position, seq, genuine order id, its quantity, the order's side's depth]
_AT, _SEQ, _GENUINE, _GENUINE_QTY, _DEPTH = range(5)
# an episode: [last ts, cancelled orders [id, qty, placed at, cancelled at], trades seen]
_LAST, _ORDERS, _TRADES = range(3)


class Spoofing(Detector):
    """Large orders cancelled unfilled within seconds while trading the other side."""

    kind = SPOOFING

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        settings = self.settings
        self.window = settings.spoof_cancel_seconds * MICROS
        self.resting: dict[str, list[Any]] = {}  # order id -> resting order
        self.depth: dict[str, list[int]] = {}  # market -> [bid lots, ask lots]
        self.stops: dict[str, list[Any]] = {}  # waiting stop order -> [account, side, qty]
        self.fresh: dict[str, list[str]] = {}  # "market|account" -> its young unfilled orders
        self.episodes: dict[str, list[Any]] = {}  # "market|account|side" -> episode
        self._accepted: list[Any] = [None, None, None, 0]  # the last accepted order

    # ------------------------------------------------------------------ the book

    def accepted(self, position: int, market: str, record: Record) -> None:
        last = self._accepted
        last[0] = record[ACCEPTED_ID]
        last[1] = record[ACCEPTED_ACCOUNT]
        last[2] = record[ACCEPTED_SIDE]
        last[3] = record[ACCEPTED_QTY]
        if record[ACCEPTED_STOP_PRICE] is not None:
            self.stops[last[0]] = [last[1], last[2], last[3]]
            trim(self.stops, self.settings.max_tracked_orders)

    def rested(self, position: int, market: str, record: Record) -> None:
        order_id = record[RESTED_ID]
        last = self._accepted
        stop = self.stops.pop(order_id, None)  # a stop order resting once triggered
        if last[0] == order_id:
            account, side, quantity = last[1], last[2], last[3]
        elif stop is not None:
            account, side, quantity = stop
        else:
            return  # not followed
        open_lots = record[RESTED_OPEN]
        ts = record[TS]
        filled = open_lots < quantity
        self.resting[order_id] = [
            market,
            account,
            side,
            open_lots,
            quantity,
            ts,
            position,
            filled,
            None,
        ]
        self._depth(market)[0 if side == BUY else 1] += open_lots
        if len(self.resting) > self.settings.max_tracked_orders:
            self._forget(next(iter(self.resting)))
        if not filled:
            key = f"{market}|{account}"
            young = self.fresh.get(key)
            if young is None:
                young = self.fresh[key] = []
                trim(self.fresh, self.settings.max_tracked_keys)
            young.append(order_id)
            if len(young) > self.settings.max_events_per_key:
                del young[0]

    def trade(self, position: int, market: str, record: Record) -> None:
        lots = record[TRADE_QTY]
        resting = self.resting
        taker_side = record[TRADE_TAKER_SIDE]
        maker = resting.get(record[TRADE_MAKER])
        if maker is not None:
            self._filled(record[TRADE_MAKER], maker, lots)
        taker = resting.get(record[TRADE_TAKER])  # an amended order entering again
        if taker is not None:
            self._filled(record[TRADE_TAKER], taker, lots)
        if not self.fresh:
            return
        maker_side = SELL if taker_side == BUY else BUY
        self._note(position, market, record, record[TRADE_TAKER_ACCOUNT], taker_side, taker)
        self._note(position, market, record, record[TRADE_MAKER_ACCOUNT], maker_side, maker)

    def _filled(self, order_id: str, order: list[Any], lots: int) -> None:
        order[_OPEN] -= lots
        order[_FILLED] = True
        self._depth(order[_MARKET])[0 if order[_SIDE] == BUY else 1] -= lots
        if order[_OPEN] <= 0:
            del self.resting[order_id]

    def cancelled(self, position: int, market: str, record: Record) -> None:
        order_id = record[CANCELLED_ID]
        order = self.resting.get(order_id)
        if order is None:
            self.stops.pop(order_id, None)
            return
        remaining = record[CANCELLED_REMAINING]
        if remaining > 0:  # a self-trade prevention decrement
            self._depth(market)[0 if order[_SIDE] == BUY else 1] -= order[_OPEN] - remaining
            order[_OPEN] = remaining
            return
        self._forget(order_id)
        ts = record[TS]
        if (
            record[CANCELLED_REASON] == Reason.USER
            and not order[_FILLED]
            and order[_SEEN]
            and ts - order[_PLACED] <= self.window
        ):
            self._spoofed(position, market, ts, order_id, order)

    def expired(self, position: int, market: str, record: Record) -> None:
        if record[EXPIRED_ID] in self.resting:
            self._forget(record[EXPIRED_ID])

    def amended(self, position: int, market: str, record: Record) -> None:
        order = self.resting.get(record[AMENDED_ID])
        if order is None:
            return
        change = record[AMENDED_NEW_OPEN] - record[AMENDED_OLD_OPEN]
        order[_OPEN] += change
        self._depth(market)[0 if order[_SIDE] == BUY else 1] += change

    def _depth(self, market: str) -> list[int]:
        depth = self.depth.get(market)
        if depth is None:
            depth = self.depth[market] = [0, 0]
        return depth

    def _forget(self, order_id: str) -> None:
        order = self.resting.pop(order_id)
        self._depth(order[_MARKET])[0 if order[_SIDE] == BUY else 1] -= order[_OPEN]

    # ------------------------------------------------------------------ episodes

    def _note(
        self,
        position: int,
        market: str,
        record: Record,
        account: str,
        side: str,
        order: list[Any] | None,
    ) -> None:
        """Note a trade of `account` on `side` on its young unfilled orders of the other
        side, with the genuine order's quantity (`order`: the resting one that traded, if
        followed) and the depth of the other side."""
        key = f"{market}|{account}"
        young = self.fresh.get(key)
        if not young:
            return
        resting = self.resting
        since = record[TS] - self.window
        alive = [
            order_id
            for order_id in young
            if (found := resting.get(order_id)) is not None
            and not found[_FILLED]
            and found[_PLACED] >= since
        ]
        if not alive:
            del self.fresh[key]
            return
        young[:] = alive
        genuine, genuine_qty = self._genuine(record, account, order)
        depth = self._depth(market)
        for order_id in alive:
            found = resting[order_id]
            if found[_SIDE] == side:
                continue
            seen = found[_SEEN]
            if seen is None:
                seen = found[_SEEN] = []
            if len(seen) < MAX_EVIDENCE:
                its_side = depth[0 if found[_SIDE] == BUY else 1]
                seen.append([position, record[SEQ], genuine, genuine_qty, its_side])

    def _genuine(self, record: Record, account: str, order: list[Any] | None) -> tuple[str, int]:
        """The id and quantity of `account`'s order in this trade."""
        if record[TRADE_TAKER_ACCOUNT] == account:
            order_id = record[TRADE_TAKER]
            last = self._accepted
            if last[0] == order_id:
                return order_id, last[3]
        else:
            order_id = record[TRADE_MAKER]
        if order is not None:
            return order_id, order[_QTY]
        return order_id, record[TRADE_QTY]

    def _spoofed(
        self, position: int, market: str, ts: int, order_id: str, order: list[Any]
    ) -> None:
        account, side = order[_ACCOUNT], order[_SIDE]
        key = f"{market}|{account}|{side}"
        episode = self.episodes.get(key)
        if episode is None or episode[_LAST] < ts - 2 * self.window:
            episode = self.episodes[key] = [ts, [], {}]
            trim(self.episodes, self.settings.max_tracked_keys)
        episode[_LAST] = ts
        orders: list[list[Any]] = episode[_ORDERS]
        trades: dict[str, list[Any]] = episode[_TRADES]
        if len(orders) < MAX_EVIDENCE:
            orders.append([order_id, order[_QTY], order[_PLACED_AT], position])
        for seen in order[_SEEN]:
            trades.setdefault(str(seen[_SEQ]), seen)
        spoofed = sum(entry[1] for entry in orders)
        genuine = {seen[_GENUINE]: seen[_GENUINE_QTY] for seen in trades.values()}
        genuine_lots = sum(genuine.values())
        depth = max(seen[_DEPTH] for seen in trades.values())
        settings = self.settings
        ratio = settings.spoof_min_size_ratio
        if spoofed < ratio * genuine_lots:
            return
        if spoofed * 100 < settings.spoof_min_book_share_percent * depth:
            return
        del self.episodes[key]
        evidence = [Evidence(ORDER, entry[0], entry[2]) for entry in orders]
        evidence += [Evidence(ORDER, entry[0], entry[3]) for entry in orders]
        evidence += [
            Evidence(TRADE, f"{market}:{seen[_SEQ]}", seen[_AT]) for seen in trades.values()
        ]
        share = spoofed * 100 // max(1, depth)
        other = SELL if side == BUY else BUY
        self.report(
            f"{account}:{market}:{orders[0][2]}",
            account,
            market,
            score(spoofed, ratio * max(1, genuine_lots)),
            f"{len(orders)} {side} order(s) of {spoofed} lots ({share}% of the {side} side) "
            f"cancelled unfilled within {settings.spoof_cancel_seconds}s while {account} "
            f"traded {len(trades)} time(s) on the {other} side with orders of {genuine_lots} lots",
            evidence,
            ts,
        )

    # ------------------------------------------------------------------ upkeep

    def sweep(self, now: int) -> None:
        """Forget young orders and episodes too old to count (it changes no finding)."""
        since = now - self.window
        resting = self.resting
        for key in [
            k
            for k, young in self.fresh.items()
            if all((o := resting.get(i)) is None or o[_PLACED] < since for i in young)
        ]:
            del self.fresh[key]
        for order in resting.values():
            if order[_SEEN] is not None and order[_PLACED] < since:
                order[_SEEN] = None  # too old to be cancelled "within seconds"
        for key in [k for k, e in self.episodes.items() if e[_LAST] < now - 2 * self.window]:
            del self.episodes[key]

    def dump(self) -> dict[str, Any]:
        return {
            "resting": self.resting,
            "depth": self.depth,
            "stops": self.stops,
            "fresh": self.fresh,
            "episodes": self.episodes,
            "accepted": self._accepted,
        }

    def load(self, data: dict[str, Any]) -> None:
        self.resting = data["resting"]
        self.depth = data["depth"]
        self.stops = data["stops"]
        self.fresh = data["fresh"]
        self.episodes = data["episodes"]
        self._accepted = data["accepted"]
