"""Time travel: an account or a market as it stood at a log position or at a sequencer time,
from its snapshots plus its events up to that point (never by replaying the whole log).

A **cut** names a point of the past: a position P (the state after every event stored at or
before notification id P) or a time T (the state after every event whose recorded sequencer
time is at or before T, in microseconds).

Each aggregate is cut on its own: its versions are numbered 1, 2, ... and both their
notification ids and their recorded times grow with the version (the writer's clock never
goes back, and an aggregate's events are stored in the order they happened), so the last
version within the cut is found by a search over versions, 16 probes a query (a 1,000,000
event market takes 5 queries). Why not one global position for a time: a batch stores its
events aggregate by aggregate, not command by command, so inside a batch the log's positions
are not in time order; an aggregate's own versions are, so a market cut by time shows exactly
the commands stamped at or before T. (An account's ledger postings of a batch carry the
batch's last command's time: an account cut inside a batch's few milliseconds shows the
batch's postings after the markets' changes.)

The aggregate at version v is then its newest snapshot at or before v (the writer keeps every
snapshot it takes: a market every `snapshot_interval` events, at least every half its live
orders; an account every `snapshot_interval` events) plus its events after the snapshot up
to v. So a market's cost is its book's size plus at most that many events, whatever the
log's length.

Open orders need times the book does not keep: when each order was accepted (and at which
position: the API lists orders newest first by it) and last changed. Those come from the
events replayed after the snapshot, and, for orders older than the snapshot, from the
market's earlier events read newest first until each order's acceptance is found (each
event's bytes are searched for the order ids before anything is decoded). That search is as
long as the account's oldest open order has rested: the weak spot, documented in
docs/audit.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.domain import Aggregate

from socialtrading.audit.stream import Stream
from socialtrading.domain.account import Account
from socialtrading.domain.ids import market_id
from socialtrading.domain.market import Market
from socialtrading.domain.time import to_micros
from socialtrading.engine.book import Order
from socialtrading.engine.records import (
    ACCEPTED,
    AMENDED,
    CANCELLED,
    EXPIRED,
    KIND,
    ORDER_ID,
    RESTED,
    TRADE,
    TRADE_MAKER,
    TRADE_TAKER,
    TRIGGERED,
    TS,
)
from socialtrading.infra.command_index import MARKET
from socialtrading.infra.decoding import EventDecoder
from socialtrading.infra.store import EventStore, Row

# An event's timestamp in the store's JSON (infra/transcoder.py) as its first field, or as its
# last (then the document ends right after it: a nested one would close more braces).
_STAMP = rb'"timestamp":\{"_type_":"datetime_iso","_data_":"([^"]+)"\}'
_FIRST_TIMESTAMP = re.compile(rb"\{" + _STAMP)
_LAST_TIMESTAMP = re.compile(rb"," + _STAMP + rb"\}\Z")
# The order ids (32 hex digits, quoted) in an event's bytes: records name orders by them.
_ORDER_ID = re.compile(rb"[0-9a-f]{32}")
_ORDER_IDS = re.compile(rb'"([0-9a-f]{32})"')
# Versions probed per query of the search for a cut's version.
PROBES = 16
# Events read per query when looking back for open orders' times.
LOOK_BACK_PAGE = 2_000

# The records that change an order (and so its `updatedAt`, as the orders read model keeps
# it), with where they name it.
_NAMES_ONE_ORDER = frozenset({ACCEPTED, RESTED, CANCELLED, EXPIRED, AMENDED, TRIGGERED})


class Cut(NamedTuple):
    """A point of the past: a log position, or a sequencer time in microseconds."""

    position: int | None = None
    time: int | None = None

    def __repr__(self) -> str:
        return f"Cut(position={self.position})" if self.time is None else f"Cut(time={self.time})"


@dataclass(slots=True)
class OrderTimes:
    """What the log says of one order up to a cut: the position and time of its acceptance
    and the time of its last change (None: not seen yet)."""

    cursor: int | None = None
    created: int | None = None
    updated: int | None = None


@dataclass(slots=True)
class PastMarket:
    """A market at a cut: the aggregate at `version`, rebuilt from the snapshot at `since`
    (0: from its first event), and the times of the orders its replay saw."""

    market: Market
    version: int
    since: int
    times: dict[str, OrderTimes] = field(default_factory=dict)


class PastOrder(NamedTuple):
    """An order live at a cut, as its market's book held it then."""

    market: Market
    order: Order  # the engine's live order (read it; it belongs to `market`'s book)
    resting: bool  # in the book (else a pending stop or a market order queued for an auction)
    cursor: int  # the notification id of the event that accepted it
    created: int  # when it was accepted (microseconds)
    updated: int  # when it last changed at or before the cut


class TimeTravel:
    """Accounts and markets of one event store as of a cut."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.stream = Stream(store)
        self._decoder = EventDecoder(store.mapper)

    # ------------------------------------------------------------------ the log

    def head(self) -> int:
        """The newest position of the log (0: empty)."""
        return self.stream.head()

    def time_at(self, position: int) -> int | None:
        """The recorded time of the log's last event at or before `position`."""
        row = self.stream.last_at(position)
        return None if row is None else self.recorded_time(row)

    # ------------------------------------------------------------------ aggregates

    def version(self, aggregate_id: UUID, cut: Cut) -> int:
        """The aggregate's last version within the cut (0: it did not exist yet)."""
        stream = self.stream

        def positions(versions: Sequence[int]) -> dict[int, int]:
            return stream.positions(aggregate_id, versions)

        def times(versions: Sequence[int]) -> dict[int, int]:
            rows = stream.states(aggregate_id, versions)
            return {version: self.recorded_time(row) for version, row in rows.items()}

        if cut.position is not None:
            return last_within(stream.last_version(aggregate_id), positions, cut.position)
        if cut.time is not None:
            return last_within(stream.last_version(aggregate_id), times, cut.time)
        raise ValueError("a cut names a position or a time")

    def load(
        self,
        aggregate_id: UUID,
        version: int,
        watch: Callable[[int, Any], None] | None = None,
    ) -> tuple[Aggregate, int] | None:
        """The aggregate at `version` and the version of the snapshot it started from (0:
        none), or None for version 0. `watch(position, event)` sees each replayed event."""
        if version <= 0:
            return None
        aggregate: Any = None
        since = 0
        stored = self.stream.snapshot(aggregate_id, version)
        if stored is not None:
            snapshot: Any = self.store.mapper.to_domain_event(stored)
            aggregate = snapshot.mutate(None)
            since = stored.originator_version
        for position, event in self._decoder.decode(
            self.stream.events(aggregate_id, since, version)
        ):
            aggregate = event.mutate(aggregate)
            if watch is not None:
                watch(position, event)
        if isinstance(aggregate, Market) and not aggregate.knows_positions():
            # snapshotted before markets kept positions: as the writer does, from its events
            aggregate.recover_positions(self.store.events.get(aggregate_id, lte=version))
        assert isinstance(aggregate, Aggregate)
        return aggregate, since

    def account(self, account_id: UUID, cut: Cut) -> Account | None:
        """The account at the cut (None: not registered yet)."""
        with self.stream.reading():
            found = self.load(account_id, self.version(account_id, cut))
        if found is None:
            return None
        assert isinstance(found[0], Account)
        return found[0]

    def market(self, symbol: str, cut: Cut) -> Market | None:
        """The market at the cut (None: not listed yet, or never)."""
        found = self.past_market(market_id(symbol), cut, watch=False)
        return None if found is None else found.market

    def past_market(self, market: UUID, cut: Cut, *, watch: bool) -> PastMarket | None:
        """The market at the cut; with `watch`, with the times of the orders its replay saw."""
        times: dict[str, OrderTimes] = {}
        with self.stream.reading():
            version = self.version(market, cut)
            found = self.load(market, version, _order_watch(times) if watch else None)
        if found is None:
            return None
        aggregate, since = found
        assert isinstance(aggregate, Market)
        return PastMarket(aggregate, version, since, times)

    def markets(self, cut: Cut, *, watch: bool = False) -> list[PastMarket]:
        """Every market listed at the cut, in the order listed."""
        listed = [aggregate for aggregate, kind in self.store.loaded_aggregates() if kind == MARKET]
        found = []
        with self.stream.reading():
            for aggregate_id in listed:
                past = self.past_market(aggregate_id, cut, watch=watch)
                if past is not None:
                    found.append(past)
        return found

    # ------------------------------------------------------------------ open orders

    def open_orders(
        self, account: str, markets: Iterable[PastMarket], limit: int
    ) -> list[PastOrder]:
        """`account`'s orders live at the cut of `markets` (taken with `watch`), newest
        first (by the position of their acceptance), at most `limit`."""
        candidates: list[tuple[PastMarket, Order, bool]] = []
        for past in markets:
            book = past.market.book
            in_book = {order.id for order in book.resting_orders() if order.account == account}
            mine = [order for order in book.live_orders() if order.account == account]
            # a market's own orders: newer acceptance, later in its sequence
            mine.sort(key=lambda order: order.accept_seq, reverse=True)
            candidates += [(past, order, order.id in in_book) for order in mine[:limit]]
            unknown = [
                order.id
                for order in mine[:limit]
                if order.id not in past.times or past.times[order.id].cursor is None
            ]
            if unknown:
                with self.stream.reading():
                    self._look_back(past, unknown)
        found = []
        for past, order, resting in candidates:
            times = past.times[order.id]
            assert times.cursor is not None and times.created is not None
            assert times.updated is not None
            found.append(
                PastOrder(past.market, order, resting, times.cursor, times.created, times.updated)
            )
        found.sort(key=lambda o: (o.cursor, o.order.accept_seq), reverse=True)
        return found[:limit]

    def _look_back(self, past: PastMarket, order_ids: list[str]) -> None:
        """Find the acceptance (and, if the replay did not see one, the last change) of
        these orders in the market's events up to its snapshot, newest first."""
        times = past.times
        pending = {order_id.encode() for order_id in order_ids}
        if not all(_ORDER_ID.fullmatch(order_id) for order_id in pending):
            raise ValueError(f"not order ids as markets make them: {sorted(pending)}")
        for order_id in order_ids:
            times.setdefault(order_id, OrderTimes())
        upto = past.since
        while pending and upto > 0:
            rows = self.stream.events(
                past.market.id,
                max(0, upto - LOOK_BACK_PAGE),
                upto,
                newest_first=True,
            )
            if not rows:
                break
            upto = rows[-1].originator_version - 1
            for row in rows:
                if not _names_any(row.state, pending):
                    continue
                [(position, event)] = self._decoder.decode([row])
                for record in reversed(event.records):
                    for order_id in _changed(record):
                        if order_id.encode() not in pending:
                            continue
                        seen = times[order_id]
                        if seen.updated is None:
                            seen.updated = record[TS]
                        if record[KIND] == ACCEPTED:
                            seen.cursor = position
                            seen.created = record[TS]
                            pending.discard(order_id.encode())
        if pending:
            raise LookupError(f"no acceptance found for orders {sorted(pending)}")

    # ------------------------------------------------------------------ helpers

    def recorded_time(self, row: Row) -> int:
        """The sequencer time a stored event recorded (microseconds)."""
        # The store's JSON holds the event's timestamp first or last of its fields: read it
        # without decoding the rest (a market event may hold thousands of records);
        # anything else is decoded.
        state = row.state
        found = _FIRST_TIMESTAMP.match(state) or _LAST_TIMESTAMP.search(state, len(state) - 120)
        if found is not None:
            return to_micros(datetime.fromisoformat(found.group(1).decode()))
        [(_, event)] = self._decoder.decode([row])
        return to_micros(event.timestamp)


def last_within(newest: int, keys: Callable[[Sequence[int]], dict[int, int]], bound: int) -> int:
    """The last of versions 1..`newest` whose key is at most `bound` (0: none), where keys
    never decrease with the version; `keys(versions)` reads some versions' keys at once, and
    is asked for at most PROBES versions a time."""
    low, high = 0, newest
    while low < high:  # the answer lies in [low, high]
        probes = _probes(low, high)
        found = keys(probes)
        for version in probes:
            if found[version] <= bound:
                low = version
            else:
                high = version - 1
                break
    return low


def _probes(low: int, high: int) -> list[int]:
    """Up to PROBES versions in (low, high], evenly spread, ending with `high`."""
    span = high - low
    if span <= PROBES:
        return list(range(low + 1, high + 1))
    return sorted({low + max(1, span * step // PROBES) for step in range(1, PROBES + 1)})


def _names_any(state: bytes, order_ids: set[bytes]) -> bool:
    """Whether an event's bytes name any of these orders (as the market makes them: 32 hex
    digits, found in one pass over the bytes)."""
    return not order_ids.isdisjoint(_ORDER_IDS.findall(state))


def _changed(record: Sequence[Any]) -> tuple[str, ...]:
    """The orders a record changes (what moves an order's `updatedAt` in the read model)."""
    kind = record[KIND]
    if kind == TRADE:
        return (record[TRADE_TAKER], record[TRADE_MAKER])
    if kind in _NAMES_ONE_ORDER:
        return (record[ORDER_ID],)
    return ()


def _order_watch(times: dict[str, OrderTimes]) -> Callable[[int, Any], None]:
    """A `load` watcher noting each order's acceptance and last change in `times`."""

    def watch(position: int, event: Any) -> None:
        records = getattr(event, "records", None)
        if records is None:
            return
        for record in records:
            for order_id in _changed(record):
                seen = times.get(order_id)
                if seen is None:
                    seen = times[order_id] = OrderTimes()
                seen.updated = record[TS]
                if record[KIND] == ACCEPTED:
                    seen.cursor = position
                    seen.created = record[TS]

    return watch
