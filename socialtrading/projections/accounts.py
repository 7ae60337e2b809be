"""The accounts read model: identities, balances per asset, and API tokens by hash.

Balances follow deposits, withdrawals and every ledger entry the writer posted (reservations,
releases, settlements, fees), so `available` and `reserved` equal the Account aggregate's.
Amounts are exact decimals (`DecimalText`), summed in Python in the exact context of
`domain/money.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    String,
    Table,
    and_,
    or_,
    select,
    update,
)

from socialtrading.domain import money
from socialtrading.domain.account import COPY, Account
from socialtrading.domain.time import to_datetime, to_micros
from socialtrading.domain.tokens import token_id
from socialtrading.projections.base import Item, Projection, metadata
from socialtrading.projections.rows import AccountRow, BalanceRow, TokenRow, clean
from socialtrading.projections.sql import rows_in, upsert
from socialtrading.projections.types import DecimalText

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("handle", String(64), nullable=False),
    Column("handle_key", String(64), nullable=False, unique=True),  # casefolded handle
    Column("display_name", String(128), nullable=False),
    Column("kyc_level", Integer, nullable=False),
    Column("roles", String(256), nullable=False),  # comma-separated, sorted
    Column("created_at", BigInteger, nullable=False),  # microseconds since the epoch, UTC
)

balances = Table(
    "balances",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("asset", String(16), primary_key=True),
    Column("available", DecimalText, nullable=False),
    Column("reserved", DecimalText, nullable=False),
)

# Named anew when its columns changed (was `api_tokens`): a read store made before has no
# `tokens` table, so the runner rebuilds this read model (see `AccountsProjection.tables`).
api_tokens = Table(
    "tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("token_id", String(16), nullable=False, unique=True),  # public: sha256(hash)[:16]
    Column("account_id", String(36), nullable=False),
    Column("label", String(64), nullable=True),
    Column("created_at", BigInteger, nullable=False),  # microseconds since the epoch, UTC
    Column("expires_at", BigInteger, nullable=True),  # microseconds; null: never
    Column("revoked_at", BigInteger, nullable=True),  # microseconds; null: not revoked
    Index("ix_tokens_account", "account_id"),
)

ZERO = Decimal(0)
# Forget cached balances beyond this many accounts (read again when next needed).
_CACHE_ACCOUNTS = 100_000


class AccountsProjection(Projection):
    """Accounts, balances and tokens from the Account events."""

    name: ClassVar[str] = "accounts"
    tables: ClassVar[tuple[Table, ...]] = (accounts, balances, api_tokens)

    def __init__(self) -> None:
        # account id -> asset -> [available, reserved], for accounts whose rows are all read
        self._balances: dict[str, dict[str, list[Decimal]]] = {}

    def reset(self) -> None:
        self._balances = {}

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        if len(self._balances) > _CACHE_ACCOUNTS:
            self._balances = {}
        cache = self._balances
        # (account, asset) -> the amounts to add to (available, reserved), in log order: summed
        # once per batch, in C (the same additions in the same order as one by one)
        pending: dict[str, dict[str, tuple[list[Any], list[Any]]]] = {}
        changed_accounts: dict[str, dict[str, Any]] = {}
        account_updates: set[str] = set()  # accounts whose KYC level or roles changed
        tokens: list[dict[str, Any]] = []
        revoked: dict[str, int] = {}  # token id -> when
        for _, event in items:
            kind = type(event)
            if kind is Account.LedgerPosted:
                account = str(event.originator_id)
                sums = pending.get(account)
                if sums is None:
                    sums = pending[account] = {}
                for entry in event.entries:
                    amounts = sums.get(entry[3])
                    if amounts is None:
                        amounts = sums[entry[3]] = ([], [])
                    available = entry[4]
                    if available != "0":
                        amounts[0].append(available)
                    reserved = entry[5]
                    if reserved != "0":
                        amounts[1].append(reserved)
            elif kind is Account.FundsDeposited or kind is Account.FundsWithdrawn:
                account = str(event.originator_id)
                amounts = pending.setdefault(account, {}).setdefault(event.asset, ([], []))
                amount = Decimal(event.amount)
                amounts[0].append(amount if kind is Account.FundsDeposited else -amount)
            elif kind is Account.Registered:
                account = str(event.originator_id)
                changed_accounts[account] = {
                    "id": account,
                    "handle": event.handle,
                    "handle_key": event.handle.casefold(),
                    "display_name": event.display_name,
                    "kyc_level": 0,
                    "roles": ",".join(sorted(event.roles)),
                    "created_at": to_micros(event.timestamp),
                }
                cache.setdefault(account, {})
            elif kind is Account.KycVerified or kind is Account.RoleGranted:
                account_updates.add(str(event.originator_id))
            elif kind is Account.TokenIssued:
                expires = event.expires_at
                tokens.append(
                    {
                        "token_hash": event.token_hash,
                        "token_id": token_id(event.token_hash),
                        "account_id": str(event.originator_id),
                        "label": event.label,
                        "created_at": to_micros(event.timestamp),
                        "expires_at": None if expires is None else to_micros(expires),
                        "revoked_at": None,
                    }
                )
            elif kind is Account.TokenRevoked:
                revoked[event.token_id] = to_micros(event.timestamp)
        # balances of accounts not held yet (one registered in this batch is held, empty)
        self._read_balances(connection, {account for account in pending if account not in cache})
        rows = []
        for account in sorted(pending):
            held = cache[account]
            sums = pending[account]
            for asset in sorted(sums):
                available, reserved = sums[asset]
                balance = held.get(asset)
                if balance is None:
                    balance = held[asset] = [ZERO, ZERO]
                with money.exact():  # the default 28 digits would round large balances
                    if available:
                        balance[0] = sum(map(Decimal, available), balance[0])
                    if reserved:
                        balance[1] = sum(map(Decimal, reserved), balance[1])
                rows.append(
                    {
                        "account_id": account,
                        "asset": asset,
                        "available": balance[0],
                        "reserved": balance[1],
                    }
                )
        if account_updates:
            self._apply_profile_changes(connection, items, changed_accounts, account_updates)
        if changed_accounts:
            upsert(connection, accounts, list(changed_accounts.values()), ["id"])
        if rows:
            upsert(connection, balances, rows, ["account_id", "asset"])
        if tokens:
            upsert(connection, api_tokens, tokens, ["token_hash"])
        for revoked_id, at in revoked.items():  # after the upsert: issued and revoked at once
            connection.execute(
                update(api_tokens).where(api_tokens.c.token_id == revoked_id).values(revoked_at=at)
            )

    def _read_balances(self, connection: Connection, wanted: set[str]) -> None:
        cache = self._balances
        for account in wanted:
            cache[account] = {}
        for row in rows_in(connection, select(balances), balances.c.account_id, wanted):
            cache[row.account_id][row.asset] = [row.available, row.reserved]

    def _apply_profile_changes(
        self,
        connection: Connection,
        items: Sequence[Item],
        changed_accounts: dict[str, dict[str, Any]],
        account_updates: set[str],
    ) -> None:
        """KYC levels and roles: read the accounts they change, then apply in log order."""
        missing = account_updates - changed_accounts.keys()
        for found in rows_in(connection, select(accounts), accounts.c.id, missing):
            changed_accounts[found.id] = dict(found._mapping)
        for _, event in items:  # (an account registered in this batch starts as registered)
            kind = type(event)
            if kind is Account.KycVerified:
                changed_accounts[str(event.originator_id)]["kyc_level"] = event.level
            elif kind is Account.RoleGranted:
                row = changed_accounts[str(event.originator_id)]
                roles = set(filter(None, row["roles"].split(",")))
                roles.add(event.role)
                row["roles"] = ",".join(sorted(roles))


# ---------------------------------------------------------------------- queries


def _account_row(row: Any) -> AccountRow:
    return AccountRow(
        id=row.id,
        handle=row.handle,
        display_name=row.display_name,
        kyc_level=row.kyc_level,
        roles=tuple(role for role in row.roles.split(",") if role),
        created_at=to_datetime(row.created_at),
    )


def accounts_by_ids(connection: Connection, ids: Sequence[str]) -> dict[str, AccountRow]:
    """The accounts with these ids (unknown ids are left out)."""
    found: dict[str, AccountRow] = {}
    for row in rows_in(connection, select(accounts), accounts.c.id, ids):
        found[row.id] = _account_row(row)
    return found


def account_by_handle(connection: Connection, handle: str) -> AccountRow | None:
    """The account with this handle (handles are case-insensitive); never a copy trading
    allocation or block account (role `copy`: not a trader, looked up by id only)."""
    statement = select(accounts).where(accounts.c.handle_key == handle.casefold())
    row = connection.execute(statement).first()
    if row is None or COPY in row.roles.split(","):
        return None
    return _account_row(row)


def _valid_at(now: int) -> Any:
    """Tokens neither revoked nor expired at `now` (microseconds)."""
    return and_(
        api_tokens.c.revoked_at.is_(None),
        or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > now),
    )


def account_for_token(
    connection: Connection, token_hash: str, now: int
) -> tuple[AccountRow, str] | None:
    """The account a valid API token (by its SHA-256 hash) belongs to, and the token's id.

    A revoked token, or one expired at `now` (microseconds, the request's clock), is none.
    """
    statement = (
        select(accounts, api_tokens.c.token_id)
        .join(api_tokens, api_tokens.c.account_id == accounts.c.id)
        .where(api_tokens.c.token_hash == token_hash, _valid_at(now))
    )
    row = connection.execute(statement).first()
    return None if row is None else (_account_row(row), row.token_id)


def tokens_of(connection: Connection, account_id: str, now: int) -> list[TokenRow]:
    """An account's valid tokens at `now` (microseconds), oldest first; never their hashes."""
    statement = (
        select(
            api_tokens.c.token_id,
            api_tokens.c.label,
            api_tokens.c.created_at,
            api_tokens.c.expires_at,
        )
        .where(api_tokens.c.account_id == account_id, _valid_at(now))
        .order_by(api_tokens.c.created_at, api_tokens.c.token_id)
    )
    return [
        TokenRow(
            id=row.token_id,
            label=row.label,
            created_at=to_datetime(row.created_at),
            expires_at=None if row.expires_at is None else to_datetime(row.expires_at),
        )
        for row in connection.execute(statement)
    ]


def balances_of(connection: Connection, account_ids: Sequence[str]) -> dict[str, list[BalanceRow]]:
    """Each account's balances sorted by asset (an account without any maps to [])."""
    found: dict[str, list[BalanceRow]] = {account: [] for account in account_ids}
    statement = select(balances).order_by(balances.c.account_id, balances.c.asset)
    for row in rows_in(connection, statement, balances.c.account_id, account_ids):
        found[row.account_id].append(
            BalanceRow(row.account_id, row.asset, clean(row.available), clean(row.reserved))
        )
    return found
