"""What copy trading does with money: transfers, leader fills copied as block orders, closing
positions, profit share, the stop-loss.

**A leader's fill** (`copy_fill`). The live copies of the leader quoted in the fill's market's
quote asset and started before the trade are sized (`domain/copy/rules.py`): a buy by the
equity ratio, the ratio or the fixed amount, bounded by the copy's maximum order notional
and by what its allocation can pay; a sell by the fraction of the leader's position sold.
Copies below the market's minimum, paused, or in a halted market are skipped with the
reason. The rest go to the book in blocks, one per slippage tolerance, tightest first: the
leader's **block account** draws credit for the block (the copies' money stays in their
allocations), places ONE limit IOC at the leader's price +/- the tolerance through
`Market.place`, repays at once the credit its fills did not use, and splits the fills, cost
and fee pro rata (largest remainder, ties in copy id order). That is the **plan**
(`domain/copy/plan.py`, `Account.BlockPlanned`), one command for the whole fill.

**Parts** (`apply_plan`) settle the plan: for each copy, its share moves between its
allocation and the block account, which repays that much credit, and the copy records its
`OrderExecuted` (or its `Skipped`). With a part size (`State.copy_part_size`, the writer's
setting) the copy policy sends the parts as commands of their own, so other users' orders
are never held behind a thousand copies; without one the fill's command settles its plan
itself. Before anything reads or moves a copy's allocation (a later fill of the leader, a
withdrawal, a settlement, a stop) the leader's pending plans are settled first (`complete`),
so an allocation always pays what its plan says it owes. The block account holds nothing
once no plan of it is pending (asserted).

Every transfer is a ledger posting of kind `transfer` on both accounts, and every credit one
of kind `credit`: money moves, never appears (what accounts hold is deposits - withdrawals +
credit drawn and not repaid, zero once the plans are settled).
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from socialtrading.commands.state import State
from socialtrading.domain.account import COPY, CREDIT, TRANSFER, Account
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
from socialtrading.domain.copy.plan import (
    ORDER,
    OrderItem,
    SkipItem,
    item,
    part_end,
    parts_of,
    plan_size,
)
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
    """Copy the leader's fill in trade `seq` of `market` to its copies: place the blocks and
    record the plan (settled here when the state has no part size, else by the parts);
    False when no copy copies it (nothing stored). InvalidCommand `unknown_trade` for a trade
    that is not there or not the leader's."""
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
    # the leader's earlier plans first: sizing reads the allocations they still owe from
    settled = complete(state, me, by, command_id, ts)
    copies = [
        copy
        for copy in state.copies.led_by(me)
        if copy.quote == market.quote and copy.copies_trade(symbol, seq)
    ]
    if not copies:
        return settled
    price, lots = record[TRADE_PRICE], record[TRADE_QTY]
    wants, skips = _size(state, leader, market, side, price, lots, copies)
    if not wants and not skips:
        return settled
    plan_fill(state, market, me, side, price, wants, skips, trade_id, by, command_id, ts)
    return True


def _size(
    state: State,
    leader: Account,
    market: Market,
    side: Side,
    price: int,
    lots: int,
    copies: Sequence[Copy],
) -> tuple[dict[int, list[Want]], list[SkipItem]]:
    """Each copy's lots, grouped by slippage tolerance, and the copies that skip the fill
    (a sell copies nothing, not even a skip, to a copy that holds nothing)."""
    spec = market.spec
    quote, base = market.quote, market.base
    unit = spec.tick_size * spec.lot_size
    buy = side == BUY
    book = market.book
    halted = book.halted or book.mode != _CONTINUOUS
    prices = marks(state, quote, market, price)
    leader_equity = equity(leader, prices) if buy else ZERO
    sold = spec.qty(lots)
    leader_before = leader.available(base) + leader.reserved(base) + sold
    accounts = state.by_text
    texts = state.copies.texts
    rules = market.settlement
    out: dict[int, list[Want]] = {}
    skips: list[SkipItem] = []
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
        if reason is not None:
            skips.append(SkipItem(texts[copy.id], reason, None))
            continue
        out.setdefault(copy.slippage_bps, []).append((copy, allocation, wanted))
    return out, skips


def plan_fill(
    state: State,
    market: Market,
    leader: str,
    side: Side,
    price: int,
    wants: dict[int, list[Want]],
    skips: Sequence[SkipItem],
    reference: str,
    by: str,
    command_id: str,
    ts: int,
    *,
    settle_now: bool = False,
) -> None:
    """Place one block per slippage tolerance, tightest first, on the leader's block account
    (on credit), and record the plan of what each copy pays, gets or skipped; settle it
    now when asked to or when the state has no part size (see `domain/copy/plan.py`)."""
    block = _block_account(state, leader, command_id, ts)
    blocks: dict[str, list[Any]] = {}
    items: list[list[Any]] = []
    for bps in sorted(wants):
        items += _place_block(
            state, market, block, side, price, bps, wants[bps], reference, blocks, command_id, ts
        )
    items += [skip.stored() for skip in skips]
    size = None if settle_now else state.copy_part_size
    plan = {
        "reference": reference,
        "leader": leader,
        "market": market.symbol,
        "side": side,
        "credit": market.quote if side == BUY else market.base,
        "part_size": size or max(1, len(items)),
        "parts": 0 if size is None else parts_of(len(items), size),
        "blocks": blocks,
        "items": items,
    }
    block.plan_block(plan, by, command_id, ts)
    state.touch(block)
    if size is None:
        apply_plan(state, block, reference, None, by, command_id, ts)


def _place_block(
    state: State,
    market: Market,
    block: Account,
    side: Side,
    price: int,
    bps: int,
    wants: Sequence[Want],
    reference: str,
    blocks: dict[str, list[Any]],
    command_id: str,
    ts: int,
) -> list[list[Any]]:
    """Fill the copies' `wants` with one limit IOC block order at `price` +/- `bps`, on
    credit, and split its fills pro rata; the plan's order items (or skip items, for a
    block beyond the market's maxima)."""
    spec = market.spec
    rules = market.settlement
    symbol = market.symbol
    buy = side == BUY
    limit = limit_ticks(price, bps, buy)
    limit_price = spec.price(limit)
    block_ref = f"{reference}/{bps}"
    texts = state.copies.texts
    total = sum(lots for _, _, lots in wants)
    try:
        spec.check_lots(total)
        spec.check_notional(limit, total)
    except InvalidValueError:  # beyond the market's maxima: a block this size cannot go
        return [
            SkipItem(texts[copy.id], MAX_NOTIONAL, str(spec.qty(lots))).stored()
            for copy, _, lots in wants
        ]
    asset = market.quote if buy else market.base
    credit = sum((rules.need(side, limit, lots)[1] for _, _, lots in wants), ZERO)
    block.post(CREDIT, symbol, block_ref, asset, credit, ZERO)
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
    # what the copies owe for the fills stays on credit; the rest goes back at once
    owed = rules.quote_unit * (cost + fee) if buy else rules.base_unit * filled
    if credit != owed:
        block.post(CREDIT, symbol, block_ref, asset, owed - credit, ZERO)
    reason = HALTED if decision.refusal == "halted" else SLIPPAGE
    average = _average(cost, filled, spec.tick_size) if filled else None
    blocks[block_ref] = [str(limit_price), None if average is None else str(average), reason]
    shares = split_block(buy, [lots for _, _, lots in wants], filled, cost, fee)
    return [
        [ORDER, texts[copy.id], block_ref, lots, *share]  # OrderItem(...).stored(), inline
        for (copy, _, lots), share in zip(wants, shares, strict=True)
    ]


def complete(state: State, leader: str, by: str, command_id: str, ts: int) -> bool:
    """Settle every plan of `leader`'s block account still pending (before anything reads or
    moves its copies' allocations); whether there was one."""
    block = state.accounts.get(block_id(leader))
    if block is None or not block.blocks:
        return False
    for _, plan in block.pending_blocks():
        apply_plan(state, block, plan["reference"], None, by, command_id, ts)
    return True


def pending_moves(state: State, copy: Copy) -> dict[str, Decimal]:
    """What settling its leader's pending plans will move into (> 0) or out of (< 0) the
    copy's allocation, per asset (read only: a command checks it before it refuses)."""
    block = state.accounts.get(block_id(copy.leader))
    moves: dict[str, Decimal] = {}
    if block is None or not block.blocks:
        return moves
    key = str(copy.id)
    for start, plan in block.pending_blocks():
        market = state.markets[plan["market"]]
        unit, lot = market.settlement.quote_unit, market.settlement.base_unit
        buy = plan["side"] == BUY
        for stored in plan["items"][start:]:
            entry = item(stored)
            if entry.copy != key or not isinstance(entry, OrderItem):
                continue
            quote, base = unit * entry.net, lot * entry.lots
            for asset, amount in (
                (market.quote, -quote if buy else quote),
                (market.base, base if buy else -base),
            ):
                moves[asset] = moves.get(asset, ZERO) + amount
    return moves


def apply_plan(
    state: State,
    block: Account,
    reference: str,
    part: int | None,
    by: str,
    command_id: str,
    ts: int,
) -> bool:
    """Settle the plan `reference` of `block` up to the end of `part` (0-based; None: to its
    end); False when that much is settled already (or the plan is)."""
    pending = (block.blocks or {}).get(reference)
    if pending is None:
        return False
    start, plan = pending
    end = plan_size(plan) if part is None else part_end(plan, part)
    if end <= start:
        return False
    market = state.markets[plan["market"]]
    spec = market.spec
    rules = market.settlement
    unit, lot = rules.quote_unit, rules.base_unit
    symbol, side = market.symbol, plan["side"]
    buy = side == BUY
    quote, base = market.quote, market.base
    blocks = plan["blocks"]
    touched = state.touched
    copies = state.copies
    accounts = state.by_text
    paid = got = ZERO  # quote and base moved from the allocations to the block (< 0: back)
    for stored in plan["items"][start:end]:
        entry = item(stored)
        copy = copies.by_text[entry.copy]
        touched[id(copy)] = copy
        if isinstance(entry, SkipItem):
            quantity = None if entry.quantity is None else Decimal(entry.quantity)
            copy.skipped(reference, symbol, side, entry.reason, quantity, by, command_id, ts)
            continue
        allocation = accounts[copy.allocation]
        touched[id(allocation)] = allocation
        net, lots = unit * entry.net, lot * entry.lots
        block_ref = entry.block
        if buy:
            allocation.post(TRANSFER, symbol, block_ref, quote, -net, ZERO)
            if lots:
                allocation.post(TRANSFER, symbol, block_ref, base, lots, ZERO)
            paid, got = paid + net, got - lots
        else:
            if lots:
                allocation.post(TRANSFER, symbol, block_ref, base, -lots, ZERO)
            allocation.post(TRANSFER, symbol, block_ref, quote, net, ZERO)
            paid, got = paid - net, got + lots
        limit_price, average, reason = blocks[block_ref]
        fill = Execution(
            spec.qty(entry.lots),
            None if average is None else Decimal(average),
            unit * entry.cost,
            unit * entry.fee,
            reason,
        )
        copy.executed(
            reference,
            symbol,
            side,
            spec.qty(entry.asked),
            Decimal(limit_price),
            block_ref,
            fill,
            by,
            command_id,
            ts,
        )
    # The block account takes what the allocations paid, repays that much credit, and hands
    # out what they got (in the credit's asset: the quote of a buy, the base of a sell).
    owed, handed = (quote, base) if buy else (base, quote)
    repaid, out = (paid, -got) if buy else (got, -paid)
    if repaid:
        block.post(TRANSFER, symbol, reference, owed, repaid, ZERO)
        block.post(CREDIT, symbol, reference, owed, -repaid, ZERO)
    if out:
        block.post(TRANSFER, symbol, reference, handed, -out, ZERO)
    block.block_part_applied(reference, end, by, command_id, ts)
    touched[id(block)] = block
    if not block.blocks:  # nothing pending: the block account holds nothing
        for held in (quote, base):
            assert block.available(held) == 0 and block.reserved(held) == 0, (held, reference)
    return True


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
            plan_fill(
                state,
                market,
                me,
                BUY,
                price,
                {copy.slippage_bps: [(copy, allocation, wanted)]},
                [],
                trade_id,
                copy.copier,
                command_id,
                ts,
                settle_now=True,  # one copy: settled in the start's own command
            )


# ---------------------------------------------------------------------- stopping, settling


def settle(state: State, copy: Copy, by: str, command_id: str, ts: int) -> None:
    """Settle the copy's profit share (`rules.profit_share`), paying the leader what the
    allocation's available quote covers (the leader's pending plans settled first)."""
    complete(state, copy.leader, by, command_id, ts)
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
    complete(state, copy.leader, by, command_id, ts)  # what its pending plans owe first
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
    stop-loss percent of what was invested; whether anything was stored (a stop, or the
    pending plans of a guarded copy's leader settled first)."""
    prices = marks(state, quote)
    changed = False
    for copy in state.copies.live():
        percent = copy.stop_loss_percent
        if percent is None or copy.quote != quote or copy.invested <= 0:
            continue
        # the allocation as its pending plans leave it
        changed = complete(state, copy.leader, by, command_id, ts) or changed
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
            changed = True
    return changed
