"""API tokens: made here, stored only as their hash (the read side looks tokens up by it)."""

from __future__ import annotations

import hashlib
import secrets


def hash_token(token: str) -> str:
    """The stored form of an API token: SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh API token (shown to its owner once) and its stored form."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)
