"""Exact money: the documented maxima and a decimal context in which rounding raises.

Balances are Decimals. Python's default context keeps 28 significant digits and rounds
silently beyond them, which creates or destroys money. Every balance is instead computed in
`CONTEXT`: 100 digits, with `Inexact` trapped, so a result that would need rounding raises
`decimal.Inexact` instead of being stored.

Why 100 digits suffice. A market's tick and lot sizes lie in [1e-18, 1e6] with at most 18
decimal places (engine/spec.py), so a quote unit (tick x lot) is at most 1e12 with at most 36
decimal places. Every ledger amount is a unit times an integer of at most about 1.2e18 (a
notional is at most 10**18 tick-lots, plus the fee reserve), so at most 1.2e30 with 36
decimal places: 67 digits. Deposits and withdrawals are at most MAX_AMOUNT with at most 18
decimal places, and a deposit may not take an account's total of an asset beyond
MAX_BALANCE. A balance is a sum of such amounts and never exceeds the asset's whole supply, so
it keeps at most 36 decimal places and would need more than 100 digits only with a supply
beyond 1e63: far out of reach.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from socialtrading.engine.spec import decimal_places

# The most one deposit or withdrawal may move, of any asset.
MAX_AMOUNT = Decimal(10**15)
# A deposit may not take an account's total (available + reserved) of an asset beyond this.
MAX_BALANCE = Decimal(10**18)
# The most decimal places an amount may have.
MAX_PLACES = 18

PRECISION = 100

CONTEXT = decimal.Context(
    prec=PRECISION,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[
        decimal.InvalidOperation,
        decimal.DivisionByZero,
        decimal.Overflow,
        decimal.Inexact,
    ],
)


@contextmanager
def exact() -> Iterator[decimal.Context]:
    """Run the block with `CONTEXT` as the thread's decimal context (restored after)."""
    with decimal.localcontext(CONTEXT) as context:
        yield context


def install() -> None:
    """Make `CONTEXT` the calling thread's decimal context for good (a dedicated thread)."""
    decimal.setcontext(CONTEXT.copy())


def in_range(amount: Decimal) -> bool:
    """Whether `amount` is one deposits and withdrawals accept: in (0, MAX_AMOUNT], with at
    most MAX_PLACES decimal places."""
    return amount.is_finite() and 0 < amount <= MAX_AMOUNT and decimal_places(amount) <= MAX_PLACES
