"""The copy-trading mutations: a leader's settings; start, top up, withdraw from, change the
sizing of, pause, resume and stop a copy.

Each answers a union of its `<Name>Success` and `Rejection`. Like every mutation they go
through `graphql/commands.execute` (rate limited by `guarded`, decided by the writer, then
answered once the read models reached the command's position: read-your-writes). The copy
is read past the request's cache; a read model that has not caught up within the wait
answers `unavailable`.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import strawberry

from socialtrading.commands.copying import (
    DEFAULT_MAX_COPIERS,
    DEFAULT_MIN_COPY_AMOUNT,
    DEFAULT_PROFIT_SHARE_BPS,
    AddCopyFunds,
    ChangeCopySizing,
    PauseCopying,
    ResumeCopying,
    SetCopySettings,
    StartCopying,
    StopCopying,
    WithdrawCopyFunds,
    copy_of,
)
from socialtrading.commands.models import Command
from socialtrading.domain.copy.copy import DEFAULT_SLIPPAGE_BPS
from socialtrading.graphql.commands import execute, new_command_id
from socialtrading.graphql.context import Info
from socialtrading.graphql.copying.types import Copy, CopySettings, CopySizing, percent
from socialtrading.graphql.errors import Rejection
from socialtrading.graphql.loaders import load_fresh
from socialtrading.graphql.permissions import CanTrade, IsAuthenticated, guarded

if TYPE_CHECKING:
    from socialtrading.graphql.accounts.types import Account

AccountType = Annotated["Account", strawberry.lazy("socialtrading.graphql.accounts.types")]

_LAGGING = "The read models have not shown it yet; retry the query"
_MAX_PERCENT = Decimal(30)


@strawberry.input(description="A leader's terms for copiers")
class CopySettingsInput:
    accept_copiers: bool = True
    profit_share_percent: Decimal = strawberry.field(
        default=percent(DEFAULT_PROFIT_SHARE_BPS),
        description="0 to 30, in steps of 0.01: your share of each copy's gain",
    )
    min_copy_amount: Decimal = strawberry.field(
        default=DEFAULT_MIN_COPY_AMOUNT, description="The least a copy starts with"
    )
    max_copiers: int = strawberry.field(
        default=DEFAULT_MAX_COPIERS, description="The most live copies, 1 to 10,000"
    )


@strawberry.input(description="Copy a leader with an amount moved into an allocation of its own")
class StartCopyingInput:
    leader: str = strawberry.field(description="The leader's handle")
    amount: Decimal
    asset: str = strawberry.field(
        default="USD", description="The asset of the amount: fills in markets quoted in it"
    )
    sizing: CopySizing = CopySizing.PROPORTIONAL
    ratio: Decimal | None = strawberry.field(
        default=None, description="FIXED_RATIO only: lots copied per lot of the leader"
    )
    fixed_amount: Decimal | None = strawberry.field(
        default=None, description="FIXED_AMOUNT only: the notional of each copied buy"
    )
    max_order_notional: Decimal | None = strawberry.field(
        default=None, description="The most notional of one copied order"
    )
    slippage_bps: int = strawberry.field(
        default=DEFAULT_SLIPPAGE_BPS,
        description="0 to 1,000: how far from the leader's price a copy may fill",
    )
    stop_loss_percent: int | None = strawberry.field(
        default=None,
        description="1 to 99: stop (STOPPED_BY_LOSS) when equity falls to this percent of invested",
    )
    copy_open_positions: bool = strawberry.field(
        default=False, description="Buy into the leader's open positions at the start"
    )
    client_copy_id: str | None = strawberry.field(
        default=None,
        description="Your id for this copy (up to 95 characters); resending it is idempotent",
    )


@strawberry.type
class SetCopySettingsSuccess:
    settings: CopySettings
    account: AccountType


@strawberry.type
class StartCopyingSuccess:
    copy: Copy


@strawberry.type
class AddCopyFundsSuccess:
    copy: Copy


@strawberry.type
class WithdrawCopyFundsSuccess:
    copy: Copy


@strawberry.type
class ChangeCopySizingSuccess:
    copy: Copy


@strawberry.type
class PauseCopyingSuccess:
    copy: Copy


@strawberry.type
class ResumeCopyingSuccess:
    copy: Copy


@strawberry.type
class StopCopyingSuccess:
    copy: Copy


SetCopySettingsResult = Annotated[
    SetCopySettingsSuccess | Rejection, strawberry.union("SetCopySettingsResult")
]
StartCopyingResult = Annotated[
    StartCopyingSuccess | Rejection, strawberry.union("StartCopyingResult")
]
AddCopyFundsResult = Annotated[
    AddCopyFundsSuccess | Rejection, strawberry.union("AddCopyFundsResult")
]
WithdrawCopyFundsResult = Annotated[
    WithdrawCopyFundsSuccess | Rejection, strawberry.union("WithdrawCopyFundsResult")
]
ChangeCopySizingResult = Annotated[
    ChangeCopySizingSuccess | Rejection, strawberry.union("ChangeCopySizingResult")
]
PauseCopyingResult = Annotated[
    PauseCopyingSuccess | Rejection, strawberry.union("PauseCopyingResult")
]
ResumeCopyingResult = Annotated[
    ResumeCopyingSuccess | Rejection, strawberry.union("ResumeCopyingResult")
]
StopCopyingResult = Annotated[StopCopyingSuccess | Rejection, strawberry.union("StopCopyingResult")]


def _bps(value: Decimal) -> int | Rejection:
    """A percent as whole basis points (a Rejection if it has more than 2 places)."""
    invalid = Rejection(
        code="invalid_copy_settings",
        message="profitSharePercent lies in 0..30 with at most 2 decimal places",
    )
    if not value.is_finite() or not 0 <= value <= _MAX_PERCENT:
        return invalid
    with decimal.localcontext() as context:
        context.prec = 10
        bps = value * 100
    if bps != bps.to_integral_value():
        return invalid
    return int(bps)


def _about(kind: type[Command], actor: UUID, copy_id: str, **fields: object) -> Command:
    """A command about a copy (`copy_id` is validated by the command: invalid_input)."""
    return kind.model_validate(
        {"command_id": new_command_id(), "actor": actor, "copy_id": copy_id, **fields}
    )


async def _copy_after(info: Info, copy_id: UUID | None) -> Copy | Rejection:
    """A copy after a command changed it, read past the request's cache."""
    if copy_id is None:
        return Rejection(code="unavailable", message=_LAGGING)
    row = await load_fresh(info.context.loaders.copying.copies, str(copy_id))
    if row is None:
        return Rejection(code="unavailable", message=_LAGGING)
    return Copy.from_row(row)


async def _run(
    info: Info, build: Callable[[UUID], Command]
) -> tuple[Rejection | None, UUID | None]:
    """Run the command `build(actor)` makes; a Rejection or None, and the copy it is about."""
    actor = await info.context.actor()
    built: list[Command] = []

    def make() -> Command:
        built.append(build(actor))
        return built[-1]

    outcome = await execute(info.context, make)
    if isinstance(outcome, Rejection):
        return outcome, None
    return None, copy_of(built[0])


@strawberry.type
class CopyMutations:
    @strawberry.mutation(
        extensions=guarded(CanTrade),
        description="Set your terms as a leader; the same terms again change nothing",
    )
    async def set_copy_settings(
        self, info: Info, input: CopySettingsInput
    ) -> SetCopySettingsResult:
        bps = _bps(input.profit_share_percent)
        if isinstance(bps, Rejection):
            return bps
        rejected, _ = await _run(
            info,
            lambda actor: SetCopySettings(
                command_id=new_command_id(),
                actor=actor,
                accept_copiers=input.accept_copiers,
                profit_share_bps=bps,
                min_copy_amount=input.min_copy_amount,
                max_copiers=input.max_copiers,
            ),
        )
        if rejected is not None:
            return rejected
        from socialtrading.graphql.accounts.types import Account

        viewer = await info.context.viewer()
        assert viewer is not None
        row = await load_fresh(info.context.loaders.copying.settings, viewer.id)
        if row is None:
            return Rejection(code="unavailable", message=_LAGGING)
        return SetCopySettingsSuccess(
            settings=CopySettings.from_row(row), account=Account.from_row(viewer)
        )

    @strawberry.mutation(
        extensions=guarded(CanTrade),
        description=(
            "Copy a leader: the amount moves from your available balance into the copy's own "
            "allocation, and the leader's next fills are copied into it"
        ),
    )
    async def start_copying(self, info: Info, input: StartCopyingInput) -> StartCopyingResult:
        client_id = input.client_copy_id
        rejected, copy_id = await _run(
            info,
            lambda actor: StartCopying(
                command_id=new_command_id() if client_id is None else f"copy:{client_id}",
                actor=actor,
                leader=input.leader,
                amount=input.amount,
                asset=input.asset,
                sizing=input.sizing.value,
                ratio=input.ratio,
                fixed_amount=input.fixed_amount,
                max_order_notional=input.max_order_notional,
                slippage_bps=input.slippage_bps,
                stop_loss_percent=input.stop_loss_percent,
                copy_open_positions=input.copy_open_positions,
                client_copy_id=client_id,
            ),
        )
        if rejected is not None:
            return rejected
        found = await _copy_after(info, copy_id)
        return found if isinstance(found, Rejection) else StartCopyingSuccess(copy=found)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated),
        description="Move more of your available balance into a copy's allocation",
    )
    async def add_copy_funds(
        self, info: Info, copy_id: strawberry.ID, amount: Decimal
    ) -> AddCopyFundsResult:
        rejected, found_id = await _run(
            info,
            lambda actor: _about(AddCopyFunds, actor, copy_id, amount=amount),
        )
        if rejected is not None:
            return rejected
        found = await _copy_after(info, found_id)
        return found if isinstance(found, Rejection) else AddCopyFundsSuccess(copy=found)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated),
        description="Move available (not reserved) funds of a copy's quote asset back to you",
    )
    async def withdraw_copy_funds(
        self, info: Info, copy_id: strawberry.ID, amount: Decimal
    ) -> WithdrawCopyFundsResult:
        rejected, found_id = await _run(
            info,
            lambda actor: _about(WithdrawCopyFunds, actor, copy_id, amount=amount),
        )
        if rejected is not None:
            return rejected
        found = await _copy_after(info, found_id)
        return found if isinstance(found, Rejection) else WithdrawCopyFundsSuccess(copy=found)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated),
        description="Change how a copy sizes the leader's fills (from the next fill)",
    )
    async def change_copy_sizing(
        self,
        info: Info,
        copy_id: strawberry.ID,
        sizing: CopySizing,
        ratio: Decimal | None = None,
        fixed_amount: Decimal | None = None,
    ) -> ChangeCopySizingResult:
        rejected, found_id = await _run(
            info,
            lambda actor: _about(
                ChangeCopySizing,
                actor,
                copy_id,
                sizing=sizing.value,
                ratio=ratio,
                fixed_amount=fixed_amount,
            ),
        )
        if rejected is not None:
            return rejected
        found = await _copy_after(info, found_id)
        return found if isinstance(found, Rejection) else ChangeCopySizingSuccess(copy=found)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated),
        description="Copy nothing new (positions are kept); pausing twice changes nothing",
    )
    async def pause_copying(self, info: Info, copy_id: strawberry.ID) -> PauseCopyingResult:
        rejected, found_id = await _run(
            info,
            lambda actor: _about(
                PauseCopying,
                actor,
                copy_id,
            ),
        )
        if rejected is not None:
            return rejected
        found = await _copy_after(info, found_id)
        return found if isinstance(found, Rejection) else PauseCopyingSuccess(copy=found)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated),
        description="Copy again after a pause; resuming an active copy changes nothing",
    )
    async def resume_copying(self, info: Info, copy_id: strawberry.ID) -> ResumeCopyingResult:
        rejected, found_id = await _run(
            info,
            lambda actor: _about(
                ResumeCopying,
                actor,
                copy_id,
            ),
        )
        if rejected is not None:
            return rejected
        found = await _copy_after(info, found_id)
        return found if isinstance(found, Rejection) else ResumeCopyingSuccess(copy=found)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated),
        description=(
            "Stop a copy: close its positions with market orders (unless closePositions is "
            "false), settle the profit share, return everything to your balance"
        ),
    )
    async def stop_copying(
        self, info: Info, copy_id: strawberry.ID, close_positions: bool = True
    ) -> StopCopyingResult:
        rejected, found_id = await _run(
            info,
            lambda actor: _about(
                StopCopying,
                actor,
                copy_id,
                close_positions=close_positions,
            ),
        )
        if rejected is not None:
            return rejected
        found = await _copy_after(info, found_id)
        return found if isinstance(found, Rejection) else StopCopyingSuccess(copy=found)
