"""Wash trading: trades that move no risk from one owner to another.

Three patterns, each within `wash_window_seconds` of log time, in one market:

- **One owner on both sides.** An owner group is an account and its copy allocations (the
  copier owns them). A trade between two accounts of one group is reported at once; further
  trades of that owner with itself within the window belong to the same finding.
- **Back and forth.** Two accounts trade with each other at least `wash_min_legs` times,
  in both directions, and end where they started: the net quantity that changed hands is at
  most `wash_max_net_percent` of the gross, and their trades with each other are at least
  `wash_min_pair_share_percent` of EACH one's volume in the market (a market maker trades
  back and forth with every taker, but with each of them for a small part of its volume).
- **Circular.** A sells to B, B to C, C to A, each leg of about the same quantity (within
  `wash_quantity_tolerance_percent`), in that order; `wash_min_cycles` such cycles among the
  same three accounts are reported.

Trades of a leader's block account (copies) are left to the front-running detector. Each
pattern is reported once per account involved; the legs of a reported pattern are not
counted again.
"""

from __future__ import annotations

from typing import Any

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
from socialtrading.policies.surveillance.base import Buckets, Detector
from socialtrading.policies.surveillance.context import MICROS, Context, trim
from socialtrading.policies.surveillance.findings import (
    ACCOUNT,
    MAX_EVIDENCE,
    TRADE,
    WASH_TRADING,
    Evidence,
    score,
)

# the recent sells kept per (market, seller) to find cycles in
CYCLE_LEGS = 32
# a pair's sums: [bucket, sells by the lower id, sells by the higher, their lots]
_LO_SELLS, _HI_SELLS, _LO_LOTS, _HI_LOTS = range(4)
# a leg: [ts, position, trade seq]; a recent sell: [ts, buyer, lots, position, seq]
_TS, _POSITION, _SEQ = range(3)
_BUYER, _LOTS, _SELL_POSITION, _SELL_SEQ = range(1, 5)


class WashTrading(Detector):
    """Trades within one owner, back and forth between two accounts, or in a circle."""

    kind = WASH_TRADING

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        settings = self.settings
        self.window = settings.wash_window_seconds * MICROS
        self.buckets = Buckets(self.window)
        self.cap = settings.max_tracked_keys
        self.volume: dict[str, list[list[int]]] = {}  # "market|account" -> lots, bucketed
        self.pairs: dict[str, list[list[Any]]] = {}  # "market|lo|hi" -> [sums, legs]
        self.sells: dict[str, list[list[Any]]] = {}  # "market|seller" -> recent sells
        self.cycles: dict[str, list[list[Any]]] = {}  # "market|a|b|c" -> cycles' legs
        self.episodes: dict[str, int] = {}  # "market|owner" -> end of its reported episode

    def trade(self, position: int, market: str, record: Record) -> None:
        taker = record[TRADE_TAKER_ACCOUNT]
        maker = record[TRADE_MAKER_ACCOUNT]
        context = self.context
        blocks = context.blocks
        if taker in blocks or maker in blocks:
            return  # copies: the front-running detector's
        ts = record[TS]
        owner = context.owner(taker)
        if owner == context.owner(maker):
            self._one_owner(position, market, record, owner)
            return
        lots = record[TRADE_QTY]
        seller, buyer = (maker, taker) if record[TRADE_TAKER_SIDE] == BUY else (taker, maker)
        self._add_volume(f"{market}|{taker}", ts, lots)
        self._add_volume(f"{market}|{maker}", ts, lots)
        self._pair(position, market, record, seller, buyer)
        self._cycle(position, market, record, seller, buyer)

    # ------------------------------------------------------------------ one owner

    def _one_owner(self, position: int, market: str, record: Record, owner: str) -> None:
        ts = record[TS]
        key = f"{market}|{owner}"
        until = self.episodes.get(key)
        if until is not None and ts <= until:
            return
        self.episodes[key] = ts + self.window
        trim(self.episodes, self.cap)
        taker, maker = record[TRADE_TAKER_ACCOUNT], record[TRADE_MAKER_ACCOUNT]
        self.report(
            f"{owner}:{market}:{position}",
            owner,
            market,
            90,
            f"{taker} traded with {maker} in {market}; both belong to {owner} "
            "(an account and its copy allocations)",
            [
                Evidence(TRADE, f"{market}:{record[SEQ]}", position),
                Evidence(ACCOUNT, taker, position),
                Evidence(ACCOUNT, maker, position),
            ],
            ts,
        )

    # ------------------------------------------------------------------ back and forth

    def _add_volume(self, key: str, ts: int, lots: int) -> None:
        sums = self.volume.get(key)
        if sums is None:
            sums = self.volume[key] = []
            trim(self.volume, self.cap)
        self.buckets.add(sums, ts, (lots,))

    def _volume(self, market: str, account: str, ts: int) -> int:
        sums = self.volume.get(f"{market}|{account}")
        return 0 if sums is None else self.buckets.total(sums, ts, 1)[0]

    def _pair(self, position: int, market: str, record: Record, seller: str, buyer: str) -> None:
        ts = record[TS]
        lots = record[TRADE_QTY]
        low, high = (seller, buyer) if seller < buyer else (buyer, seller)
        key = f"{market}|{low}|{high}"
        pair = self.pairs.get(key)
        if pair is None:
            pair = self.pairs[key] = [[], []]
            trim(self.pairs, self.cap)
        sums, legs = pair
        low_sold = seller == low
        self.buckets.add(sums, ts, (1, 0, lots, 0) if low_sold else (0, 1, 0, lots))
        legs.append([ts, position, record[SEQ]])
        if len(legs) > MAX_EVIDENCE:
            del legs[0]
        low_sells, high_sells, low_lots, high_lots = self.buckets.total(sums, ts, 4)
        settings = self.settings
        if not low_sells or not high_sells or low_sells + high_sells < settings.wash_min_legs:
            return
        gross = low_lots + high_lots
        net = abs(low_lots - high_lots)
        if net * 100 > settings.wash_max_net_percent * gross:
            return
        share = settings.wash_min_pair_share_percent
        volumes = [self._volume(market, account, ts) for account in (low, high)]
        if any(gross * 100 < share * volume for volume in volumes):
            return
        del self.pairs[key]  # reported: these legs count no more
        since = ts - self.window
        evidence = [
            Evidence(TRADE, f"{market}:{leg[_SEQ]}", leg[_POSITION])
            for leg in legs
            if leg[_TS] > since
        ]
        first = evidence[0].position
        count = low_sells + high_sells
        least = min(gross * 100 // max(1, volume) for volume in volumes)
        for account, other in ((low, high), (high, low)):
            self.report(
                f"{account}:{market}:{first}",
                account,
                market,
                score(count, settings.wash_min_legs),
                f"{count} trades back and forth between {account} and {other} in {market} "
                f"within {settings.wash_window_seconds}s: {net} lots net of {gross} traded, "
                f"at least {least}% of each one's volume",
                [Evidence(ACCOUNT, other, position), *evidence],
                ts,
            )

    # ------------------------------------------------------------------ cycles

    def _cycle(self, position: int, market: str, record: Record, seller: str, buyer: str) -> None:
        """Close a cycle buyer -> middle -> seller -> buyer with this trade, if one is open."""
        ts = record[TS]
        lots = record[TRADE_QTY]
        since = ts - self.window
        tolerance = self.settings.wash_quantity_tolerance_percent
        sells = self.sells
        found: tuple[list[Any], list[Any], str] | None = None
        for first in sells.get(f"{market}|{buyer}", ()):
            size = first[_LOTS]  # within the tolerance of the larger quantity (`_close`)
            if abs(size - lots) * 100 > tolerance * (size if size > lots else lots):
                continue
            middle = first[_BUYER]
            if first[_TS] < since or middle == seller:
                continue
            for second in sells.get(f"{market}|{middle}", ()):
                if (
                    second[_BUYER] == seller
                    and second[_SELL_POSITION] > first[_SELL_POSITION]
                    and _close(second[_LOTS], lots, tolerance)
                ):
                    found = (first, second, middle)
                    break
            if found is not None:
                break
        if found is not None:
            first, second, middle = found
            sells[f"{market}|{buyer}"].remove(first)  # a leg closes one cycle
            sells[f"{market}|{middle}"].remove(second)
            self._cycled(position, market, record, first, second, (buyer, middle, seller))
            return
        key = f"{market}|{seller}"
        recent = sells.get(key)
        if recent is None:
            recent = sells[key] = []
            trim(sells, self.cap)
        recent.append([ts, buyer, lots, position, record[SEQ]])
        if len(recent) > CYCLE_LEGS:
            del recent[0]

    def _cycled(
        self,
        position: int,
        market: str,
        record: Record,
        first: list[Any],
        second: list[Any],
        members: tuple[str, str, str],
    ) -> None:
        ts = record[TS]
        key = "|".join([market, *sorted(members)])
        cycles = self.cycles.get(key)
        if cycles is None:
            cycles = self.cycles[key] = []
            trim(self.cycles, self.cap)
        # [ts, then each leg's position and trade seq]
        cycles.append(
            [
                ts,
                first[_SELL_POSITION],
                first[_SELL_SEQ],
                second[_SELL_POSITION],
                second[_SELL_SEQ],
                position,
                record[SEQ],
            ]
        )
        since = ts - self.window
        cycles[:] = [cycle for cycle in cycles if cycle[0] > since]
        wanted = self.settings.wash_min_cycles
        if len(cycles) < wanted:
            return
        del self.cycles[key]
        evidence = [
            Evidence(TRADE, f"{market}:{seq}", at)
            for cycle in cycles
            for at, seq in zip(cycle[1::2], cycle[2::2], strict=True)
        ]
        first_position = cycles[0][1]
        a, b, c = members
        for account in members:
            self.report(
                f"{account}:{market}:{first_position}",
                account,
                market,
                score(len(cycles), wanted),
                f"{len(cycles)} circular trade(s) {a} -> {b} -> {c} -> {a} in {market} of "
                f"about the same quantity within {self.settings.wash_window_seconds}s",
                [
                    *(Evidence(ACCOUNT, other, position) for other in members if other != account),
                    *evidence,
                ],
                ts,
            )

    # ------------------------------------------------------------------ upkeep

    def sweep(self, now: int) -> None:
        """Forget what no longer counts at `now` (it changes no finding)."""
        stale = self.buckets.stale
        since = now - self.window
        for key in [k for k, sums in self.volume.items() if stale(sums, now)]:
            del self.volume[key]
        for key in [k for k, pair in self.pairs.items() if stale(pair[0], now)]:
            del self.pairs[key]
        for key in [k for k, recent in self.sells.items() if not recent or recent[-1][0] < since]:
            del self.sells[key]
        for key in [k for k, cycles in self.cycles.items() if cycles[-1][0] <= since]:
            del self.cycles[key]
        for key in [k for k, until in self.episodes.items() if until < now]:
            del self.episodes[key]

    def dump(self) -> dict[str, Any]:
        return {
            "volume": self.volume,
            "pairs": self.pairs,
            "sells": self.sells,
            "cycles": self.cycles,
            "episodes": self.episodes,
        }

    def load(self, data: dict[str, Any]) -> None:
        self.volume = data["volume"]
        self.pairs = data["pairs"]
        self.sells = data["sells"]
        self.cycles = data["cycles"]
        self.episodes = data["episodes"]


def _close(a: int, b: int, tolerance_percent: int) -> bool:
    """Whether two quantities differ by at most `tolerance_percent` of the larger."""
    return abs(a - b) * 100 <= tolerance_percent * max(a, b)
