"""What copy trading does with money: transfers, leader fills copied as block orders, closing
positions, profit share, the stop-loss.

**A leader's fill** (`copy_fill`). The live copies of the leader quoted in the fill's market's
quote asset and started before the trade are sized (`domain/copy/rules.py`): a buy by the
equity ratio, the ratio or the fixed amount, bounded by the copy's maximum order notional
and by what its allocation can pay; a sell by the fraction of the leader's position sold.
Copies below the market's minimum, paused, or in a halted market are skipped with the
reason. The rest go to the book in blocks, one per slippage tolerance, tightest first: each
copy's reservation moves from its allocation into the leader's **block account**, the block
account places ONE limit IOC at the leader's price +/- the tolerance through `Market.place`,
and the block's fills, cost and fee are split pro rata (largest remainder, ties in copy id
order) and moved back with the unused rest, in the same command. The block account's balance
is zero after every block (asserted).

Every transfer is a ledger posting of kind `transfer` on both accounts: money moves, never
appears.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from decimal import Decimal
from uuid import UUID

from socialtrading.commands.state import State
from socialtrading.domain.account import COPY, Account
from socialtrading.domain.copy.copy import (
    ACTIVE,
    BELOW_MIN_SIZE,
    HALTED,
    INSUFFICIENT_FUNDS,
    MAX_NOTIONAL,
    SKIP_PAUSED,
    SLIPPAGE,
    STOPPED_BY_LOSS,
    Copy,
    Execution,
)
from socialtrading.domain.copy.ids import block_handle, block_id
from socialtrading.domain.copy.rules import (
    desired_lots,
    limit_ticks,
    profit_share,
    sell_lots,
    split_block,
)
from socialtrading.domain.errors import InvalidCommand
from socialtrading.domain.market import Market
from socialtrading.engine.book import BUY, CANCEL_TAKER, IOC, LIMIT, MARKET, SELL, Side
from socialtrading.engine.records import (
    KIND,
    TRADE,
    TRADE_MAKER_ACCOUNT,
    TRADE_PRICE,
    TRADE_QTY,
    TRADE_TAKER,
    TRADE_TAKER_ACCOUNT,
    TRADE_TAKER_SIDE,
    Record,
)
from socialtrading.engine.spec import InvalidValueError

ZERO = Decimal(0)
_BPS = 10_000
_CONTINUOUS = "continuous"

# (copy, its allocation account, lots)
Want = tuple[Copy, Account, int]


def transfer(
    state: State, source: Account, target: Account, asset: str, amount: Decimal, reference: str
) -> None:
    """Move available `amount` of `asset` from `source` to `target` (two `transfer` entries)."""
    source.post("transfer", "", reference, asset, -amount, ZERO)
    target.post("transfer", "", reference, asset, amount, ZERO)
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


def _average(cost: int, lots: int, tick: Decimal) -> Decimal:
    """The average price of `cost` quote units over `lots` lots (28 significant digits)."""
    with decimal.localcontext() as context:
        context.prec = 28
        context.traps[decimal.Inexact] = False
        context.traps[decimal.Rounded] = False
        return (Decimal(cost) / lots * tick).normalize()


def _block_account(state: State, leader: str, command_id: str, ts: int) -> Account:
    """The leader's block account (opened on its first block)."""
    account_id = block_id(leader)
    account = state.accounts.get(account_id)
    if account is None:
        handle = block_handle(UUID(leader))
        account = Account.register(account_id, handle, handle, [COPY], command_id, ts)
        state.add_account(account)
        state.touch(account)
    return account


# ---------------------------------------------------------------------- copying fills


def copy_fill(
    state: State,
    leader: Account,
    market: Market,
    seq: int,
    trade_id: str,
    by: str,
    command_id: str,
    ts: int,
) -> bool:
    """Copy the leader's fill in trade `seq` of `market` to its copies; False when no copy
    copies it (nothing stored). InvalidCommand `unknown_trade` for a trade that is not there
    or not the leader's."""
    record = state.social.find_trade(market, seq)
    me = state.texts[leader.id]
    if record is None:
        raise InvalidCommand("unknown_trade", f"no trade {trade_id}")
    taker, maker = record[TRADE_TAKER_ACCOUNT], record[TRADE_MAKER_ACCOUNT]
    if me not in (taker, maker):
        raise InvalidCommand("unknown_trade", f"trade {trade_id} is not a fill of this account")
    if taker == maker:
        return False  # a self-trade moves nothing
    side: Side = record[TRADE_TAKER_SIDE]
    if maker == me:
        side = SELL if side == BUY else BUY
    symbol = market.symbol
    copies = [
        copy
        for copy in state.copies.led_by(me)
        if copy.quote == market.quote and copy.copies_trade(symbol, seq)
    ]
    if not copies:
        return False
    price, lots = record[TRADE_PRICE], record[TRADE_QTY]
    wants, acted = _size(
        state, leader, market, side, price, lots, copies, trade_id, by, command_id, ts
    )
    for bps in sorted(wants):
        fill_block(state, market, me, side, price, bps, wants[bps], trade_id, by, command_id, ts)
    return acted or bool(wants)


def _size(
    state: State,
    leader: Account,
    market: Market,
    side: Side,
    price: int,
    lots: int,
    copies: Sequence[Copy],
    trade_id: str,
    by: str,
    command_id: str,
    ts: int,
) -> tuple[dict[int, list[Want]], bool]:
    """Each copy's lots, grouped by slippage tolerance; skipped copies recorded (and whether
    any copy recorded anything: a sell copies nothing to a copy that holds nothing)."""
    spec = market.spec
    symbol, quote, base = market.symbol, market.quote, market.base
    unit = spec.tick_size * spec.lot_size
    buy = side == BUY
    book = market.book
    halted = book.halted or book.mode != _CONTINUOUS
    prices = marks(state, quote, market, price)
    leader_equity = equity(leader, prices) if buy else ZERO
    sold = spec.qty(lots)
    leader_before = leader.available(base) + leader.reserved(base) + sold
    accounts = state.by_text
    touched = state.touched
    rules = market.settlement
    out: dict[int, list[Want]] = {}
    acted = False  # whether any copy recorded a decision
    for copy in copies:
        reason: str | None = None
        wanted = 0
        allocation = accounts[copy.allocation]
        if copy.status != ACTIVE:
            reason = SKIP_PAUSED
        elif halted:
            reason = HALTED
        elif buy:
            wanted = desired_lots(
                copy.sizing,
                leader_lots=lots,
                price=price,
                unit=unit,
                leader_equity=leader_equity,
                copy_equity=equity(allocation, prices) if copy.sizing == "PROPORTIONAL" else ZERO,
                ratio=copy.ratio,
                fixed_amount=copy.fixed_amount,
            )
            limit = limit_ticks(price, copy.slippage_bps, buy=True)
            per_lot = unit * rules.per_lot(limit)
            affordable = int(allocation.available(quote) // per_lot) if per_lot else 0
            if wanted >= spec.min_lots and affordable < spec.min_lots:
                reason = INSUFFICIENT_FUNDS
            wanted = min(wanted, affordable, spec.max_lots)
        else:
            held = int(allocation.available(base) // spec.lot_size)
            if not held:
                continue  # nothing to sell: nothing to copy (not a skip)
            wanted = min(sell_lots(held, sold, leader_before), spec.max_lots)
        if reason is None and wanted < spec.min_lots:
            reason = BELOW_MIN_SIZE
        if (
            reason is None
            and copy.max_order_notional is not None
            and unit * price * wanted > copy.max_order_notional
        ):
            reason = MAX_NOTIONAL
        touched[id(copy)] = copy
        if reason is not None:
            copy.skipped(trade_id, symbol, side, reason, None, by, command_id, ts)
            acted = True
            continue
        out.setdefault(copy.slippage_bps, []).append((copy, allocation, wanted))
    return out, acted


def fill_block(
    state: State,
    market: Market,
    leader: str,
    side: Side,
    price: int,
    bps: int,
    wants: Sequence[Want],
    trade_id: str,
    by: str,
    command_id: str,
    ts: int,
) -> None:
    """Fill the copies' `wants` with one limit IOC block order of the leader's block account
    at `price` +/- `bps`, and allocate its fills pro rata (see the module docstring)."""
    spec = market.spec
    rules = market.settlement
    symbol = market.symbol
    buy = side == BUY
    limit = limit_ticks(price, bps, buy)
    limit_price = spec.price(limit)
    reference = f"{trade_id}/{bps}"
    total = sum(lots for _, _, lots in wants)
    try:
        spec.check_lots(total)
        spec.check_notional(limit, total)
    except InvalidValueError:  # beyond the market's maxima: a block this size cannot go
        for copy, _, lots in wants:
            copy.skipped(trade_id, symbol, side, MAX_NOTIONAL, spec.qty(lots), by, command_id, ts)
        return
    block = _block_account(state, leader, command_id, ts)
    asset = market.quote if buy else market.base
    touched = state.touched
    contributions: list[Decimal] = []
    for _, allocation, lots in wants:
        _, amount = rules.need(side, limit, lots)
        allocation.post("transfer", symbol, reference, asset, -amount, ZERO)
        touched[id(allocation)] = allocation
        contributions.append(amount)
    block.post("transfer", symbol, reference, asset, sum(contributions, ZERO), ZERO)
    decision = market.place(
        state.texts[block.id],
        f"{command_id}/{bps}",
        side,
        LIMIT,
        limit_price,
        spec.qty(total),
        block.available,
        ts,
        time_in_force=IOC,
        post_only=False,
        stp=CANCEL_TAKER,
        group=None,
        expire_ts=None,
        stop_price=None,
    )
    state.settle(market, decision, command_id)
    filled, cost, fee = _taken(decision.order_id, decision.records, market.taker_fee_bps)
    shares = split_block(buy, [lots for _, _, lots in wants], filled, cost, fee)
    unit = rules.quote_unit
    lot = rules.base_unit
    average = _average(cost, filled, spec.tick_size) if filled else None
    reason = HALTED if decision.refusal == "halted" else SLIPPAGE
    back_quote = back_base = ZERO
    for (copy, allocation, lots), share, paid in zip(wants, shares, contributions, strict=True):
        if buy:
            quote_back, base_back = paid - unit * share.net, lot * share.lots
        else:
            quote_back, base_back = unit * share.net, lot * (lots - share.lots)
        if quote_back:
            allocation.post("transfer", symbol, reference, market.quote, quote_back, ZERO)
            back_quote += quote_back
        if base_back:
            allocation.post("transfer", symbol, reference, market.base, base_back, ZERO)
            back_base += base_back
        fill = Execution(
            spec.qty(share.lots),
            average if share.lots else None,
            unit * share.cost,
            unit * share.fee,
            reason,
        )
        copy.executed(
            trade_id, symbol, side, spec.qty(lots), limit_price, reference, fill, by, command_id, ts
        )
    if back_quote:
        block.post("transfer", symbol, reference, market.quote, -back_quote, ZERO)
    if back_base:
        block.post("transfer", symbol, reference, market.base, -back_base, ZERO)
    for held in (market.quote, market.base):
        assert block.available(held) == 0 and block.reserved(held) == 0, (held, reference)


def _taken(order_id: str | None, records: Sequence[Record], bps: int) -> tuple[int, int, int]:
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


def copy_open_positions(
    state: State, copy: Copy, leader: Account, command_id: str, ts: int
) -> None:
    """Buy into the leader's open positions at the start, in the proportion of the copy's
    amount to the leader's equity (one block per market, `open:SYMBOL`)."""
    me = state.texts[leader.id]
    allocation = state.by_text[copy.allocation]
    prices = marks(state, copy.quote)
    leader_equity = equity(leader, prices)
    for market in sorted(state.markets.values(), key=lambda m: m.symbol):
        book = market.book
        price = book.reference_price()
        if market.quote != copy.quote or price is None:
            continue
        spec = market.spec
        held = int((leader.available(market.base) + leader.reserved(market.base)) // spec.lot_size)
        if held <= 0:
            continue
        trade_id = f"open:{market.symbol}"
        limit = limit_ticks(price, copy.slippage_bps, buy=True)
        per_lot = spec.tick_size * spec.lot_size * market.settlement.per_lot(limit)
        wanted = desired_lots(
            "PROPORTIONAL",
            leader_lots=held,
            price=price,
            unit=spec.tick_size * spec.lot_size,
            leader_equity=leader_equity,
            copy_equity=equity(allocation, prices),
            ratio=None,
            fixed_amount=None,
        )
        wanted = min(wanted, int(allocation.available(copy.quote) // per_lot), spec.max_lots)
        if book.halted or book.mode != _CONTINUOUS:
            copy.skipped(trade_id, market.symbol, BUY, HALTED, None, copy.copier, command_id, ts)
        elif wanted < spec.min_lots:
            copy.skipped(
                trade_id, market.symbol, BUY, BELOW_MIN_SIZE, None, copy.copier, command_id, ts
            )
        else:
            fill_block(
                state,
                market,
                me,
                BUY,
                price,
                copy.slippage_bps,
                [(copy, allocation, wanted)],
                trade_id,
                copy.copier,
                command_id,
                ts,
            )


# ---------------------------------------------------------------------- stopping, settling


def settle(state: State, copy: Copy, by: str, command_id: str, ts: int) -> None:
    """Settle the copy's profit share (`rules.profit_share`), paying the leader what the
    allocation's available quote covers."""
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
        decision = market.place(
            owner,
            order_command,
            SELL,
            MARKET,
            None,
            spec.qty(lots),
            allocation.available,
            ts,
            time_in_force=IOC,
            post_only=False,
            stp=CANCEL_TAKER,
            group=None,
            expire_ts=None,
            stop_price=None,
        )
        state.settle(market, decision, command_id)
        filled, cost, fee = _taken(decision.order_id, decision.records, market.taker_fee_bps)
        unit = market.settlement.quote_unit
        fill = Execution(
            spec.qty(filled),
            _average(cost, filled, spec.tick_size) if filled else None,
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


def check_guards(state: State, quote: str, by: str, command_id: str, ts: int) -> bool:
    """Stop (STOPPED_BY_LOSS) every live copy quoted in `quote` whose equity fell to its
    stop-loss percent of what was invested; whether any was stopped."""
    prices = marks(state, quote)
    stopped = False
    for copy in state.copies.live():
        percent = copy.stop_loss_percent
        if percent is None or copy.quote != quote or copy.invested <= 0:
            continue
        value = equity(state.by_text[copy.allocation], prices)
        if value * 100 <= copy.invested * percent:
            stop(
                state,
                copy,
                STOPPED_BY_LOSS,
                f"equity fell to {percent}% of invested",
                by,
                command_id,
                ts,
            )
            stopped = True
    return stopped
