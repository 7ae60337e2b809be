"""The orjson transcoder writes and reads exactly the library's JSON format.

Stores written before it (by `eventsourcing`'s JSONTranscoder) must stay readable, and a store
it writes must be readable by the library's own transcoder: so every stored event and snapshot
of a realistic scenario is compared byte for byte with what the library would have written.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoding,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)

from socialtrading.commands.writer import Writer
from socialtrading.domain import account, market
from socialtrading.domain.compliance import alert
from socialtrading.engine.book import OrderBook
from socialtrading.engine.spec import MarketSpec
from socialtrading.infra.store import EventStore, OrderBookAsDict
from socialtrading.infra.transcoder import LARGE, MARK, OrjsonTranscoder
from tests.integration.projection_scenario import (
    Clock,
    Scenario,
    list_markets,
    open_accounts,
    random_flow,
    run_scenario,
)


def _library_transcoder(store: EventStore) -> JSONTranscoder:
    library = JSONTranscoder()
    store.register_transcodings(library)
    return library


def test_every_stored_event_is_what_the_library_would_write(
    make_writer: Callable[..., Writer], open_event_store: Callable[[], EventStore]
) -> None:
    clock = Clock()
    scenario = Scenario(make_writer(clock=clock, snapshot_interval=5), clock)
    list_markets(scenario)
    open_accounts(scenario)
    run_scenario(scenario)
    random_flow(scenario, 150, seed=3)
    store = open_event_store()
    assert isinstance(store.mapper.transcoder, OrjsonTranscoder)
    library = _library_transcoder(store)
    ours = store.mapper.transcoder

    stored = store.recorder.select_notifications(None, 100_000, inclusive_of_start=True)
    snapshots = [
        snapshot
        for aggregate_id in {n.originator_id for n in stored}
        for snapshot in store.snapshots.recorder.select_events(aggregate_id)  # type: ignore[union-attr]
    ]
    assert len(stored) > 200 and len(snapshots) > 5
    # the writer's own path from events to rows gives the mapper's rows, byte for byte
    events = [store.mapper.to_domain_event(notification) for notification in stored]
    for notification, mine, mapped in zip(
        stored,
        store.to_stored(events),
        [store.mapper.to_stored_event(e) for e in events],
        strict=True,
    ):
        assert (mine.originator_id, mine.originator_version, mine.topic, mine.state) == (
            notification.originator_id,
            notification.originator_version,
            notification.topic,
            notification.state,
        )
        assert mine == mapped
    for record in [*stored, *snapshots]:
        # (decoded states are compared through their encodings: an order book in a market
        # snapshot compares by identity)
        state = library.decode(record.state)
        assert library.encode(ours.decode(record.state)) == record.state, record.topic
        assert ours.encode(state) == record.state == library.encode(state), record.topic


def test_values_at_any_depth_round_trip() -> None:
    ours = OrjsonTranscoder()
    library = JSONTranscoder()
    for transcoder in (ours, library):
        for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
            transcoder.register(transcoding)
    moment = datetime(2027, 1, 15, 8, 0, 0, 123456, tzinfo=UTC)
    state: dict[str, Any] = {
        "timestamp": moment,
        "amount": Decimal("-1.50"),
        "records": [["trade", 7, [Decimal("2E+3"), {"at": moment}]], []],
        "text": 'é "quoted" \\ \x01',
        "nested": {"1": {"deep": [Decimal("0.0001")]}},
        "none": None,
        "flag": True,
        "big": 2**62,
    }
    encoded = ours.encode(state)
    assert encoded == library.encode(state)
    assert ours.decode(encoded) == state == library.decode(encoded)
    # the library's UUID form is still read
    assert ours.decode(library.encode({"id": UUID(int=5)})) == {"id": UUID(int=5)}


def test_an_unregistered_type_is_refused_both_ways() -> None:
    ours = OrjsonTranscoder()
    with pytest.raises(TranscodingNotRegisteredError):
        ours.encode({"x": Decimal(1)})
    with pytest.raises(TranscodingNotRegisteredError):
        ours.decode(b'{"x":{"_type_":"mystery","_data_":"1"}}')


def _event_classes() -> list[type[Any]]:
    found: list[type[Any]] = []
    for module in (account, market, alert):
        for _, owner in inspect.getmembers(module, inspect.isclass):
            if issubclass(owner, Aggregate) and owner is not Aggregate:
                found.extend(
                    member
                    for _, member in inspect.getmembers(owner, inspect.isclass)
                    if issubclass(member, Aggregate.Event)
                )
    return found


def test_no_event_carries_a_uuid_value() -> None:
    """orjson would write a UUID as a plain string, which would come back as a str."""
    classes = _event_classes()
    assert len(classes) > 15
    for cls in classes:
        hints = typing.get_type_hints(cls)
        for name, hint in hints.items():
            if name in ("originator_id", "originator_version", "timestamp"):
                continue  # stored in their own columns, or a datetime
            if typing.get_origin(hint) is typing.ClassVar:
                continue  # not stored
            assert "UUID" not in repr(hint), f"{cls.__qualname__}.{name}: {hint!r}"


def test_a_custom_transcoding_for_decimal_replaces_the_inline_one() -> None:
    class DecimalAsTuple(Transcoding):
        type = Decimal
        name = "decimal_tuple"

        def encode(self, obj: Decimal) -> list[Any]:
            sign, digits, exponent = obj.as_tuple()
            return [sign, list(digits), exponent]

        def decode(self, data: list[Any]) -> Decimal:
            return Decimal((data[0], tuple(data[1]), data[2]))

    ours = OrjsonTranscoder()
    ours.register(DecimalAsStr())
    assert ours.encode({"x": Decimal("1.5")}) == b'{"x":{"_type_":"decimal_str","_data_":"1.5"}}'
    ours.register(DecimalAsTuple())
    encoded = ours.encode({"x": Decimal("1.5")})
    assert encoded == b'{"x":{"_type_":"decimal_tuple","_data_":[0,[1,5],-1]}}'
    assert ours.decode(encoded) == {"x": Decimal("1.5")}


def test_a_large_document_reads_as_the_library_reads_it() -> None:
    """Above `LARGE` bytes (a market snapshot's book of thousands of orders) the standard
    parser and the library's hook read it: the result is the same as below that size."""
    ours = OrjsonTranscoder()
    library = JSONTranscoder()
    for transcoder in (ours, library):
        for transcoding in (DecimalAsStr(), DatetimeAsISO(), OrderBookAsDict()):
            transcoder.register(transcoding)
    book = OrderBook(MarketSpec("BTC-USD", Decimal("0.01"), Decimal("0.001")))
    for n in range(3_000):
        side = "buy" if n % 2 else "sell"
        price = 9_000 - n % 500 if side == "buy" else 11_000 + n % 500
        book.submit(n, f"order{n}", f"account{n % 40}", side, "limit", price, 1 + n % 7)
    moment = datetime(2027, 1, 15, 8, 0, 0, 123456, tzinfo=UTC)
    state = {
        "timestamp": moment,
        "state": {"book": book, "fees": [Decimal("0.5"), {"at": moment}], "live": {"a": [1]}},
    }
    encoded = ours.encode(state)
    assert encoded == library.encode(state) and len(encoded) > LARGE
    large = ours.decode(encoded)
    small = ours.revive(orjson.loads(encoded), encoded.count(MARK))  # the path below LARGE
    for decoded in (large, small, library.decode(encoded)):
        assert library.encode(decoded) == encoded
        assert decoded["state"]["fees"] == [Decimal("0.5"), {"at": moment}]
        assert decoded["state"]["book"].snapshot() == book.snapshot()
