"""Handlers of the account commands: registration, admins, tokens, KYC, roles, deposits and
withdrawals (see `commands/state.py` for what a handler does)."""

from __future__ import annotations

from decimal import Decimal

from socialtrading.commands.models import (
    CreateAdmin,
    Deposit,
    GrantRole,
    IssueToken,
    RegisterTrader,
    RevokeToken,
    VerifyKyc,
    Withdraw,
)
from socialtrading.commands.state import (
    Outcome,
    State,
    actor_account,
    find_account,
    require_admin,
)
from socialtrading.domain.account import ADMIN, TRADER, Account
from socialtrading.domain.errors import InvalidCommand, Refused
from socialtrading.domain.ids import FEE_ACCOUNT_HANDLE, SYSTEM_ACTOR, account_id
from socialtrading.domain.money import MAX_AMOUNT, MAX_BALANCE, MAX_PLACES, in_range
from socialtrading.domain.time import to_micros
from socialtrading.domain.tokens import UNKNOWN_TOKEN


def register_trader(state: State, command: RegisterTrader, ts: int) -> Outcome:
    """Open a trader account (KYC level 1 at once when demo funding is on)."""
    new_id = account_id(command.handle)
    # The fee account's handle is reserved even before the first listing opens it.
    if new_id in state.accounts or new_id == account_id(FEE_ACCOUNT_HANDLE):
        raise Refused("handle_taken", f"the handle {command.handle!r} is taken")
    account = Account.register(
        new_id,
        command.handle,
        command.display_name or command.handle,
        [TRADER],
        command.command_id,
        ts,
    )
    if state.demo_funding:
        # Part of the registration, so `by` is its actor (the new account): a rebuild turns
        # (by, command_id) into a de-duplication key, and SYSTEM_ACTOR here would make a later
        # admin command with the same command_id look like a repeat after a restart.
        account.verify_kyc(1, new_id, command.command_id, ts)
    if command.token_hash is not None:
        account.issue_token(command.token_hash, new_id, command.command_id, ts)
    state.add_account(account)
    state.touch(account)
    return Outcome(command.command_id, True, account_id=new_id)


def create_admin(state: State, command: CreateAdmin, ts: int) -> Outcome:
    """Open an admin account with a token (the system actor only)."""
    if command.actor != SYSTEM_ACTOR:
        raise Refused("not_authorized", "admins are created by the system (the CLI)")
    if account_id(command.handle) in state.accounts:
        raise Refused("handle_taken", f"the handle {command.handle!r} is taken")
    account = open_system_account(state, command.handle, [ADMIN], command.command_id, ts)
    account.issue_token(command.token_hash, command.actor, command.command_id, ts)
    return Outcome(command.command_id, True, account_id=account.id)


def issue_token(state: State, command: IssueToken, ts: int) -> Outcome:
    """Issue another token: for the actor's own account, or by an admin."""
    actor = actor_account(state, command.actor)
    account = find_account(state, command.account)
    if actor is not None and actor.id != account.id and not actor.has_role(ADMIN):
        raise Refused("not_authorized", "tokens are issued to yourself, or by admins")
    expires_at = None if command.expires_at is None else to_micros(command.expires_at)
    if expires_at is not None and expires_at <= ts:
        raise Refused("invalid_expiry", "a token's expiry must be in the future")
    account.issue_token(
        command.token_hash,
        command.actor,
        command.command_id,
        ts,
        label=command.label,
        expires_at=expires_at,
    )
    state.touch(account)
    return Outcome(command.command_id, True, account_id=account.id)


def revoke_token(state: State, command: RevokeToken, ts: int) -> Outcome:
    """Revoke a valid token: one of the actor's own, or any (admins).

    Someone else's token is answered as an unknown one, so nobody learns whether it exists.
    """
    actor = actor_account(state, command.actor)
    token = command.token_id
    anyone = actor is None or actor.has_role(ADMIN)
    owner: Account | None = None
    if command.account is not None:
        named = state.accounts.get(command.account)
        if named is not None and (anyone or named is actor) and token in named.valid_tokens(ts):
            owner = named
    elif actor is not None and token in actor.valid_tokens(ts):
        owner = actor
    elif anyone:  # rare: a scan of every account
        owner = next(
            (account for account in state.accounts.values() if token in account.valid_tokens(ts)),
            None,
        )
    if owner is None:
        raise Refused("unknown_token", UNKNOWN_TOKEN)
    owner.revoke_token(token, command.actor, command.command_id, ts)
    state.touch(owner)
    return Outcome(command.command_id, True, account_id=owner.id)


def open_system_account(
    state: State, handle: str, roles: list[str], command_id: str, ts: int
) -> Account:
    """Open an account without a trader role (the fee account, a bootstrap admin)."""
    account = Account.register(account_id(handle), handle, handle, roles, command_id, ts)
    state.add_account(account)
    state.touch(account)
    return account


def verify_kyc(state: State, command: VerifyKyc, ts: int) -> Outcome:
    """Record a KYC verification (admins)."""
    require_admin(state, command.actor)
    account = find_account(state, command.account)
    account.verify_kyc(command.level, command.actor, command.command_id, ts)
    state.touch(account)
    return Outcome(command.command_id, True, account_id=account.id)


def grant_role(state: State, command: GrantRole, ts: int) -> Outcome:
    """Grant a role (admins)."""
    require_admin(state, command.actor)
    account = find_account(state, command.account)
    account.grant_role(command.role, command.actor, command.command_id, ts)
    state.touch(account)
    return Outcome(command.command_id, True, account_id=account.id)


def deposit(state: State, command: Deposit, ts: int) -> Outcome:
    """Credit an account: admins, or the account itself when demo funding is on."""
    actor = actor_account(state, command.actor)
    account = find_account(state, command.account)
    self_funding = state.demo_funding and actor is not None and actor.id == account.id
    if actor is not None and not actor.has_role(ADMIN) and not self_funding:
        raise Refused("not_authorized", "only admins credit accounts")
    _check_amount(command.amount)
    asset = command.asset
    if not any(asset in (market.base, market.quote) for market in state.markets.values()):
        raise InvalidCommand("unknown_asset", f"no listed market trades {asset}")
    if account.available(asset) + account.reserved(asset) + command.amount > MAX_BALANCE:
        raise InvalidCommand(
            "balance_limit", f"an account may hold at most {MAX_BALANCE} {asset} in all"
        )
    account.deposit(command.asset, command.amount, command.actor, command.command_id, ts)
    state.touch(account)
    return Outcome(command.command_id, True, account_id=account.id)


def _check_amount(amount: Decimal) -> None:
    if not in_range(amount):
        raise InvalidCommand(
            "amount_out_of_range",
            f"an amount lies in (0, {MAX_AMOUNT}] with at most {MAX_PLACES} decimal places",
        )


# The message of a withdrawal refused for funds (stored as WithdrawalRefused, with its reason).
WITHDRAWAL_REFUSED = "not enough available funds"


def withdraw(state: State, command: Withdraw, ts: int) -> Outcome:
    """Debit the actor's own account, if the funds are available."""
    account = actor_account(state, command.actor)
    if account is None:
        raise Refused("not_authorized", "withdrawals are made by accounts")
    if account.kyc_level < 1:
        raise Refused("kyc_required", "withdrawals need a verified KYC level")
    _check_amount(command.amount)
    reason = account.withdraw(command.asset, command.amount, command.command_id, ts)
    state.touch(account)
    if reason is not None:
        return Outcome(command.command_id, False, reason, WITHDRAWAL_REFUSED, account_id=account.id)
    return Outcome(command.command_id, True, account_id=account.id)
