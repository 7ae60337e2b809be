"""What every handler shares: the writer's in-memory state, a command's outcome, and the
look-ups and checks that load what a command acts on.

A handler takes the state, a validated command and the sequencer time. It either raises
InvalidCommand before touching anything (nothing is stored), raises Refused for an
authorization failure (nothing is stored), or applies the command and returns its Outcome;
a business refusal that the audit trail needs (an order the market refuses, a withdrawal
beyond the balance) is stored as an event and returned as a refused Outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from socialtrading.commands.social_store import SocialCache
from socialtrading.domain.account import ADMIN, TRADER, Account
from socialtrading.domain.copy.book import CopyBook
from socialtrading.domain.errors import InvalidCommand, Refused
from socialtrading.domain.ids import SYSTEM_ACTOR
from socialtrading.domain.market import Decision, Market
from socialtrading.domain.settlement import Posting
from socialtrading.engine.records import Record


@dataclass(slots=True)
class Outcome:
    """What a command did. `accepted` False means refused, with a stable `code`.

    `position` is the notification id up to which the command's batch is stored (0 when
    nothing was stored): a reader that has applied it sees the command's effects. `event` is
    the (market id, version) of the stored market event a market command's outcome is read
    from: the command index keeps that instead of the records (see `commands/dedup.py`).
    """

    command_id: str
    accepted: bool
    code: str | None = None
    message: str | None = None
    account_id: UUID | None = None
    market: str | None = None
    order_id: str | None = None
    records: tuple[Record, ...] = ()
    stored: bool = True
    position: int = 0
    event: tuple[UUID, int] | None = None


def market_outcome(
    command_id: str,
    symbol: str,
    order_id: str | None,
    records: Sequence[Record],
    refusal: str | None,
    event: tuple[UUID, int],
) -> Outcome:
    """The outcome of a market command: refused if the market refused its order."""
    if refusal is not None:
        return Outcome(
            command_id,
            False,
            refusal,
            f"refused by the market: {refusal}",
            market=symbol,
            order_id=order_id,
            records=tuple(records),
            event=event,
        )
    return Outcome(
        command_id,
        True,
        market=symbol,
        order_id=order_id,
        records=tuple(records),
        event=event,
    )


@dataclass
class State:
    """Everything the writer owns in memory: every account, market and copy (past outcomes
    are in the store's command index, see `commands/dedup.py`)."""

    demo_funding: bool = False
    accounts: dict[UUID, Account] = field(default_factory=dict)
    by_text: dict[str, Account] = field(default_factory=dict)  # str(account id) -> account
    texts: dict[UUID, str] = field(default_factory=dict)  # account id -> str(account id)
    markets: dict[str, Market] = field(default_factory=dict)  # symbol -> market
    # the aggregates the current batch changed, in the order first changed (keyed by object
    # identity: hashing an aggregate's UUID id runs Python code, several times per command)
    touched: dict[int, Aggregate] = field(default_factory=dict)
    # posts, comments, likes and reports, loaded when needed (commands/social_store.py)
    social: SocialCache = field(default_factory=SocialCache)
    # every copy (copy trading), loaded at start-up, with its live ones by leader and copier
    copies: CopyBook = field(default_factory=CopyBook)
    # copy items (copies of one leader fill) a part settles; None: a fill settles in its own
    # command (commands/copy_blocks.py)
    copy_part_size: int | None = None

    def add_account(self, account: Account) -> None:
        """Index an account (new or loaded)."""
        self.accounts[account.id] = account
        text = str(account.id)  # rendered once: events and records carry ids as text
        self.by_text[text] = account
        self.texts[account.id] = text

    def text(self, actor: UUID) -> str:
        """`str(actor)`, without rendering a known account's id again."""
        return self.texts.get(actor) or str(actor)

    def add_market(self, market: Market) -> None:
        """Index a market (new or loaded)."""
        self.markets[market.symbol] = market

    def touch(self, aggregate: Aggregate) -> None:
        """Mark an aggregate as changed by the current batch."""
        self.touched[id(aggregate)] = aggregate

    def market_of_order(self, order_id: str) -> Market | None:
        """The market holding a live order, if any."""
        for market in self.markets.values():
            if order_id in market.live_orders:
                return market
        return None

    def settle(self, market: Market, decision: Decision, command_id: str) -> Outcome:
        """Post a market decision to the accounts, mark what it touched, say the outcome."""
        self.touch(market)
        post(self, market.symbol, decision.postings)
        return market_outcome(
            command_id,
            market.symbol,
            decision.order_id,
            decision.records,
            decision.refusal,
            decision.event,
        )


# A handler: (state, command, sequencer time) -> outcome (see the module docstring).
Handler = Callable[[State, Any, int], Outcome]


def actor_account(state: State, actor: UUID) -> Account | None:
    """The acting account; None for the trusted system actor."""
    if actor == SYSTEM_ACTOR:
        return None
    account = state.accounts.get(actor)
    if account is None:
        raise Refused("unknown_actor", "the acting account does not exist")
    return account


def require_admin(state: State, actor: UUID) -> None:
    """Refused unless the actor is an admin (or the system)."""
    account = actor_account(state, actor)
    if account is not None and not account.has_role(ADMIN):
        raise Refused("not_authorized", "this needs the admin role")


def find_account(state: State, account: UUID) -> Account:
    """The named account, or InvalidCommand."""
    found = state.accounts.get(account)
    if found is None:
        raise InvalidCommand("unknown_account", f"no account {account}")
    return found


def find_market(state: State, symbol: str) -> Market:
    """The listed market, or InvalidCommand."""
    market = state.markets.get(symbol)
    if market is None:
        raise InvalidCommand("unknown_market", f"no market {symbol}")
    return market


def trader(state: State, actor: UUID) -> Account:
    """The acting account if it may trade (trader role, verified KYC), or Refused."""
    account = actor_account(state, actor)
    if account is None:
        raise Refused("not_authorized", "orders are placed by accounts, not the system")
    if not account.has_role(TRADER):
        raise Refused("not_authorized", "this needs the trader role")
    if account.kyc_level < 1:
        raise Refused("kyc_required", "trading needs a verified KYC level")
    return account


def post(state: State, symbol: str, postings: Sequence[Posting]) -> None:
    """Post a market's postings to the accounts they name, marking each as touched."""
    accounts = state.by_text
    touched = state.touched
    for account_text, kind, reference, asset, available, reserved in postings:
        account = accounts[account_text]
        account.post(kind, symbol, reference, asset, available, reserved)
        touched[id(account)] = account
