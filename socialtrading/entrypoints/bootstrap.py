"""Bootstrapping through the writer: admins (the CLI) and the demo exchange (`serve --demo`).

The demo is idempotent across restarts: each of its commands has a fixed command_id, so the
writer answers a repeat with the first outcome and stores nothing. Only the API tokens are
new at each start (a token is shown once; its hash is all the store keeps): each start first
revokes the demo tokens that earlier starts issued (and printed), then issues new ones.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from socialtrading.commands.models import (
    Command,
    CreateAdmin,
    Deposit,
    IssueToken,
    ListMarket,
    PlaceOrder,
    RegisterTrader,
    RevokeToken,
)
from socialtrading.commands.state import Outcome
from socialtrading.commands.writer import Writer
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id
from socialtrading.domain.tokens import new_token
from socialtrading.entrypoints.demo_copying import seed_copying
from socialtrading.entrypoints.demo_social import seed_social

DEMO_TOKEN_PREFIX = "demo:token:"  # the command ids of the tokens the demo issues


class BootstrapError(RuntimeError):
    """A bootstrap command was refused."""


def _run(writer: Writer, command: Command) -> Outcome:
    outcome = writer.execute(command)
    if not outcome.accepted:
        raise BootstrapError(f"{type(command).__name__} refused: {outcome.code} {outcome.message}")
    return outcome


def create_admin(writer: Writer, handle: str) -> tuple[Outcome, str]:
    """Open an admin account; return the outcome and its API token (shown once)."""
    token, token_hash = new_token()
    command = CreateAdmin(
        command_id=f"admin:{uuid.uuid4().hex}",
        actor=SYSTEM_ACTOR,
        handle=handle,
        token_hash=token_hash,
    )
    return _run(writer, command), token


@dataclass(frozen=True)
class DemoMarket:
    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    reference_price: Decimal
    collar_ticks: int  # 10% of the reference price
    step: Decimal  # between the demo maker's price levels
    size: Decimal  # of each demo maker order


DEMO_MARKETS = (
    DemoMarket(
        "BTC-USD",
        Decimal("0.01"),
        Decimal("0.0001"),
        Decimal("60000"),
        600_000,
        Decimal("50"),
        Decimal("0.25"),
    ),
    DemoMarket(
        "ETH-USD",
        Decimal("0.01"),
        Decimal("0.001"),
        Decimal("3000"),
        30_000,
        Decimal("2.5"),
        Decimal("2"),
    ),
)
DEMO_TRADERS = ("alice", "bob", "carol")
DEMO_MAKER = "demo_maker"
DEMO_ADMIN = "demo_admin"
DEMO_FUNDS = {"USD": Decimal("1000000"), "BTC": Decimal("10"), "ETH": Decimal("200")}
MAKER_LEVELS = 5


def bootstrap_demo(writer: Writer) -> dict[str, str]:
    """List the demo markets, fund demo traders, seed some liquidity, a social graph
    (`demo_social`) and copiers of alice (`demo_copying`); return fresh tokens.

    The writer must run with demo funding (registration grants KYC level 1). Returns
    handle -> API token for the demo admin and each demo trader.
    """
    for market in DEMO_MARKETS:
        _run(
            writer,
            ListMarket(
                command_id=f"demo:list:{market.symbol}",
                actor=SYSTEM_ACTOR,
                symbol=market.symbol,
                tick_size=market.tick_size,
                lot_size=market.lot_size,
                min_qty=market.lot_size,
                collar_ticks=market.collar_ticks,
                reference_price=market.reference_price,
                maker_fee_bps=5,
                taker_fee_bps=10,
            ),
        )
    _, admin_hash = new_token()  # replaced below: CreateAdmin runs once, IssueToken each start
    _run(
        writer,
        CreateAdmin(
            command_id="demo:admin", actor=SYSTEM_ACTOR, handle=DEMO_ADMIN, token_hash=admin_hash
        ),
    )
    for handle in (*DEMO_TRADERS, DEMO_MAKER):
        _run(writer, RegisterTrader(command_id=f"demo:register:{handle}", handle=handle))
        for asset, amount in DEMO_FUNDS.items():
            _run(
                writer,
                Deposit(
                    command_id=f"demo:fund:{handle}:{asset}",
                    actor=SYSTEM_ACTOR,
                    account=account_id(handle),
                    asset=asset,
                    amount=amount,
                ),
            )
    maker = account_id(DEMO_MAKER)
    for market in DEMO_MARKETS:
        for level in range(1, MAKER_LEVELS + 1):
            sides: tuple[tuple[Literal["buy", "sell"], int], ...] = (("buy", -1), ("sell", 1))
            for side, sign in sides:
                writer.execute(  # an order the book refuses after a restart is no failure
                    PlaceOrder(
                        command_id=f"demo:seed:{market.symbol}:{side}:{level}",
                        actor=maker,
                        market=market.symbol,
                        side=side,
                        price=market.reference_price + sign * level * market.step,
                        quantity=market.size,
                    )
                )
    seed_social(writer)
    seed_copying(writer)
    revoke_demo_tokens(writer)
    tokens: dict[str, str] = {}
    for handle in (DEMO_ADMIN, *DEMO_TRADERS):
        token, token_hash = new_token()
        _run(
            writer,
            IssueToken(
                command_id=f"{DEMO_TOKEN_PREFIX}{uuid.uuid4().hex}",
                actor=SYSTEM_ACTOR,
                account=account_id(handle),
                token_hash=token_hash,
            ),
        )
        tokens[handle] = token
    return tokens


def revoke_demo_tokens(writer: Writer) -> int:
    """Revoke every still-valid token of the demo accounts that the demo itself issued (they
    were printed at an earlier start); return how many. Tokens issued otherwise are kept."""
    revoked = 0
    for handle in (DEMO_ADMIN, *DEMO_TRADERS):
        account = writer.state.accounts.get(account_id(handle))
        if account is None:
            continue
        for token_id, (command_id, _) in sorted(account.token_book().items()):
            if not command_id.startswith(DEMO_TOKEN_PREFIX):
                continue
            outcome = writer.execute(
                RevokeToken(
                    command_id=f"demo:revoke:{token_id}",
                    actor=SYSTEM_ACTOR,
                    account=account.id,
                    token_id=token_id,
                )
            )
            revoked += outcome.accepted  # refused: it expired meanwhile
    return revoked
