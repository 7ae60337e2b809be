"""Sign-up, test money, and the admin mutations on accounts (KYC, roles)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

import strawberry

from socialtrading.commands.models import (
    Deposit,
    GrantRole,
    IssueToken,
    RegisterTrader,
    RevokeToken,
    VerifyKyc,
    Withdraw,
)
from socialtrading.domain.account import ADMIN
from socialtrading.domain.tokens import UNKNOWN_TOKEN, is_token_id, new_token, token_id
from socialtrading.graphql.accounts.types import Account, Balance, Role
from socialtrading.graphql.commands import execute, new_command_id
from socialtrading.graphql.context import Info
from socialtrading.graphql.errors import Rejection, clip
from socialtrading.graphql.loaders import load_fresh
from socialtrading.graphql.permissions import IsAdmin, IsAuthenticated, guarded


@strawberry.type
class RegisterSuccess:
    account: Account
    token: str = strawberry.field(
        description="The API token, shown this once: send it as `Authorization: Bearer <token>`"
    )


@strawberry.type
class DepositSuccess:
    balance: Balance


@strawberry.type
class IssueTokenSuccess:
    token: str = strawberry.field(
        description="The new API token, shown this once; earlier tokens stay valid"
    )
    id: strawberry.ID = strawberry.field(description="Its public id (see `me { tokens }`)")


@strawberry.type
class RevokeTokenSuccess:
    id: strawberry.ID = strawberry.field(description="The revoked token's public id")


@strawberry.type
class WithdrawSuccess:
    balance: Balance


@strawberry.type
class VerifyKycSuccess:
    account: Account


@strawberry.type
class GrantRoleSuccess:
    account: Account


RegisterResult = Annotated[RegisterSuccess | Rejection, strawberry.union("RegisterResult")]
DepositResult = Annotated[DepositSuccess | Rejection, strawberry.union("DepositResult")]
IssueTokenResult = Annotated[IssueTokenSuccess | Rejection, strawberry.union("IssueTokenResult")]
RevokeTokenResult = Annotated[RevokeTokenSuccess | Rejection, strawberry.union("RevokeTokenResult")]
WithdrawResult = Annotated[WithdrawSuccess | Rejection, strawberry.union("WithdrawResult")]
VerifyKycResult = Annotated[VerifyKycSuccess | Rejection, strawberry.union("VerifyKycResult")]
GrantRoleResult = Annotated[GrantRoleSuccess | Rejection, strawberry.union("GrantRoleResult")]


def parse_account_id(value: str) -> UUID | Rejection:
    """An account ID argument as a UUID, or the Rejection of a malformed one."""
    try:
        return UUID(value)
    except ValueError:
        return Rejection(
            code="invalid_input", message=f"account: {clip(value)!r} is not an account id"
        )


async def _account(info: Info, account: UUID) -> Account | Rejection:
    row = await load_fresh(info.context.loaders.accounts, str(account))
    if row is None:  # the read models did not catch up within the wait
        return Rejection(code="unavailable", message="The account is not readable yet; retry")
    return Account.from_row(row)


async def _balance(info: Info, account: UUID, asset: str, lagging: Decimal) -> Balance:
    """The account's balance of `asset` after a command; `lagging` is what to say is
    available if the read models have not caught up within the wait."""
    rows = await load_fresh(info.context.loaders.balances, str(account))
    return next(
        (Balance.from_row(row) for row in rows if row.asset == asset),
        Balance(asset=asset, available=lagging, reserved=Decimal(0)),
    )


@strawberry.type
class AccountMutations:
    @strawberry.mutation(
        extensions=guarded(),
        description="Open a trader account; the answer holds its API token, shown once",
    )
    async def register_trader(
        self, info: Info, handle: str, display_name: str | None = None
    ) -> RegisterResult:
        token, token_hash = new_token()
        outcome = await execute(
            info.context,
            lambda: RegisterTrader(
                command_id=new_command_id(),
                handle=handle,
                display_name=display_name,
                token_hash=token_hash,
            ),
        )
        if isinstance(outcome, Rejection):
            return outcome
        assert outcome.account_id is not None
        row = await info.context.loaders.accounts.load(str(outcome.account_id))
        account = (
            Account.from_row(row)
            if row is not None
            else Account(  # the read models lag: answer from what the command said
                id=strawberry.ID(str(outcome.account_id)),
                handle=handle,
                registered_name=display_name or handle,
                kyc_level=0,
                roles=[Role.TRADER],
                created_at=datetime.now(UTC),
            )
        )
        return RegisterSuccess(account=account, token=token)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated),
        description="Credit test money: your own account in demo mode; any `account` for admins",
    )
    async def deposit(
        self,
        info: Info,
        asset: str,
        amount: Decimal,
        account: Annotated[
            strawberry.ID | None, strawberry.argument(description="Admins: whom to credit")
        ] = None,
    ) -> DepositResult:
        actor = await info.context.actor()
        target = actor if account is None else parse_account_id(account)
        if isinstance(target, Rejection):
            return target
        viewer = await info.context.viewer()
        if target != actor and (viewer is None or ADMIN not in viewer.roles):
            return Rejection(code="not_authorized", message="Only admins credit other accounts")
        outcome = await execute(
            info.context,
            lambda: Deposit(
                command_id=new_command_id(),
                actor=actor,
                account=target,
                asset=asset,
                amount=amount,
            ),
        )
        if isinstance(outcome, Rejection):
            return outcome
        return DepositSuccess(balance=await _balance(info, target, asset, lagging=amount))

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated),
        description=(
            "Issue another API token for your own account (for another device or app), with "
            "an optional label (up to 64 characters) and expiry (in the future: "
            "invalid_expiry otherwise)"
        ),
    )
    async def issue_token(
        self, info: Info, label: str | None = None, expires_at: datetime | None = None
    ) -> IssueTokenResult:
        actor = await info.context.actor()
        token, token_hash = new_token()
        outcome = await execute(
            info.context,
            lambda: IssueToken(
                command_id=new_command_id(),
                actor=actor,
                account=actor,
                token_hash=token_hash,
                label=label,
                expires_at=expires_at,
            ),
        )
        if isinstance(outcome, Rejection):
            return outcome
        return IssueTokenSuccess(token=token, id=strawberry.ID(token_id(token_hash)))

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated),
        description=(
            "Revoke one of your API tokens by its id (admins: anyone's); it stops working at "
            "once. Someone else's or an unknown id: unknown_token"
        ),
    )
    async def revoke_token(self, info: Info, id: strawberry.ID) -> RevokeTokenResult:
        actor = await info.context.actor()
        if not is_token_id(str(id)):  # answered as any other id that is not the caller's
            return Rejection(code="unknown_token", message=UNKNOWN_TOKEN)
        outcome = await execute(
            info.context,
            lambda: RevokeToken(command_id=new_command_id(), actor=actor, token_id=str(id)),
        )
        if isinstance(outcome, Rejection):
            return outcome
        return RevokeTokenSuccess(id=id)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated),
        description=(
            "Take funds out of your own account: refused (insufficient_funds) beyond what is "
            "available, that is, not reserved for open orders; needs a verified KYC level"
        ),
    )
    async def withdraw(self, info: Info, asset: str, amount: Decimal) -> WithdrawResult:
        actor = await info.context.actor()
        outcome = await execute(
            info.context,
            lambda: Withdraw(command_id=new_command_id(), actor=actor, asset=asset, amount=amount),
        )
        if isinstance(outcome, Rejection):
            return outcome
        return WithdrawSuccess(balance=await _balance(info, actor, asset, lagging=Decimal(0)))

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated, IsAdmin),
        description="Record that an account passed KYC at a level, 1 to 3 (admins)",
    )
    async def verify_kyc(self, info: Info, account: strawberry.ID, level: int) -> VerifyKycResult:
        actor = await info.context.actor()
        target = parse_account_id(account)
        if isinstance(target, Rejection):
            return target
        outcome = await execute(
            info.context,
            lambda: VerifyKyc(
                command_id=new_command_id(), actor=actor, account=target, level=level
            ),
        )
        if isinstance(outcome, Rejection):
            return outcome
        found = await _account(info, target)
        return found if isinstance(found, Rejection) else VerifyKycSuccess(account=found)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated, IsAdmin), description="Grant a role (admins)"
    )
    async def grant_role(self, info: Info, account: strawberry.ID, role: Role) -> GrantRoleResult:
        actor = await info.context.actor()
        target = parse_account_id(account)
        if isinstance(target, Rejection):
            return target
        outcome = await execute(
            info.context,
            lambda: GrantRole(
                command_id=new_command_id(), actor=actor, account=target, role=role.value
            ),
        )
        if isinstance(outcome, Rejection):
            return outcome
        found = await _account(info, target)
        return found if isinstance(found, Rejection) else GrantRoleSuccess(account=found)
