"""The ledger's sums: per asset, what all accounts hold equals deposits minus withdrawals.

Accounts' balances move by three events only: `FundsDeposited`, `FundsWithdrawn` and
`LedgerPosted` (the trading entries: reservations, releases, settlements, fees, copy
trading's transfers and profit shares). Money moves between accounts, the fee account and
copy allocations included, and is never created, so a batch's entries add up to zero per
asset: at the end of every batch, the sum of every account's balance (available plus
reserved) is deposits minus withdrawals. Inside a batch the entries of its accounts follow
one another, so the sums hold only at a batch's end: the log's end, and each anchor (the
writer takes them at a batch's end, see `infra/chain.py`).

A copied fill's block account draws **credit** while its plan is settled in parts (entries of
kind `credit`, `domain/copy/plan.py`): what the accounts hold is then deposits minus
withdrawals plus the credit outstanding, which every other entry leaves unchanged. So the
check leaves credit entries out (`credit` keeps their net, per asset) and the other entries
must still sum to zero. Credit itself is checked apart: it may be posted on block accounts
only (registered with a `~block-` handle), and, on a run from the log's start, a block account
with no plan pending (`BlockPlanned` opens one; `BlockPlaced` with no items, or the
`BlockPartApplied` reaching its last item, ends it) owes no credit: none drawn and left
unrepaid, none repaid beyond what was drawn.

`Ledger` adds the three events up per asset and checks, where asked, that the entries since
its start sum to zero; a difference is named where it first shows, and again only where it
changes. A run from an anchor starts at zero there (the sums held at that
anchor when the writer took it, which a run from the start checks).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from socialtrading.audit.findings import LEDGER, UNBALANCED, UNREADABLE, Finding
from socialtrading.domain.account import CREDIT, Account
from socialtrading.domain.copy.ids import BLOCK_HANDLE_PREFIX

ZERO = Decimal(0)
_AVAILABLE = 4  # an entry's fields (`domain/account.py`, `Entry`): kind, market, reference,
_RESERVED = 5  # asset, available delta, reserved delta
_ASSET = 3
_KIND = 0


class Ledger:
    """Per asset: deposits, withdrawals, and the trading entries' net, since the start.
    Run it in `domain.money`'s exact decimal context."""

    def __init__(self, *, from_start: bool = True) -> None:
        self.from_start = from_start  # a run from an anchor knows no credit drawn before it
        self.deposits: dict[str, Decimal] = {}
        self.withdrawals: dict[str, Decimal] = {}
        self.entries: dict[str, Decimal] = {}  # what trading entries added, net
        self.credit: dict[str, Decimal] = {}  # credit drawn less repaid (block accounts)
        self._named: dict[str, Decimal] = {}  # the net a finding last named, per asset
        self._blocks: set[Any] = set()  # the block accounts' ids
        # block account -> its pending plans: reference -> items to settle (-1: not placed)
        self._plans: dict[Any, dict[str, int]] = {}
        # (block account, asset) -> credit drawn less repaid
        self._owed: dict[tuple[Any, str], Decimal] = {}
        self._named_owed: dict[tuple[Any, str], Decimal] = {}

    def apply(self, position: int, event: Any) -> Finding | None:
        """Add one account event's amounts; a finding if they cannot be read."""
        try:
            if isinstance(event, Account.LedgerPosted):
                account = event.originator_id
                for entry in event.entries:
                    asset = entry[_ASSET]
                    delta = Decimal(entry[_AVAILABLE]) + Decimal(entry[_RESERVED])
                    if entry[_KIND] != CREDIT:
                        self.entries[asset] = self.entries.get(asset, ZERO) + delta
                        continue
                    self.credit[asset] = self.credit.get(asset, ZERO) + delta
                    if account not in self._blocks:
                        return Finding(
                            position,
                            LEDGER,
                            UNBALANCED,
                            f"{asset} credit posted on account {account}, not a block account",
                        )
                    key = (account, asset)
                    self._owed[key] = self._owed.get(key, ZERO) + delta
            elif isinstance(event, Account.Registered):
                if event.handle.startswith(BLOCK_HANDLE_PREFIX):
                    self._blocks.add(event.originator_id)
            elif isinstance(event, Account.BlockPlanned):
                self._plans.setdefault(event.originator_id, {})[event.plan["reference"]] = -1
            elif isinstance(event, Account.BlockPlaced):
                self._settled(event.originator_id, event.reference, len(event.items), 0)
            elif isinstance(event, Account.BlockPartApplied):
                account, reference = event.originator_id, event.reference
                items = self._plans.get(account, {}).get(reference, 0)
                self._settled(account, reference, items, event.upto)
            elif isinstance(event, Account.FundsDeposited):
                _add(self.deposits, event.asset, event.amount)
            elif isinstance(event, Account.FundsWithdrawn):
                _add(self.withdrawals, event.asset, event.amount)
        except Exception as error:  # a tampered amount: not a number, or not exact
            return Finding(
                position,
                LEDGER,
                UNREADABLE,
                f"{type(event).__name__} of account {event.originator_id}: its amounts cannot "
                f"be read ({type(error).__name__})",
            )
        return None

    def check(self, position: int, where: str, since: str) -> list[Finding]:
        """A finding per asset whose accounts do not hold deposits minus withdrawals at
        `position` (`where` says what that position is, `since` where the sums started),
        unless the previous check named the same difference (so one changed entry is named
        at the first anchor after it, not at every later one)."""
        found = []
        for asset in sorted(self.entries):
            net = self.entries[asset]
            if net == self._named.get(asset, ZERO):
                continue
            self._named[asset] = net
            if net == 0:
                continue
            deposits = self.deposits.get(asset, ZERO)
            withdrawals = self.withdrawals.get(asset, ZERO)
            flow = deposits - withdrawals
            found.append(
                Finding(
                    position,
                    LEDGER,
                    UNBALANCED,
                    f"{asset} does not balance at {where}: since {since}, what the accounts "
                    f"hold changed by {flow + net}, deposits minus withdrawals by {flow} "
                    f"({deposits} - {withdrawals}): trading entries "
                    f"{'created' if net > 0 else 'destroyed'} {abs(net)}",
                )
            )
        return found

    def _settled(self, account: Any, reference: str, items: int, upto: int) -> None:
        """A plan placed with `items` to settle, settled up to `upto`: ended once all are."""
        plans = self._plans.setdefault(account, {})
        if upto >= items:
            plans.pop(reference, None)
        else:
            plans[reference] = items

    def check_credit(self, position: int, where: str) -> list[Finding]:
        """A finding per block account and asset owing credit with no plan pending, or
        having repaid more than it drew (on a run from the log's start only)."""
        if not self.from_start:
            return []
        found = []
        for (account, asset), owed in sorted(self._owed.items(), key=lambda i: str(i[0])):
            fine = owed == 0 or (owed > 0 and bool(self._plans.get(account)))
            if fine or self._named_owed.get((account, asset)) == owed:
                continue
            self._named_owed[(account, asset)] = owed
            what = "repaid beyond what it drew" if owed < 0 else "owed with no plan pending"
            found.append(
                Finding(
                    position,
                    LEDGER,
                    UNBALANCED,
                    f"block account {account}: {abs(owed)} {asset} of credit {what}, at {where}",
                )
            )
        return found

    def assets(self) -> list[str]:
        """Every asset seen, sorted."""
        return sorted(set(self.deposits) | set(self.withdrawals) | set(self.entries))


def _add(sums: dict[str, Decimal], asset: str, amount: Decimal) -> None:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise TypeError("an amount that is not a finite decimal")
    sums[asset] = sums.get(asset, ZERO) + amount
