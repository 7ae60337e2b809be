"""Reading the past over GraphQL: the `asOf` / `atPosition` arguments of `orderBook`,
`account` and `leaderboard` (time travel: audit/timetravel.py).

Who may: admins and compliance analysts, and a trader for their own account; anyone else
gets FORBIDDEN (UNAUTHENTICATED without a token). The leaderboard's `asOf` stays public, as it
was: leaderboards are published daily closes (docs/stats.md); its `atPosition` is staff only,
as every position argument is.

Bounds: one of the two arguments (AS_OF_CONFLICT), a time not in the future (AS_OF_FUTURE),
a position within 1..the log's newest (POSITION_RANGE).

What the answers hold, in the read models' own units and forms (so they equal what the live
API answered at that point): levels from the market's book at the cut; balances from the
account at the cut; open orders from the markets' books at the cut, with the times the log
gives; positions from the markets' position books at the cut (open positions only: the
realized PnL and fees of a position's history are not kept there, so they are null).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from socialtrading.audit.timetravel import Cut, PastMarket, PastOrder, TimeTravel
from socialtrading.domain.account import ADMIN, COMPLIANCE, COPY
from socialtrading.domain.account import Account as AccountAggregate
from socialtrading.domain.ids import account_id
from socialtrading.domain.market import Market
from socialtrading.domain.time import to_datetime, to_micros
from socialtrading.graphql.errors import ApiError, clip
from socialtrading.graphql.loaders import OPEN_ORDERS_LIMIT
from socialtrading.graphql.markets.types import Level, OrderBook
from socialtrading.graphql.trading.types import Position
from socialtrading.infra.store import EventStore
from socialtrading.projections.market_specs import Spec
from socialtrading.projections.order_status import ACCEPTED, resting
from socialtrading.projections.rows import BalanceRow, LevelRow, OrderRow, clean

if TYPE_CHECKING:
    from socialtrading.graphql.context import Info

T = TypeVar("T")

AS_OF_CONFLICT = "AS_OF_CONFLICT"
AS_OF_FUTURE = "AS_OF_FUTURE"
POSITION_RANGE = "POSITION_RANGE"

ZERO = Decimal(0)

# The arguments' descriptions, the same on every field that takes them.
AS_OF = (
    "Read as it stood at this time: after every event recorded at or before it (not in "
    "the future); not with `atPosition`"
)
AT_POSITION = (
    "Read as it stood at this log position: after every event at or before it (1 to the "
    "newest position); not with `asOf`"
)

# One TimeTravel per event store (it keeps a decoder's per-topic classes).
_travels: weakref.WeakKeyDictionary[EventStore, TimeTravel] = weakref.WeakKeyDictionary()


# Reads of the past run here, off the event loop: a few threads of their own, so that however
# many are asked at once they never take the threads other reads run in (PostgreSQL
# read-model queries use the loop's default executor); the rest wait their turn.
_TRAVELLERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="time-travel")


async def _off_loop(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` in a time-travel thread."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_TRAVELLERS, partial(function, *args, **kwargs))


def travel(info: Info) -> TimeTravel:
    """The time travel of the app's event store."""
    store = info.context.services.writer.store
    found = _travels.get(store)
    if found is None:
        found = _travels[store] = TimeTravel(store)
    return found


def asks_the_past(as_of: datetime | None, at_position: int | None) -> bool:
    """Whether a field was asked as of a point of the past."""
    return as_of is not None or at_position is not None


# ---------------------------------------------------------------------- who and when


async def require_staff(info: Info) -> None:
    """UNAUTHENTICATED without a valid token; FORBIDDEN unless admin or compliance."""
    viewer = await info.context.viewer()
    if viewer is None:
        raise ApiError("UNAUTHENTICATED", "Sign in: reading the past needs a token")
    if not {ADMIN, COMPLIANCE} & set(viewer.roles):
        raise ApiError("FORBIDDEN", "Reading the past needs the compliance or admin role")


async def require_owner_or_staff(info: Info, account: str) -> None:
    """As `require_staff`, but a trader may read their own account's past."""
    viewer = await info.context.viewer()
    if viewer is not None and viewer.id == account:
        return
    await require_staff(info)


async def cut_of(info: Info, as_of: datetime | None, at_position: int | None) -> Cut:
    """The cut the arguments name, checked against the log and the clock."""
    if as_of is not None and at_position is not None:
        raise ApiError(AS_OF_CONFLICT, "Give `asOf` or `atPosition`, not both")
    if at_position is not None:
        head = await _off_loop(travel(info).head)
        if not 1 <= at_position <= head:
            raise ApiError(
                POSITION_RANGE, f"`atPosition` must lie between 1 and the log's newest, {head}"
            )
        return Cut(position=at_position)
    assert as_of is not None
    now = datetime.now(UTC)  # the read side may use the wall clock
    if as_of > now:
        raise ApiError(AS_OF_FUTURE, f"`asOf` lies in the future (it is {now.isoformat()} now)")
    return Cut(time=to_micros(as_of))


async def leaderboard_time(
    info: Info, as_of: datetime | None, at_position: int | None
) -> datetime | None:
    """The time whose day a leaderboard is read as of: `asOf` (anyone), or the recorded
    time of the event at `atPosition` (staff); None for today."""
    if at_position is not None:
        await require_staff(info)
    if not asks_the_past(as_of, at_position):
        return None
    cut = await cut_of(info, as_of, at_position)
    if cut.position is None:
        return as_of
    moment = await _off_loop(travel(info).time_at, cut.position)
    assert moment is not None  # the position lies within the log
    return to_datetime(moment)


# ---------------------------------------------------------------------- the order book


async def past_book(
    info: Info, symbol: str, levels: int, as_of: datetime | None, at_position: int | None
) -> OrderBook:
    """The order book of `symbol` at the cut, `levels` a side (staff only)."""
    await require_staff(info)
    cut = await cut_of(info, as_of, at_position)
    market = await _off_loop(travel(info).market, symbol, cut)
    if market is None:
        raise ApiError("UNKNOWN_MARKET", f"no market {clip(symbol)} at that point")
    bids, asks = book_levels(market, levels)
    return OrderBook(
        market=market.symbol,
        bids=[Level.from_row(row) for row in bids],
        asks=[Level.from_row(row) for row in asks],
    )


def book_levels(market: Market, levels: int) -> tuple[list[LevelRow], list[LevelRow]]:
    """The best `levels` levels of a market's book a side, as the book read model gives them."""
    spec = spec_of(market)
    bids, asks = market.book.depth_with_counts(levels)
    return (
        [LevelRow(spec.price(p), spec.quantity(q), n) for p, q, n in bids],
        [LevelRow(spec.price(p), spec.quantity(q), n) for p, q, n in asks],
    )


def spec_of(market: Market) -> Spec:
    """The read models' spec of a market aggregate (their conversions of ticks and lots)."""
    spec = market.spec
    return Spec(
        str(market.id),
        market.symbol,
        clean(spec.tick_size),
        clean(spec.lot_size),
        market.maker_fee_bps,
        market.taker_fee_bps,
    )


# ---------------------------------------------------------------------- accounts


class PastAccount:
    """An account at a cut, and what its private fields show there."""

    def __init__(self, travel: TimeTravel, cut: Cut, account: AccountAggregate) -> None:
        self.travel = travel
        self.cut = cut
        self.account = account
        self._markets: asyncio.Task[list[PastMarket]] | None = None

    async def _past_markets(self) -> list[PastMarket]:
        """Every market at the cut (loaded once, for positions and open orders both)."""
        if self._markets is None:
            self._markets = asyncio.ensure_future(
                _off_loop(self.travel.markets, self.cut, watch=True)
            )
        return await asyncio.shield(self._markets)

    def balances(self) -> list[BalanceRow]:
        """The balances at the cut, by asset."""
        return balance_rows(self.account)

    async def positions(self) -> list[Position]:
        """The open positions at the cut, by market."""
        key = str(self.account.id)
        found = []
        for past in await self._past_markets():
            quantity, cost = past.market.position_book().of(key)
            if quantity:
                found.append(position_at(past.market, quantity, cost))
        return sorted(found, key=lambda position: position.market)

    async def open_orders(self) -> list[OrderRow]:
        """The orders live at the cut, newest first (at most as many as `openOrders` lists)."""
        markets = await self._past_markets()
        key = str(self.account.id)
        orders = await _off_loop(self.travel.open_orders, key, markets, OPEN_ORDERS_LIMIT)
        return [order_row(order) for order in orders]


async def past_account(
    info: Info, handle: str, as_of: datetime | None, at_position: int | None
) -> PastAccount | None:
    """The account `handle` at the cut (None: not registered then), for its owner and staff."""
    key = account_id(handle)
    await require_owner_or_staff(info, str(key))
    cut = await cut_of(info, as_of, at_position)
    traveller = travel(info)
    account = await _off_loop(traveller.account, key, cut)
    if account is None or account.has_role(COPY):
        return None
    return PastAccount(traveller, cut, account)


def balance_rows(account: AccountAggregate) -> list[BalanceRow]:
    """An account's balances by asset, as the accounts read model shows them."""
    key = str(account.id)
    return [
        BalanceRow(key, asset, clean(account.available(asset)), clean(account.reserved(asset)))
        for asset in account.assets()
    ]


def position_at(market: Market, quantity: int, cost: int) -> Position:
    """An open position as the positions read model shows it (`positions_of`), marked to the
    market's last trade at the cut; its realized PnL and fees are not known there."""
    spec = spec_of(market)
    mark = market.book.last_price
    unrealized = None
    if mark is not None:
        units = quantity * mark - cost if quantity >= 0 else cost + quantity * mark
        unrealized = clean(spec.quote(units)) if quantity else ZERO
    return Position(
        market=market.symbol,
        quantity=spec.quantity(quantity),
        average_entry_price=clean(Decimal(cost) / abs(quantity) * spec.tick_size),
        realized_pnl=None,
        unrealized_pnl=unrealized,
        mark_price=None if mark is None else clean(spec.price(mark)),
        fees_paid=None,
    )


def order_row(past: PastOrder) -> OrderRow:
    """A live order at a cut, as the orders read model shows it."""
    spec = spec_of(past.market)
    order = past.order
    price = order.price
    stop_price = order.stop_price
    return OrderRow(
        id=order.id,
        market=past.market.symbol,
        account_id=order.account,
        side=order.side,
        type=order.type,
        price=None if price is None else spec.price(price),
        quantity=spec.quantity(order.filled + order.open),
        open_quantity=spec.quantity(order.open),
        filled_quantity=spec.quantity(order.filled),
        status=resting(order.filled) if past.resting else ACCEPTED,
        time_in_force=order.tif,
        post_only=bool(order.post_only),
        stop_price=None if stop_price is None else spec.price(stop_price),
        reason=None,
        created_at=to_datetime(past.created),
        updated_at=to_datetime(past.updated),
        cursor=past.cursor,
    )
