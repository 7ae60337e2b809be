"""API tokens: made here, stored only as their hash (the read side looks tokens up by it)."""

from __future__ import annotations

import hashlib
import re
import secrets

# The answer to revoking a token that is not one of the caller's valid ones, whatever the
# reason (unknown, someone else's, revoked, expired, malformed): it tells nothing apart.
UNKNOWN_TOKEN = "no valid token of yours has this id"
_TOKEN_ID = re.compile(r"[0-9a-f]{16}")


def hash_token(token: str) -> str:
    """The stored form of an API token: SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh API token (shown to its owner once) and its stored form."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def token_id(token_hash: str) -> str:
    """A token's public id: the first 16 hex digits of the SHA-256 of its stored hash.

    Neither the token nor its hash can be recovered from it, so it can be listed and shown.
    """
    return hashlib.sha256(token_hash.encode()).hexdigest()[:16]


def is_token_id(text: str) -> bool:
    """Whether `text` has the shape of a token id."""
    return _TOKEN_ID.fullmatch(text) is not None
