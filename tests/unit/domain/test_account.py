"""The Account aggregate: identity, KYC, roles, deposits, withdrawals and ledger entries."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from socialtrading.domain.account import ADMIN, MERCHANT, TRADER, ZERO, Account
from socialtrading.domain.errors import Refused
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id
from socialtrading.domain.time import to_datetime
from socialtrading.domain.tokens import token_id

USD = "USD"
BTC = "BTC"
ADMIN_ID = account_id("root")


def new_account(*roles: str) -> Account:
    """Alice's freshly registered account (trader unless told otherwise), events collected."""
    account = Account.register(
        account_id("alice"), "alice", "Alice", list(roles or [TRADER]), "register", 1
    )
    account.collect_events()
    return account


def funded_account(usd: str) -> Account:
    """Alice's account holding `usd` dollars, events collected."""
    account = new_account()
    account.deposit(USD, Decimal(usd), SYSTEM_ACTOR, "fund", 2)
    account.collect_events()
    return account


def balance(account: Account, asset: str) -> tuple[Decimal, Decimal]:
    """(available, reserved) of `asset`, pending entries included."""
    return account.available(asset), account.reserved(asset)


def only_event(account: Account) -> Any:
    """The one event the last command triggered."""
    events = account.collect_events()
    assert len(events) == 1
    return events[0]


def rebuild(events: Sequence[Any]) -> Account:
    """An account rebuilt from its stored events, as a repository would."""
    account = events[0].mutate(None)
    for event in events[1:]:
        account = event.mutate(account)
    assert isinstance(account, Account)
    return account


# ---------------------------------------------------------------------- registration


def test_registration_gives_identity_sorted_roles_no_kyc_and_no_balances() -> None:
    account = Account.register(
        account_id("Alice"), "Alice", "Alice A.", [TRADER, ADMIN], "register", 7
    )

    assert account.id == account_id("alice")  # handles are case-insensitive
    assert account.state() == {
        "handle": "Alice",
        "kyc_level": 0,
        "roles": [ADMIN, TRADER],
        "balances": {},
        "tokens": {},
    }
    assert account.display_name == "Alice A."
    event = only_event(account)
    assert isinstance(event, Account.Registered)
    assert event.command_id == "register"
    assert event.roles == [ADMIN, TRADER]
    assert event.timestamp == to_datetime(7)


def test_a_new_account_has_nothing_available_in_any_asset() -> None:
    account = new_account()

    assert balance(account, USD) == (ZERO, ZERO)
    assert account.assets() == []
    assert not account.has_pending_entries


# ---------------------------------------------------------------------- KYC and roles


def test_kyc_verification_sets_the_level_and_records_who_verified() -> None:
    account = new_account()

    account.verify_kyc(2, ADMIN_ID, "kyc", 3)

    assert account.kyc_level == 2
    event = only_event(account)
    assert isinstance(event, Account.KycVerified)
    assert (event.level, event.by, event.command_id) == (2, str(ADMIN_ID), "kyc")
    assert event.timestamp == to_datetime(3)


def test_granted_roles_are_kept_sorted_and_granting_twice_keeps_one() -> None:
    account = new_account()

    account.grant_role(MERCHANT, ADMIN_ID, "grant-1", 3)
    account.grant_role(ADMIN, ADMIN_ID, "grant-2", 4)
    account.grant_role(MERCHANT, ADMIN_ID, "grant-3", 5)

    assert account.roles == [ADMIN, MERCHANT, TRADER]
    assert account.has_role(ADMIN)
    events = account.collect_events()
    assert [type(e) for e in events] == [Account.RoleGranted] * 3
    assert [e.role for e in events if isinstance(e, Account.RoleGranted)] == [
        MERCHANT,
        ADMIN,
        MERCHANT,
    ]


def test_granting_an_unknown_role_is_refused_and_records_nothing() -> None:
    account = new_account()

    with pytest.raises(Refused) as refused:
        account.grant_role("superuser", ADMIN_ID, "grant", 3)

    assert refused.value.code == "unknown_role"
    assert account.roles == [TRADER]
    assert account.collect_events() == []


# ---------------------------------------------------------------------- deposits, withdrawals


def test_deposits_credit_available_funds_per_asset() -> None:
    account = new_account()

    account.deposit(USD, Decimal("100.25"), ADMIN_ID, "d1", 2)
    account.deposit(USD, Decimal("0.75"), ADMIN_ID, "d2", 3)
    account.deposit(BTC, Decimal("0.5"), ADMIN_ID, "d3", 4)

    assert balance(account, USD) == (Decimal("101.00"), ZERO)
    assert balance(account, BTC) == (Decimal("0.5"), ZERO)
    assert account.assets() == [BTC, USD]
    event = account.collect_events()[0]
    assert isinstance(event, Account.FundsDeposited)
    assert (event.asset, event.amount, event.by) == (USD, Decimal("100.25"), str(ADMIN_ID))


def test_withdrawal_within_the_available_funds_debits_them() -> None:
    account = funded_account("100")

    assert account.withdraw(USD, Decimal("100"), "w", 3) is None

    assert balance(account, USD) == (ZERO, ZERO)
    event = only_event(account)
    assert isinstance(event, Account.FundsWithdrawn)
    assert (event.asset, event.amount, event.command_id) == (USD, Decimal("100"), "w")


def test_withdrawal_beyond_the_available_funds_is_recorded_as_refused_and_changes_nothing() -> None:
    account = funded_account("100")

    assert account.withdraw(USD, Decimal("100.01"), "w", 3) == "insufficient_funds"

    assert balance(account, USD) == (Decimal("100"), ZERO)
    event = only_event(account)
    assert isinstance(event, Account.WithdrawalRefused)
    assert (event.asset, event.amount, event.reason) == (
        USD,
        Decimal("100.01"),
        "insufficient_funds",
    )


def test_reserved_funds_cannot_be_withdrawn() -> None:
    account = funded_account("100")
    account.post("reserve", "BTC-USD", "o1", USD, Decimal("-60"), Decimal("60"))

    assert account.withdraw(USD, Decimal("40.01"), "w1", 3) == "insufficient_funds"
    assert account.withdraw(USD, Decimal("40"), "w2", 4) is None

    assert balance(account, USD) == (ZERO, Decimal("60"))


# ---------------------------------------------------------------------- ledger entries


def test_posted_entries_count_in_available_and_reserved_before_the_flush() -> None:
    account = funded_account("100")

    account.post("reserve", "BTC-USD", "o1", USD, Decimal("-50.10"), Decimal("50.10"))
    account.post("release", "BTC-USD", "o1", USD, Decimal("10.02"), Decimal("-10.02"))

    assert balance(account, USD) == (Decimal("59.92"), Decimal("40.08"))
    assert account.has_pending_entries
    assert account.collect_events() == []  # nothing stored until the flush
    assert account.state()["balances"] == {USD: [Decimal("59.92"), Decimal("40.08")]}


def test_entries_in_an_asset_never_held_before_show_at_once() -> None:
    account = funded_account("100")

    account.post("settle", "BTC-USD", "BTC-USD:7", BTC, Decimal("0.5"), Decimal(0))

    assert balance(account, BTC) == (Decimal("0.5"), ZERO)
    assert account.assets() == [BTC, USD]


def test_flush_stores_every_pending_entry_in_one_ledger_posted_event() -> None:
    account = funded_account("100")
    account.post("reserve", "BTC-USD", "o1", USD, Decimal("-50.10"), Decimal("50.10"))
    account.post("settle", "BTC-USD", "BTC-USD:3", USD, Decimal("0.10"), Decimal("-50.10"))
    account.post("settle", "BTC-USD", "BTC-USD:3", BTC, Decimal("0.5"), Decimal(0))

    account.flush(9)

    event = only_event(account)
    assert isinstance(event, Account.LedgerPosted)
    assert event.timestamp == to_datetime(9)
    assert [entry[:4] for entry in event.entries] == [
        ["reserve", "BTC-USD", "o1", USD],
        ["settle", "BTC-USD", "BTC-USD:3", USD],
        ["settle", "BTC-USD", "BTC-USD:3", BTC],
    ]
    assert [(Decimal(entry[4]), Decimal(entry[5])) for entry in event.entries] == [
        (Decimal("-50.10"), Decimal("50.10")),
        (Decimal("0.10"), Decimal("-50.10")),
        (Decimal("0.5"), Decimal(0)),
    ]
    assert all(isinstance(value, str) for entry in event.entries for value in entry)
    assert not account.has_pending_entries
    assert balance(account, USD) == (Decimal("50.00"), ZERO)
    assert balance(account, BTC) == (Decimal("0.5"), ZERO)


def test_a_second_flush_stores_only_the_entries_posted_since_the_first() -> None:
    account = funded_account("100")
    account.post("reserve", "BTC-USD", "o1", USD, Decimal("-10"), Decimal("10"))
    account.flush(3)
    account.collect_events()

    account.post("release", "BTC-USD", "o1", USD, Decimal("4"), Decimal("-4"))
    account.flush(4)

    event = only_event(account)
    assert [entry[2] for entry in event.entries] == ["o1"]
    assert [entry[0] for entry in event.entries] == ["release"]
    assert balance(account, USD) == (Decimal("94"), Decimal("6"))


def test_flush_without_pending_entries_stores_nothing() -> None:
    account = funded_account("100")

    account.flush(3)

    assert account.collect_events() == []


@pytest.mark.parametrize(
    ("available", "reserved"),
    [
        (Decimal("-100.01"), Decimal("100.01")),  # reserving more than is available
        (Decimal("1"), Decimal("-1")),  # releasing what was never reserved
    ],
)
def test_an_entry_that_would_overdraw_raises_as_a_bug_in_the_ledger_rules(
    available: Decimal, reserved: Decimal
) -> None:
    account = funded_account("100")

    with pytest.raises(AssertionError, match="overdraw alice USD"):
        account.post("reserve", "BTC-USD", "o1", USD, available, reserved)


# ---------------------------------------------------------------------- rebuild


def test_an_account_rebuilt_from_its_events_has_the_live_state() -> None:
    account = Account.register(account_id("alice"), "alice", "Alice", [TRADER], "register", 1)
    account.verify_kyc(1, ADMIN_ID, "kyc", 2)
    account.grant_role(MERCHANT, ADMIN_ID, "grant", 3)
    account.deposit(USD, Decimal("1000"), ADMIN_ID, "d1", 4)
    account.deposit(BTC, Decimal("2"), ADMIN_ID, "d2", 5)
    account.post("reserve", "BTC-USD", "o1", USD, Decimal("-100.20"), Decimal("100.20"))
    account.post("reserve", "BTC-USD", "o2", BTC, Decimal("-1.5"), Decimal("1.5"))
    account.flush(6)
    account.withdraw(USD, Decimal("1000"), "w1", 7)  # refused: 100.20 is reserved
    account.withdraw(USD, Decimal("99.80"), "w2", 8)
    account.post("settle", "BTC-USD", "BTC-USD:9", USD, Decimal("0.20"), Decimal("-100.20"))
    account.post("settle", "BTC-USD", "BTC-USD:9", BTC, Decimal("1"), Decimal(0))
    account.flush(9)
    account.issue_token("ab" * 32, ADMIN_ID, "t1", 10, label="ci", expires_at=20)
    account.issue_token("cd" * 32, ADMIN_ID, "t2", 11)
    account.revoke_token(token_id("ab" * 32), ADMIN_ID, "r1", 12)

    events = account.collect_events()
    rebuilt = rebuild(events)

    assert rebuilt.state() == account.state()
    assert rebuilt.state() == {
        "handle": "alice",
        "kyc_level": 1,
        "roles": [MERCHANT, TRADER],
        "balances": {
            BTC: [Decimal("1.5"), Decimal("1.5")],
            USD: [Decimal("800.20"), Decimal(0)],
        },
        "tokens": {token_id("cd" * 32): ["t2", None]},
    }
    assert (rebuilt.id, rebuilt.version) == (account.id, account.version)
    assert not rebuilt.has_pending_entries
    assert rebuilt.display_name == "Alice"
