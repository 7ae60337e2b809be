"""Deterministic identifiers (uuid5): the same inputs give the same ids on every replay."""

from __future__ import annotations

from hashlib import blake2b
from uuid import UUID, uuid5

NAMESPACE = UUID("6f1c2b7e-3d5a-4f0e-9a41-2c8d9e7b1a55")
FEE_ACCOUNT_HANDLE = "fees"
SYSTEM_ACTOR = UUID(int=0)  # trusted in-process callers: bootstrap, CLI, tests


def account_id(handle: str) -> UUID:
    """The id of the account with this handle (handles are case-insensitive)."""
    return uuid5(NAMESPACE, "account:" + handle.casefold())


def market_id(symbol: str) -> UUID:
    """The id of the market with this symbol."""
    return uuid5(NAMESPACE, "market:" + symbol.upper())


def order_id(actor: UUID | str, command_id: str) -> str:
    """The id of the order placed by `actor`'s command `command_id` (unique per command).

    32 hex digits of BLAKE2b: a uuid5 costs several times more, and this runs per order.
    `actor` may be given as its text already (`str(actor)`): the id is the same.
    """
    return blake2b(f"{actor}:{command_id}".encode(), digest_size=16).hexdigest()
