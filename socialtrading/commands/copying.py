"""Copy trading's commands and their handlers (see docs/decisions.md, issue 13).

Copiers and leaders: `SetCopySettings` (a leader's terms), `StartCopying`, `AddCopyFunds`,
`WithdrawCopyFunds`, `ChangeCopySizing`, `PauseCopying`, `ResumeCopying`, `StopCopying`. The
copy-trading policy (`policies/copying.py`, the system actor only): `CopyLeaderFill` (copy
one fill of a leader: opens its plan), `SizeCopyPlan` and `ApplyCopyPlan` (a part of it),
`SettleCopyProfitShare` and `CheckCopyGuards` (the copy stop-loss). The fill and its parts
are background commands: the writer takes at most one per batch, after the others.
The risk-gate process (`policies/risk_gate.py`, the system actor only): `RecordRiskScore` (a
leader's risk score as of a UTC day; the leader's gate follows, `domain/copy/risk.py`).

Every refusal stores nothing: `cannot_copy_self`, `not_accepting_copiers`, `leader_full`,
`leader_risk_too_high`, `below_min_copy_amount`, `insufficient_funds`, `already_copying`,
`not_your_copy`, `copy_stopped`, `not_authorized` (Refused); `unknown_account`,
`unknown_copy`, `invalid_copy_settings`, `amount_out_of_range`, `unknown_market`,
`unknown_trade`, `not_a_leader`, `risk_day_in_future` (InvalidCommand). A command that
changes nothing (pausing a paused copy, the sizing it has, a fill no copy copies, a risk score
the leader has already or one older than it) is accepted with `stored=False`.

Handlers are thin: they load, authorize, call the aggregates and post the money; what the
money does on a leader's fill (sizing, block orders, allocation) is `copy_blocks.py`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar, Final
from uuid import UUID

from pydantic import Field

from socialtrading.commands import copy_blocks, copy_plans
from socialtrading.commands.models import Amount, Asset, Command, Handle, Symbol
from socialtrading.commands.social import TradeId
from socialtrading.commands.state import Handler, Outcome, State, actor_account, find_market, trader
from socialtrading.domain.account import COPY, TRADER, Account, CopySettings
from socialtrading.domain.copy.copy import DEFAULT_SLIPPAGE_BPS, STOPPED, Copy
from socialtrading.domain.copy.ids import allocation_handle, allocation_id, block_id, copy_id
from socialtrading.domain.copy.plan import MAX_PLAN_PARTS
from socialtrading.domain.copy.risk import LIFT_BELOW, MAX_DAY, MAX_SCORE, MIN_SCORE
from socialtrading.domain.copy.rules import FIXED_AMOUNT, FIXED_RATIO, PROPORTIONAL, Sizing
from socialtrading.domain.errors import InvalidCommand, Refused
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id
from socialtrading.domain.money import MAX_AMOUNT, MAX_PLACES, in_range
from socialtrading.domain.time import DAY_US

ZERO = Decimal(0)
DEFAULT_PROFIT_SHARE_BPS: Final = 1000
DEFAULT_MIN_COPY_AMOUNT: Final = Decimal(100)
DEFAULT_MAX_COPIERS: Final = 1000

# ---------------------------------------------------------------------- models

Ratio = Annotated[
    Decimal, Field(gt=0, le=10**6, allow_inf_nan=False, max_digits=24, decimal_places=8)
]
# printable, no control characters
ClientCopyId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]


class SetCopySettings(Command):
    """Set the actor's terms as a leader: accept copiers or not, the profit share (basis
    points of the gain, 0-3000), the least a copy may start with, the most live copies."""

    accept_copiers: bool = True
    profit_share_bps: Annotated[int, Field(ge=0, le=3000)] = DEFAULT_PROFIT_SHARE_BPS
    min_copy_amount: Amount = DEFAULT_MIN_COPY_AMOUNT
    max_copiers: Annotated[int, Field(ge=1, le=10_000)] = DEFAULT_MAX_COPIERS


class StartCopying(Command):
    """Copy the trader `leader` with `amount` of `asset` moved into an allocation of its own.

    `client_copy_id` makes starting idempotent: the same id gives the same copy.
    """

    leader: Handle
    amount: Amount
    asset: Asset = "USD"
    sizing: Sizing = PROPORTIONAL
    ratio: Ratio | None = None  # FIXED_RATIO: lots copied per lot of the leader
    fixed_amount: Amount | None = None  # FIXED_AMOUNT: the notional of each copied buy
    max_order_notional: Amount | None = None
    slippage_bps: Annotated[int, Field(ge=0, le=1000)] = DEFAULT_SLIPPAGE_BPS
    stop_loss_percent: Annotated[int, Field(ge=1, le=99)] | None = None
    copy_open_positions: bool = False
    client_copy_id: ClientCopyId | None = None


class _AboutCopy(Command):
    copy_id: UUID


class AddCopyFunds(_AboutCopy):
    """Move more of the copier's available funds into the copy's allocation."""

    amount: Amount


class WithdrawCopyFunds(_AboutCopy):
    """Move available (unreserved) funds of the copy's quote asset back to the copier."""

    amount: Amount


class ChangeCopySizing(_AboutCopy):
    """Change how the copy sizes the leader's fills."""

    sizing: Sizing
    ratio: Ratio | None = None
    fixed_amount: Amount | None = None


class PauseCopying(_AboutCopy):
    """Copy nothing new (positions are kept)."""


class ResumeCopying(_AboutCopy):
    """Copy again after a pause."""


class StopCopying(_AboutCopy):
    """Stop: close positions (market orders, `close_positions`), settle the profit share,
    return the allocation to the copier."""

    close_positions: bool = True


class CopyLeaderFill(Command):
    """Copy one fill of `leader` (the trade `SYMBOL:SEQ`) to its copies (the system only):
    the block orders and the plan (`copy_blocks.py`)."""

    background: ClassVar[bool] = True

    leader: UUID
    trade_id: TradeId


class SizeCopyPlan(Command):
    """Size the plan of `leader`'s fill `trade_id` up to the end of sizing part `part` (the
    system only: the policy, one command per part, after it read the opened plan)."""

    background: ClassVar[bool] = True

    leader: UUID
    trade_id: TradeId
    part: Annotated[int, Field(ge=0, le=MAX_PLAN_PARTS)]


class ApplyCopyPlan(Command):
    """Settle the plan of `leader`'s fill `trade_id` up to the end of settling part `part`
    (the system only: the policy, one command per part, after it read the opened plan)."""

    background: ClassVar[bool] = True

    leader: UUID
    trade_id: TradeId
    part: Annotated[int, Field(ge=0, le=MAX_PLAN_PARTS)]


class SettleCopyProfitShare(_AboutCopy):
    """Settle a copy's profit share now (the system only: the policy, each period)."""

    background: ClassVar[bool] = True  # as the fills the policy sends before it


class CheckCopyGuards(Command):
    """Apply the copy stop-loss of the copies quoted in `market`'s quote asset (the system
    only: the policy, after trades moved its price)."""

    background: ClassVar[bool] = True  # as the fills the policy sends before it

    market: Symbol


class RecordRiskScore(Command):
    """Record `leader`'s risk score (1..10) as of the UTC day `as_of_day` (days since the
    epoch, not after the sequencer's day): the system only, the risk-gate process."""

    leader: UUID
    score: Annotated[int, Field(ge=MIN_SCORE, le=MAX_SCORE)]
    as_of_day: Annotated[int, Field(ge=0, le=MAX_DAY)]


def copy_of(command: Command) -> UUID | None:
    """The copy a copy command starts or acts on (a started copy's id is derived from the
    copier and the client copy id, else the command id)."""
    if isinstance(command, StartCopying):
        return copy_id(command.actor, command.client_copy_id or command.command_id)
    found: UUID | None = getattr(command, "copy_id", None)
    return found


# ---------------------------------------------------------------------- helpers


def _done(command: Command, stored: bool = True) -> Outcome:
    return Outcome(command.command_id, True, stored=stored)


def _system(command: Command, sender: str = "the copy-trading process") -> None:
    if command.actor != SYSTEM_ACTOR:
        raise Refused("not_authorized", f"only {sender} sends this")


def _check_amount(amount: Decimal) -> None:
    if not in_range(amount):
        raise InvalidCommand(
            "amount_out_of_range",
            f"an amount lies in (0, {MAX_AMOUNT}] with at most {MAX_PLACES} decimal places",
        )


def _check_sizing(sizing: str, ratio: Decimal | None, fixed_amount: Decimal | None) -> None:
    if (sizing == FIXED_RATIO) != (ratio is not None):
        raise InvalidCommand("invalid_copy_settings", "a ratio goes with FIXED_RATIO, only")
    if (sizing == FIXED_AMOUNT) != (fixed_amount is not None):
        raise InvalidCommand("invalid_copy_settings", "a fixed amount goes with FIXED_AMOUNT, only")
    if fixed_amount is not None:
        _check_amount(fixed_amount)


def _own_copy(state: State, command: _AboutCopy) -> tuple[Account, Copy]:
    """The acting copier and its copy (unknown_copy, not_your_copy)."""
    account = actor_account(state, command.actor)
    if account is None:
        raise Refused("not_authorized", "copies are managed by their copiers")
    copy = state.copies.get(command.copy_id)
    if copy is None:
        raise InvalidCommand("unknown_copy", f"no copy {command.copy_id}")
    if copy.copier != state.texts[account.id]:
        raise Refused("not_your_copy", "this copy is someone else's")
    return account, copy


# ---------------------------------------------------------------------- handlers


def set_copy_settings(state: State, command: SetCopySettings, ts: int) -> Outcome:
    """Set the actor's terms for copiers."""
    account = actor_account(state, command.actor)
    if account is None or not account.has_role(TRADER):
        raise Refused("not_authorized", "leaders are traders")
    _check_amount(command.min_copy_amount)
    settings = CopySettings(
        command.accept_copiers,
        command.profit_share_bps,
        command.min_copy_amount,
        command.max_copiers,
    )
    stored = account.set_copy_settings(settings, command.command_id, ts)
    if stored:
        state.touch(account)
    return _done(command, stored)


def start_copying(state: State, command: StartCopying, ts: int) -> Outcome:
    """Start copying a leader: the amount moves into the copy's new allocation account."""
    copier = trader(state, command.actor)
    leader = state.accounts.get(account_id(command.leader))
    if leader is None or not leader.has_role(TRADER):
        raise InvalidCommand("unknown_account", f"no trader @{command.leader}")
    if leader is copier:
        raise Refused("cannot_copy_self", "a trader does not copy itself")
    _check_amount(command.amount)
    _check_sizing(command.sizing, command.ratio, command.fixed_amount)
    if command.max_order_notional is not None:
        _check_amount(command.max_order_notional)
    asset = command.asset
    if not any(market.quote == asset for market in state.markets.values()):
        raise InvalidCommand("invalid_copy_settings", f"no listed market is quoted in {asset}")
    me, them = state.texts[copier.id], state.texts[leader.id]
    terms = leader.copy_settings()
    if terms is None or not terms.accept_copiers:
        raise Refused("not_accepting_copiers", f"@{command.leader} takes no copiers")
    new_id = copy_id(copier.id, command.client_copy_id or command.command_id)
    if state.copies.copying(me, them) is not None or new_id in state.copies.by_id:
        raise Refused("already_copying", f"a copy of @{command.leader} exists already")
    if state.copies.live_count(them) >= terms.max_copiers:
        raise Refused("leader_full", f"@{command.leader} takes no more copiers")
    if leader.risk_gated:
        raise Refused(
            "leader_risk_too_high",
            f"@{command.leader}'s risk score is {leader.risk_score}: no new copiers until it "
            f"is below {LIFT_BELOW}",
        )
    if command.amount < terms.min_copy_amount:
        raise Refused(
            "below_min_copy_amount", f"@{command.leader} takes at least {terms.min_copy_amount}"
        )
    if copier.available(asset) < command.amount:
        raise Refused("insufficient_funds", f"not enough available {asset}")
    allocation = Account.register(
        allocation_id(new_id),
        allocation_handle(new_id),
        allocation_handle(new_id),
        [COPY],
        command.command_id,
        ts,
    )
    state.add_account(allocation)
    state.touch(allocation)
    copy = Copy.start(
        new_id,
        ts,
        leader=them,
        copier=me,
        allocation=state.texts[allocation.id],
        quote=asset,
        amount=command.amount,
        sizing=command.sizing,
        ratio=command.ratio,
        fixed_amount=command.fixed_amount,
        max_order_notional=command.max_order_notional,
        slippage_bps=command.slippage_bps,
        stop_loss_percent=command.stop_loss_percent,
        copy_open_positions=command.copy_open_positions,
        profit_share_bps=terms.profit_share_bps,
        from_seq={m.symbol: m.book.seq for m in state.markets.values() if m.quote == asset},
        by=me,
        command_id=command.command_id,
    )
    state.copies.add(copy)
    state.touch(copy)
    copy_blocks.transfer(state, copier, allocation, asset, command.amount, str(new_id))
    if command.copy_open_positions:
        copy_plans.copy_open_positions(state, copy, leader, command.command_id, ts)
    return _done(command)


def add_copy_funds(state: State, command: AddCopyFunds, ts: int) -> Outcome:
    """Top a copy up from the copier's available funds."""
    copier, copy = _own_copy(state, command)
    _check_amount(command.amount)
    if copier.available(copy.quote) < command.amount:
        raise Refused("insufficient_funds", f"not enough available {copy.quote}")
    copy.add_funds(command.amount, copy.copier, command.command_id, ts)
    state.touch(copy)
    allocation = state.by_text[copy.allocation]
    copy_blocks.transfer(state, copier, allocation, copy.quote, command.amount, str(copy.id))
    return _done(command)


def withdraw_copy_funds(state: State, command: WithdrawCopyFunds, ts: int) -> Outcome:
    """Move available funds of the copy's quote asset back to the copier."""
    copier, copy = _own_copy(state, command)
    _check_amount(command.amount)
    allocation = state.by_text[copy.allocation]
    # what the leader's pending plans will take from the allocation (or add) counts first;
    # checked before anything changes, since a refusal stores nothing
    pending = copy_plans.pending_moves(state, copy).get(copy.quote, ZERO)
    if allocation.available(copy.quote) + pending < command.amount:
        raise Refused("insufficient_funds", f"the copy has not that much {copy.quote} available")
    copy_plans.complete(state, copy.leader, copy.copier, command.command_id, ts)
    copy.withdraw_funds(command.amount, copy.copier, command.command_id, ts)
    state.touch(copy)
    copy_blocks.transfer(state, allocation, copier, copy.quote, command.amount, str(copy.id))
    return _done(command)


def change_copy_sizing(state: State, command: ChangeCopySizing, ts: int) -> Outcome:
    """Change the copy's sizing mode."""
    _, copy = _own_copy(state, command)
    _check_sizing(command.sizing, command.ratio, command.fixed_amount)
    stored = copy.change_sizing(
        command.sizing, command.ratio, command.fixed_amount, copy.copier, command.command_id, ts
    )
    if stored:
        state.touch(copy)
    return _done(command, stored)


def pause_copying(state: State, command: PauseCopying, ts: int) -> Outcome:
    """Pause a copy (its copier)."""
    _, copy = _own_copy(state, command)
    stored = copy.pause("paused by the copier", copy.copier, command.command_id, ts)
    if stored:
        state.touch(copy)
    return _done(command, stored)


def resume_copying(state: State, command: ResumeCopying, ts: int) -> Outcome:
    """Resume a paused copy (its copier)."""
    _, copy = _own_copy(state, command)
    stored = copy.resume(copy.copier, command.command_id, ts)
    if stored:
        state.touch(copy)
    return _done(command, stored)


def stop_copying(state: State, command: StopCopying, ts: int) -> Outcome:
    """Stop a copy: close its positions, settle, return everything to the copier."""
    _, copy = _own_copy(state, command)
    if not copy.live:
        raise Refused("copy_stopped", "this copy has stopped")
    # what the leader's pending plans owe from the allocation first
    copy_plans.complete(state, copy.leader, copy.copier, command.command_id, ts)
    copy_blocks.stop(
        state,
        copy,
        STOPPED,
        "stopped by the copier",
        copy.copier,
        command.command_id,
        ts,
        close_positions=command.close_positions,
    )
    return _done(command)


def copy_leader_fill(state: State, command: CopyLeaderFill, ts: int) -> Outcome:
    """Open the plan of one of a leader's fills (see `copy_plans.copy_fill`)."""
    _system(command)
    leader = state.accounts.get(command.leader)
    if leader is None:
        raise InvalidCommand("unknown_account", f"no account {command.leader}")
    symbol, seq = command.trade_id.split(":")
    market = find_market(state, symbol)
    stored = copy_plans.copy_fill(
        state,
        leader,
        market,
        int(seq),
        command.trade_id,
        state.text(command.actor),
        command.command_id,
        ts,
    )
    return _done(command, stored)


def _block_of(state: State, command: SizeCopyPlan | ApplyCopyPlan) -> Account:
    _system(command)
    block = state.accounts.get(block_id(command.leader))
    if block is None:
        raise InvalidCommand("unknown_account", f"no block account of {command.leader}")
    return block


def size_copy_plan(state: State, command: SizeCopyPlan, ts: int) -> Outcome:
    """Size one part of a leader's plan (placing it after its last copy); stores nothing for
    a part done already (by an earlier part command, or a command that settled first)."""
    stored = copy_plans.size_plan(
        state,
        _block_of(state, command),
        command.trade_id,
        command.part,
        state.text(command.actor),
        command.command_id,
        ts,
    )
    return _done(command, stored)


def apply_copy_plan(state: State, command: ApplyCopyPlan, ts: int) -> Outcome:
    """Settle one part of a leader's plan (sizing and placing it first if it is not yet);
    stores nothing for a part settled already."""
    block = _block_of(state, command)
    stored = copy_plans.apply_plan(
        state,
        block,
        command.trade_id,
        command.part,
        state.text(command.actor),
        command.command_id,
        ts,
    )
    return _done(command, stored)


def settle_copy_profit_share(state: State, command: SettleCopyProfitShare, ts: int) -> Outcome:
    """Settle a live copy's profit share (the system)."""
    _system(command)
    copy = state.copies.get(command.copy_id)
    if copy is None:
        raise InvalidCommand("unknown_copy", f"no copy {command.copy_id}")
    if not copy.live:
        raise Refused("copy_stopped", "this copy has stopped")
    by = state.text(command.actor)
    copy_plans.complete(state, copy.leader, by, command.command_id, ts)
    copy_blocks.settle(state, copy, by, command.command_id, ts)
    return _done(command)


def check_copy_guards(state: State, command: CheckCopyGuards, ts: int) -> Outcome:
    """Stop, by loss, the copies whose equity fell to their stop-loss (the system)."""
    _system(command)
    market = find_market(state, command.market)
    stopped = copy_plans.check_guards(
        state, market.quote, state.text(command.actor), command.command_id, ts
    )
    return _done(command, stopped)


def record_risk_score(state: State, command: RecordRiskScore, ts: int) -> Outcome:
    """Record a leader's risk score; its gate follows (the system)."""
    _system(command, "the risk-gate process")
    leader = state.accounts.get(command.leader)
    if leader is None or not leader.has_role(TRADER):
        raise InvalidCommand("unknown_account", f"no trader {command.leader}")
    if leader.copy_settings() is None:
        raise InvalidCommand("not_a_leader", "only an account with copy settings is gated")
    if command.as_of_day > ts // DAY_US:
        raise InvalidCommand("risk_day_in_future", "a risk score is as of a day that has begun")
    stored = leader.record_risk_score(
        command.score, command.as_of_day, command.actor, command.command_id, ts
    )
    if stored:
        state.touch(leader)
    return _done(command, stored)


COPY_HANDLERS: dict[type[Command], Handler] = {
    SetCopySettings: set_copy_settings,
    StartCopying: start_copying,
    AddCopyFunds: add_copy_funds,
    WithdrawCopyFunds: withdraw_copy_funds,
    ChangeCopySizing: change_copy_sizing,
    PauseCopying: pause_copying,
    ResumeCopying: resume_copying,
    StopCopying: stop_copying,
    CopyLeaderFill: copy_leader_fill,
    SizeCopyPlan: size_copy_plan,
    ApplyCopyPlan: apply_copy_plan,
    SettleCopyProfitShare: settle_copy_profit_share,
    CheckCopyGuards: check_copy_guards,
    RecordRiskScore: record_risk_score,
}
