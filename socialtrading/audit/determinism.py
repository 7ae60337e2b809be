"""Determinism: every market's recorded commands, re-run through a fresh engine, give the
records its events hold.

A market event stores the engine's records for one command; the command itself is read back
from the event: a new order's terms from its `accepted` record (or, refused, from the event's
`terms`), a cancel's order and owner from the event, an amend's new price and quantity from
its `amended` record (or, refused, from `terms`), market control from the event's class, and
the time from the event's timestamp (the sequencer's, which the engine recorded). Each market
gets its own book, built from its listing and moved only by the re-run, never by the stored
records; the re-run's records must equal the stored ones, field for field.

Some refusals are decided before the engine (funds, `insufficient_funds`) or by the engine
on the time alone (`ts_out_of_order`); they are re-run as the market records them, through
`OrderBook.reject`, which still checks their sequence number, time and the expiries before
them. Events stored before refusals carried all of their terms (a refused order's STP mode,
group and expiry; a refused amend's price and quantity) are re-run that way too.

When a market first appears after the start (a run from an anchor), its state before that
event is loaded from the store (snapshot plus events). One tampered event is named once,
not followed by every later event of its market: after a disagreement the re-run goes on
from the book the re-run left (what the engine says the recorded command did), or, if the
re-run failed, from the state the store holds after that event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from socialtrading.audit.findings import DETERMINISM, RECORDS, REORDERED, UNREADABLE, Finding
from socialtrading.domain.market import Market
from socialtrading.domain.time import to_micros
from socialtrading.engine.book import OrderBook
from socialtrading.engine.records import (
    ACCEPTED,
    ACCEPTED_ACCOUNT,
    ACCEPTED_EXPIRE_TS,
    ACCEPTED_GROUP,
    ACCEPTED_ID,
    ACCEPTED_ORDER_TYPE,
    ACCEPTED_POST_ONLY,
    ACCEPTED_PRICE,
    ACCEPTED_QTY,
    ACCEPTED_SIDE,
    ACCEPTED_STOP_PRICE,
    ACCEPTED_STP,
    ACCEPTED_TIF,
    AMENDED,
    AMENDED_ID,
    AMENDED_NEW_OPEN,
    AMENDED_NEW_PRICE,
    KIND,
    REJECTED,
    REJECTED_ACCOUNT,
    REJECTED_ID,
    REJECTED_OP,
    REJECTED_REASON,
    SEQ,
    Reason,
    Record,
    to_dict,
)

# Refusals decided outside matching: re-run as recorded (see the module's docstring).
INSUFFICIENT_FUNDS = "insufficient_funds"
_AS_RECORDED = frozenset({INSUFFICIENT_FUNDS, Reason.TS_OUT_OF_ORDER})
_ORDER_TERMS = (
    "side",
    "type",
    "price",
    "qty",
    "tif",
    "post_only",
    "stop_price",
    "stp",
    "group",
    "expire_ts",
)
_AMEND_TERMS = ("price", "qty")
_SHOWN = 160  # characters of a record shown in a finding
_KEYS_SHOWN = 4  # differing fields of a record named in a finding

# Market control and expiry: the engine command each event class re-runs.
_CONTROL: dict[type, Callable[[OrderBook, int], list[Record]]] = {
    Market.Halted: OrderBook.halt,
    Market.Resumed: OrderBook.resume,
    Market.AuctionStarted: OrderBook.start_auction,
    Market.AuctionUncrossed: OrderBook.uncross,
    Market.OrdersExpired: OrderBook.expire,
}
_REFUSED_CONTROL: dict[str, Callable[[OrderBook, int], list[Record]]] = {
    "halt": OrderBook.halt,
    "resume": OrderBook.resume,
    "start_auction": OrderBook.start_auction,
    "uncross": OrderBook.uncross,
    "expire": OrderBook.expire,
}

# A market's state at a version (snapshot plus events), from the store.
MarketLoader = Callable[[UUID, int], Market]


class Determinism:
    """Re-runs each market's events, in log order, on a fresh engine of its own."""

    def __init__(self, load: MarketLoader) -> None:
        self._load = load
        self._books: dict[UUID, OrderBook] = {}
        self._versions: dict[UUID, int] = {}  # the version each book is at
        self._skipped: set[UUID] = set()  # markets whose state could not be loaded
        self.markets = 0  # markets followed
        self.commands = 0  # events re-run

    def apply(self, position: int, event: Any) -> list[Finding]:
        """Follow one market event (`Market.Listed` or a `Market.BookChanged`): findings if
        it comes out of its market's order, or re-running it gives other records than it
        holds."""
        market_id: UUID = event.originator_id
        version: int = event.originator_version
        if isinstance(event, Market.Listed):
            listed: Market | None = event.mutate(None)  # the market as listed: a fresh book
            assert listed is not None
            self._books[market_id] = listed.book
            self._versions[market_id] = version
            self.markets += 1
            return []
        if market_id in self._skipped:
            return []
        found: list[Finding] = []
        book = self._books.get(market_id)
        if book is None:  # listed before the start
            self.markets += 1
        elif version != self._versions[market_id] + 1:
            found.append(
                Finding(
                    position,
                    DETERMINISM,
                    REORDERED,
                    f"{book.spec.symbol}'s version {version} comes here, after its version "
                    f"{self._versions[market_id]}",
                )
            )
            book = None
        if book is None:  # go on from the state the store holds before this event
            book = self._reload(market_id, version - 1)
            if book is None:
                return [*found, self._unloadable(position, event)]
        self._versions[market_id] = version
        self.commands += 1
        recorded = [list(record) for record in event.records]
        try:
            rerun: list[list[Any]] | None = [
                list(record) for record in _rerun(book, event, to_micros(event.timestamp))
            ]
            error = None
        except Exception as failed:  # a tampered event may name what the engine never had
            rerun, error = None, failed
        if rerun == recorded:
            return found
        found.append(
            Finding(
                position,
                DETERMINISM,
                RECORDS,
                f"{book.spec.symbol} {type(event).__name__} (market version {version}, "
                f"command {event.command_id!r} of {event.actor}): "
                + (
                    f"re-running it fails ({type(error).__name__}: {error})"
                    if rerun is None
                    else _difference(book, recorded, rerun)
                ),
            )
        )
        # Go on from what the engine says the command did (its recorded input re-run), so
        # that a changed trade does not also disagree with every later event of its market;
        # from the state the store holds after this event when the re-run failed half-way
        # or numbered its records otherwise (a sequence gone astray would differ from then
        # on).
        if (rerun is None or _numbering(rerun) != _numbering(recorded)) and self._reload(
            market_id, version
        ) is None:
            self._skipped.add(market_id)
        return found

    def _reload(self, market_id: UUID, version: int) -> OrderBook | None:
        try:
            book = self._load(market_id, version).book
        except Exception:
            self._books.pop(market_id, None)
            return None
        self._books[market_id] = book
        self._versions[market_id] = version
        return book

    def _unloadable(self, position: int, event: Any) -> Finding:
        self._skipped.add(event.originator_id)
        return Finding(
            position,
            DETERMINISM,
            UNREADABLE,
            f"market {event.originator_id}: its state before version "
            f"{event.originator_version} cannot be loaded; its later events are not re-run",
        )


def _numbering(records: list[list[Any]]) -> list[Any]:
    return [record[SEQ] if len(record) > SEQ else None for record in records]


def _rerun(book: OrderBook, event: Any, ts: int) -> list[Record]:
    """Run the command `event` records on `book`; return the engine's records."""
    records: Sequence[Sequence[Any]] = event.records
    kind = type(event)
    order_id = event.order_id
    if kind is Market.OrderAccepted:
        accepted = next(r for r in records if r[KIND] == ACCEPTED and r[ACCEPTED_ID] == order_id)
        return book.submit(
            ts,
            accepted[ACCEPTED_ID],
            accepted[ACCEPTED_ACCOUNT],
            accepted[ACCEPTED_SIDE],
            accepted[ACCEPTED_ORDER_TYPE],
            accepted[ACCEPTED_PRICE],
            accepted[ACCEPTED_QTY],
            accepted[ACCEPTED_TIF],
            accepted[ACCEPTED_POST_ONLY],
            accepted[ACCEPTED_STP],
            accepted[ACCEPTED_GROUP],
            accepted[ACCEPTED_EXPIRE_TS],
            accepted[ACCEPTED_STOP_PRICE],
        )
    if kind is Market.OrderCancelled:
        return book.cancel(ts, order_id, event.actor)
    if kind is Market.OrderAmended:
        amended = next(r for r in records if r[KIND] == AMENDED and r[AMENDED_ID] == order_id)
        return book.amend(
            ts, order_id, event.actor, amended[AMENDED_NEW_PRICE], amended[AMENDED_NEW_OPEN]
        )
    control = _CONTROL.get(kind)
    if control is not None:
        return control(book, ts)
    if kind not in (Market.OrderRejected, Market.RequestRejected):
        raise ValueError(f"no re-run for {kind.__name__}")
    refused = records[-1]
    if refused[KIND] != REJECTED:
        raise ValueError("a refusal whose last record is not `rejected`")
    op, reason = refused[REJECTED_OP], refused[REJECTED_REASON]
    terms: dict[str, Any] = getattr(event, "terms", None) or {}
    if kind is Market.OrderRejected and reason not in _AS_RECORDED and _holds(terms, _ORDER_TERMS):
        return book.submit(
            ts,
            order_id,
            refused[REJECTED_ACCOUNT],
            terms["side"],
            terms["type"],
            terms["price"],
            terms["qty"],
            terms["tif"],
            terms["post_only"],
            terms["stp"],
            terms["group"],
            terms["expire_ts"],
            terms["stop_price"],
        )
    if kind is Market.RequestRejected and reason not in _AS_RECORDED:
        if op == "cancel":
            return book.cancel(ts, order_id, event.actor)
        if op == "amend" and _holds(terms, _AMEND_TERMS):
            return book.amend(ts, order_id, event.actor, terms["price"], terms["qty"])
        if op in _REFUSED_CONTROL:
            return _REFUSED_CONTROL[op](book, ts)
    return book.reject(ts, op, refused[REJECTED_ID], refused[REJECTED_ACCOUNT], reason)


def _holds(terms: dict[str, Any], names: Sequence[str]) -> bool:
    return all(name in terms for name in names)


def _difference(book: OrderBook, recorded: list[list[Any]], rerun: list[list[Any]]) -> str:
    """Where the recorded records and the re-run's first differ, in words."""
    for index, (stored, again) in enumerate(zip(recorded, rerun, strict=False)):
        if stored != again:
            one, other = _fields(book, stored), _fields(book, again)
            if one.get("type") != other.get("type"):
                return f"record {index + 1} is {_short(one)}, re-running gives {_short(other)}"
            changed = [key for key in one.keys() | other.keys() if one.get(key) != other.get(key)]
            return f"record {index + 1} ({one.get('type')}): " + "; ".join(
                f"{key} is {one.get(key)!r}, re-running gives {other.get(key)!r}"
                for key in sorted(changed)[:_KEYS_SHOWN]
            )
    if len(recorded) > len(rerun):
        extra = _fields(book, recorded[len(rerun)])
        return (
            f"it holds {len(recorded)} records, re-running gives {len(rerun)}; the first "
            f"extra is {_short(extra)}"
        )
    missing = _fields(book, rerun[len(recorded)])
    return (
        f"it holds {len(recorded)} records, re-running gives {len(rerun)}; the first missing "
        f"is {_short(missing)}"
    )


def _fields(book: OrderBook, record: list[Any]) -> dict[str, Any]:
    try:
        return to_dict(tuple(record), book.spec)
    except Exception:  # a record a tampered event holds need not have a known shape
        return {"type": "unknown", "values": record}


def _short(fields: dict[str, Any]) -> str:
    text = ", ".join(f"{key}={value}" for key, value in fields.items() if key not in ("ts",))
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."
