"""A generated stream of commands from honest traders of many kinds, for the surveillance
tests and benchmark: what the detectors must NOT report.

Two markets (BTC-USD about 100, ETH-USD about 50; tick 0.01, lot 0.001) and, by role:

- market makers quote both sides with one size (post-only GTC), cancel and quote again
  around a fair price that wanders a tick at a time;
- takers cross the spread with small IOC limit orders, now and then a market order;
- resting traders leave GTC limit orders away from the touch and cancel their oldest;
- posters buy, publish a BULLISH post about BTC-USD (their position disclosed), talk without
  a market meanwhile, hold for more than a day of log time, then sell and say so;
- fans follow a few posters, often buy after their posts, sell later;
- leaders trade with IOC orders now and then, copied by copiers (the copy-trading process
  sends the copies: run it beside the writer), some of whom stop copying late in the run.

`setup()` gives what comes first (listings, accounts, funds, follows, copies); `stream()`
gives `count` commands. Log time must advance about `STEP_SECONDS` per command (the clock
the writer is given: `clock()`), so that holds of a day are longer than a day. The same seed
gives the same commands.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Final
from uuid import UUID

from socialtrading.commands.copying import SetCopySettings, StartCopying, StopCopying, copy_of
from socialtrading.commands.models import (
    CancelOrder,
    Command,
    Deposit,
    ListMarket,
    PlaceOrder,
    RegisterTrader,
)
from socialtrading.commands.social import Follow, PublishPost
from socialtrading.commands.writer import Ack, Writer
from socialtrading.domain.errors import DomainError
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id, order_id
from socialtrading.engine.book import BUY, IOC, MARKET, SELL, Side

STEP_SECONDS: Final = 1.2
START_US: Final = 1_800_000_000_000_000  # 2027-01-15T08:00:00Z
TICK: Final = Decimal("0.01")
LOT: Final = Decimal("0.001")
MIDS: Final = {"BTC-USD": 10_000, "ETH-USD": 5_000}  # fair prices in ticks
HOLD_SECONDS: Final = 26 * 3600  # a poster's hold: longer than a day
ROLES: Final = {
    "mm": 6,
    "taker": 40,
    "rester": 15,
    "poster": 10,
    "fan": 20,
    "leader": 3,
    "copier": 30,
}


def clock(step_seconds: float = STEP_SECONDS) -> Iterator[int]:
    """Log time for the writer: `step_seconds` more at each command."""
    now = START_US
    step = int(step_seconds * 1_000_000)
    while True:
        now += step
        yield now


def handles(role: str) -> list[str]:
    """The handles of a role's traders."""
    return [f"{role}{n}" for n in range(ROLES[role])]


class HonestFlow:
    """The generator (module text)."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.mids = dict(MIDS)
        self.n = 0
        self.quotes: dict[tuple[str, str], list[str]] = {}  # (maker, market) -> live quotes
        self.resting: dict[str, list[str]] = {}  # rester -> its orders, oldest first
        self.follows: dict[str, list[str]] = {}  # poster -> its fans
        self.copies: list[tuple[str, UUID]] = []  # (copier, copy id)

    def _id(self) -> str:
        self.n += 1
        return f"h{self.n}"

    # ------------------------------------------------------------------ the start

    def setup(self) -> list[Command]:
        """Listings, accounts and their funds, follows, leaders' terms and copies."""
        commands: list[Command] = [
            ListMarket(
                command_id=f"list-{symbol}",
                actor=SYSTEM_ACTOR,
                symbol=symbol,
                tick_size=TICK,
                lot_size=LOT,
                collar_ticks=100_000,
                reference_price=mid * TICK,
                taker_fee_bps=10,
            )
            for symbol, mid in MIDS.items()
        ]
        for role in ROLES:
            for handle in handles(role):
                trader = account_id(handle)
                commands.append(RegisterTrader(command_id="register", handle=handle))
                rich = role == "mm"
                for asset, amount in (
                    ("USD", "100000000" if rich else "1000000"),
                    ("BTC", "1000000" if rich else "1000"),
                    ("ETH", "1000000" if rich else "1000"),
                ):
                    commands.append(
                        Deposit(
                            command_id=f"fund-{asset}",
                            actor=trader,
                            account=trader,
                            asset=asset,
                            amount=Decimal(amount),
                        )
                    )
        posters = handles("poster")
        for fan in handles("fan"):
            for poster in self.rng.sample(posters, self.rng.randint(1, 3)):
                self.follows.setdefault(poster, []).append(fan)
                commands.append(Follow(command_id=self._id(), actor=account_id(fan), handle=poster))
        leaders = handles("leader")
        for leader in leaders:
            commands.append(SetCopySettings(command_id=self._id(), actor=account_id(leader)))
        for copier in handles("copier"):
            start = StartCopying(
                command_id=self._id(),
                actor=account_id(copier),
                leader=self.rng.choice(leaders),
                amount=Decimal(self.rng.randint(2, 20) * 1000),
            )
            commands.append(start)
            copied = copy_of(start)
            assert copied is not None
            self.copies.append((copier, copied))
        return commands

    # ------------------------------------------------------------------ the stream

    def stream(self, count: int) -> Iterator[Command]:
        """`count` commands of every role, in a plausible order."""
        rng = self.rng
        hold = int(HOLD_SECONDS / STEP_SECONDS)
        # what happens when: (command number, tie-break, what, who)
        agenda: list[tuple[int, int, str, str]] = []
        for n, poster in enumerate(handles("poster")):
            heapq.heappush(agenda, (rng.randrange(max(1, count // 20)), n, "post", poster))
        for n in rng.sample(range(len(self.copies)), 5):
            heapq.heappush(agenda, (count * 9 // 10 + rng.randrange(count // 10), n, "stop", ""))
        bought: dict[str, int] = {}  # poster or fan -> lots bought and held
        emitted = 0
        while emitted < count:
            batch: list[Command] = []
            while agenda and agenda[0][0] <= emitted:
                _, n, what, who = heapq.heappop(agenda)
                if what == "post":
                    lots = rng.randint(500, 2000)
                    bought[who] = lots
                    batch += self._poster_buys(who, lots)
                    heapq.heappush(agenda, (emitted + hold, n, "sell", who))
                    for fan in self.follows.get(who, []):
                        if rng.random() < 0.6:
                            when = emitted + rng.randint(5, 400)
                            heapq.heappush(agenda, (when, n, "fan", fan))
                elif what == "sell":
                    batch += self._poster_sells(who, bought.pop(who))
                elif what == "fan":
                    lots = rng.randint(10, 200)
                    bought[who] = bought.get(who, 0) + lots
                    batch.append(self._take(who, "BTC-USD", BUY, lots))
                else:
                    copier, copy = self.copies[n]
                    batch.append(
                        StopCopying(command_id=self._id(), actor=account_id(copier), copy_id=copy)
                    )
            if not batch:
                batch = self._ordinary(bought)
            for command in batch:
                if emitted < count:
                    emitted += 1
                    yield command

    def _ordinary(self, bought: dict[str, int]) -> list[Command]:
        """One thing a market maker, taker, rester, fan, poster or leader does."""
        rng = self.rng
        roll = rng.random()
        market = "BTC-USD" if rng.random() < 0.6 else "ETH-USD"
        if roll < 0.50:
            return self._requote(rng.choice(handles("mm")), market)
        if roll < 0.78:
            return [self._take(rng.choice(handles("taker")), market, rng.choice((BUY, SELL)))]
        if roll < 0.80:
            taker = account_id(rng.choice(handles("taker")))
            return [
                PlaceOrder(
                    command_id=self._id(),
                    actor=taker,
                    market=market,
                    side=rng.choice((BUY, SELL)),
                    type=MARKET,
                    quantity=rng.randint(10, 100) * LOT,
                    time_in_force=IOC,
                )
            ]
        if roll < 0.92:
            return self._rest(rng.choice(handles("rester")), market)
        fans = [who for who in bought if who.startswith("fan")]
        if roll < 0.95 and fans:
            fan = rng.choice(fans)
            return [self._take(fan, "BTC-USD", SELL, bought.pop(fan))]
        if roll < 0.97:
            poster = account_id(rng.choice(handles("poster")))
            sentiment = rng.choice(("BULLISH", "BEARISH", "NEUTRAL"))
            return [
                PublishPost(
                    command_id=self._id(),
                    actor=poster,
                    body=f"markets feel {sentiment.lower()} today",
                    sentiment=sentiment,  # type: ignore[arg-type]
                )
            ]
        if roll < 0.98:
            leader = rng.choice(handles("leader"))
            return [self._take(leader, "BTC-USD", rng.choice((BUY, SELL)), rng.randint(50, 300))]
        self._walk(market)
        return self._requote(rng.choice(handles("mm")), market)

    def _walk(self, market: str) -> None:
        self.mids[market] += self.rng.choice((-1, 0, 0, 1))

    def _requote(self, maker: str, market: str) -> list[Command]:
        """Cancel the maker's quotes in `market`, quote again around the fair price."""
        rng = self.rng
        self._walk(market)
        actor = account_id(maker)
        commands: list[Command] = [
            CancelOrder(command_id=self._id(), actor=actor, order_id=live)
            for live in self.quotes.pop((maker, market), [])
        ]
        mid = self.mids[market] + rng.randint(-1, 1)
        half = rng.randint(5, 10)
        size = rng.randint(500, 1000) * LOT
        placed = []
        sides: tuple[tuple[Side, int], ...] = ((BUY, mid - half), (SELL, mid + half))
        for side, price in sides:
            command_id = self._id()
            placed.append(order_id(actor, command_id))
            commands.append(
                PlaceOrder(
                    command_id=command_id,
                    actor=actor,
                    market=market,
                    side=side,
                    price=price * TICK,
                    quantity=size,
                    post_only=True,
                )
            )
        self.quotes[(maker, market)] = placed
        return commands

    def _take(self, who: str, market: str, side: Side, lots: int | None = None) -> PlaceOrder:
        """An IOC limit order across the spread."""
        mid = self.mids[market]
        price = mid + 25 if side == BUY else mid - 25
        return PlaceOrder(
            command_id=self._id(),
            actor=account_id(who),
            market=market,
            side=side,
            price=price * TICK,
            quantity=(lots or self.rng.randint(10, 200)) * LOT,
            time_in_force=IOC,
        )

    def _rest(self, rester: str, market: str) -> list[Command]:
        """A GTC order away from the touch; the rester's oldest cancelled past three."""
        rng = self.rng
        actor = account_id(rester)
        side: Side = rng.choice((BUY, SELL))
        away = rng.randint(12, 60)
        mid = self.mids[market]
        command_id = self._id()
        orders = self.resting.setdefault(rester, [])
        orders.append(order_id(actor, command_id))
        commands: list[Command] = [
            PlaceOrder(
                command_id=command_id,
                actor=actor,
                market=market,
                side=side,
                price=(mid - away if side == BUY else mid + away) * TICK,
                quantity=rng.randint(50, 500) * LOT,
            )
        ]
        if len(orders) > 3:
            commands.append(CancelOrder(command_id=self._id(), actor=actor, order_id=orders.pop(0)))
        return commands

    def _poster_buys(self, poster: str, lots: int) -> list[Command]:
        actor = account_id(poster)
        return [
            self._take(poster, "BTC-USD", BUY, lots),
            PublishPost(
                command_id=self._id(),
                actor=actor,
                body="$BTC: I bought and I am holding for the long run",
                market="BTC-USD",
                sentiment="BULLISH",
            ),
        ]

    def _poster_sells(self, poster: str, lots: int) -> list[Command]:
        actor = account_id(poster)
        return [
            self._take(poster, "BTC-USD", SELL, lots),
            PublishPost(
                command_id=self._id(),
                actor=actor,
                body="$BTC: took my profit after a good run",
                market="BTC-USD",
                sentiment="NEUTRAL",
            ),
        ]


def drive(writer: Writer, commands: Iterable[Command], in_flight: int = 256) -> Counter[str]:
    """Submit `commands` with at most `in_flight` unacknowledged; each outcome's code
    counted (`ok` when accepted; an error's code when refused before anything is stored:
    an honest cancel may race the fill of its order)."""
    counts: Counter[str] = Counter()
    window: deque[Ack] = deque()

    def settle(ack: Ack) -> None:
        error = ack.exception(120)
        if error is None:
            outcome = ack.result()
            counts["ok" if outcome.accepted else str(outcome.code)] += 1
        elif isinstance(error, DomainError):
            counts[error.code] += 1
        else:
            raise error

    for command in commands:
        window.append(writer.submit(command))
        if len(window) >= in_flight:
            settle(window.popleft())
    for ack in window:
        settle(ack)
    return counts
