"""Marking the close / ramping: aggressive orders moving the last price in the final minutes
of a candle period.

Periods are `close_period_seconds` of log time aligned on the epoch (hours by default,
UTC, as the candles are); their final `close_window_seconds` are watched. Each trade in that
window moves the market's last price by (its price - the last price before it), and the
move is put to the taker's account (a leader's block account's to the leader). An account is
reported, once per market and period, when in the window

- its net move is at least `close_min_move_bps` of the last price before the window,
- made by at least `close_min_orders` of its orders moving the price that way, and
- it is at least `close_min_share_percent` of all price moves in the window (up and down
  counted alike): the account, not the market, moved the price.
"""

from __future__ import annotations

from typing import Any

from socialtrading.domain.time import to_datetime
from socialtrading.engine.records import (
    SEQ,
    TRADE_PRICE,
    TRADE_TAKER,
    TRADE_TAKER_ACCOUNT,
    TS,
    Record,
)
from socialtrading.policies.surveillance.base import Detector
from socialtrading.policies.surveillance.context import MICROS, Context, trim
from socialtrading.policies.surveillance.findings import (
    MARKING_THE_CLOSE,
    MAX_EVIDENCE,
    ORDER,
    TRADE,
    Evidence,
    score,
)

# a market: [period of its window, last price, price before the window, moves in the window]
_PERIOD, _LAST, _REFERENCE, _GROSS = range(4)
# an account: [period, net move, reported, orders up, orders down] (orders: [id, position, seq])
_NET, _REPORTED, _UP, _DOWN = range(1, 5)


class MarkingTheClose(Detector):
    """An account's aggressive orders move the last price in a period's final minutes."""

    kind = MARKING_THE_CLOSE

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        settings = self.settings
        self.period = settings.close_period_seconds * MICROS
        self.window = settings.close_window_seconds * MICROS
        self.markets: dict[str, list[Any]] = {}  # market -> its state
        self.accounts: dict[str, list[Any]] = {}  # "market|account" -> its moves

    def trade(self, position: int, market: str, record: Record) -> None:
        price = record[TRADE_PRICE]
        state = self.markets.get(market)
        if state is None:
            state = self.markets[market] = [None, None, None, 0]
        before = state[_LAST]
        state[_LAST] = price
        ts = record[TS]
        period = ts - ts % self.period
        if before is None or ts < period + self.period - self.window or price == before:
            return
        if state[_PERIOD] != period:
            state[_PERIOD] = period
            state[_REFERENCE] = before
            state[_GROSS] = 0
        move = price - before
        state[_GROSS] += abs(move)
        taker: str = record[TRADE_TAKER_ACCOUNT]
        account = self.context.blocks.get(taker) or taker
        key = f"{market}|{account}"
        entry = self.accounts.get(key)
        if entry is None or entry[_PERIOD] != period:
            entry = self.accounts[key] = [period, 0, False, [], []]
            trim(self.accounts, self.settings.max_tracked_keys)
        entry[_NET] += move
        orders = entry[_UP] if move > 0 else entry[_DOWN]
        order_id = record[TRADE_TAKER]
        if (not orders or orders[-1][0] != order_id) and len(orders) < MAX_EVIDENCE:
            orders.append([order_id, position, record[SEQ]])
        if entry[_REPORTED]:
            return
        net = entry[_NET]
        reference = state[_REFERENCE]
        settings = self.settings
        way = entry[_UP] if net > 0 else entry[_DOWN]
        if (
            abs(net) * 10_000 < settings.close_min_move_bps * reference
            or len(way) < settings.close_min_orders
            or abs(net) * 100 < settings.close_min_share_percent * state[_GROSS]
        ):
            return
        entry[_REPORTED] = True
        bps = abs(net) * 10_000 // reference
        close = to_datetime(period + self.period).isoformat()
        evidence = [Evidence(ORDER, order, at) for order, at, _ in way]
        evidence += [Evidence(TRADE, f"{market}:{seq}", at) for _, at, seq in way]
        self.report(
            f"{account}:{market}:{way[0][1]}",
            account,
            market,
            score(abs(net) * 10_000, settings.close_min_move_bps * reference),
            f"{len(way)} aggressive order(s) of {account} moved {market}'s last price "
            f"{'up' if net > 0 else 'down'} {abs(net)} ticks ({bps} bps) in the last "
            f"{settings.close_window_seconds}s before the {close} close, "
            f"{abs(net) * 100 // max(1, state[_GROSS])}% of the price moves in that time",
            evidence,
            ts,
        )

    def sweep(self, now: int) -> None:
        """Forget the moves of periods that have ended (it changes no finding)."""
        period = now - now % self.period
        for key in [k for k, entry in self.accounts.items() if entry[_PERIOD] < period]:
            del self.accounts[key]

    def dump(self) -> dict[str, Any]:
        return {"markets": self.markets, "accounts": self.accounts}

    def load(self, data: dict[str, Any]) -> None:
        self.markets = data["markets"]
        self.accounts = data["accounts"]
