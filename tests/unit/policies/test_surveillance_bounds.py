"""What the detectors hold stays bounded however many accounts, orders, posts, follows and
copies an attacker makes: every collection within its cap, and the whole state no larger
after twice the flood.

The flood is made of real engine records (an `OrderBook`) in events shaped as the decoder
makes them, fed to the scanner.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

import orjson
import pytest

from socialtrading.domain.account import Account
from socialtrading.domain.copy.copy import Copy
from socialtrading.domain.ids import NAMESPACE
from socialtrading.domain.market import Market
from socialtrading.domain.social.post import Post
from socialtrading.domain.time import to_datetime
from socialtrading.engine.book import BUY, GTC, IOC, LIMIT, SELL, OrderBook
from socialtrading.engine.spec import MarketSpec
from socialtrading.infra.settings import SurveillanceSettings
from socialtrading.policies.surveillance.scanner import Scanner

MARKET_ID = uuid5(NAMESPACE, "market:BTC-USD")
CAPS = SurveillanceSettings(
    max_tracked_orders=1000, max_tracked_keys=200, max_follows=200, max_events_per_key=8
)
START = 1_800_000_000_000_000


def _event(cls: type, **state: Any) -> Any:
    event: Any = object.__new__(cls)
    event.__dict__.update(state)
    return event


def _account(n: int) -> str:
    return str(uuid5(NAMESPACE, f"account:flood{n}"))


class Flood:
    """A book and a log position; `wave(first, count)` floods with new accounts."""

    def __init__(self) -> None:
        self.book = OrderBook(
            MarketSpec(symbol="BTC-USD", tick_size=Decimal("0.01"), lot_size=Decimal("0.01"))
        )
        self.position = 0
        self.ts = START

    def _book_event(self, cls: type, actor: str, order: str, records: list[Any]) -> Any:
        return _event(cls, originator_id=MARKET_ID, actor=actor, order_id=order, records=records)

    def wave(self, first: int, count: int) -> list[tuple[int, Any]]:
        items: list[Any] = []
        book = self.book
        for n in range(first, first + count):
            self.ts += 1_000_000
            maker, taker = _account(2 * n), _account(2 * n + 1)
            price = 10_000 + n % 50
            rest = book.submit(self.ts, f"o{n}", maker, BUY, LIMIT, price, 100, GTC)
            items.append(self._book_event(Market.OrderAccepted, maker, f"o{n}", rest))
            other = book.submit(self.ts, f"t{n}", taker, SELL, LIMIT, price, 10, IOC)
            items.append(self._book_event(Market.OrderAccepted, taker, f"t{n}", other))
            if n % 2:
                gone = book.cancel(self.ts, f"o{n}", maker)
                items.append(self._book_event(Market.OrderCancelled, maker, f"o{n}", gone))
            timestamp = to_datetime(self.ts)
            post = uuid5(NAMESPACE, f"post{n}")
            items.append(
                _event(
                    Post.Published,
                    originator_id=post,
                    timestamp=timestamp,
                    author=maker,
                    market="BTC-USD",
                    sentiment="BULLISH",
                    cashtags=["BTC"],
                    position={"quantity": "1", "average_entry": "100"},
                )
            )
            items.append(_event(Account.Followed, originator_id=UUID(taker), target=maker))
            items.append(
                _event(
                    Copy.Started,
                    originator_id=uuid5(NAMESPACE, f"copy{n}"),
                    leader=maker,
                    copier=taker,
                    allocation=_account(10**9 + n),
                )
            )
        positioned = []
        for item in items:
            self.position += 1
            positioned.append((self.position, item))
        return positioned


def _largest(value: Any) -> int:
    """The length of the largest list or dict anywhere in `value`."""
    if isinstance(value, dict):
        return max([len(value), *(_largest(v) for v in value.values())])
    if isinstance(value, list):
        return max([len(value), *(_largest(v) for v in value)])
    return 0


def test_a_flood_of_new_accounts_orders_posts_follows_and_copies_stays_within_the_caps() -> None:
    scanner = Scanner(CAPS)
    listed = _event(
        Market.Listed,
        originator_id=MARKET_ID,
        symbol="BTC-USD",
        base="BTC",
        lot_size=Decimal("0.01"),
    )
    scanner.scan([(0, listed)])
    flood = Flood()
    scanner.scan(flood.wave(0, 3000))
    once = len(scanner.dump())
    scanner.scan(flood.wave(3000, 3000))
    twice = len(scanner.dump())
    assert twice <= once * 11 // 10, (once, twice)
    state = orjson.loads(scanner.dump()[1:])
    assert _largest(state) <= CAPS.max_tracked_orders
    for name, kept in state["context"].items():
        assert _largest(kept) <= max(CAPS.max_tracked_keys, CAPS.max_follows), name
    for kind, held in state["detectors"].items():
        for name, kept in held.items():
            bound = CAPS.max_tracked_orders if name == "resting" else CAPS.max_tracked_keys
            assert _largest(kept) <= max(bound, 4 * CAPS.max_events_per_key), (kind, name)


def test_an_event_the_detectors_cannot_read_is_logged_and_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scanner = Scanner(SurveillanceSettings(otr_min_messages=2, otr_max_ratio=1))
    listed = _event(
        Market.Listed,
        originator_id=MARKET_ID,
        symbol="BTC-USD",
        base="BTC",
        lot_size=Decimal("0.01"),
    )
    flood = Flood()
    items = [(0, listed), *flood.wave(0, 1)]
    broken = _event(
        Market.OrderAccepted,
        originator_id=MARKET_ID,
        actor=_account(0),
        order_id="x",
        records=[("trade", 1)],  # a record cut short
    )
    flood.position += 1
    at = flood.position
    found = scanner.scan([*items, (at, broken), *flood.wave(1, 2)])
    assert scanner.failures == 1
    assert f"event {at} " in caplog.text
    # the scan went on past it: a maker placing and cancelling after it is found
    assert [(f.kind, position > at) for position, f in found] == [("order_to_trade", True)]
