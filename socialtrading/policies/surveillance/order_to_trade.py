"""Order-to-trade ratio per account and market (RTS 9 style).

Order messages are counted per account and market in fixed windows of
`otr_window_seconds` of log time (aligned on the epoch: days by default, UTC): each new
order, cancel and amend the account sent, accepted or not. Trades count once per fill of the
account (taker or maker). Once an account has sent at least `otr_min_messages` in a window
and more than `otr_max_ratio` messages per trade (per one, when it has not traded), it is
reported, once per window, with its first and latest orders as evidence.
"""

from __future__ import annotations

from typing import Any

from socialtrading.domain.time import to_datetime
from socialtrading.engine.records import TRADE_MAKER_ACCOUNT, TRADE_TAKER_ACCOUNT, TS, Record
from socialtrading.policies.surveillance.base import Detector
from socialtrading.policies.surveillance.context import MICROS, Context, trim
from socialtrading.policies.surveillance.findings import (
    ACCOUNT,
    ORDER,
    ORDER_TO_TRADE,
    Evidence,
    score,
)

# an account's window: [start, messages, trades, reported, first orders, latest orders]
# (orders as [order id, position])
_START, _MESSAGES, _TRADES, _REPORTED, _FIRST, _LATEST = range(6)
_SHOWN = 5  # first and latest orders shown as evidence


class OrderToTrade(Detector):
    """Too many order messages per trade in a window."""

    kind = ORDER_TO_TRADE

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.window = self.settings.otr_window_seconds * MICROS
        self.minimum = self.settings.otr_min_messages
        self.counts: dict[str, list[Any]] = {}  # "market|account" -> its window

    def _entry(self, key: str, ts: int) -> list[Any]:
        start = ts - ts % self.window
        entry = self.counts.get(key)
        if entry is None or entry[_START] != start:
            entry = self.counts[key] = [start, 0, 0, False, [], []]
            trim(self.counts, self.settings.max_tracked_keys)
        return entry

    def message(self, position: int, market: str, account: str, ts: int, order: str) -> None:
        entry = self._entry(f"{market}|{account}", ts)
        messages = entry[_MESSAGES] = entry[_MESSAGES] + 1
        first = entry[_FIRST]
        if len(first) < _SHOWN:
            first.append([order, position])
        else:
            latest = entry[_LATEST]
            latest.append([order, position])
            if len(latest) == 2 * _SHOWN:
                del latest[:_SHOWN]  # the latest five kept, a cut every fifth message
        if messages < self.minimum or entry[_REPORTED]:
            return
        settings = self.settings
        if messages <= settings.otr_max_ratio * max(1, entry[_TRADES]):
            return
        entry[_REPORTED] = True
        trades = entry[_TRADES]
        shown = first + entry[_LATEST][-_SHOWN:]
        self.report(
            f"{account}:{market}:{shown[0][1]}",
            account,
            market,
            score(messages, settings.otr_max_ratio * max(1, trades)),
            f"{messages} order messages and {trades} trade(s) by {account} in {market} since "
            f"{to_datetime(entry[_START]).isoformat()} (limit: {settings.otr_max_ratio} "
            f"messages per trade from {settings.otr_min_messages} messages)",
            [Evidence(ACCOUNT, account, position)]
            + [Evidence(ORDER, order_id, at) for order_id, at in shown],
            ts,
        )

    def trade(self, position: int, market: str, record: Record) -> None:
        ts = record[TS]
        self._entry(f"{market}|{record[TRADE_TAKER_ACCOUNT]}", ts)[_TRADES] += 1
        self._entry(f"{market}|{record[TRADE_MAKER_ACCOUNT]}", ts)[_TRADES] += 1

    def sweep(self, now: int) -> None:
        """Forget windows that have ended (it changes no finding)."""
        start = now - now % self.window
        for key in [k for k, entry in self.counts.items() if entry[_START] < start]:
            del self.counts[key]

    def dump(self) -> dict[str, Any]:
        return {"counts": self.counts}

    def load(self, data: dict[str, Any]) -> None:
        self.counts = data["counts"]
