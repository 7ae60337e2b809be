"""Token-bucket rate limits per client (the account when signed in, else the client address).

Two are used: one for every GraphQL request (HTTP requests and WebSocket operations) and a
stricter one for mutations.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    """`rate` requests per second per client, with bursts up to `burst`.

    Runs on the event loop only (no lock). Memory is bounded: when more than `max_clients`
    buckets exist, the full ones (clients idle long enough to have refilled) are forgotten.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)

    def allow(self, client: str) -> bool:
        """Take one token from `client`'s bucket; False when it is empty."""
        return self.wait(client) == 0

    def wait(self, client: str) -> float:
        """Take one token from `client`'s bucket: 0.0, or the seconds until it has one."""
        now = self._clock()
        tokens, at = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > self.max_clients:
            self._forget_idle(now)
        return wait

    def _forget_idle(self, now: float) -> None:
        full = [
            client
            for client, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.rate >= self.burst
        ]
        for client in full:
            del self._buckets[client]
