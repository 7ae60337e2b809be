"""domain/money.py: the exact context, and the read side's conversions that rely on it."""

from __future__ import annotations

import decimal
import threading
from decimal import Decimal

import pytest

from socialtrading.domain import money
from socialtrading.domain.money import MAX_AMOUNT, in_range
from socialtrading.engine.spec import format_decimal
from socialtrading.projections.market_specs import Spec
from socialtrading.projections.rows import clean

# 10**18 - 1e-18: 37 digits, which Python's default 28-digit context rounds to 10**18.
NEAR_LIMIT = "999999999999999999.999999999999999999"


def test_the_default_context_would_create_money_and_the_exact_one_raises() -> None:
    big, tiny = Decimal(10**18), Decimal("-1e-18")
    assert decimal.getcontext().prec == 28
    assert big + tiny == big  # silently rounded: 1e-18 created
    with money.exact(), pytest.raises(decimal.Inexact):
        Decimal(1).scaleb(101) + Decimal(1)  # beyond 100 digits, rounding is an error
    with money.exact():
        assert big + tiny == Decimal(NEAR_LIMIT)


def test_install_sets_the_context_of_the_calling_thread_only() -> None:
    seen: list[int] = []

    def run() -> None:
        money.install()
        seen.append(decimal.getcontext().prec)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [money.PRECISION]
    assert decimal.getcontext().prec == 28


@pytest.mark.parametrize(
    ("amount", "ok"),
    [
        ("1e-18", True),
        ("0.000000000000000001000", True),  # trailing zeros are no decimal places
        ("1e-19", False),
        (str(MAX_AMOUNT), True),
        ("1000000000000000.000000000000000001", False),
        ("0", False),
        ("-1", False),
    ],
)
def test_amounts_in_range(amount: str, ok: bool) -> None:
    assert in_range(Decimal(amount)) is ok


def test_read_side_conversions_are_exact_in_any_thread() -> None:
    spec = Spec("m", "AAA-BBB", Decimal("999999.999999999999999999"), Decimal("1e-18"), 0, 0)
    assert spec.price(10**15) == Decimal("999999999999999999999.999")
    ticks = 10**15 - 1  # a price of 39 digits
    assert spec.price(ticks) == Decimal(f"{999999999999999999999999 * ticks}E-18")
    assert spec.quote(10**18) == Decimal("999999.999999999999999999")
    assert str(clean(Decimal(NEAR_LIMIT + "000"))) == NEAR_LIMIT
    assert format_decimal(Decimal(NEAR_LIMIT + "000")) == NEAR_LIMIT
