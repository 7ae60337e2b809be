"""Caps on what a client holds open at once: WebSocket connections, subscriptions.

A rate limit bounds how often; these bound how many at the same time. Runs on the event loop
only (no lock). Memory is bounded by what is held: a key is forgotten when its count is zero.
"""

from __future__ import annotations


class Slots:
    """Counts of held slots per key, each count kept at or below a limit."""

    def __init__(self) -> None:
        self._held: dict[str, int] = {}

    def acquire(self, key: str, limit: int) -> bool:
        """Take a slot of `key` if fewer than `limit` are held; whether one was taken."""
        held = self._held.get(key, 0)
        if held >= limit:
            return False
        self._held[key] = held + 1
        return True

    def release(self, key: str) -> None:
        """Give back a slot of `key` taken by `acquire`."""
        held = self._held.get(key, 0) - 1
        if held > 0:
            self._held[key] = held
        else:
            self._held.pop(key, None)

    def held(self, key: str) -> int:
        """How many slots of `key` are held."""
        return self._held.get(key, 0)

    def __len__(self) -> int:
        """How many keys hold a slot."""
        return len(self._held)
