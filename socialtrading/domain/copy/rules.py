"""Copy trading's rules as pure functions over integers and Decimals.

Units are the market's: prices in ticks, quantities in lots, money in quote units (one tick
x one lot). Nothing here rounds twice, and nothing creates money:

- **Sizing** (`desired_lots`): PROPORTIONAL buys the notional N x Ec / E (N the leader's fill
  notional, E the leader's equity, Ec the copy's, both marked at the fill price), FIXED_RATIO
  buys ratio x the leader's lots, FIXED_AMOUNT buys a fixed notional; a leader's sell of the
  fraction f of its position sells f of the copy's. Always rounded down to the lot.
- **Block limit price** (`limit_ticks`): the leader's price +/- the slippage tolerance, rounded
  towards the leader's price (never beyond the tolerance, nor beyond the market's highest
  price).
- **Allocation** (`largest_remainder`): a total split pro rata to weights, each part the floor
  of its exact share, the rest one unit each to the largest remainders, ties to the earlier
  weight (the callers order copies by id). The parts sum exactly to the total and each is
  within one unit of its exact share.
- **Block money** (`split_block`): a buy block's all-in debit (cost + fee) and its fee are each
  split by largest remainder over the lots allocated (the cost is their difference); a sell's
  proceeds (cost - fee) and fee likewise. So every copy of a block pays the block's average
  price to within a quote unit or two, never more than it reserved.
- **Profit share** (`profit_share`): with a high-water mark, see its docstring.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Final, Literal, NamedTuple

PROPORTIONAL: Final = "PROPORTIONAL"
FIXED_RATIO: Final = "FIXED_RATIO"
FIXED_AMOUNT: Final = "FIXED_AMOUNT"
Sizing = Literal["PROPORTIONAL", "FIXED_RATIO", "FIXED_AMOUNT"]
SIZINGS: Final[tuple[Sizing, ...]] = (PROPORTIONAL, FIXED_RATIO, FIXED_AMOUNT)

BPS: Final = 10_000


def largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` (>= 0) pro rata to `weights` (>= 0): floors of the exact shares, then one
    more to each of the largest remainders, ties to the earlier weight. All zeros when the
    weights are."""
    whole = sum(weights)
    if whole == 0 or total == 0:
        return [0] * len(weights)
    parts: list[int] = []
    remainders: list[tuple[int, int]] = []
    for index, weight in enumerate(weights):
        share, remainder = divmod(total * weight, whole)
        parts.append(share)
        if remainder:
            remainders.append((-remainder, index))
    left = total - sum(parts)
    if left:
        remainders.sort()
        for _, index in remainders[:left]:
            parts[index] += 1
    return parts


def limit_ticks(price: int, slippage_bps: int, buy: bool, ceiling: int) -> int:
    """The block order's limit: `price` ticks plus (buy) or minus (sell) the tolerance, rounded
    towards `price`; at least one tick, at most `ceiling` (the market's highest price: a
    leader's fill at or near it still copies, within the tolerance)."""
    if buy:
        return min(price * (BPS + slippage_bps) // BPS, max(price, ceiling))
    return max(1, -(-price * (BPS - slippage_bps) // BPS))


def desired_lots(
    sizing: str,
    *,
    leader_lots: int,
    price: int,
    unit: Decimal,
    leader_equity: Decimal,
    copy_equity: Decimal,
    ratio: Decimal | None,
    fixed_amount: Decimal | None,
) -> int:
    """The lots a copy buys when its leader bought `leader_lots` at `price` ticks (`unit` the
    quote value of one tick x one lot), rounded down."""
    if sizing == FIXED_RATIO:
        assert ratio is not None
        return int(Fraction(ratio) * leader_lots)
    if sizing == FIXED_AMOUNT:
        assert fixed_amount is not None
        return int(Fraction(fixed_amount) / (Fraction(unit) * price))
    if leader_equity <= 0 or copy_equity <= 0:
        return 0
    # N x Ec / E of notional, in lots: leader_lots x Ec / E, rounded down (exact: the decimals
    # as integer ratios a/b and c/d, so (a x d x lots) // (b x c); one per copy of a fill)
    a, b = copy_equity.as_integer_ratio()
    c, d = leader_equity.as_integer_ratio()
    return a * d * leader_lots // (b * c)


def sell_lots(copy_lots: int, sold: Decimal, leader_before: Decimal) -> int:
    """The lots a copy holding `copy_lots` sells when its leader sold `sold` of the
    `leader_before` it held (the same fraction, rounded down; all when the leader sold
    everything)."""
    if leader_before <= 0 or copy_lots <= 0:
        return 0
    if sold >= leader_before:
        return copy_lots
    return int(copy_lots * Fraction(sold) / Fraction(leader_before))


class Share(NamedTuple):
    """One copy's part of a block: lots, quote units of cost (price x lots, before fees) and
    of fee, and the quote units it pays (buy) or receives (sell) in all."""

    lots: int
    cost: int
    fee: int
    net: int


def split_block(buy: bool, asked: Sequence[int], filled: int, cost: int, fee: int) -> list[Share]:
    """Split a block's `filled` lots, `cost` and `fee` (quote units) among copies that asked
    for `asked` lots (in id order). The lots pro rata to what each asked; the money pro rata to
    the lots each got: a buy's all-in debit (cost + fee) and fee, a sell's proceeds (cost - fee)
    and fee, each by largest remainder, so the sums are exact."""
    lots = largest_remainder(filled, asked)
    fees = largest_remainder(fee, lots)
    nets = largest_remainder(cost + fee if buy else cost - fee, lots)
    return [
        Share(got, net - part if buy else net + part, part, net)
        for got, part, net in zip(lots, fees, nets, strict=True)
    ]


class Settlement(NamedTuple):
    """The figures of one profit-share settlement (quote amounts)."""

    equity: Decimal
    invested: Decimal
    gain: Decimal  # profit above the high-water mark (0 after a loss)
    high_water_mark_before: Decimal
    share: Decimal  # charged now
    high_water_mark_after: Decimal
    paid: Decimal  # moved to the leader now (this share and what was owed, as far as possible)
    owed: Decimal  # still owed to the leader after this settlement


# Shares are rounded down to this many decimal places (never charging more than the rate).
SHARE_PLACES = Decimal("1e-8")


def profit_share(
    equity: Decimal,
    invested: Decimal,
    high_water_mark: Decimal,
    owed: Decimal,
    share_bps: int,
    available: Decimal,
) -> Settlement:
    """Settle a copy's profit share with a high-water mark.

    The profit is P = equity - invested - owed (invested: net contributions, so top-ups and
    withdrawals are not gains; owed: share charged before and not paid yet, a debt of the
    allocation). Only profit above the mark is charged: share = bps x (P - mark), rounded down
    to 1e-8, and the mark becomes P - share (what the profit is once the share is paid). After
    a loss nothing is charged until the profit is back above the mark. The share, with anything
    owed from before, is paid from the `available` quote; what cannot be paid stays owed.
    """
    profit = equity - invested - owed
    gain = max(profit - high_water_mark, Decimal(0))
    with decimal.localcontext() as context:
        context.prec = 100
        context.traps[decimal.Inexact] = False
        context.traps[decimal.Rounded] = False
        share = (gain * share_bps / BPS).quantize(SHARE_PLACES, rounding=decimal.ROUND_DOWN)
    share = max(share, Decimal(0))
    mark = profit - share if gain > 0 else high_water_mark
    due = share + owed
    paid = min(due, max(available, Decimal(0)))
    return Settlement(equity, invested, gain, high_water_mark, share, mark, paid, due - paid)
