"""Handlers of the market commands: listing, halts, auctions (see `commands/state.py`)."""

from __future__ import annotations

from socialtrading.commands.accounts import open_system_account
from socialtrading.commands.models import (
    HaltMarket,
    ListMarket,
    ResumeMarket,
    StartAuction,
    Uncross,
)
from socialtrading.commands.state import Outcome, State, find_market, require_admin
from socialtrading.domain.errors import InvalidCommand, Refused
from socialtrading.domain.ids import FEE_ACCOUNT_HANDLE, account_id, market_id
from socialtrading.domain.market import Market
from socialtrading.engine.spec import MarketSpec, SpecError


def list_market(state: State, command: ListMarket, ts: int) -> Outcome:
    """List a market (admins); opens the fee account on first use."""
    require_admin(state, command.actor)
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


def halt_market(state: State, command: HaltMarket, ts: int) -> Outcome:
    """Halt a market (admins)."""
    require_admin(state, command.actor)
    market = find_market(state, command.market)
    decision = market.halt(state.text(command.actor), command.command_id, ts)
    return state.settle(market, decision, command.command_id)


def resume_market(state: State, command: ResumeMarket, ts: int) -> Outcome:
    """Lift a market's halt (admins)."""
    require_admin(state, command.actor)
    market = find_market(state, command.market)
    decision = market.resume(state.text(command.actor), command.command_id, ts)
    return state.settle(market, decision, command.command_id)


def start_auction(state: State, command: StartAuction, ts: int) -> Outcome:
    """Put a market into call-auction mode (admins)."""
    require_admin(state, command.actor)
    market = find_market(state, command.market)
    decision = market.start_auction(state.text(command.actor), command.command_id, ts)
    return state.settle(market, decision, command.command_id)


def uncross(state: State, command: Uncross, ts: int) -> Outcome:
    """Run a market's call auction and return it to continuous trading (admins)."""
    require_admin(state, command.actor)
    market = find_market(state, command.market)
    decision = market.uncross(state.text(command.actor), command.command_id, ts)
    return state.settle(market, decision, command.command_id)
