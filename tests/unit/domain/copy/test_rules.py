"""The copy rules as properties: allocations are exact, fair and deterministic; block money
splits conserve every quote unit and never take more than a copy reserved; profit share
charges only gains above the high-water mark."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from socialtrading.domain.copy.rules import (
    FIXED_AMOUNT,
    FIXED_RATIO,
    PROPORTIONAL,
    desired_lots,
    largest_remainder,
    limit_ticks,
    profit_share,
    sell_lots,
    split_block,
)

weights = st.lists(st.integers(0, 10**6), min_size=1, max_size=60)


@given(total=st.integers(0, 10**9), weights=weights)
def test_largest_remainder_sums_exactly_and_stays_within_one_unit(
    total: int, weights: list[int]
) -> None:
    parts = largest_remainder(total, weights)
    whole = sum(weights)
    if whole == 0:
        assert parts == [0] * len(weights)
        return
    assert sum(parts) == total
    for part, weight in zip(parts, weights, strict=True):
        exact = Fraction(total * weight, whole)
        assert abs(part - exact) < 1
        assert part >= 0
        if weight == 0:
            assert part == 0


@given(total=st.integers(0, 10**6), weights=weights)
def test_largest_remainder_is_deterministic_and_ties_go_to_the_earlier(
    total: int, weights: list[int]
) -> None:
    assert largest_remainder(total, weights) == largest_remainder(total, list(weights))
    parts = largest_remainder(total, weights)
    whole = sum(weights)
    if whole:
        # equal weights get equal parts, or the earlier one gets the extra unit
        for i in range(len(weights)):
            for j in range(i + 1, len(weights)):
                if weights[i] == weights[j]:
                    assert parts[i] - parts[j] in (0, 1)


MAX = 10**15  # no ceiling in the way


def test_three_equal_copies_share_a_remainder_by_id_order() -> None:
    assert largest_remainder(10, [1, 1, 1]) == [4, 3, 3]
    assert largest_remainder(2, [5, 5, 5]) == [1, 1, 0]


@given(
    asked=st.lists(st.integers(0, 10**4), min_size=1, max_size=40),
    fill_fraction=st.fractions(0, 1),
    price=st.integers(1, 10**6),
    prices=st.lists(st.integers(0, 50), min_size=1, max_size=5),
    bps=st.integers(0, 1000),
    buy=st.booleans(),
)
def test_block_money_is_conserved_and_within_reservations(
    asked: list[int],
    fill_fraction: Fraction,
    price: int,
    prices: list[int],
    bps: int,
    buy: bool,
) -> None:
    whole = sum(asked)
    filled = int(whole * fill_fraction)
    # the block's fills: at up to len(prices) price levels, never beyond the limit `price`
    trades = largest_remainder(filled, [1] * len(prices))
    cost = fee = 0
    for lots, below in zip(trades, prices, strict=True):
        at = max(1, price - below)
        cost += at * lots
        fee += at * lots * bps // 10_000
    shares = split_block(buy, asked, filled, cost, fee)
    assert sum(s.lots for s in shares) == filled
    assert sum(s.cost for s in shares) == cost
    assert sum(s.fee for s in shares) == fee
    per_lot = -(-price * (10_000 + bps) // 10_000)
    for share, wanted in zip(shares, asked, strict=True):
        assert 0 <= share.lots <= wanted
        assert share.cost >= 0 and share.fee >= 0
        if buy:
            assert share.net == share.cost + share.fee
            assert share.net <= wanted * per_lot  # never more than it reserved
        else:
            assert share.net == share.cost - share.fee >= 0
        if filled:
            # every copy pays the block's average price, within two quote units
            assert abs(share.cost - Fraction(cost * share.lots, filled)) < 2


def test_limit_price_stays_within_the_tolerance() -> None:
    assert limit_ticks(10_000, 50, buy=True, ceiling=MAX) == 10_050
    assert limit_ticks(10_000, 50, buy=False, ceiling=MAX) == 9_950
    assert limit_ticks(333, 50, buy=True, ceiling=MAX) == 334  # 334.665 rounded towards the price
    assert limit_ticks(333, 50, buy=False, ceiling=MAX) == 332  # 331.335 rounded towards the price
    assert limit_ticks(1, 1000, buy=False, ceiling=MAX) == 1
    # never beyond the market's highest price (the leader traded at it, or near it)
    assert limit_ticks(10_000, 50, buy=True, ceiling=10_020) == 10_020
    assert limit_ticks(10_000, 50, buy=True, ceiling=10_000) == 10_000


def _lots(
    sizing: str,
    leader_lots: int,
    leader_equity: int = 1,
    copy_equity: int = 1,
    ratio: str | None = None,
    fixed: str | None = None,
) -> int:
    return desired_lots(
        sizing,
        leader_lots=leader_lots,
        price=100,
        unit=Decimal("0.01"),
        leader_equity=Decimal(leader_equity),
        copy_equity=Decimal(copy_equity),
        ratio=None if ratio is None else Decimal(ratio),
        fixed_amount=None if fixed is None else Decimal(fixed),
    )


def test_sizing_modes() -> None:
    # a leader with equity 10,000 buys 50 lots; a copy with 1,000 buys a tenth, rounded down
    assert _lots(PROPORTIONAL, 50, 10_000, 1_000) == 5
    assert _lots(PROPORTIONAL, 59, 10_000, 1_000) == 5
    assert _lots(FIXED_RATIO, 50, ratio="0.25") == 12
    assert _lots(FIXED_AMOUNT, 1, fixed="25") == 25  # 25 / (100 ticks x 0.01)
    assert _lots(PROPORTIONAL, 5, 0, 1) == 0


@given(copy=st.integers(0, 10**6), sold=st.integers(1, 10**6), before=st.integers(1, 10**6))
def test_a_sell_takes_the_leaders_fraction_rounded_down(copy: int, sold: int, before: int) -> None:
    lots = sell_lots(copy, Decimal(sold), Decimal(before))
    assert 0 <= lots <= copy
    if sold >= before:
        assert lots == copy
    else:
        assert lots == int(Fraction(copy * sold, before))


def test_profit_share_with_a_high_water_mark_gain_loss_recovery() -> None:
    d = Decimal
    # gain: 1,000 invested, equity 1,200 -> 10% of 200 = 20, mark 180
    first = profit_share(d(1200), d(1000), d(0), d(0), 1000, d(1200))
    assert (first.gain, first.share, first.paid, first.owed) == (d(200), d(20), d(20), d(0))
    assert first.high_water_mark_after == d(180)
    # loss: equity falls to 1,050 (after paying 20: profit 50 < mark 180): nothing
    second = profit_share(d(1050), d(1000), d(180), d(0), 1000, d(1050))
    assert (second.gain, second.share, second.paid) == (d(0), d(0), d(0))
    assert second.high_water_mark_after == d(180)
    # recovery above the mark: only what is above it is charged
    third = profit_share(d(1280), d(1000), d(180), d(0), 1000, d(1280))
    assert (third.gain, third.share) == (d(100), d(10))
    assert third.high_water_mark_after == d(270)
    # top-ups are not gains: 500 more in, equity up by 500
    fourth = profit_share(d(1770), d(1500), d(270), d(0), 1000, d(1770))
    assert fourth.gain == d(0) and fourth.share == d(0)


def test_profit_share_not_payable_now_is_owed() -> None:
    d = Decimal
    settled = profit_share(d(2000), d(1000), d(0), d(0), 2000, d(50))
    assert settled.share == d(200) and settled.paid == d(50) and settled.owed == d(150)
    # the allocation paid 50 (equity 1,950); the 150 owed is a debt, not a new gain
    mark = settled.high_water_mark_after
    later = profit_share(d(1950), d(1000), mark, settled.owed, 2000, d(500))
    assert later.share == d(0) and later.paid == d(150) and later.owed == d(0)


@given(
    equity=st.decimals(0, 10**9, places=4),
    invested=st.decimals(1, 10**9, places=4),
    mark=st.decimals(0, 10**6, places=4),
    bps=st.integers(0, 3000),
)
def test_profit_share_never_exceeds_its_rate_of_the_gain(
    equity: Decimal, invested: Decimal, mark: Decimal, bps: int
) -> None:
    settled = profit_share(equity, invested, mark, Decimal(0), bps, equity)
    assert 0 <= settled.share <= settled.gain * bps / 10_000
    assert settled.high_water_mark_after >= mark
    assert settled.paid + settled.owed == settled.share
