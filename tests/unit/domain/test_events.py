"""`trigger` builds the same event, and leaves the same aggregate, as `trigger_event`."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import Mapper

from socialtrading.domain.ids import SYSTEM_ACTOR, market_id
from socialtrading.domain.market import Market
from socialtrading.domain.time import to_datetime
from socialtrading.engine.book import BUY, LIMIT, SELL
from socialtrading.engine.spec import MarketSpec
from socialtrading.infra.store import EventStore

SPEC = MarketSpec("BTC-USD", Decimal("0.01"), Decimal("0.0001"))


def _market() -> Market:
    return Market.create(market_id("BTC-USD"), SPEC, "BTC", "USD", 5, 10, SYSTEM_ACTOR, "l", 1)


def _mapper() -> Mapper[UUID]:
    store = EventStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    return Mapper(transcoder=store.mapper.transcoder)


@pytest.mark.parametrize("refused", [False, True])
def test_market_record_stores_what_trigger_event_would(refused: bool) -> None:
    ours, theirs = _market(), _market()
    event_class = Market.OrderRejected if refused else Market.OrderAccepted
    terms = {"side": SELL, "qty": 3} if refused else None
    for market, how in ((ours, "ours"), (theirs, "library")):
        records = market.book.submit(3, "b1", "alice", BUY, LIMIT, 10_000, 3)
        if how == "ours":
            market.record(event_class, "alice-id", "c1", "b1", records, terms)
        else:  # what `record` did before `trigger`
            market.settlement.postings(records, market.live_orders)
            market._forget_finished(records)
            market.trigger_event(
                event_class,
                command_id="c1",
                actor="alice-id",
                order_id="b1",
                records=records,
                terms=terms,
                timestamp=to_datetime(market.book.ts),
            )
    mine, library = ours.collect_events(), theirs.collect_events()
    assert [type(e) for e in mine] == [type(e) for e in library] == [Market.Listed, event_class]
    assert set(vars(mine[-1])) == {f.name for f in dataclasses.fields(event_class)}
    mapper = _mapper()
    stored_ours = [mapper.to_stored_event(e) for e in mine]
    stored_library = [mapper.to_stored_event(e) for e in library]
    for a, b in zip(stored_ours, stored_library, strict=True):
        assert (a.originator_id, a.originator_version, a.topic) == (
            b.originator_id,
            b.originator_version,
            b.topic,
        )
        assert mapper.transcoder.decode(a.state) == mapper.transcoder.decode(b.state)
    assert (ours.version, ours.modified_on) == (theirs.version, theirs.modified_on)
    assert ours.version == 2 and ours.modified_on == to_datetime(3)
    # and an aggregate rebuilt from our stored events is the same market
    rebuilt = None
    for stored in stored_ours:
        event: Any = mapper.to_domain_event(stored)
        rebuilt = event.mutate(rebuilt)
    assert isinstance(rebuilt, Market)
    assert rebuilt.book.snapshot() == ours.book.snapshot() == theirs.book.snapshot()
