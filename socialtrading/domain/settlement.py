"""The settlement rules of one market: what each order reserves and how each record moves money.

Amounts are computed in integer units of the market (quote: tick x lot; base: lot) and turned
into Decimal once, so nothing is ever rounded twice.

- A buy order reserves, per lot, its price plus the larger fee rate, rounded up per lot:
  `ceil(price * (10_000 + max_bps) / 10_000)` quote units. Being linear in lots, the reserve
  of any part of an order is known from the order's price alone. A market buy is priced at its
  protection price (the most it may pay). A sell order reserves its lots of base.
- A fill of q lots at price p releases q lots' reserve; the buyer pays q*p plus its fee, the
  seller receives q*p minus its fee, the fee account receives both fees. Fees are rounded down:
  `floor(q * p * bps / 10_000)`. The buyer's reserve per lot always covers price plus fee, so
  no balance can go negative, and every trade moves money between accounts only.
- Cancels, expiries and STP decrements release the reserve of the lots removed; an amend
  re-reserves the difference between the new and the old open quantity at the new price.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from socialtrading.engine.book import BUY
from socialtrading.engine.records import (
    ACCEPTED,
    ACCEPTED_ACCOUNT,
    ACCEPTED_ID,
    ACCEPTED_PRICE,
    ACCEPTED_QTY,
    ACCEPTED_SIDE,
    AMENDED,
    AMENDED_ID,
    AMENDED_NEW_OPEN,
    AMENDED_NEW_PRICE,
    AMENDED_OLD_OPEN,
    AMENDED_OLD_PRICE,
    CANCELLED,
    CANCELLED_QTY,
    EXPIRED,
    KIND,
    ORDER_ID,
    SEQ,
    TRADE,
    TRADE_MAKER,
    TRADE_PRICE,
    TRADE_QTY,
    TRADE_TAKER,
    TRADE_TAKER_SIDE,
)

# order id -> (account, side, price in ticks) for every live order of the market
LiveOrders = dict[str, tuple[str, str, int | None]]
# (account, kind, reference, asset, available delta, reserved delta)
Posting = tuple[str, str, str, str, Decimal, Decimal]

_BPS = 10_000


class SettlementRules:
    """The money rules of one market: what orders reserve, what records post (see the module
    docstring). The accounts hold the ledger; these rules say what to post to it."""

    def __init__(
        self,
        symbol: str,
        base: str,
        quote: str,
        tick_size: Decimal,
        lot_size: Decimal,
        maker_fee_bps: int,
        taker_fee_bps: int,
        fee_account: str,
    ) -> None:
        self.symbol = symbol
        self.base = base
        self.quote = quote
        self.quote_unit = tick_size * lot_size
        self.base_unit = lot_size
        self.maker_fee_bps = maker_fee_bps
        self.taker_fee_bps = taker_fee_bps
        self._reserve_bps = _BPS + max(maker_fee_bps, taker_fee_bps)
        self.fee_account = fee_account

    def per_lot(self, price: int) -> int:
        """Quote units a buy order reserves per lot at `price`."""
        return -(-price * self._reserve_bps // _BPS)

    def need(self, side: str, price: int | None, lots: int) -> tuple[str, Decimal]:
        """(asset, amount) an order of `lots` at `price` reserves."""
        if side == BUY:
            assert price is not None, "a buy order is reserved at its (protection) price"
            return self.quote, self.quote_unit * (lots * self.per_lot(price))
        return self.base, self.base_unit * lots

    def postings(self, records: Iterable[Sequence[Any]], live: LiveOrders) -> list[Posting]:
        """Every ledger posting the records of one command imply, in record order.

        `live` must hold the live orders as they were before the command; orders accepted by
        these records are added to it as they appear. The caller forgets finished orders.
        """
        out: list[Posting] = []
        for record in records:
            kind = record[KIND]
            if kind == TRADE:
                self._trade(record, live, out)
            elif kind == ACCEPTED:
                order_id, account, side, price, lots = (
                    record[ACCEPTED_ID],
                    record[ACCEPTED_ACCOUNT],
                    record[ACCEPTED_SIDE],
                    record[ACCEPTED_PRICE],
                    record[ACCEPTED_QTY],
                )
                live[order_id] = (account, side, price)
                asset, amount = self.need(side, price, lots)
                out.append((account, "reserve", order_id, asset, -amount, amount))
            elif kind in (CANCELLED, EXPIRED):
                order_id = record[ORDER_ID]
                account, side, price = live[order_id]
                # CANCELLED_QTY and EXPIRED_QTY: the lots the order no longer has open
                asset, amount = self.need(side, price, record[CANCELLED_QTY])
                out.append((account, "release", order_id, asset, amount, -amount))
            elif kind == AMENDED:
                order_id = record[AMENDED_ID]
                account, side, _ = live[order_id]
                asset, before = self.need(side, record[AMENDED_OLD_PRICE], record[AMENDED_OLD_OPEN])
                _, after = self.need(side, record[AMENDED_NEW_PRICE], record[AMENDED_NEW_OPEN])
                delta = after - before
                if delta:
                    out.append((account, "reserve", order_id, asset, -delta, delta))
                live[order_id] = (account, side, record[AMENDED_NEW_PRICE])
        return out

    def _trade(self, record: Sequence[Any], live: LiveOrders, out: list[Posting]) -> None:
        price, lots, taker, maker, taker_side = (
            record[TRADE_PRICE],
            record[TRADE_QTY],
            record[TRADE_TAKER],
            record[TRADE_MAKER],
            record[TRADE_TAKER_SIDE],
        )
        reference = f"{self.symbol}:{record[SEQ]}"
        if taker_side == BUY:
            buyer, seller = taker, maker
            buyer_bps, seller_bps = self.taker_fee_bps, self.maker_fee_bps
        else:
            buyer, seller = maker, taker
            buyer_bps, seller_bps = self.maker_fee_bps, self.taker_fee_bps
        buyer_account, _, buyer_price = live[buyer]
        seller_account = live[seller][0]
        assert buyer_price is not None
        notional = price * lots
        buyer_fee = notional * buyer_bps // _BPS
        seller_fee = notional * seller_bps // _BPS
        release = lots * self.per_lot(buyer_price)
        unit = self.quote_unit
        base = self.base_unit * lots
        out.append(
            (
                buyer_account,
                "settle",
                reference,
                self.quote,
                unit * (release - notional - buyer_fee),
                -unit * release,
            )
        )
        out.append((buyer_account, "settle", reference, self.base, base, Decimal(0)))
        out.append((seller_account, "settle", reference, self.base, Decimal(0), -base))
        out.append(
            (
                seller_account,
                "settle",
                reference,
                self.quote,
                unit * (notional - seller_fee),
                Decimal(0),
            )
        )
        if buyer_fee + seller_fee:
            out.append(
                (
                    self.fee_account,
                    "fee",
                    reference,
                    self.quote,
                    unit * (buyer_fee + seller_fee),
                    Decimal(0),
                )
            )
