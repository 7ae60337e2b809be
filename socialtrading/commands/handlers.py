"""Command handlers: authorize, validate against the state, apply to aggregates, say what
happened.

Each handler takes the writer's in-memory state, a validated command and the sequencer time.
It either raises InvalidCommand before touching anything (nothing is stored), raises Refused
for an authorization failure (nothing is stored), or applies the command and returns its
Outcome; a business refusal that the audit trail needs (an order the market refuses, a
withdrawal beyond the balance) is stored as an event and returned as a refused Outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from socialtrading.commands.models import (
    AmendOrder,
    CancelOrder,
    Command,
    CreateAdmin,
    Deposit,
    GrantRole,
    HaltMarket,
    IssueToken,
    ListMarket,
    PlaceOrder,
    RegisterTrader,
    ResumeMarket,
    RevokeToken,
    StartAuction,
    Uncross,
    VerifyKyc,
    Withdraw,
)
from socialtrading.commands.social_store import SocialCache
from socialtrading.domain.account import ADMIN, TRADER, Account
from socialtrading.domain.errors import InvalidCommand, Refused
from socialtrading.domain.ids import FEE_ACCOUNT_HANDLE, SYSTEM_ACTOR, account_id, market_id
from socialtrading.domain.ids import order_id as make_order_id
from socialtrading.domain.market import Market
from socialtrading.domain.money import MAX_AMOUNT, MAX_BALANCE, MAX_PLACES, in_range
from socialtrading.domain.settlement import Ledger, Posting
from socialtrading.domain.time import to_micros
from socialtrading.domain.tokens import UNKNOWN_TOKEN
from socialtrading.engine.book import BUY, MARKET
from socialtrading.engine.records import (
    ACCEPTED,
    AMENDED,
    AUCTION_STARTED,
    CANCELLED,
    HALTED,
    KIND,
    ORDER_ID,
    REJECTED,
    REJECTED_ID,
    REJECTED_REASON,
    RESUMED,
    UNCROSSED,
    Record,
)
from socialtrading.engine.spec import (
    MAX_LOTS,
    MAX_NOTIONAL_UNITS,
    PRICE_OUT_OF_RANGE,
    QUANTITY_OUT_OF_RANGE,
    InvalidValueError,
    MarketSpec,
    SpecError,
)


@dataclass(slots=True)
class Outcome:
    """What a command did. `accepted` False means refused, with a stable `code`.

    `position` is the notification id up to which the command's batch is stored (0 when
    nothing was stored): a reader that has applied it sees the command's effects. `event` is
    the (market id, version) of the stored market event a market command's outcome is read
    from: the command index keeps that instead of the records (see `commands/remembered.py`).
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


@dataclass
class State:
    """Everything the writer owns in memory: every account and market (past outcomes are in
    the store's command index, see `commands/remembered.py`)."""

    demo_funding: bool = False
    accounts: dict[UUID, Account] = field(default_factory=dict)
    by_text: dict[str, Account] = field(default_factory=dict)  # str(account id) -> account
    texts: dict[UUID, str] = field(default_factory=dict)  # account id -> str(account id)
    markets: dict[str, Market] = field(default_factory=dict)  # symbol -> market
    ledgers: dict[str, Ledger] = field(default_factory=dict)  # symbol -> ledger
    # the aggregates the current batch changed, in the order first changed (keyed by object
    # identity: hashing an aggregate's UUID id runs Python code, several times per command)
    touched: dict[int, Aggregate] = field(default_factory=dict)
    # posts, comments, likes and reports, loaded when needed (commands/social_store.py)
    social: SocialCache = field(default_factory=SocialCache)

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
        self.ledgers[market.symbol] = market.ledger(str(account_id(FEE_ACCOUNT_HANDLE)))

    def touch(self, aggregate: Aggregate) -> None:
        """Mark an aggregate as changed by the current batch."""
        self.touched[id(aggregate)] = aggregate

    def market_of_order(self, order_id: str) -> Market | None:
        """The market holding a live order, if any."""
        for market in self.markets.values():
            if order_id in market.terms:
                return market
        return None


# ---------------------------------------------------------------------- helpers


def _actor(state: State, actor: UUID) -> Account | None:
    """The acting account; None for the trusted system actor."""
    if actor == SYSTEM_ACTOR:
        return None
    account = state.accounts.get(actor)
    if account is None:
        raise Refused("unknown_actor", "the acting account does not exist")
    return account


def _require_admin(state: State, actor: UUID) -> None:
    account = _actor(state, actor)
    if account is not None and not account.has_role(ADMIN):
        raise Refused("not_authorized", "this needs the admin role")


def _account(state: State, account: UUID) -> Account:
    found = state.accounts.get(account)
    if found is None:
        raise InvalidCommand("unknown_account", f"no account {account}")
    return found


def _market(state: State, symbol: str) -> Market:
    market = state.markets.get(symbol)
    if market is None:
        raise InvalidCommand("unknown_market", f"no market {symbol}")
    return market


def _trader(state: State, actor: UUID) -> Account:
    account = _actor(state, actor)
    if account is None:
        raise Refused("not_authorized", "orders are placed by accounts, not the system")
    if not account.has_role(TRADER):
        raise Refused("not_authorized", "this needs the trader role")
    if account.kyc_level < 1:
        raise Refused("kyc_required", "trading needs a verified KYC level")
    return account


def _ticks(spec: MarketSpec, value: Decimal | None) -> int | None:
    """`value` in ticks, within the market's price range, or InvalidCommand."""
    if value is None:
        return None
    try:
        return spec.check_price(spec.to_ticks(value))
    except InvalidValueError as error:
        if error.reason == PRICE_OUT_OF_RANGE:
            message = f"{value} is outside the price range (0, {spec.price(spec.max_price_ticks)}]"
        else:
            message = f"{value} is not a multiple of the tick {spec.tick_size}"
        raise InvalidCommand(error.reason, message) from error


def _lots(spec: MarketSpec, value: Decimal | None) -> int | None:
    """`value` in lots, within the quantity range, or InvalidCommand."""
    if value is None:
        return None
    try:
        return spec.check_lots(spec.to_lots(value))
    except InvalidValueError as error:
        if error.reason == QUANTITY_OUT_OF_RANGE:
            message = f"{value} is outside the quantity range (0, {spec.qty(MAX_LOTS)}]"
        else:
            message = f"{value} is not a multiple of the lot {spec.lot_size}"
        raise InvalidCommand(error.reason, message) from error


def _notional(spec: MarketSpec, ticks: int, lots: int) -> None:
    """InvalidCommand unless price x quantity stays within the notional range."""
    try:
        spec.check_notional(ticks, lots)
    except InvalidValueError as error:
        limit = spec.tick_size * spec.lot_size * MAX_NOTIONAL_UNITS
        raise InvalidCommand(
            error.reason, f"price x quantity is above the notional maximum {limit}"
        ) from error


def _post(state: State, symbol: str, postings: Sequence[Posting]) -> None:
    accounts = state.by_text
    touched = state.touched
    for account_text, kind, reference, asset, available, reserved in postings:
        account = accounts[account_text]
        account.post(kind, symbol, reference, asset, available, reserved)
        touched[id(account)] = account


def refusal(order_id: str | None, records: Sequence[Record]) -> str | None:
    """The reason code the market rejected the command's order with, None if it did not."""
    for record in records:
        if record[KIND] == REJECTED and record[REJECTED_ID] == order_id:
            return str(record[REJECTED_REASON])
    return None


def book_outcome(
    command_id: str,
    symbol: str,
    order_id: str | None,
    records: Sequence[Record],
    event: tuple[UUID, int],
) -> Outcome:
    """The outcome of a market command, read from its records (live, and from its stored
    `event` for a repeat)."""
    code = refusal(order_id, records)
    if code is not None:
        return Outcome(
            command_id,
            False,
            code,
            f"refused by the market: {code}",
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


def _store_book(
    state: State,
    market: Market,
    actor: UUID,
    command_id: str,
    order_id: str | None,
    records: list[Record],
    succeeded: type[Market.BookChanged],
    failed: type[Market.BookChanged],
    success_kind: str,
    terms: dict[str, Any] | None = None,
) -> Outcome:
    """Post the ledger effects of `records`, store them as one market event, say the outcome.

    `terms` (a new order's) are stored only when the order is refused.
    """
    ok = any(
        r[KIND] == success_kind and (order_id is None or r[ORDER_ID] == order_id) for r in records
    )
    postings = market.record(
        succeeded if ok else failed,
        state.text(actor),
        command_id,
        order_id,
        records,
        state.ledgers[market.symbol],
        None if ok else terms,
    )
    state.touch(market)
    _post(state, market.symbol, postings)
    return book_outcome(command_id, market.symbol, order_id, records, (market.id, market.version))


# ---------------------------------------------------------------------- accounts


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
    actor = _actor(state, command.actor)
    account = _account(state, command.account)
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
    actor = _actor(state, command.actor)
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
    _require_admin(state, command.actor)
    account = _account(state, command.account)
    account.verify_kyc(command.level, command.actor, command.command_id, ts)
    state.touch(account)
    return Outcome(command.command_id, True, account_id=account.id)


def grant_role(state: State, command: GrantRole, ts: int) -> Outcome:
    """Grant a role (admins)."""
    _require_admin(state, command.actor)
    account = _account(state, command.account)
    account.grant_role(command.role, command.actor, command.command_id, ts)
    state.touch(account)
    return Outcome(command.command_id, True, account_id=account.id)


def deposit(state: State, command: Deposit, ts: int) -> Outcome:
    """Credit an account: admins, or the account itself when demo funding is on."""
    actor = _actor(state, command.actor)
    account = _account(state, command.account)
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
    account = _actor(state, command.actor)
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


# ---------------------------------------------------------------------- markets


def list_market(state: State, command: ListMarket, ts: int) -> Outcome:
    """List a market (admins); opens the fee account on first use."""
    _require_admin(state, command.actor)
    if command.symbol in state.markets:
        raise Refused("market_exists", f"{command.symbol} is listed already")
    base, quote = command.symbol.split("-")
    if base == quote:
        raise InvalidCommand("invalid_market_spec", "a market trades two different assets")
    try:
        spec = MarketSpec(
            symbol=command.symbol,
            tick_size=command.tick_size,
            lot_size=command.lot_size,
            min_qty=command.min_qty,
            max_qty=command.max_qty,
            max_notional=command.max_notional,
            collar_ticks=command.collar_ticks,
            reference_price=command.reference_price,
            mode=command.mode,
            max_price=command.max_price,
        )
    except SpecError as error:
        raise InvalidCommand("invalid_market_spec", str(error)) from error
    if account_id(FEE_ACCOUNT_HANDLE) not in state.accounts:
        open_system_account(state, FEE_ACCOUNT_HANDLE, [], command.command_id, ts)
    market = Market.create(
        market_id(command.symbol),
        spec,
        base,
        quote,
        command.maker_fee_bps,
        command.taker_fee_bps,
        command.actor,
        command.command_id,
        ts,
    )
    state.add_market(market)
    state.touch(market)
    return Outcome(command.command_id, True, market=command.symbol)


def _control(
    run: Callable[[Market, int], list[Record]],
    kind: str,
    event: type[Market.BookChanged],
) -> Callable[[State, HaltMarket | ResumeMarket | StartAuction | Uncross, int], Outcome]:
    def handle(
        state: State, command: HaltMarket | ResumeMarket | StartAuction | Uncross, ts: int
    ) -> Outcome:
        _require_admin(state, command.actor)
        market = _market(state, command.market)
        records = run(market, ts)
        return _store_book(
            state,
            market,
            command.actor,
            command.command_id,
            None,
            records,
            event,
            Market.RequestRejected,
            kind,
        )

    return handle


halt_market = _control(lambda m, ts: m.book.halt(ts), HALTED, Market.Halted)
resume_market = _control(lambda m, ts: m.book.resume(ts), RESUMED, Market.Resumed)
start_auction = _control(
    lambda m, ts: m.book.start_auction(ts), AUCTION_STARTED, Market.AuctionStarted
)
uncross = _control(lambda m, ts: m.book.uncross(ts), UNCROSSED, Market.AuctionUncrossed)


# ---------------------------------------------------------------------- orders


def place_order(state: State, command: PlaceOrder, ts: int) -> Outcome:
    """Check funds, reserve, match; refusals by the market are stored too."""
    account = _trader(state, command.actor)
    market = _market(state, command.market)
    spec = market.spec
    price = _ticks(spec, command.price)
    stop_price = _ticks(spec, command.stop_price)
    lots = _lots(spec, command.quantity)
    assert lots is not None
    expire_ts = to_micros(command.expires_at) if command.expires_at is not None else None
    order_id = make_order_id(state.texts[account.id], command.command_id)
    if order_id in market.terms:
        raise InvalidCommand("duplicate_order", "this command's order is live already")
    book = market.book
    owner = state.texts[account.id]
    if command.type == MARKET and command.side == BUY:
        # A market buy pays at most reference + collar: that bounds its reservation.
        reference = book.reference_price()
        if reference is None or spec.collar_ticks is None:
            raise Refused(
                "no_reference_price", "market buys need a reference price and a price collar"
            )
        # No ask rests above the market's maximum price, so paying up to it is enough.
        price = min(reference + spec.collar_ticks, spec.max_price_ticks)
    if price is not None:
        _notional(spec, price, lots)
    asset, need = state.ledgers[market.symbol].need(command.side, price, lots)
    if need > account.available(asset):
        records = book.reject(ts, "new", order_id, owner, "insufficient_funds")
    else:
        records = book.submit(
            ts,
            order_id,
            owner,
            command.side,
            command.type,
            price,
            lots,
            command.time_in_force,
            command.post_only,
            command.stp,
            command.group,
            expire_ts,
            stop_price,
        )
    return _store_book(
        state,
        market,
        command.actor,
        command.command_id,
        order_id,
        records,
        Market.OrderAccepted,
        Market.OrderRejected,
        ACCEPTED,
        {
            "side": command.side,
            "type": command.type,
            "price": price,
            "qty": lots,
            "tif": command.time_in_force,
            "post_only": command.post_only,
            "stop_price": stop_price,
        },
    )


def _own_market_of_order(state: State, order_id: str, owner: str) -> Market:
    """The market of one of `owner`'s live orders. Someone else's order gets exactly the
    answer an unknown one gets (and nothing is stored), so nobody learns whether it exists."""
    market = state.market_of_order(order_id)
    if market is None or market.terms[order_id][0] != owner:
        raise InvalidCommand("unknown_order", f"no live order {order_id}")
    return market


def cancel_order(state: State, command: CancelOrder, ts: int) -> Outcome:
    """Cancel one of the actor's live orders."""
    account = _trader(state, command.actor)
    market = _own_market_of_order(state, command.order_id, state.texts[account.id])
    records = market.book.cancel(ts, command.order_id, state.texts[account.id])
    return _store_book(
        state,
        market,
        command.actor,
        command.command_id,
        command.order_id,
        records,
        Market.OrderCancelled,
        Market.RequestRejected,
        CANCELLED,
    )


def amend_order(state: State, command: AmendOrder, ts: int) -> Outcome:
    """Amend one of the actor's resting orders, reserving any extra funds it needs first."""
    account = _trader(state, command.actor)
    market = _own_market_of_order(state, command.order_id, state.texts[account.id])
    spec = market.spec
    price = _ticks(spec, command.price)
    lots = _lots(spec, command.quantity)
    book = market.book
    order = book.order(command.order_id)
    owner = state.texts[account.id]
    records: list[Record] | None = None
    if order is not None and order.account == owner and order.price is not None:
        ledger = state.ledgers[market.symbol]
        asset, before = ledger.need(order.side, order.price, order.open)
        new_price = order.price if price is None else price
        new_lots = order.open if lots is None else lots
        _notional(spec, new_price, new_lots)
        if new_lots > 0 and new_price > 0:
            _, after = ledger.need(order.side, new_price, new_lots)
            if after - before > account.available(asset):
                records = book.reject(ts, "amend", command.order_id, owner, "insufficient_funds")
    if records is None:
        records = book.amend(ts, command.order_id, owner, price, lots)
    return _store_book(
        state,
        market,
        command.actor,
        command.command_id,
        command.order_id,
        records,
        Market.OrderAmended,
        Market.RequestRejected,
        AMENDED,
    )


HANDLERS: dict[type[Command], Callable[[State, Any, int], Outcome]] = {
    RegisterTrader: register_trader,
    CreateAdmin: create_admin,
    IssueToken: issue_token,
    RevokeToken: revoke_token,
    VerifyKyc: verify_kyc,
    GrantRole: grant_role,
    Deposit: deposit,
    Withdraw: withdraw,
    ListMarket: list_market,
    HaltMarket: halt_market,
    ResumeMarket: resume_market,
    StartAuction: start_auction,
    Uncross: uncross,
    PlaceOrder: place_order,
    CancelOrder: cancel_order,
    AmendOrder: amend_order,
}
