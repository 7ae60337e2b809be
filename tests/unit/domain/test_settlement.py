"""The ledger rules of a market: reserves, releases, settlement and fees, in exact amounts.

The test market has a tick of 0.01 USD and a lot of 0.01 BTC, so one quote unit is 0.0001 USD;
prices below are in ticks (10000 = 100.00 USD) and quantities in lots (100 = 1 BTC).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialtrading.domain.settlement import LiveOrders, Posting, SettlementRules
from socialtrading.engine.book import BUY, SELL
from socialtrading.engine.records import ACCEPTED, AMENDED, CANCELLED, EXPIRED, TRADE, Record

SYMBOL = "BTC-USD"
FEES = "fees"


def make_ledger(maker_bps: int = 10, taker_bps: int = 20) -> SettlementRules:
    """The test market's ledger with these fee rates."""
    return SettlementRules(
        SYMBOL, "BTC", "USD", Decimal("0.01"), Decimal("0.01"), maker_bps, taker_bps, FEES
    )


def accepted(order_id: str, account: str, side: str, price: int | None, lots: int) -> Record:
    """An `accepted` record of a GTC limit order (market order when `price` is None)."""
    kind = "limit" if price is not None else "market"
    return (
        ACCEPTED,
        1,
        0,
        order_id,
        account,
        side,
        kind,
        price,
        lots,
        "GTC",
        False,
        "cancel_taker",
        None,
        None,
        None,
    )


def trade(seq: int, price: int, lots: int, taker: str, maker: str, taker_side: str) -> Record:
    """A `trade` record (the accounts in it are not read by the ledger)."""
    return (TRADE, seq, 0, price, lots, taker, maker, taker_side, "taker-acct", "maker-acct")


def totals(postings: list[Posting]) -> dict[str, Decimal]:
    """Per asset, the sum of every posting's available and reserved deltas."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for _, _, _, asset, available, reserved in postings:
        out[asset] += available + reserved
    return dict(out)


# ---------------------------------------------------------------------- per lot and need


@pytest.mark.parametrize(
    ("price", "maker_bps", "taker_bps", "per_lot"),
    [
        (10_000, 10, 20, 10_020),  # exact: no rounding
        (9_999, 10, 20, 10_019),  # 10018.998 rounds up
        (4_990, 10, 20, 5_000),  # 4999.98 rounds up
        (1, 10, 20, 2),  # 1.002 rounds up to a whole unit
        (10_000, 30, 5, 10_030),  # the larger of the two rates
        (5_000, 0, 0, 5_000),  # no fees: the price itself
    ],
)
def test_a_buy_reserves_per_lot_its_price_plus_the_larger_fee_rounded_up(
    price: int, maker_bps: int, taker_bps: int, per_lot: int
) -> None:
    assert make_ledger(maker_bps, taker_bps).per_lot(price) == per_lot


def test_a_buy_needs_its_lots_times_the_per_lot_reserve_in_quote() -> None:
    assert make_ledger().need(BUY, 10_000, 150) == ("USD", Decimal("150.30"))
    assert make_ledger().need(BUY, 1, 1) == ("USD", Decimal("0.0002"))


def test_a_sell_needs_its_lots_in_base_whatever_its_price() -> None:
    assert make_ledger().need(SELL, 10_000, 150) == ("BTC", Decimal("1.50"))
    assert make_ledger().need(SELL, None, 1) == ("BTC", Decimal("0.01"))


def test_a_buy_without_a_price_cannot_be_reserved() -> None:
    with pytest.raises(AssertionError):
        make_ledger().need(BUY, None, 1)


# ---------------------------------------------------------------------- accepted


def test_an_accepted_order_reserves_what_it_needs_and_joins_the_terms() -> None:
    terms: LiveOrders = {}

    postings = make_ledger().postings(
        [accepted("b1", "alice", BUY, 10_000, 100), accepted("s1", "bob", SELL, None, 30)], terms
    )

    assert postings == [
        ("alice", "reserve", "b1", "USD", Decimal("-100.20"), Decimal("100.20")),
        ("bob", "reserve", "s1", "BTC", Decimal("-0.30"), Decimal("0.30")),
    ]
    assert terms == {"b1": ("alice", BUY, 10_000), "s1": ("bob", SELL, None)}


# ---------------------------------------------------------------------- trades


def test_a_taker_buy_pays_price_plus_taker_fee_and_releases_at_its_own_price() -> None:
    terms: LiveOrders = {"b1": ("alice", BUY, 10_100), "s1": ("bob", SELL, 10_000)}

    postings = make_ledger().postings([trade(3, 10_000, 50, "b1", "s1", BUY)], terms)

    # notional 50.00; taker fee 0.10; maker fee 0.05; 50 lots reserved at 101.202 -> 50.6050
    assert postings == [
        ("alice", "settle", "BTC-USD:3", "USD", Decimal("0.5050"), Decimal("-50.6050")),
        ("alice", "settle", "BTC-USD:3", "BTC", Decimal("0.50"), Decimal(0)),
        ("bob", "settle", "BTC-USD:3", "BTC", Decimal(0), Decimal("-0.50")),
        ("bob", "settle", "BTC-USD:3", "USD", Decimal("49.95"), Decimal(0)),
        (FEES, "fee", "BTC-USD:3", "USD", Decimal("0.15"), Decimal(0)),
    ]


def test_a_taker_sell_pays_the_taker_fee_and_the_resting_buyer_the_maker_fee() -> None:
    terms: LiveOrders = {"b1": ("alice", BUY, 10_100), "s1": ("bob", SELL, 10_000)}

    postings = make_ledger().postings([trade(4, 10_100, 50, "s1", "b1", SELL)], terms)

    # notional 50.50; buyer (maker) fee 0.0505; seller (taker) fee 0.1010
    assert postings == [
        ("alice", "settle", "BTC-USD:4", "USD", Decimal("0.0545"), Decimal("-50.6050")),
        ("alice", "settle", "BTC-USD:4", "BTC", Decimal("0.50"), Decimal(0)),
        ("bob", "settle", "BTC-USD:4", "BTC", Decimal(0), Decimal("-0.50")),
        ("bob", "settle", "BTC-USD:4", "USD", Decimal("50.3990"), Decimal(0)),
        (FEES, "fee", "BTC-USD:4", "USD", Decimal("0.1515"), Decimal(0)),
    ]


def test_fees_are_rounded_down_to_whole_quote_units() -> None:
    terms: LiveOrders = {"b1": ("alice", BUY, 4_999), "s1": ("bob", SELL, 4_999)}

    postings = make_ledger().postings([trade(5, 4_999, 1, "b1", "s1", BUY)], terms)

    # notional 4999 units: taker fee 9.998 -> 9 units, maker fee 4.999 -> 4 units
    buyer_quote, _, _, seller_quote, fee = postings
    assert buyer_quote[4:] == (Decimal("0.0001"), Decimal("-0.5009"))  # 5009 - 4999 - 9
    assert seller_quote[4:] == (Decimal("0.4995"), Decimal(0))
    assert fee[4:] == (Decimal("0.0013"), Decimal(0))


def test_a_trade_whose_fees_round_to_nothing_posts_no_fee() -> None:
    terms: LiveOrders = {"b1": ("alice", BUY, 1), "s1": ("bob", SELL, 1)}

    postings = make_ledger().postings([trade(6, 1, 1, "b1", "s1", BUY)], terms)

    assert [p[1] for p in postings] == ["settle"] * 4
    assert postings[0][4:] == (Decimal("0.0001"), Decimal("-0.0002"))  # 2 reserved, 1 paid


def test_an_order_accepted_and_traded_in_one_command_settles_from_its_fresh_terms() -> None:
    terms: LiveOrders = {"s1": ("bob", SELL, 10_000)}
    records = [accepted("b1", "alice", BUY, 10_000, 100), trade(2, 10_000, 100, "b1", "s1", BUY)]

    postings = make_ledger().postings(records, terms)

    alice_usd = [(p[4], p[5]) for p in postings if p[0] == "alice" and p[3] == "USD"]
    assert alice_usd == [
        (Decimal("-100.20"), Decimal("100.20")),
        (Decimal("0.00"), Decimal("-100.20")),  # paid 100.00 + 0.20 taker fee: nothing left
    ]


# ---------------------------------------------------------------------- cancel, expire, amend


@pytest.mark.parametrize(
    "record",
    [
        (CANCELLED, 7, 0, "b1", 40, 0, "user"),
        (CANCELLED, 7, 0, "b1", 40, 60, "stp_decrement"),
        (EXPIRED, 7, 0, "b1", 40),
    ],
)
def test_removed_lots_release_their_reserve_at_the_order_price(record: Record) -> None:
    terms: LiveOrders = {"b1": ("alice", BUY, 10_000)}

    postings = make_ledger().postings([record], terms)

    assert postings == [("alice", "release", "b1", "USD", Decimal("40.08"), Decimal("-40.08"))]


def test_a_cancelled_sell_releases_its_base() -> None:
    terms: LiveOrders = {"s1": ("bob", SELL, None)}

    postings = make_ledger().postings([(CANCELLED, 7, 0, "s1", 25, 0, "no_liquidity")], terms)

    assert postings == [("bob", "release", "s1", "BTC", Decimal("0.25"), Decimal("-0.25"))]


def test_an_amend_to_a_higher_price_reserves_the_difference_and_updates_the_terms() -> None:
    terms: LiveOrders = {"b1": ("alice", BUY, 10_000)}

    postings = make_ledger().postings(
        [(AMENDED, 8, 0, "b1", 10_000, 11_000, 100, 100, False)], terms
    )

    # 100 lots at 110.22 instead of 100.20
    assert postings == [("alice", "reserve", "b1", "USD", Decimal("-10.02"), Decimal("10.02"))]
    assert terms["b1"] == ("alice", BUY, 11_000)


def test_an_amend_to_fewer_lots_gives_back_the_difference() -> None:
    terms: LiveOrders = {"b1": ("alice", BUY, 10_000)}

    postings = make_ledger().postings([(AMENDED, 8, 0, "b1", 10_000, 10_000, 100, 40, True)], terms)

    assert postings == [("alice", "reserve", "b1", "USD", Decimal("60.12"), Decimal("-60.12"))]


def test_an_amend_at_a_lower_price_and_more_lots_reserves_the_net_difference() -> None:
    terms: LiveOrders = {"b1": ("alice", BUY, 10_000)}

    postings = make_ledger().postings(
        [(AMENDED, 8, 0, "b1", 10_000, 5_000, 100, 150, False)], terms
    )

    # 150 lots at 50.10 = 75.15 instead of 100.20
    assert postings == [("alice", "reserve", "b1", "USD", Decimal("25.05"), Decimal("-25.05"))]
    assert terms["b1"] == ("alice", BUY, 5_000)


def test_a_sell_amended_to_another_price_only_posts_nothing_but_updates_the_terms() -> None:
    terms: LiveOrders = {"s1": ("bob", SELL, 10_000)}

    postings = make_ledger().postings([(AMENDED, 8, 0, "s1", 10_000, 9_000, 30, 30, False)], terms)

    assert postings == []
    assert terms["s1"] == ("bob", SELL, 9_000)


# ---------------------------------------------------------------------- properties

_prices = st.integers(min_value=1, max_value=10_000_000)
_lots = st.integers(min_value=1, max_value=1_000_000)
_bps = st.integers(min_value=0, max_value=1_000)


@given(
    price=_prices,
    extra=st.integers(min_value=0, max_value=1_000_000),
    lots=_lots,
    maker_bps=_bps,
    taker_bps=_bps,
    taker_side=st.sampled_from([BUY, SELL]),
)
def test_every_trade_moves_money_between_accounts_only_and_never_overdraws_the_buyer(
    price: int, extra: int, lots: int, maker_bps: int, taker_bps: int, taker_side: str
) -> None:
    buyer_price = price + extra  # a trade is never above the buyer's price
    terms: LiveOrders = {"b1": ("alice", BUY, buyer_price), "s1": ("bob", SELL, price)}
    taker, maker = ("b1", "s1") if taker_side == BUY else ("s1", "b1")

    postings = make_ledger(maker_bps, taker_bps).postings(
        [trade(2, price, lots, taker, maker, taker_side)], terms
    )

    assert all(total == 0 for total in totals(postings).values())
    buyer_quote = postings[0]
    assert buyer_quote[4] >= 0  # the reserve covers price plus fee
    assert buyer_quote[5] == -make_ledger(maker_bps, taker_bps).need(BUY, buyer_price, lots)[1]


@given(
    buy_price=_prices,
    below=st.integers(min_value=0, max_value=1_000_000),
    buy_lots=_lots,
    sell_lots=_lots,
    maker_bps=_bps,
    taker_bps=_bps,
)
def test_an_order_pair_traded_and_cancelled_leaves_nothing_reserved(
    buy_price: int, below: int, buy_lots: int, sell_lots: int, maker_bps: int, taker_bps: int
) -> None:
    sell_price = max(1, buy_price - below)
    traded = min(buy_lots, sell_lots)
    ledger = make_ledger(maker_bps, taker_bps)
    records = [
        accepted("s1", "bob", SELL, sell_price, sell_lots),
        accepted("b1", "alice", BUY, buy_price, buy_lots),
        trade(3, sell_price, traded, "b1", "s1", BUY),
        (CANCELLED, 4, 0, "b1", buy_lots - traded, 0, "user"),
        (CANCELLED, 5, 0, "s1", sell_lots - traded, 0, "user"),
    ]

    postings = ledger.postings(records, {})

    reserved: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for account, _, _, asset, _, delta in postings:
        reserved[account, asset] += delta
    assert all(total == 0 for total in reserved.values())
    assert all(total == 0 for total in totals(postings).values())
    notional = Decimal("0.0001") * sell_price * traded
    paid = sum(p[4] + p[5] for p in postings if p[0] == "alice" and p[3] == "USD")
    assert -paid == notional + Decimal("0.0001") * (sell_price * traded * taker_bps // 10_000)
