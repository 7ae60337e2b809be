"""Front-running copiers: a leader trades against their own copiers' block fills.

The copies of a leader's fill reach the book as ONE block order of the leader's block
account, right after the leader's fill. Two patterns:

- **The leader on the other side.** A trade between a leader's block account and the leader
  (or one of the leader's own copy allocations) is reported at once: the leader sold into
  their copies (or bought from them). Further such trades in `front_window_seconds` belong
  to the same finding.
- **A second account.** An account that took liquidity on the leader's side (bought, after
  a leader's buy) between the leader's fill and the block, and then traded with the block on
  the other side (sold to the copies), within `front_window_seconds` of the leader's fill:
  it knew the copies were coming. `front_min_repeats` of these for the same leader within
  `front_repeat_seconds` report the account (once, then the count starts again).

Leaders' own fills and the markets' aggressive trades are kept for `front_window_seconds`
(at most `max_events_per_key` of each).
"""

from __future__ import annotations

from typing import Any

from socialtrading.engine.book import BUY, SELL
from socialtrading.engine.records import (
    SEQ,
    TRADE_MAKER_ACCOUNT,
    TRADE_TAKER_ACCOUNT,
    TRADE_TAKER_SIDE,
    TS,
    Record,
)
from socialtrading.policies.surveillance.base import Detector
from socialtrading.policies.surveillance.context import MICROS, Context, trim
from socialtrading.policies.surveillance.findings import (
    ACCOUNT,
    FRONT_RUNNING_COPIERS,
    TRADE,
    Evidence,
    score,
)

# a leader's fill: [ts, side, position, seq]; an aggressive trade: [ts, taker, side, position,
# seq]; an occurrence: [ts, market, then (position, seq) of the leader's fill, the account's
# take and its trade with the block]
_TS, _SIDE, _AT, _SEQ = range(4)
_TAKER, _TAKE_SIDE, _TAKE_AT, _TAKE_SEQ = range(1, 5)


class FrontRunning(Detector):
    """Trades against a leader's copies by the leader, or by an account that ran ahead."""

    kind = FRONT_RUNNING_COPIERS

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        settings = self.settings
        self.window = settings.front_window_seconds * MICROS
        self.repeat = settings.front_repeat_seconds * MICROS
        self.fills: dict[str, list[list[Any]]] = {}  # "market|leader" -> its recent fills
        self.takes: dict[str, list[list[Any]]] = {}  # market -> recent aggressive trades
        self.suspects: dict[str, list[list[Any]]] = {}  # "leader|account" -> occurrences
        self.episodes: dict[str, int] = {}  # "market|leader" -> end of its reported episode

    def trade(self, position: int, market: str, record: Record) -> None:
        context = self.context
        taker = record[TRADE_TAKER_ACCOUNT]
        maker = record[TRADE_MAKER_ACCOUNT]
        taker_side = record[TRADE_TAKER_SIDE]
        maker_side = SELL if taker_side == BUY else BUY
        ts = record[TS]
        leaders = context.leaders
        for account, side in ((taker, taker_side), (maker, maker_side)):
            if account in leaders:
                self._keep(self.fills, f"{market}|{account}", [ts, side, position, record[SEQ]])
        blocks = context.blocks
        if taker in blocks:
            leader, counter, side = blocks[taker], maker, taker_side
        elif maker in blocks:
            leader, counter, side = blocks[maker], taker, maker_side
        else:
            self._keep(self.takes, market, [ts, taker, taker_side, position, record[SEQ]])
            return
        fill = self._leader_fill(market, leader, side, ts)
        if context.owner(counter) == leader:
            self._leader_traded(position, market, record, leader, counter, side, fill)
        elif fill is not None:
            self._ran_ahead(position, market, record, leader, counter, side, fill)

    def _keep(self, kept: dict[str, list[list[Any]]], key: str, entry: list[Any]) -> None:
        recent = kept.get(key)
        if recent is None:
            recent = kept[key] = []
            trim(kept, self.settings.max_tracked_keys)
        recent.append(entry)
        since = entry[_TS] - self.window
        while recent[0][_TS] < since or len(recent) > self.settings.max_events_per_key:
            del recent[0]

    def _leader_fill(self, market: str, leader: str, side: str, ts: int) -> list[Any] | None:
        """The leader's latest fill on `side` within the window before `ts`."""
        since = ts - self.window
        for fill in reversed(self.fills.get(f"{market}|{leader}", ())):
            if fill[_TS] < since:
                break
            if fill[_SIDE] == side:
                found: list[Any] = fill
                return found
        return None

    def _leader_traded(
        self,
        position: int,
        market: str,
        record: Record,
        leader: str,
        counter: str,
        side: str,
        fill: list[Any] | None,
    ) -> None:
        """`counter`, the leader's, traded with the leader's block (which was on `side`)."""
        ts = record[TS]
        key = f"{market}|{leader}"
        until = self.episodes.get(key)
        if until is not None and ts <= until:
            return
        self.episodes[key] = ts + self.window
        trim(self.episodes, self.settings.max_tracked_keys)
        did = "sold to" if side == BUY else "bought from"
        evidence = [Evidence(TRADE, f"{market}:{record[SEQ]}", position)]
        if fill is not None:
            evidence.insert(0, Evidence(TRADE, f"{market}:{fill[_SEQ]}", fill[_AT]))
        if counter != leader:
            evidence.append(Evidence(ACCOUNT, counter, position))
        self.report(
            f"{leader}:{market}:{position}",
            leader,
            market,
            90,
            f"{leader} {did} their own copiers' block order in {market}"
            + (f" (through {counter}, their copy allocation)" if counter != leader else "")
            + ("" if fill is None else ", right after the fill the copies followed"),
            evidence,
            ts,
        )

    def _ran_ahead(
        self,
        position: int,
        market: str,
        record: Record,
        leader: str,
        account: str,
        side: str,
        fill: list[Any],
    ) -> None:
        """`account` traded with `leader`'s block (which was on `side`): did it take on
        `side` between the leader's fill and now?"""
        take = None
        for entry in reversed(self.takes.get(market, ())):
            if entry[_TAKE_AT] <= fill[_AT]:
                break
            if entry[_TAKER] == account and entry[_TAKE_SIDE] == side:
                take = entry
                break
        if take is None:
            return
        ts = record[TS]
        key = f"{leader}|{account}"
        occurrences = self.suspects.get(key)
        if occurrences is None:
            occurrences = self.suspects[key] = []
            trim(self.suspects, self.settings.max_tracked_keys)
        occurrences.append(
            [
                ts,
                market,
                fill[_AT],
                fill[_SEQ],
                take[_TAKE_AT],
                take[_TAKE_SEQ],
                position,
                record[SEQ],
            ]
        )
        since = ts - self.repeat
        occurrences[:] = [o for o in occurrences if o[0] >= since][
            -self.settings.max_events_per_key :
        ]
        wanted = self.settings.front_min_repeats
        if len(occurrences) < wanted:
            return
        del self.suspects[key]
        evidence = [Evidence(ACCOUNT, leader, position)]
        for occurrence in occurrences:
            symbol = occurrence[1]
            evidence += [
                Evidence(TRADE, f"{symbol}:{seq}", at)
                for at, seq in zip(occurrence[2::2], occurrence[3::2], strict=True)
            ]
        took = "bought" if side == BUY else "sold"
        self.report(
            f"{account}:{market}:{occurrences[0][2]}",
            account,
            market,
            score(len(occurrences), wanted),
            f"{len(occurrences)} time(s) {account} {took} right after a fill of the leader "
            f"{leader} and then traded the other way with the copies of that fill "
            f"(within {self.settings.front_window_seconds}s)",
            evidence,
            ts,
        )

    def sweep(self, now: int) -> None:
        """Forget what is too old to count (it changes no finding)."""
        since = now - self.window
        for kept in (self.fills, self.takes):
            for key in [k for k, recent in kept.items() if recent[-1][_TS] < since]:
                del kept[key]
        for key in [k for k, o in self.suspects.items() if o[-1][0] < now - self.repeat]:
            del self.suspects[key]
        for key in [k for k, until in self.episodes.items() if until < now]:
            del self.episodes[key]

    def dump(self) -> dict[str, Any]:
        return {
            "fills": self.fills,
            "takes": self.takes,
            "suspects": self.suspects,
            "episodes": self.episodes,
        }

    def load(self, data: dict[str, Any]) -> None:
        self.fills = data["fills"]
        self.takes = data["takes"]
        self.suspects = data["suspects"]
        self.episodes = data["episodes"]
