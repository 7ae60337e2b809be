"""Which handler applies each command: the writer's one table. A new command module
(social, compliance) joins by adding its commands' entries here."""

from __future__ import annotations

from uuid import UUID

from socialtrading.commands import accounts, compliance, markets, orders, social
from socialtrading.commands.compliance import COMPLIANCE_HANDLERS
from socialtrading.commands.copying import COPY_HANDLERS
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
from socialtrading.commands.social import SOCIAL_HANDLERS
from socialtrading.commands.state import Handler

HANDLERS: dict[type[Command], Handler] = {
    # accounts
    RegisterTrader: accounts.register_trader,
    CreateAdmin: accounts.create_admin,
    IssueToken: accounts.issue_token,
    RevokeToken: accounts.revoke_token,
    VerifyKyc: accounts.verify_kyc,
    GrantRole: accounts.grant_role,
    Deposit: accounts.deposit,
    Withdraw: accounts.withdraw,
    # markets
    ListMarket: markets.list_market,
    HaltMarket: markets.halt_market,
    ResumeMarket: markets.resume_market,
    StartAuction: markets.start_auction,
    Uncross: markets.uncross,
    # orders
    PlaceOrder: orders.place_order,
    CancelOrder: orders.cancel_order,
    AmendOrder: orders.amend_order,
    # profiles, follows, posts, comments, likes, reports (commands/social.py)
    **SOCIAL_HANDLERS,
    # copy trading (commands/copying.py)
    **COPY_HANDLERS,
    # surveillance alerts and their cases (commands/compliance.py)
    **COMPLIANCE_HANDLERS,
}


def wanted(command: Command) -> list[UUID]:
    """The aggregates loaded when needed (social ones, alerts) that a command's handler asks
    for first: the writer learns in one query per batch which of them are not stored."""
    return social.wanted(command) or compliance.wanted(command)
