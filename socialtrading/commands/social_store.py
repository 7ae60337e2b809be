"""What the social handlers read beyond the accounts and markets the writer keeps in memory.

- `SocialCache`: posts, comments, likes and reports (and surveillance alerts) are not loaded
  at start-up (there may be millions). A handler asks for one by id; the cache answers from
  memory or loads it from the store (snapshot plus events) and keeps it, least recently used
  first out, up to `maxsize`.
  An aggregate with events not yet collected (created or changed by the current batch) is
  never evicted, so later commands of the batch see it. The writer makes a new cache whenever
  it reloads its state.
  Before each batch the writer names the ids its commands will ask for (`wanted` in
  `commands/registry.py`); those the store's aggregates table does not list are then answered
  as absent without a look-up (a first like, a new post: most of a burst's commands), and
  those it lists that are not in memory are loaded together (`infra/load_many.py`: a few
  queries for the batch, not two per aggregate).
- `trade_finder`: a trade id is `SYMBOL:SEQ`; the market event holding record SEQ is found
  by binary search over the market's event versions (the records of a market are stored in
  sequence order), first among the events of the current batch not stored yet.

Both reach the store through callables, so the handlers stay store-agnostic (and a State
without a store, as in unit tests, knows only what its batch created).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from socialtrading.domain.market import Market
from socialtrading.domain.social.like import Like
from socialtrading.engine.records import KIND, SEQ, TRADE, Record
from socialtrading.infra.store import EventStore

A = TypeVar("A", bound=Aggregate)

# Social aggregates kept in memory by default: 45,000 posts, comments and reports (a post
# takes about 0.8 KB and more with a long body), 15,000 likes (docs/decisions.md).
CACHE_SIZE = 60_000

# Finds the `trade` record with a sequence number in a market, None when there is none.
TradeFinder = Callable[[Market, int], Record | None]


def _load_nothing(_: UUID) -> Aggregate | None:
    return None


def _list_everything(ids: Sequence[UUID]) -> set[UUID]:
    return set(ids)  # "may exist": every miss asks the loader


def _load_none(_: Sequence[UUID]) -> dict[UUID, Aggregate]:
    return {}  # nothing loaded ahead: each miss asks the loader


def _find_nothing(_market: Market, _seq: int) -> Record | None:
    return None


class SocialCache:
    """A bounded LRU cache of social aggregates over a loader, and the trade finder."""

    def __init__(
        self,
        load: Callable[[UUID], Aggregate | None] = _load_nothing,
        find_trade: TradeFinder = _find_nothing,
        maxsize: int = CACHE_SIZE,
        listed: Callable[[Sequence[UUID]], set[UUID]] = _list_everything,
        load_many: Callable[[Sequence[UUID]], dict[UUID, Aggregate]] = _load_none,
    ) -> None:
        self._load = load
        self._load_many = load_many
        self.find_trade = find_trade
        self.maxsize = maxsize
        self._listed = listed
        self._kept: OrderedDict[UUID, Aggregate] = OrderedDict()  # posts, comments, reports
        self._likes: OrderedDict[UUID, Aggregate] = OrderedDict()
        self._absent: set[UUID] = set()  # ids known not to be stored (this batch)

    def prefetch(self, ids: Sequence[UUID]) -> None:
        """Learn, in one query, which of `ids` (those a batch's commands will ask for) are
        not stored, so that asking for them costs no look-up (a first like, a new post), and
        load those stored but not in memory together (`load_many`). The absent ones are
        valid until the next call (the writer calls it before each batch; what the batch
        creates is kept in memory meanwhile)."""
        kept, likes = self._kept, self._likes
        unknown = [id_ for id_ in dict.fromkeys(ids) if id_ not in kept and id_ not in likes]
        found = self._listed(unknown) if unknown else set()
        self._absent = {id_ for id_ in unknown if id_ not in found}
        if found:
            loaded = self._load_many([id_ for id_ in unknown if id_ in found])
            for aggregate in loaded.values():
                self.add(aggregate)

    def __len__(self) -> int:
        return len(self._kept) + len(self._likes)

    def get(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        """The aggregate with this id if it is a `kind`, else None."""
        shelf = self._likes if kind is Like else self._kept
        found = shelf.get(aggregate_id)
        if found is None:
            if aggregate_id in self._absent:
                return None
            found = self._load(aggregate_id)
            if found is None:
                return None
            self.add(found)
        else:
            shelf.move_to_end(aggregate_id)
        return found if isinstance(found, kind) else None

    def add(self, aggregate: Aggregate) -> None:
        """Keep an aggregate (a new one, or one just loaded); evict the least recently used
        ones that have no uncollected events while the cache is over its size.

        Likes have their own quarter of `maxsize`: a burst of first likes (rarely read
        again) would otherwise push out the posts the next likes need."""
        likes = max(1, self.maxsize // 4)
        if isinstance(aggregate, Like):
            _keep(self._likes, aggregate, likes)
        else:
            _keep(self._kept, aggregate, max(1, self.maxsize - likes))


def _keep(kept: OrderedDict[UUID, Aggregate], aggregate: Aggregate, maxsize: int) -> None:
    kept[aggregate.id] = aggregate
    kept.move_to_end(aggregate.id)
    excess = len(kept) - maxsize
    if excess <= 0:
        return
    # Oldest first, stopping at the first `excess` evictable ones: the oldest are from
    # earlier batches (collected) unless a batch made more than `maxsize` aggregates.
    # (Copying the keys here cost O(maxsize) per add once full: 1,000 likes/s.)
    victims: list[UUID] = []
    for key, kept_one in kept.items():
        if not kept_one.pending_events:
            victims.append(key)
            if len(victims) == excess:
                break
    for key in victims:
        del kept[key]


def repository_loader(store: EventStore) -> Callable[[UUID], Aggregate | None]:
    """Load an aggregate from `store` by id (snapshot plus events), None when it is not
    there."""
    repository = store.repository

    def load(aggregate_id: UUID) -> Aggregate | None:
        try:
            found: Aggregate = repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return found

    return load


def trade_finder(store: EventStore) -> TradeFinder:
    """Find a market's trade by its sequence number in `store` (see the module's text)."""
    recorder = store.recorder
    mapper = store.mapper

    def records_at(market_id: UUID, version: int) -> Sequence[Any]:
        stored = recorder.select_events(market_id, gt=version - 1, lte=version)
        if len(stored) != 1:
            return ()
        event = mapper.to_domain_event(stored[0])
        return event.records if isinstance(event, Market.BookChanged) else ()

    def find(market: Market, seq: int) -> Record | None:
        if not 0 < seq <= market.book.seq:
            return None
        pending = market.pending_events
        for event in pending:
            if isinstance(event, Market.BookChanged):
                found = _in(event.records, seq)
                if found is not None:
                    return found
        low, high = 2, market.version - len(pending)  # version 1 is the listing
        while low <= high:
            middle = (low + high) // 2
            records = records_at(market.id, middle)
            if not records:
                return None  # not a book event: the log is not what this search expects
            if seq < records[0][SEQ]:
                high = middle - 1
            elif seq > records[-1][SEQ]:
                low = middle + 1
            else:
                return _in(records, seq)
        return None

    return find


def _in(records: Sequence[Any], seq: int) -> Record | None:
    """The trade record numbered `seq` among `records`, if there is one."""
    if not records or not records[0][SEQ] <= seq <= records[-1][SEQ]:
        return None
    for record in records:
        if record[SEQ] == seq:
            return tuple(record) if record[KIND] == TRADE else None
    return None
