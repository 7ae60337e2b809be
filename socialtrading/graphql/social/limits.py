"""Per-account rate limits of social actions (Settings.social_*_per_minute).

Four kinds, each a token bucket per account refilling its per-minute allowance over a
minute, with bursts up to the allowance: `post` (publishPost), `comment` (commentOnPost),
`like` (likePost, unlikePost), `follow` (follow, unfollow, block, unblock). They count
beside the general mutation limit; a refusal is the Rejection `rate_limited`.
"""

from __future__ import annotations

from typing import Literal

from socialtrading.graphql.ratelimit import RateLimiter
from socialtrading.infra.settings import Settings

Kind = Literal["post", "comment", "like", "follow"]


class SocialLimits:
    """The four social limiters, made from the settings at first use."""

    def __init__(self) -> None:
        self._limiters: dict[Kind, RateLimiter] = {}

    def allow(self, settings: Settings, kind: Kind, account: str) -> bool:
        """Take one action of `kind` from `account`'s allowance; False when it is spent."""
        limiter = self._limiters.get(kind)
        if limiter is None:
            per_minute = _PER_MINUTE[kind](settings)
            limiter = self._limiters[kind] = RateLimiter(per_minute / 60.0, per_minute)
        return limiter.allow(account)


_PER_MINUTE = {
    "post": lambda settings: settings.social_posts_per_minute,
    "comment": lambda settings: settings.social_comments_per_minute,
    "like": lambda settings: settings.social_likes_per_minute,
    "follow": lambda settings: settings.social_follows_per_minute,
}
