"""What copy trading does with money, beside copying fills (`copy_plans.py`): transfers
between accounts and allocations, marks and equity, the block account and its IOC orders,
closing a copy's positions, the profit share.

Every transfer is a ledger posting of kind `transfer` on both accounts: money moves, never
appears. Handlers do the leader's pending plans (`copy_plans.complete`) before they call
`settle` or `stop`, which read and move allocations.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from decimal import Decimal
from uuid import UUID

from socialtrading.commands.state import State
from socialtrading.domain.account import COPY, TRANSFER, Account
from socialtrading.domain.copy.copy import (
    SLIPPAGE,
    Copy,
    Execution,
)
from socialtrading.domain.copy.ids import block_handle, block_id
from socialtrading.domain.copy.rules import (
    profit_share,
)
from socialtrading.domain.market import Market
from socialtrading.engine.book import CANCEL_TAKER, IOC, LIMIT, MARKET, SELL, Side
from socialtrading.engine.records import (
    KIND,
    TRADE,
    TRADE_PRICE,
    TRADE_QTY,
    TRADE_TAKER,
    Record,
)

ZERO = Decimal(0)
_BPS = 10_000
_CONTINUOUS = "continuous"

# (copy, its allocation account, lots)
Want = tuple[Copy, Account, int]


def transfer(
    state: State, source: Account, target: Account, asset: str, amount: Decimal, reference: str
) -> None:
    """Move available `amount` of `asset` from `source` to `target` (two `transfer` entries)."""
    source.post(TRANSFER, "", reference, asset, -amount, ZERO)
    target.post(TRANSFER, "", reference, asset, amount, ZERO)
    state.touch(source)
    state.touch(target)


def marks(
    state: State, quote: str, market: Market | None = None, price: int = 0
) -> dict[str, Decimal]:
    """Each asset's price in `quote`, from the markets quoted in it: the last trade (else the
    listing's reference price); `market`'s at `price` ticks when given."""
    found: dict[str, Decimal] = {quote: Decimal(1)}
    for listed in state.markets.values():
        if listed.quote != quote:
            continue
        ticks = price if listed is market else listed.book.reference_price()
        if ticks:
            found[listed.base] = listed.spec.tick_size * ticks
    return found


def equity(account: Account, prices: dict[str, Decimal]) -> Decimal:
    """An account's available + reserved of every asset with a price, marked in the quote."""
    total = ZERO
    for asset in account.assets():
        price = prices.get(asset)
        if price is not None:
            total += (account.available(asset) + account.reserved(asset)) * price
    return total


def average(cost: int, lots: int, tick: Decimal) -> Decimal:
    """The average price of `cost` quote units over `lots` lots (28 significant digits)."""
    with decimal.localcontext() as context:
        context.prec = 28
        context.traps[decimal.Inexact] = False
        context.traps[decimal.Rounded] = False
        return (Decimal(cost) / lots * tick).normalize()


def block_account(state: State, leader: str, command_id: str, ts: int) -> Account:
    """The leader's block account (opened on its first block)."""
    account_id = block_id(leader)
    account = state.accounts.get(account_id)
    if account is None:
        handle = block_handle(UUID(leader))
        account = Account.register(account_id, handle, handle, [COPY], command_id, ts)
        state.add_account(account)
        state.touch(account)
    return account


def take(
    state: State,
    market: Market,
    owner: str,
    order_command: str,
    side: Side,
    limit_price: Decimal | None,
    lots: int,
    account: Account,
    command_id: str,
    ts: int,
) -> tuple[int, int, int, str | None]:
    """Place and settle one IOC order of a copy trading account (a block's limit order, or
    a closing market order when `limit_price` is None), paid from `account`; the lots, cost
    and fee (quote units) it took, and the market's refusal, if it refused it."""
    decision = market.place(
        owner,
        order_command,
        side,
        MARKET if limit_price is None else LIMIT,
        limit_price,
        market.spec.qty(lots),
        account.available,
        ts,
        time_in_force=IOC,
        post_only=False,
        stp=CANCEL_TAKER,
        group=None,
        expire_ts=None,
        stop_price=None,
    )
    state.settle(market, decision, command_id)
    return (*taken(decision.order_id, decision.records, market.taker_fee_bps), decision.refusal)


def taken(order_id: str | None, records: Sequence[Record], bps: int) -> tuple[int, int, int]:
    """Lots, cost and fee (quote units) of the trades in which `order_id` took liquidity, as
    the settlement rules charge them."""
    filled = cost = fee = 0
    for record in records:
        if record[KIND] == TRADE and record[TRADE_TAKER] == order_id:
            lots = record[TRADE_QTY]
            notional = record[TRADE_PRICE] * lots
            filled += lots
            cost += notional
            fee += notional * bps // _BPS
    return filled, cost, fee


# ---------------------------------------------------------------------- stopping, settling


def settle(state: State, copy: Copy, by: str, command_id: str, ts: int) -> None:
    """Settle the copy's profit share (`rules.profit_share`), paying the leader what the
    allocation's available quote covers (the handler settled the leader's pending plans)."""
    allocation = state.by_text[copy.allocation]
    figures = profit_share(
        equity(allocation, marks(state, copy.quote)),
        copy.invested,
        copy.high_water_mark,
        copy.owed,
        copy.profit_share_bps,
        allocation.available(copy.quote),
    )
    copy.settled(figures, by, command_id, ts)
    state.touch(copy)
    if figures.paid:
        leader = state.by_text[copy.leader]
        transfer(state, allocation, leader, copy.quote, figures.paid, str(copy.id))


def stop(
    state: State,
    copy: Copy,
    status: str,
    reason: str,
    by: str,
    command_id: str,
    ts: int,
    *,
    close_positions: bool = True,
) -> None:
    """Stop a copy: close its positions (market sells, where the market trades), settle its
    profit share, and move everything its allocation holds back to the copier."""
    allocation = state.by_text[copy.allocation]
    if close_positions:
        _close_positions(state, copy, allocation, by, command_id, ts)
    settle(state, copy, by, command_id, ts)
    copier = state.by_text[copy.copier]
    reference = str(copy.id)
    for asset in allocation.assets():
        assert allocation.reserved(asset) == 0, (copy.id, asset)  # copies never rest orders
        amount = allocation.available(asset)
        if amount:
            transfer(state, allocation, copier, asset, amount, reference)
    copy.stop(status, reason, by, command_id, ts)
    state.touch(copy)
    state.copies.ended(copy)


def _close_positions(
    state: State, copy: Copy, allocation: Account, by: str, command_id: str, ts: int
) -> None:
    """Sell what the allocation holds with market orders (IOC, inside the market's collar)."""
    owner = state.texts[allocation.id]
    for market in sorted(state.markets.values(), key=lambda m: m.symbol):
        if market.quote != copy.quote:
            continue
        spec = market.spec
        book = market.book
        lots = min(int(allocation.available(market.base) // spec.lot_size), spec.max_lots)
        if lots < spec.min_lots or book.halted or book.mode != _CONTINUOUS:
            continue
        trade_id = f"close:{market.symbol}"
        order_command = f"{command_id}/close/{market.symbol}"
        filled, cost, fee, _ = take(
            state, market, owner, order_command, SELL, None, lots, allocation, command_id, ts
        )
        unit = market.settlement.quote_unit
        fill = Execution(
            spec.qty(filled),
            average(cost, filled, spec.tick_size) if filled else None,
            unit * cost,
            unit * fee,
            SLIPPAGE,
        )
        copy.executed(
            trade_id,
            market.symbol,
            SELL,
            spec.qty(lots),
            None,
            order_command,
            fill,
            by,
            command_id,
            ts,
        )
