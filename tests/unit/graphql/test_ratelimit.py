"""The mutation rate limit: a token bucket per client."""

from __future__ import annotations

from socialtrading.graphql.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_client_gets_its_burst_then_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")  # every client has its own bucket
    clock.now = 0.5  # one token back at 2 per second
    assert [limiter.allow("a") for _ in range(2)] == [True, False]
    clock.now = 100
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]  # capped at burst


def test_idle_clients_are_forgotten_when_there_are_too_many() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1, burst=1, max_clients=2, clock=clock)
    limiter.allow("a")
    limiter.allow("b")
    clock.now = 10
    limiter.allow("c")  # a and b have refilled: forgotten
    assert set(limiter._buckets) == {"c"}


def test_an_empty_bucket_says_how_long_until_it_has_a_token() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=0.5, burst=1, clock=clock)
    assert limiter.wait("a") == 0
    assert limiter.wait("a") == 2.0  # one token back every two seconds
    clock.now = 1.5
    assert limiter.wait("a") == 0.5  # a refusal takes nothing
    clock.now = 2.0
    assert limiter.wait("a") == 0
