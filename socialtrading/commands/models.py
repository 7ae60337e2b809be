"""Commands: one pydantic model per intent, the one place where input is validated.

A model that fails validation raises pydantic's ValidationError before anything reaches the
writer: nothing is stored. Checks that need the market (tick and lot multiples, limits,
whether it exists) happen in the writer and raise InvalidCommand, again storing nothing.
Every command carries the acting account (`actor`) and a client `command_id`; the pair is
the de-duplication key.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar, Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from socialtrading.domain.account import ROLES
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id
from socialtrading.engine.book import (
    CANCEL_TAKER,
    FOK,
    GTC,
    GTD,
    IOC,
    LIMIT,
    MARKET,
    OrderType,
    Side,
    StpMode,
    TimeInForce,
)

# Nothing absurd reaches the writer: at most 10**18 with at most 18 decimal places (37 digits).
# The tighter, per-use limits (a deposit's MAX_AMOUNT, a market's ticks and lots) are the
# writer's, with their own codes.
Amount = Annotated[
    Decimal, Field(gt=0, le=10**18, allow_inf_nan=False, max_digits=37, decimal_places=18)
]
Asset = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,9}$")]
Symbol = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,9}-[A-Z][A-Z0-9]{1,9}$")]
Handle = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{3,32}$")]
TokenHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]  # SHA-256 of the token, hex
# printable, no control characters (a label is shown in lists)
TokenLabel = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
Role = Literal["trader", "merchant", "admin", "compliance", "moderator"]
assert set(ROLES) == {"trader", "merchant", "admin", "compliance", "moderator"}


class Command(BaseModel):
    """What every command carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    # A background command (a copied fill and its parts) is long and nobody waits on it:
    # the writer takes at most one per batch, after the other commands (`commands/writer.py`).
    background: ClassVar[bool] = False

    command_id: Annotated[str, Field(min_length=1, max_length=100)]
    actor: UUID


class RegisterTrader(Command):
    """Open a trader account. The new account is its own actor."""

    actor: UUID = SYSTEM_ACTOR
    handle: Handle
    display_name: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    token_hash: TokenHash | None = None

    @model_validator(mode="after")
    def _actor_is_the_new_account(self) -> Self:
        if self.actor == SYSTEM_ACTOR:
            object.__setattr__(self, "actor", account_id(self.handle))
        return self


class CreateAdmin(Command):
    """Open an admin account with an API token (the system actor only: bootstrap, CLI)."""

    handle: Handle
    token_hash: TokenHash


class IssueToken(Command):
    """Issue another API token for an account (the account itself, or admins)."""

    account: UUID
    token_hash: TokenHash
    label: TokenLabel | None = None
    # must be after the sequencer time of the command (the handler decides)
    expires_at: AwareDatetime | None = None


class RevokeToken(Command):
    """Revoke an API token by its public id (its account itself, or admins)."""

    # Any text: an id of the wrong shape is answered as an unknown one (unknown_token).
    token_id: Annotated[str, Field(min_length=1, max_length=64)]
    # Whose token it is, when known (admins, bootstrap); else the actor's own, then (admins
    # and the system) every account's.
    account: UUID | None = None


class VerifyKyc(Command):
    """Record that an account passed KYC at a level (admins)."""

    account: UUID
    level: Annotated[int, Field(ge=1, le=3)]


class GrantRole(Command):
    """Grant a role to an account (admins)."""

    account: UUID
    role: Role


class Deposit(Command):
    """Credit an account (admins; the account itself when demo funding is on)."""

    account: UUID
    asset: Asset
    amount: Amount


class Withdraw(Command):
    """Debit the actor's own account."""

    asset: Asset
    amount: Amount


class ListMarket(Command):
    """List a new market (admins). Base and quote come from the symbol, BASE-QUOTE."""

    symbol: Symbol
    tick_size: Amount
    lot_size: Amount
    min_qty: Amount | None = None
    max_qty: Amount | None = None
    max_notional: Amount | None = None
    collar_ticks: Annotated[int, Field(gt=0, le=10**15)] | None = None
    reference_price: Amount | None = None
    max_price: Amount | None = None
    mode: Literal["continuous", "auction"] = "continuous"
    maker_fee_bps: Annotated[int, Field(ge=0, le=1000)] = 0
    taker_fee_bps: Annotated[int, Field(ge=0, le=1000)] = 0


class _MarketControl(Command):
    market: Symbol


class HaltMarket(_MarketControl):
    """Halt trading on a market (admins)."""


class ResumeMarket(_MarketControl):
    """Lift a halt (admins)."""


class StartAuction(_MarketControl):
    """Put a market into call-auction mode (admins)."""


class Uncross(_MarketControl):
    """Run a market's call auction (admins)."""


class PlaceOrder(Command):
    """Place an order for the actor's own account.

    A market order carries no price; a buy is reserved and bounded at the market's protection
    price (reference + collar). Stop orders need a limit price.
    """

    market: Symbol
    side: Side
    type: OrderType = LIMIT
    price: Amount | None = None
    quantity: Amount
    time_in_force: TimeInForce = GTC
    post_only: bool = False
    stp: StpMode = CANCEL_TAKER
    expires_at: AwareDatetime | None = None
    stop_price: Amount | None = None
    group: Annotated[str, Field(min_length=1, max_length=64)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.type == LIMIT and self.price is None:
            raise ValueError("a limit order needs a price")
        if self.type == MARKET and self.price is not None:
            raise ValueError("a market order takes no price")
        if (self.time_in_force == GTD) != (self.expires_at is not None):
            raise ValueError("expires_at goes with time_in_force GTD, and only with it")
        if self.post_only and (self.type != LIMIT or self.time_in_force in (IOC, FOK)):
            raise ValueError("post_only needs a GTC or GTD limit order")
        if self.stop_price is not None and self.type != LIMIT:
            raise ValueError("a stop order needs a limit price (stop-limit)")
        return self


class CancelOrder(Command):
    """Cancel one of the actor's orders."""

    order_id: Annotated[str, Field(min_length=1, max_length=64)]


class AmendOrder(Command):
    """Change one of the actor's resting orders: a new price and/or a new OPEN quantity."""

    order_id: Annotated[str, Field(min_length=1, max_length=64)]
    price: Amount | None = None
    quantity: Amount | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.price is None and self.quantity is None:
            raise ValueError("an amend needs a new price, a new quantity, or both")
        return self


AnyCommand = (
    RegisterTrader
    | CreateAdmin
    | IssueToken
    | RevokeToken
    | VerifyKyc
    | GrantRole
    | Deposit
    | Withdraw
    | ListMarket
    | HaltMarket
    | ResumeMarket
    | StartAuction
    | Uncross
    | PlaceOrder
    | CancelOrder
    | AmendOrder
)

__all__ = [
    "AmendOrder",
    "AnyCommand",
    "CancelOrder",
    "Command",
    "CreateAdmin",
    "Deposit",
    "GrantRole",
    "HaltMarket",
    "IssueToken",
    "ListMarket",
    "PlaceOrder",
    "RegisterTrader",
    "ResumeMarket",
    "RevokeToken",
    "StartAuction",
    "Uncross",
    "VerifyKyc",
    "Withdraw",
]
