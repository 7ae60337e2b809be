"""Run the engine over a journal: JSON Lines in, one JSON object per result record out.

The format is documented in docs/engine.md. The first line lists the market; each later line
is one command. A line that cannot be read (bad JSON, unknown op, missing or mistyped field)
yields an `error` object with its line number and the run goes on. A well-formed order whose
price or quantity is off the market's tick or lot grid is refused by the engine in sequence,
like any other refusal. Pure: takes lines, yields dicts; the CLI does the file I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from socialtrading.engine.book import CANCEL_TAKER, GTC, OrderBook
from socialtrading.engine.records import Record, to_dict
from socialtrading.engine.spec import InvalidValueError, MarketSpec, SpecError


class JournalError(ValueError):
    """A journal line that cannot be read."""


def _field(command: dict[str, Any], name: str, kind: type, required: bool = True) -> Any:
    value = command.get(name)
    if value is None:
        if required:
            raise JournalError(f"missing field {name!r}")
        return None
    if kind is int and isinstance(value, bool):
        raise JournalError(f"field {name!r} must be an integer")
    if not isinstance(value, kind):
        raise JournalError(f"field {name!r} must be {kind.__name__}, got {value!r}")
    return value


def _decimal(command: dict[str, Any], name: str, required: bool = True) -> Decimal | None:
    value = command.get(name)
    if value is None:
        if required:
            raise JournalError(f"missing field {name!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise JournalError(f"field {name!r} must be a decimal string, got {value!r}")
    try:
        return Decimal(value)
    except InvalidOperation as error:
        raise JournalError(f"field {name!r} is not a decimal: {value!r}") from error


def parse_market(command: dict[str, Any]) -> MarketSpec:
    """Build a MarketSpec from a journal's first line."""
    if command.get("op") != "market":
        raise JournalError('the first line must be {"op": "market", ...}')
    try:
        return MarketSpec(
            symbol=_field(command, "symbol", str),
            tick_size=_decimal(command, "tick_size"),  # type: ignore[arg-type]
            lot_size=_decimal(command, "lot_size"),  # type: ignore[arg-type]
            min_qty=_decimal(command, "min_qty", required=False),
            max_qty=_decimal(command, "max_qty", required=False),
            max_notional=_decimal(command, "max_notional", required=False),
            collar_ticks=_field(command, "collar_ticks", int, required=False),
            reference_price=_decimal(command, "reference_price", required=False),
            mode=_field(command, "mode", str, required=False) or "continuous",
        )
    except SpecError as error:
        raise JournalError(f"invalid market: {error}") from error


def _ticks(book: OrderBook, value: Decimal | None) -> int | None:
    return None if value is None else book.spec.to_ticks(value)


def apply_command(book: OrderBook, command: dict[str, Any]) -> list[Record]:
    """Apply one parsed journal command to `book`; raise JournalError if it is malformed."""
    op = command.get("op")
    ts = _field(command, "ts", int)
    if op == "new":
        order_id = _field(command, "id", str)
        account = _field(command, "account", str)
        side = _field(command, "side", str)
        type_ = _field(command, "type", str)
        price = _decimal(command, "price", required=False)
        qty = _decimal(command, "qty")
        stop_price = _decimal(command, "stop_price", required=False)
        tif = _field(command, "tif", str, required=False) or GTC
        post_only = bool(_field(command, "post_only", bool, required=False))
        stp = _field(command, "stp", str, required=False) or CANCEL_TAKER
        group = _field(command, "group", str, required=False)
        expire_ts = _field(command, "expire_ts", int, required=False)
        try:
            price_ticks = _ticks(book, price)
            stop_ticks = _ticks(book, stop_price)
            lots = book.spec.to_lots(qty)  # type: ignore[arg-type]
        except InvalidValueError as error:
            return book.reject(ts, "new", order_id, account, error.reason)
        return book.submit(
            ts,
            order_id,
            account,
            side,
            type_,
            price_ticks,
            lots,
            tif,
            post_only,
            stp,
            group,
            expire_ts,
            stop_ticks,
        )
    if op == "cancel":
        return book.cancel(ts, _field(command, "id", str), _field(command, "account", str))
    if op == "amend":
        order_id = _field(command, "id", str)
        account = _field(command, "account", str)
        price = _decimal(command, "price", required=False)
        qty = _decimal(command, "qty", required=False)
        try:
            price_ticks = _ticks(book, price)
            amend_lots = None if qty is None else book.spec.to_lots(qty)
        except InvalidValueError as error:
            return book.reject(ts, "amend", order_id, account, error.reason)
        return book.amend(ts, order_id, account, price_ticks, amend_lots)
    if op == "uncross":
        return book.uncross(ts)
    if op == "halt":
        return book.halt(ts)
    if op == "resume":
        return book.resume(ts)
    if op == "start_auction":
        return book.start_auction(ts)
    if op == "expire":
        return book.expire(ts)
    raise JournalError(f"unknown op {op!r}")


def run(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Run a journal; yield one dict per record, or per unreadable line an `error` dict."""
    book: OrderBook | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            command = json.loads(line)
            if not isinstance(command, dict):
                raise JournalError("a line must hold a JSON object")
            if book is None:
                book = OrderBook(parse_market(command))
                continue
            records = apply_command(book, command)
        except (JournalError, json.JSONDecodeError) as error:
            yield {"type": "error", "line": number, "message": str(error)}
            continue
        for record in records:
            yield to_dict(record, book.spec)
