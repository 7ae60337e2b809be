"""A leader's fill copied to its copies: the plan, opened, sized, placed and settled in steps
(`domain/copy/plan.py` says what each step records).

**Opening** (`copy_fill`, the `CopyLeaderFill` command): the fill and what its copies are
sized by, fixed now: the leader's equity marked at the fill's price (a buy) or the fraction of
its position it sold (a sell), and the marks. Nothing per copy, so it is quick.

**Sizing** (`size_plan`, `SizeCopyPlan` commands, `part_size` copies each, in copy id order):
the live copies of the leader quoted in the fill's market's quote asset and started before
the trade are sized (`domain/copy/rules.py`): a buy by the equity ratio, the ratio or the
fixed amount, bounded by the copy's maximum order notional and by what its allocation can pay
at the block's limit; a sell by the fraction of the leader's position sold. Copies below the
market's minimum, paused, or in a halted market skip, with the reason.

**Placing** (at the end of the last sizing part): per slippage tolerance, tightest first, the
leader's **block account** draws credit for the block (the copies' money stays in their
allocations), places ONE limit IOC at the leader's price +/- the tolerance through
`Market.place`, repays at once the credit its fills did not use, and splits the fills, cost
and fee pro rata (largest remainder, ties in copy id order).

**Settling** (`apply_plan`, `ApplyCopyPlan` commands, `part_size` items each): each copy's
share moves between its allocation and the block account, which repays that much credit, and
the copy records its `OrderExecuted` (or its `Skipped`). The block account holds nothing once
no plan of it is pending (asserted).

The copy policy sends the sizing and settling commands all at once after it reads the opened
plan; the writer runs them one per batch, in order, between other users' commands. A part
does the parts before it that are not done, and a part done already stores nothing, so parts
may come in any order or again. Without a part size (`State.copy_part_size` None) the opening
command does every step itself.

**Settle first** (`complete`): before anything reads or moves a copy's allocation (a later
fill of the leader, a withdrawal, a settlement, a stop, the stop-loss check), the leader's
pending plans are done to their end, so an allocation always pays what its plan says it owes.
A withdrawal checks first what the plans will take (`pending_moves`): a refusal stores nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from itertools import islice
from typing import Any

from socialtrading.commands.copy_blocks import (
    average,
    block_account,
    equity,
    marks,
    stop,
    take,
)
from socialtrading.commands.state import State
from socialtrading.domain.account import CREDIT, TRANSFER, Account
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
from socialtrading.domain.copy.ids import block_id
from socialtrading.domain.copy.plan import (
    ORDER,
    SIZING,
    OrderItem,
    SkipItem,
    WantItem,
    item,
    part_end,
    parts_of,
    phase,
    plan_size,
)
from socialtrading.domain.copy.rules import desired_lots, limit_ticks, sell_lots, split_block
from socialtrading.domain.errors import InvalidCommand
from socialtrading.domain.market import Market
from socialtrading.engine.book import BUY, SELL, Side
from socialtrading.engine.records import (
    TRADE_MAKER_ACCOUNT,
    TRADE_PRICE,
    TRADE_QTY,
    TRADE_TAKER_ACCOUNT,
    TRADE_TAKER_SIDE,
)
from socialtrading.engine.spec import InvalidValueError

ZERO = Decimal(0)
_CONTINUOUS = "continuous"


# ---------------------------------------------------------------------- opening


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
    """Open the plan of the leader's fill in trade `seq` of `market` (and do every step when
    the state has no part size); False when no copy copies it (nothing stored).
    InvalidCommand `unknown_trade` for a trade that is not there or not the leader's."""
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
    # the leader's earlier plans first: sizing reads the allocations they still owe from
    settled = complete(state, me, by, command_id, ts)
    copies = _copying(state, me, market, seq, "")
    if side == SELL:  # a sell copies nothing (not even a skip) to a copy that holds nothing
        lot, accounts = market.spec.lot_size, state.by_text
        if not any(accounts[c.allocation].available(market.base) >= lot for c in copies):
            return settled
    live = len(copies)
    if not live:
        return settled
    price, lots = record[TRADE_PRICE], record[TRADE_QTY]
    spec = market.spec
    prices = marks(state, market.quote, market, price)
    size = state.copy_part_size
    plan: dict[str, Any] = {
        "reference": trade_id,
        "leader": me,
        "market": market.symbol,
        "side": side,
        "price": price,
        "lots": lots,
        "seq": seq,
        "credit": market.quote if side == BUY else market.base,
        "marks": {asset: str(value) for asset, value in prices.items()},
        "part_size": size or live,
        "parts": 0 if size is None else parts_of(live, size),
    }
    if side == BUY:
        plan["leader_equity"] = str(equity(leader, prices))
    else:
        sold = spec.qty(lots)
        plan["sold"] = str(sold)
        plan["leader_before"] = str(
            leader.available(market.base) + leader.reserved(market.base) + sold
        )
    block = block_account(state, me, command_id, ts)
    block.plan_block(plan, by, command_id, ts)
    state.touch(block)
    if size is None:
        apply_plan(state, block, trade_id, None, by, command_id, ts)
    return True


def fill_now(
    state: State,
    market: Market,
    leader: str,
    price: int,
    wants: Sequence[WantItem],
    reference: str,
    by: str,
    command_id: str,
    ts: int,
) -> None:
    """Buy for copies sized already (`wants`) at the leader's `price`, every step in this
    command (a copy copying the leader's open positions at its start)."""
    plan = {
        "reference": reference,
        "leader": leader,
        "market": market.symbol,
        "side": BUY,
        "price": price,
        "lots": 0,
        "seq": market.book.seq,
        "credit": market.quote,
        "marks": {},
        "part_size": max(1, len(wants)),
        "parts": 0,
    }
    block = block_account(state, leader, command_id, ts)
    block.plan_block(plan, by, command_id, ts)
    state.touch(block)
    _place(state, block, reference, [w.stored() for w in wants], by, command_id, ts)
    apply_plan(state, block, reference, None, by, command_id, ts)


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
        limit = limit_ticks(price, copy.slippage_bps, True, spec.max_price_ticks)
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
            want = WantItem(state.copies.texts[copy.id], copy.slippage_bps, wanted)
            fill_now(state, market, me, price, [want], trade_id, copy.copier, command_id, ts)


# ---------------------------------------------------------------------- sizing


def _copying(
    state: State, leader: str, market: Market, seq: int, after: str, most: int | None = None
) -> list[Copy]:
    """The leader's live copies that copy trade `seq` of `market`, after copy id `after` (the
    first `most` of them, when given: a sizing part reads no further)."""
    symbol, quote = market.symbol, market.quote
    found = (
        copy
        for copy in state.copies.led_after(leader, after)
        if copy.quote == quote and copy.copies_trade(symbol, seq)
    )
    return list(found if most is None else islice(found, most))


def size_plan(
    state: State,
    block: Account,
    reference: str,
    part: int | None,
    by: str,
    command_id: str,
    ts: int,
) -> bool:
    """Size the plan `reference` of `block` up to the end of sizing part `part` (None: to its
    end), and place it once every copy is sized; False when that is done already."""
    pending = (block.blocks or {}).get(reference)
    if pending is None or phase(pending[1]) != SIZING:
        return False
    plan = pending[1]
    market = state.markets[plan["market"]]
    seq = plan["seq"]
    done = plan["sized_parts"]
    last = plan["parts"] - 1 if part is None else min(part, plan["parts"] - 1)
    if plan["parts"] and done > last:
        return False
    size = int(plan["part_size"])
    while True:
        # the last part takes whatever is left (copies only stop after the plan opens)
        last_part = plan["sized_parts"] + 1 >= max(plan["parts"], 1)
        most = None if last_part else size + 1
        copies = _copying(state, plan["leader"], market, seq, plan["cursor"], most)
        final = last_part or len(copies) <= size
        now = copies if final else copies[:size]
        items = _size(state, market, plan, now)
        cursor = state.copies.texts[now[-1].id] if now else plan["cursor"]
        block.block_sized(reference, items, cursor, by, command_id, ts)
        plan = pending[1]
        if final:
            _place(state, block, reference, plan["sized"], by, command_id, ts)
            break
        if part is not None and plan["sized_parts"] > last:
            break
    state.touch(block)
    return True


def _size(
    state: State, market: Market, plan: dict[str, Any], copies: Sequence[Copy]
) -> list[list[Any]]:
    """Each copy's want item (its lots, in the block of its slippage tolerance) or skip item
    (a sell copies nothing, not even a skip, to a copy that holds nothing)."""
    spec = market.spec
    quote, base = market.quote, market.base
    unit = spec.tick_size * spec.lot_size
    buy = plan["side"] == BUY
    price, lots = plan["price"], plan["lots"]
    book = market.book
    halted = book.halted or book.mode != _CONTINUOUS
    prices = {asset: Decimal(value) for asset, value in plan["marks"].items()}
    leader_equity = Decimal(plan["leader_equity"]) if buy else ZERO
    sold = ZERO if buy else Decimal(plan["sold"])
    leader_before = ZERO if buy else Decimal(plan["leader_before"])
    accounts = state.by_text
    texts = state.copies.texts
    rules = market.settlement
    items: list[list[Any]] = []
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
            limit = limit_ticks(price, copy.slippage_bps, True, spec.max_price_ticks)
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
            items.append(SkipItem(texts[copy.id], reason, None).stored())
        else:
            items.append(WantItem(texts[copy.id], copy.slippage_bps, wanted).stored())
    return items


# ---------------------------------------------------------------------- placing


def _place(
    state: State,
    block: Account,
    reference: str,
    sized: list[list[Any]],
    by: str,
    command_id: str,
    ts: int,
) -> None:
    """Place one block per slippage tolerance of the sized copies, tightest first, on
    credit, and record the order and skip items the parts settle."""
    plan = block.blocks[reference][1] if block.blocks else {}
    market = state.markets[plan["market"]]
    wants: dict[int, list[WantItem]] = {}
    skips: list[list[Any]] = []
    for stored in sized:
        entry = item(stored)
        if isinstance(entry, WantItem):
            wants.setdefault(entry.bps, []).append(entry)
        else:
            skips.append(stored)
    blocks: dict[str, list[Any]] = {}
    items: list[list[Any]] = []
    for bps in sorted(wants):
        items += _place_block(
            state, market, block, plan, bps, wants[bps], reference, blocks, command_id, ts
        )
    block.block_placed(reference, blocks, items + skips, by, command_id, ts)
    state.touch(block)


def _place_block(
    state: State,
    market: Market,
    block: Account,
    plan: dict[str, Any],
    bps: int,
    wants: Sequence[WantItem],
    reference: str,
    blocks: dict[str, list[Any]],
    command_id: str,
    ts: int,
) -> list[list[Any]]:
    """Fill `wants` with one limit IOC block order at the leader's price +/- `bps`, on
    credit, and split its fills pro rata; the plan's order items (or skip items, for a block
    beyond the market's maxima)."""
    spec = market.spec
    rules = market.settlement
    symbol = market.symbol
    side: Side = plan["side"]
    buy = side == BUY
    limit = limit_ticks(plan["price"], bps, buy, spec.max_price_ticks)
    limit_price = spec.price(limit)
    block_ref = f"{reference}/{bps}"
    total = sum(want.lots for want in wants)
    try:  # checked before any credit is drawn: the order below must not be refused
        spec.check_price(limit)
        spec.check_lots(total)
        spec.check_notional(limit, total)
    except InvalidValueError:  # beyond the market's maxima: a block this size cannot go
        return [SkipItem(w.copy, MAX_NOTIONAL, str(spec.qty(w.lots))).stored() for w in wants]
    asset = market.quote if buy else market.base
    credit = sum((rules.need(side, limit, want.lots)[1] for want in wants), ZERO)
    block.post(CREDIT, symbol, block_ref, asset, credit, ZERO)
    filled, cost, fee, refusal = take(
        state,
        market,
        state.texts[block.id],
        f"{command_id}/{bps}",
        side,
        limit_price,
        total,
        block,
        command_id,
        ts,
    )
    # what the copies owe for the fills stays on credit; the rest goes back at once
    owed = rules.quote_unit * (cost + fee) if buy else rules.base_unit * filled
    if credit != owed:
        block.post(CREDIT, symbol, block_ref, asset, owed - credit, ZERO)
    reason = HALTED if refusal == "halted" else SLIPPAGE
    mean = average(cost, filled, spec.tick_size) if filled else None
    blocks[block_ref] = [str(limit_price), None if mean is None else str(mean), reason]
    shares = split_block(buy, [want.lots for want in wants], filled, cost, fee)
    return [
        [ORDER, want.copy, block_ref, want.lots, *share]  # OrderItem(...).stored(), inline
        for want, share in zip(wants, shares, strict=True)
    ]


# ---------------------------------------------------------------------- settling


def apply_plan(
    state: State,
    block: Account,
    reference: str,
    part: int | None,
    by: str,
    command_id: str,
    ts: int,
) -> bool:
    """Settle the plan `reference` of `block` up to the end of settling part `part` (0-based;
    None: to its end), sizing and placing it first if it is not yet; False when that much is
    done already (or the whole plan is)."""
    pending = (block.blocks or {}).get(reference)
    if pending is None:
        return False
    stored = size_plan(state, block, reference, None, by, command_id, ts)
    pending = (block.blocks or {}).get(reference)
    if pending is None:  # placed with nothing to settle
        return stored
    start, plan = pending
    end = plan_size(plan) if part is None else part_end(plan, part)
    if end <= start:
        return stored
    market = state.markets[plan["market"]]
    spec = market.spec
    unit = market.settlement.quote_unit
    symbol, side = market.symbol, plan["side"]
    buy = side == BUY
    quote, base = market.quote, market.base
    blocks = plan["blocks"]
    touched = state.touched
    copies = state.copies.by_text
    accounts = state.by_text
    paid = got = ZERO  # quote and base moved from the allocations to the block (< 0: back)
    for stored_item in plan["items"][start:end]:
        entry = item(stored_item)
        copy = copies[entry.copy]
        touched[id(copy)] = copy
        if isinstance(entry, SkipItem):
            quantity = None if entry.quantity is None else Decimal(entry.quantity)
            copy.skipped(reference, symbol, side, entry.reason, quantity, by, command_id, ts)
            continue
        assert isinstance(entry, OrderItem), entry
        allocation = accounts[copy.allocation]
        touched[id(allocation)] = allocation
        quote_in, base_in = _moves(market, buy, entry)
        block_ref = entry.block
        if buy:
            allocation.post(TRANSFER, symbol, block_ref, quote, quote_in, ZERO)
        if base_in:
            allocation.post(TRANSFER, symbol, block_ref, base, base_in, ZERO)
        if not buy:
            allocation.post(TRANSFER, symbol, block_ref, quote, quote_in, ZERO)
        paid, got = paid - quote_in, got - base_in
        limit_price, mean, reason = blocks[block_ref]
        fill = Execution(
            spec.qty(entry.lots),
            None if mean is None else Decimal(mean),
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


def complete(state: State, leader: str, by: str, command_id: str, ts: int) -> bool:
    """Do every step of every plan of `leader`'s block account still pending (before
    anything reads or moves its copies' allocations); whether there was one."""
    block = state.accounts.get(block_id(leader))
    if block is None or not block.blocks:
        return False
    for _, plan in block.pending_blocks():
        apply_plan(state, block, plan["reference"], None, by, command_id, ts)
    return True


def pending_moves(state: State, copy: Copy) -> dict[str, Decimal]:
    """What its leader's pending plans will move into (> 0) or out of (< 0) the copy's
    allocation, per asset (read only: a command checks it before it refuses). A copy sized
    (or still to size, sized now as it would be) and not placed yet counts for what it may pay
    at its block's limit."""
    block = state.accounts.get(block_id(copy.leader))
    moves: dict[str, Decimal] = {}
    if block is None or not block.blocks:
        return moves
    key = state.copies.texts[copy.id]
    for start, plan in block.pending_blocks():
        market = state.markets[plan["market"]]
        rules = market.settlement
        buy = plan["side"] == BUY
        sizing = phase(plan) == SIZING
        if not sizing:
            entries = plan["items"][start:]
        else:
            entries = plan["sized"]
            unsized = key > plan["cursor"] and copy.quote == market.quote
            if unsized and copy.copies_trade(market.symbol, plan["seq"]):
                entries = entries + _size(state, market, plan, [copy])  # as it would be
        for stored in entries:
            entry = item(stored)
            if entry.copy != key or isinstance(entry, SkipItem):
                continue
            if isinstance(entry, WantItem):  # at most what its block may take
                limit = limit_ticks(plan["price"], entry.bps, buy, market.spec.max_price_ticks)
                asset, amount = rules.need(plan["side"], limit, entry.lots)
                moves[asset] = moves.get(asset, ZERO) - amount
                continue
            quote_in, base_in = _moves(market, buy, entry)
            for asset, amount in ((market.quote, quote_in), (market.base, base_in)):
                moves[asset] = moves.get(asset, ZERO) + amount
    return moves


def _moves(market: Market, buy: bool, entry: OrderItem) -> tuple[Decimal, Decimal]:
    """What settling an order item moves into its copy's allocation (< 0: out of it), in
    the quote and the base: a buy pays its all-in amount and gets its lots, a sell the
    other way round."""
    rules = market.settlement
    net, lots = rules.quote_unit * entry.net, rules.base_unit * entry.lots
    return (-net, lots) if buy else (net, -lots)


def check_guards(state: State, quote: str, by: str, command_id: str, ts: int) -> bool:
    """Stop (STOPPED_BY_LOSS) every live copy quoted in `quote` whose equity, its leader's
    pending plans counted (read only), fell to its stop-loss percent of what was invested
    (those plans done first); whether any was stopped."""
    prices = marks(state, quote)
    stopped = False
    for copy in state.copies.live():
        percent = copy.stop_loss_percent
        if percent is None or copy.quote != quote or copy.invested <= 0:
            continue
        value = equity(state.by_text[copy.allocation], prices)
        for asset, amount in pending_moves(state, copy).items():
            price = prices.get(asset)
            if price is not None:
                value += amount * price
        if value * 100 <= copy.invested * percent:
            complete(state, copy.leader, by, command_id, ts)
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
