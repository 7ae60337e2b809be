"""The Market aggregate: one market's listing and its order book, event-sourced.

Each command on the book becomes ONE event carrying the engine's result records (accepted or
rejected, trades, rests, cancels, expiries, amends, triggers, uncrosses). Applying an event
brings the book up to date from those records without re-running matching, so recorded
history stays authoritative even after the matching code changes.

Live, the command method runs the engine (which moves the book) and then triggers the event;
the event's apply skips records the book has already seen (by sequence number), so the live
path and a rebuild from the store share one apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from socialtrading.domain.events import trigger
from socialtrading.domain.positions import Positions
from socialtrading.domain.settlement import Ledger, Posting, Terms
from socialtrading.domain.time import to_datetime
from socialtrading.engine.book import OrderBook
from socialtrading.engine.records import (
    ACCEPTED,
    ACCEPTED_ACCOUNT,
    ACCEPTED_ID,
    ACCEPTED_PRICE,
    ACCEPTED_SIDE,
    AMENDED,
    AMENDED_ID,
    AMENDED_NEW_PRICE,
    CANCELLED,
    EXPIRED,
    KIND,
    ORDER_ID,
    SEQ,
    TRADE,
    TRADE_MAKER,
    TRADE_TAKER,
    TRIGGERED,
    Record,
)
from socialtrading.engine.spec import MarketSpec


class Market(Aggregate):
    """A listed market: its spec, fees and order book."""

    class Listed(Aggregate.Created):
        symbol: str
        base: str
        quote: str
        tick_size: Decimal
        lot_size: Decimal
        min_qty: Decimal | None
        max_qty: Decimal | None
        max_notional: Decimal | None
        collar_ticks: int | None
        reference_price: Decimal | None
        mode: str
        maker_fee_bps: int
        taker_fee_bps: int
        by: str
        command_id: str
        max_price: Decimal | None = None  # absent from listings stored before it existed

    class BookChanged(Aggregate.Event):
        """Base of the events that carry engine records."""

        command_id: str
        actor: str
        order_id: str | None
        records: list[Any]
        # The refused order's own terms (side, type, price, qty, tif, post_only, stop_price,
        # in ticks and lots) on an OrderRejected event: its `rejected` record names only the
        # order, so the audit trail and the read models would not know what was refused.
        terms: dict[str, Any] | None = None

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Market)
            aggregate._apply_records(self.records)

    class OrderAccepted(BookChanged):
        """A new order was accepted (and matched, rested or queued, as the records say)."""

    class OrderRejected(BookChanged):
        """A new order was refused by the market's rules; the record says why."""

    class OrderCancelled(BookChanged):
        """An order was cancelled at its owner's request."""

    class OrderAmended(BookChanged):
        """An order's price or open quantity was changed."""

    class RequestRejected(BookChanged):
        """A cancel, amend or market-control request was refused; the record says why."""

    class Halted(BookChanged):
        """Trading was halted."""

    class Resumed(BookChanged):
        """A halt was lifted."""

    class AuctionStarted(BookChanged):
        """The market entered call-auction mode."""

    class AuctionUncrossed(BookChanged):
        """The call auction ran at one price and continuous trading resumed."""

    class OrdersExpired(BookChanged):
        """Due GTD orders expired on an explicit expiry run."""

    def __init__(
        self,
        symbol: str,
        base: str,
        quote: str,
        tick_size: Decimal,
        lot_size: Decimal,
        min_qty: Decimal | None,
        max_qty: Decimal | None,
        max_notional: Decimal | None,
        collar_ticks: int | None,
        reference_price: Decimal | None,
        mode: str,
        maker_fee_bps: int,
        taker_fee_bps: int,
        by: str,
        command_id: str,
        max_price: Decimal | None = None,
    ) -> None:
        self.symbol = symbol
        self.base = base
        self.quote = quote
        self.maker_fee_bps = maker_fee_bps
        self.taker_fee_bps = taker_fee_bps
        self.book = OrderBook(
            MarketSpec(
                symbol=symbol,
                tick_size=tick_size,
                lot_size=lot_size,
                min_qty=min_qty,
                max_qty=max_qty,
                max_notional=max_notional,
                collar_ticks=collar_ticks,
                reference_price=reference_price,
                mode=mode,
                max_price=max_price,
            )
        )
        # order id -> (account, side, price) of every live order: what the ledger needs to
        # know about orders that a command's records name (derivable from the book).
        self.terms: Terms = {}
        # account id (text) -> [signed lots, cost basis] of every open position, moved by
        # the trade records (the rule of `domain/positions.py`): what a post discloses.
        self.positions = Positions()

    @classmethod
    def create(
        cls,
        market_id: UUID,
        spec: MarketSpec,
        base: str,
        quote: str,
        maker_fee_bps: int,
        taker_fee_bps: int,
        by: UUID,
        command_id: str,
        ts: int,
    ) -> Market:
        """List a new market."""
        return cls._create(
            cls.Listed,
            id=market_id,
            symbol=spec.symbol,
            base=base,
            quote=quote,
            tick_size=spec.tick_size,
            lot_size=spec.lot_size,
            min_qty=spec.min_qty,
            max_qty=spec.max_qty,
            max_notional=spec.max_notional,
            collar_ticks=spec.collar_ticks,
            reference_price=spec.reference_price,
            mode=spec.mode,
            max_price=spec.max_price,
            maker_fee_bps=maker_fee_bps,
            taker_fee_bps=taker_fee_bps,
            by=str(by),
            command_id=command_id,
            timestamp=to_datetime(ts),
        )

    @property
    def spec(self) -> MarketSpec:
        """The market's specification."""
        return self.book.spec

    def ledger(self, fee_account: str) -> Ledger:
        """The money rules of this market, crediting fees to `fee_account`."""
        spec = self.book.spec
        return Ledger(
            self.symbol,
            self.base,
            self.quote,
            spec.tick_size,
            spec.lot_size,
            self.maker_fee_bps,
            self.taker_fee_bps,
            fee_account,
        )

    def record(
        self,
        event: type[BookChanged],
        actor: str,
        command_id: str,
        order_id: str | None,
        records: list[Record],
        ledger: Ledger,
        terms: dict[str, Any] | None = None,
    ) -> list[Posting]:
        """Store the records of one command, which the book has already applied.

        Returns the ledger postings the records imply, computed against the order terms as
        they were before the command; the caller posts them to the accounts.
        """
        postings = ledger.postings(records, self.terms)
        self._prune_terms(records)
        self.positions.apply(records)
        trigger(
            self,
            event,
            {
                "timestamp": to_datetime(self.book.ts),
                "command_id": command_id,
                "actor": actor,
                "order_id": order_id,
                "records": records,
                "terms": terms,
            },
        )
        return postings

    def knows_positions(self) -> bool:
        """Whether the market tracks positions (False: loaded from a snapshot taken before
        positions were tracked; see `recover_positions`)."""
        return "positions" in self.__dict__

    def recover_positions(self, events: Iterable[Any]) -> None:
        """Rebuild the positions from the market's own events (after an old snapshot)."""
        positions = self.positions = Positions()
        for event in events:
            if isinstance(event, Market.BookChanged):
                positions.apply(event.records)

    def position_book(self) -> Positions:
        """The positions (created empty for a market restored from an old snapshot, which
        `recover_positions` then fills)."""
        positions: Positions | None = self.__dict__.get("positions")
        if positions is None:
            positions = self.positions = Positions()
        return positions

    def _apply_records(self, records: Sequence[Sequence[Any]]) -> None:
        if records[-1][SEQ] <= self.book.seq:
            return  # live: `record` ran these through the book and the terms already
        self.book.apply_records(records)
        self.position_book().apply(records)
        terms = self.terms
        for record in records:
            kind = record[KIND]
            if kind == ACCEPTED:
                terms.setdefault(
                    record[ACCEPTED_ID],
                    (record[ACCEPTED_ACCOUNT], record[ACCEPTED_SIDE], record[ACCEPTED_PRICE]),
                )
            elif kind == AMENDED:
                account, side, _ = terms[record[AMENDED_ID]]
                terms[record[AMENDED_ID]] = (account, side, record[AMENDED_NEW_PRICE])
        self._prune_terms(records)

    def _prune_terms(self, records: Sequence[Sequence[Any]]) -> None:
        """Forget the terms of orders the records finished."""
        terms = self.terms
        live = self.book.order
        for record in records:
            kind = record[KIND]
            if kind == TRADE:
                for order_id in (record[TRADE_TAKER], record[TRADE_MAKER]):
                    if live(order_id) is None:
                        terms.pop(order_id, None)
            elif kind in _MAY_FINISH_AN_ORDER and live(record[ORDER_ID]) is None:
                terms.pop(record[ORDER_ID], None)


_MAY_FINISH_AN_ORDER = frozenset({ACCEPTED, CANCELLED, EXPIRED, AMENDED, TRIGGERED})
