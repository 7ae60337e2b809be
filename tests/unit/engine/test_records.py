"""Record rendering: `to_dict` gives decimal strings and `from_dict` reverses it exactly."""

from __future__ import annotations

import json

from socialtrading.engine.records import (
    FIELDS,
    RESTED,
    TRADE,
    Record,
    from_dict,
    to_dict,
)
from tests.unit.engine.book_helpers import (
    SCENARIO,
    SCENARIO_OPTIONS,
    make_book,
    make_spec,
    run_commands,
)


def _scenario_records() -> list[Record]:
    return run_commands(make_book(**SCENARIO_OPTIONS), SCENARIO)


def test_to_dict_renders_prices_and_quantities_as_decimal_strings() -> None:
    record = (TRADE, 7, 123, 10025, 15000, "t", "m", "buy", "at", "am")
    assert to_dict(record, make_spec()) == {
        "type": TRADE,
        "seq": 7,
        "ts": 123,
        "price": "100.25",
        "qty": "1.5",
        "taker": "t",
        "maker": "m",
        "taker_side": "buy",
        "taker_account": "at",
        "maker_account": "am",
    }


def test_to_dict_keeps_missing_prices_as_none() -> None:
    assert to_dict((RESTED, 1, 2, "m", None, 3), make_spec()) == {
        "type": RESTED,
        "seq": 1,
        "ts": 2,
        "id": "m",
        "price": None,
        "open": "0.0003",
    }


def test_every_record_kind_has_a_field_layout_matching_its_tuples() -> None:
    for record in _scenario_records():
        assert len(record) == 3 + len(FIELDS[record[0]]), record


def test_from_dict_reverses_to_dict_for_every_record_of_a_session() -> None:
    spec = make_spec(**SCENARIO_OPTIONS)
    records = _scenario_records()
    assert len({record[0] for record in records}) == len(FIELDS)
    for record in records:
        rendered = json.loads(json.dumps(to_dict(record, spec)))
        assert from_dict(rendered, spec) == record
