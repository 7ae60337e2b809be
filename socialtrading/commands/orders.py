"""Handlers of the order commands: place, cancel, amend (see `commands/state.py`).

Each loads the trader and the market, lets the market decide (`domain/market.py`), and
posts what it decided to the accounts.
"""

from __future__ import annotations

from socialtrading.commands.models import AmendOrder, CancelOrder, PlaceOrder
from socialtrading.commands.state import Outcome, State, find_market, trader
from socialtrading.domain.errors import InvalidCommand
from socialtrading.domain.market import Market
from socialtrading.domain.time import to_micros


def place_order(state: State, command: PlaceOrder, ts: int) -> Outcome:
    """Place an order: the market checks it and the funds, reserves, matches; refusals by
    the market are stored too."""
    account = trader(state, command.actor)
    market = find_market(state, command.market)
    decision = market.place(
        state.texts[account.id],
        command.command_id,
        command.side,
        command.type,
        command.price,
        command.quantity,
        account.available,
        ts,
        time_in_force=command.time_in_force,
        post_only=command.post_only,
        stp=command.stp,
        group=command.group,
        expire_ts=None if command.expires_at is None else to_micros(command.expires_at),
        stop_price=command.stop_price,
    )
    return state.settle(market, decision, command.command_id)


def _market_of_order(state: State, order_id: str) -> Market:
    """The market of a live order; an unknown order is answered as the market answers
    someone else's (see `Market.cancel`)."""
    market = state.market_of_order(order_id)
    if market is None:
        raise InvalidCommand("unknown_order", f"no live order {order_id}")
    return market


def cancel_order(state: State, command: CancelOrder, ts: int) -> Outcome:
    """Cancel one of the actor's live orders."""
    account = trader(state, command.actor)
    market = _market_of_order(state, command.order_id)
    decision = market.cancel(state.texts[account.id], command.command_id, command.order_id, ts)
    return state.settle(market, decision, command.command_id)


def amend_order(state: State, command: AmendOrder, ts: int) -> Outcome:
    """Amend one of the actor's resting orders; the market checks the extra funds it needs."""
    account = trader(state, command.actor)
    market = _market_of_order(state, command.order_id)
    decision = market.amend(
        state.texts[account.id],
        command.command_id,
        command.order_id,
        command.price,
        command.quantity,
        account.available,
        ts,
    )
    return state.settle(market, decision, command.command_id)
