"""The Market aggregate: one market's listing and its order book, event-sourced.

The market decides every command on its book (`place`, `cancel`, `amend`, `expire`, `halt`,
`resume`, `start_auction`, `uncross`): it checks what only the market can check (prices on
its tick and within its range, quantities on its lot, the notional maximum, the funds an
order reserves against the owner's available amount, the price a market buy reserves at),
runs the engine, and triggers ONE event carrying the engine's result records (accepted or
rejected, trades, rests, cancels, expiries, amends, triggers, uncrosses). Each decision
returns the ledger postings the records imply; the caller posts them to the accounts.

Applying an event brings the book up to date from its records without re-running matching,
so recorded history stays authoritative even after the matching code changes. Live, the
decision has run the engine (which moved the book) before it triggers the event; the event's
apply skips records the book has already seen (by sequence number), so the live path and a
rebuild from the store share one apply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

from eventsourcing.domain import Aggregate

from socialtrading.domain.errors import InvalidCommand, Refused
from socialtrading.domain.events import trigger
from socialtrading.domain.ids import FEE_ACCOUNT_HANDLE, account_id
from socialtrading.domain.ids import order_id as make_order_id
from socialtrading.domain.positions import Positions
from socialtrading.domain.settlement import LiveOrders, Posting, SettlementRules
from socialtrading.domain.time import to_datetime
from socialtrading.engine.book import BUY, MARKET, OrderBook, OrderType, Side, StpMode, TimeInForce
from socialtrading.engine.records import (
    ACCEPTED,
    ACCEPTED_ACCOUNT,
    ACCEPTED_ID,
    ACCEPTED_PRICE,
    ACCEPTED_SIDE,
    AMENDED,
    AMENDED_ID,
    AMENDED_NEW_PRICE,
    AUCTION_STARTED,
    CANCELLED,
    EXPIRED,
    HALTED,
    KIND,
    ORDER_ID,
    REJECTED,
    REJECTED_ID,
    REJECTED_REASON,
    RESUMED,
    SEQ,
    TRADE,
    TRADE_MAKER,
    TRADE_TAKER,
    TRIGGERED,
    UNCROSSED,
    Record,
)
from socialtrading.engine.spec import (
    MAX_LOTS,
    MAX_NOTIONAL_UNITS,
    PRICE_OUT_OF_RANGE,
    QUANTITY_OUT_OF_RANGE,
    InvalidValueError,
    MarketSpec,
)

# The account every market credits its fees to, as records and postings name accounts.
FEE_ACCOUNT = str(account_id(FEE_ACCOUNT_HANDLE))


class Decision(NamedTuple):
    """What the market decided on one command, stored as one event."""

    records: list[Record]  # the engine's records, as stored
    postings: list[Posting]  # what the accounts' ledgers must post
    order_id: str | None  # the order the command is about (None for market control)
    refusal: str | None  # the reason the market refused the command's order, if it did
    event: tuple[UUID, int]  # (market id, version) of the event that stores the records


def refusal(order_id: str | None, records: Sequence[Sequence[Any]]) -> str | None:
    """The reason code the market rejected the command's order with, None if it did not."""
    for record in records:
        if record[KIND] == REJECTED and record[REJECTED_ID] == order_id:
            return str(record[REJECTED_REASON])
    return None


class Market(Aggregate):
    """A listed market: its spec, fees and order book, and the decisions on them."""

    # Snapshots hold the instance's __dict__; a slot holds what derives from it (the
    # settlement rules), so that it is never stored.
    __slots__ = ("_settlement",)
    if TYPE_CHECKING:
        _settlement: SettlementRules

    # 2: the live orders' attribute is `live_orders` (it was `terms`, see `upcast_v1_v2`).
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Read a snapshot taken while the live orders were called `terms`."""
        state["live_orders"] = state.pop("terms", {})

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
        # and since the hash chain stp, group and expire_ts; in ticks and lots) on an
        # OrderRejected event, and a refused amend's requested price and qty on a
        # RequestRejected one: a `rejected` record names only the order, so the audit trail,
        # the read models and a re-run of the market (audit/determinism.py) would not know
        # what was refused.
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
        # order id -> (account, side, price) of every live order: what the settlement needs
        # to know about orders that a command's records name (derivable from the book).
        self.live_orders: LiveOrders = {}
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

    @property
    def settlement(self) -> SettlementRules:
        """The settlement rules of this market (fees go to the fee account)."""
        try:
            return self._settlement
        except AttributeError:  # a new market, or one restored from a snapshot
            spec = self.book.spec
            self._settlement = SettlementRules(
                self.symbol,
                self.base,
                self.quote,
                spec.tick_size,
                spec.lot_size,
                self.maker_fee_bps,
                self.taker_fee_bps,
                FEE_ACCOUNT,
            )
            return self._settlement

    # ------------------------------------------------------------------ decisions

    def place(
        self,
        owner: str,
        command_id: str,
        side: Side,
        order_type: OrderType,
        price: Decimal | None,
        quantity: Decimal,
        available: Callable[[str], Decimal],
        ts: int,
        *,
        time_in_force: TimeInForce,
        post_only: bool,
        stp: StpMode,
        group: str | None,
        expire_ts: int | None,
        stop_price: Decimal | None,
    ) -> Decision:
        """Place `owner`'s new order: check it against the market's units and maxima and the
        owner's `available(asset)` funds, match it, and store the result.

        Raises InvalidCommand (off the tick or lot, out of range, above the notional maximum,
        the order live already) or Refused (a market buy without a reference price or a
        collar); nothing is stored then. A refusal by the engine, or for funds, is stored.
        """
        spec = self.book.spec
        ticks = _ticks(spec, price)
        stop_ticks = _ticks(spec, stop_price)
        lots = _lots(spec, quantity)
        assert lots is not None
        order_id = make_order_id(owner, command_id)
        if order_id in self.live_orders:
            raise InvalidCommand("duplicate_order", "this command's order is live already")
        book = self.book
        if order_type == MARKET and side == BUY:
            # A market buy pays at most reference + collar: that bounds its reservation.
            reference = book.reference_price()
            if reference is None or spec.collar_ticks is None:
                raise Refused(
                    "no_reference_price", "market buys need a reference price and a price collar"
                )
            # No ask rests above the market's maximum price, so paying up to it is enough.
            ticks = min(reference + spec.collar_ticks, spec.max_price_ticks)
        if ticks is not None:
            _notional(spec, ticks, lots)
        asset, need = self.settlement.need(side, ticks, lots)
        if need > available(asset):
            records = book.reject(ts, "new", order_id, owner, "insufficient_funds")
        else:
            records = book.submit(
                ts,
                order_id,
                owner,
                side,
                order_type,
                ticks,
                lots,
                time_in_force,
                post_only,
                stp,
                group,
                expire_ts,
                stop_ticks,
            )
        return self._decide(
            records,
            owner,
            command_id,
            order_id,
            ACCEPTED,
            self.OrderAccepted,
            self.OrderRejected,
            {
                "side": side,
                "type": order_type,
                "price": ticks,
                "qty": lots,
                "tif": time_in_force,
                "post_only": post_only,
                "stop_price": stop_ticks,
                "stp": stp,
                "group": group,
                "expire_ts": expire_ts,
            },
        )

    def cancel(self, owner: str, command_id: str, order_id: str, ts: int) -> Decision:
        """Cancel one of `owner`'s live orders (InvalidCommand for any other order)."""
        self._check_owner(owner, order_id)
        records = self.book.cancel(ts, order_id, owner)
        return self._decide(
            records,
            owner,
            command_id,
            order_id,
            CANCELLED,
            self.OrderCancelled,
            self.RequestRejected,
        )

    def amend(
        self,
        owner: str,
        command_id: str,
        order_id: str,
        price: Decimal | None,
        quantity: Decimal | None,
        available: Callable[[str], Decimal],
        ts: int,
    ) -> Decision:
        """Amend one of `owner`'s resting orders, checking that `available(asset)` covers any
        extra reservation the new price or quantity needs (a stored refusal if not)."""
        self._check_owner(owner, order_id)
        spec = self.book.spec
        ticks = _ticks(spec, price)
        lots = _lots(spec, quantity)
        book = self.book
        order = book.order(order_id)
        records: list[Record] | None = None
        if order is not None and order.account == owner and order.price is not None:
            settlement = self.settlement
            asset, before = settlement.need(order.side, order.price, order.open)
            new_price = order.price if ticks is None else ticks
            new_lots = order.open if lots is None else lots
            _notional(spec, new_price, new_lots)
            if new_lots > 0 and new_price > 0:
                _, after = settlement.need(order.side, new_price, new_lots)
                if after - before > available(asset):
                    records = book.reject(ts, "amend", order_id, owner, "insufficient_funds")
        if records is None:
            records = book.amend(ts, order_id, owner, ticks, lots)
        return self._decide(
            records,
            owner,
            command_id,
            order_id,
            AMENDED,
            self.OrderAmended,
            self.RequestRejected,
            {"price": ticks, "qty": lots},
        )

    def expire(self, actor: str, command_id: str, ts: int) -> Decision | None:
        """Expire the GTD orders due at `ts`, and nothing else; None if none was due.

        Every other decision expires the due orders first too (the engine does, before
        anything else): this one is for an explicit expiry run, between commands.
        """
        records = self.book.expire(ts)
        if not records:
            return None
        return self._decide(
            records, actor, command_id, None, EXPIRED, self.OrdersExpired, self.RequestRejected
        )

    def halt(self, actor: str, command_id: str, ts: int) -> Decision:
        """Halt trading (a stored refusal if it is halted already)."""
        return self._decide(
            self.book.halt(ts), actor, command_id, None, HALTED, self.Halted, self.RequestRejected
        )

    def resume(self, actor: str, command_id: str, ts: int) -> Decision:
        """Lift a halt (a stored refusal if the market is not halted)."""
        return self._decide(
            self.book.resume(ts),
            actor,
            command_id,
            None,
            RESUMED,
            self.Resumed,
            self.RequestRejected,
        )

    def start_auction(self, actor: str, command_id: str, ts: int) -> Decision:
        """Enter call-auction mode (a stored refusal if in one already)."""
        return self._decide(
            self.book.start_auction(ts),
            actor,
            command_id,
            None,
            AUCTION_STARTED,
            self.AuctionStarted,
            self.RequestRejected,
        )

    def uncross(self, actor: str, command_id: str, ts: int) -> Decision:
        """Run the call auction at one price and return to continuous trading."""
        return self._decide(
            self.book.uncross(ts),
            actor,
            command_id,
            None,
            UNCROSSED,
            self.AuctionUncrossed,
            self.RequestRejected,
        )

    def owns(self, owner: str, order_id: str) -> bool:
        """Whether `order_id` is one of `owner`'s live orders in this market."""
        live = self.live_orders.get(order_id)
        return live is not None and live[0] == owner

    def _check_owner(self, owner: str, order_id: str) -> None:
        """Someone else's order gets exactly the answer an unknown one gets (and nothing is
        stored), so nobody learns whether it exists."""
        if not self.owns(owner, order_id):
            raise InvalidCommand("unknown_order", f"no live order {order_id}")

    def _decide(
        self,
        records: list[Record],
        actor: str,
        command_id: str,
        order_id: str | None,
        success_kind: str,
        succeeded: type[BookChanged],
        failed: type[BookChanged],
        request: dict[str, Any] | None = None,
    ) -> Decision:
        """Store one command's records as `succeeded` if they hold a `success_kind` record
        (about `order_id`, when there is one), else as `failed` (with the refused request's terms,
        `request`)."""
        ok = any(
            r[KIND] == success_kind and (order_id is None or r[ORDER_ID] == order_id)
            for r in records
        )
        postings = self.record(
            succeeded if ok else failed,
            actor,
            command_id,
            order_id,
            records,
            None if ok else request,
        )
        return Decision(
            records, postings, order_id, refusal(order_id, records), (self.id, self.version)
        )

    def record(
        self,
        event: type[BookChanged],
        actor: str,
        command_id: str,
        order_id: str | None,
        records: list[Record],
        request: dict[str, Any] | None = None,
    ) -> list[Posting]:
        """Store the records of one command, which the book has already applied.

        Returns the ledger postings the records imply, computed against the live orders as
        they were before the command. `request` (a refused new order's) is stored in the
        event's `terms`.
        """
        postings = self.settlement.postings(records, self.live_orders)
        self._forget_finished(records)
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
                "terms": request,
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
            return  # live: `record` ran these through the book and the live orders already
        self.book.apply_records(records)
        self.position_book().apply(records)
        live = self.live_orders
        for record in records:
            kind = record[KIND]
            if kind == ACCEPTED:
                live.setdefault(
                    record[ACCEPTED_ID],
                    (record[ACCEPTED_ACCOUNT], record[ACCEPTED_SIDE], record[ACCEPTED_PRICE]),
                )
            elif kind == AMENDED:
                account, side, _ = live[record[AMENDED_ID]]
                live[record[AMENDED_ID]] = (account, side, record[AMENDED_NEW_PRICE])
        self._forget_finished(records)

    def _forget_finished(self, records: Sequence[Sequence[Any]]) -> None:
        """Forget the live orders the records finished."""
        orders = self.live_orders
        live = self.book.order
        for record in records:
            kind = record[KIND]
            if kind == TRADE:
                for order_id in (record[TRADE_TAKER], record[TRADE_MAKER]):
                    if live(order_id) is None:
                        orders.pop(order_id, None)
            elif kind in _MAY_FINISH_AN_ORDER and live(record[ORDER_ID]) is None:
                orders.pop(record[ORDER_ID], None)


_MAY_FINISH_AN_ORDER = frozenset({ACCEPTED, CANCELLED, EXPIRED, AMENDED, TRIGGERED})


def _ticks(spec: MarketSpec, value: Decimal | None) -> int | None:
    """`value` in ticks, within the market's price range, or InvalidCommand."""
    if value is None:
        return None
    try:
        return spec.check_price(spec.to_ticks(value))
    except InvalidValueError as error:
        if error.reason == PRICE_OUT_OF_RANGE:
            message = f"{value} is outside the price range (0, {spec.price(spec.max_price_ticks)}]"
        else:
            message = f"{value} is not a multiple of the tick {spec.tick_size}"
        raise InvalidCommand(error.reason, message) from error


def _lots(spec: MarketSpec, value: Decimal | None) -> int | None:
    """`value` in lots, within the quantity range, or InvalidCommand."""
    if value is None:
        return None
    try:
        return spec.check_lots(spec.to_lots(value))
    except InvalidValueError as error:
        if error.reason == QUANTITY_OUT_OF_RANGE:
            message = f"{value} is outside the quantity range (0, {spec.qty(MAX_LOTS)}]"
        else:
            message = f"{value} is not a multiple of the lot {spec.lot_size}"
        raise InvalidCommand(error.reason, message) from error


def _notional(spec: MarketSpec, ticks: int, lots: int) -> None:
    """InvalidCommand unless price x quantity stays within the notional range."""
    try:
        spec.check_notional(ticks, lots)
    except InvalidValueError as error:
        limit = spec.tick_size * spec.lot_size * MAX_NOTIONAL_UNITS
        raise InvalidCommand(
            error.reason, f"price x quantity is above the notional maximum {limit}"
        ) from error
