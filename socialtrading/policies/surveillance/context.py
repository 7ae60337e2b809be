"""What every detector may ask about the world: markets, owners, leaders' copiers, follows.

Kept current by the scanner from the log (listings, copies started and stopped, follows and
unfollows) and stored in the scanner's checkpoints with the detectors' own state. Every
collection is bounded: what passes a cap is forgotten oldest first (`trim`), so no sequence of
commands can grow it without end; what that costs a detector is said in docs/surveillance.md.

Accounts are their id's text, as engine records name them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import MutableMapping
from decimal import Decimal
from typing import Any

from socialtrading.domain.copy.ids import block_id
from socialtrading.domain.social.post import EDIT_WINDOW_US
from socialtrading.infra.settings import SurveillanceSettings
from socialtrading.policies.surveillance.findings import Finding

MICROS = 1_000_000


def trim(found: MutableMapping[Any, Any], cap: int) -> None:
    """Forget the oldest entries (insertion order) of `found` beyond `cap`."""
    while len(found) > cap:
        del found[next(iter(found))]


class Context:
    """The shared, bounded knowledge of the detectors (module text)."""

    def __init__(self, settings: SurveillanceSettings) -> None:
        self.settings = settings
        self.symbols: dict[Any, str] = {}  # market id (UUID) -> symbol
        self.lots: dict[str, Decimal] = {}  # symbol -> lot size (base units)
        self.bases: dict[str, str] = {}  # symbol -> base asset
        self.allocations: dict[str, list[str]] = {}  # allocation -> [copier, leader]
        self.blocks: dict[str, str] = {}  # a leader's block account -> the leader
        self.leaders: dict[str, str] = {}  # a leader (has or had a copy) -> its block account
        self.follows: dict[str, None] = {}  # "follower>author"
        # posts young enough to be edited: id -> [author, market, cashtags, disclosed lots]
        self.posts: dict[str, list[Any]] = {}
        self._posted: deque[list[Any]] = deque()  # [ts, post id] of `posts`, oldest first
        self.found: list[Finding] = []  # made since the scanner last handed them over

    # ------------------------------------------------------------------ questions

    def owner(self, account: str) -> str:
        """Who owns `account`: a copy's allocation is its copier's; anything else its own."""
        allocation = self.allocations.get(account)
        return account if allocation is None else allocation[0]

    def follows_or_copies(self, account: str, author: str) -> bool:
        """Whether `account` follows `author`, or trades for `author`'s copiers (a copy's
        allocation, or `author`'s block account)."""
        if f"{account}>{author}" in self.follows or self.blocks.get(account) == author:
            return True
        allocation = self.allocations.get(account)
        return allocation is not None and allocation[1] == author

    def disclosed(self, symbol: str | None, disclosure: dict[str, Any] | None) -> int:
        """A post's disclosed position in `symbol` in lots (signed; 0 when none)."""
        lot = None if symbol is None else self.lots.get(symbol)
        if not lot or not disclosure:
            return 0
        return int(Decimal(disclosure["quantity"]) / lot)

    def markets_of(self, market: str | None, cashtags: list[str]) -> list[str]:
        """The markets a post is about: its market, else those whose base it cashtags."""
        if market is not None:
            return [market] if market in self.lots else []
        tags = set(cashtags)
        return [symbol for symbol, base in self.bases.items() if base in tags]

    # ------------------------------------------------------------------ learning

    def listed(self, market_id: Any, symbol: str, base: str, lot_size: Decimal) -> None:
        self.symbols[market_id] = symbol
        self.lots[symbol] = lot_size
        self.bases[symbol] = base

    def copy_started(self, leader: str, copier: str, allocation: str) -> None:
        self.allocations[allocation] = [copier, leader]
        block = self.leaders.get(leader) or str(block_id(leader))
        self.blocks[block] = leader
        self.leaders[leader] = block
        cap = self.settings.max_tracked_keys
        trim(self.allocations, cap)
        trim(self.blocks, cap)
        trim(self.leaders, cap)

    def posted(self, post_id: str, ts: int, event: Any) -> None:
        """Remember a new post while it may be edited (`Post.Published` as `event`)."""
        posted = self._posted
        while posted and posted[0][0] < ts - EDIT_WINDOW_US:
            self.posts.pop(posted.popleft()[1], None)
        self.posts[post_id] = [
            event.author,
            event.market,
            list(event.cashtags),
            self.disclosed(event.market, event.position),
        ]
        posted.append([ts, post_id])
        if len(posted) > self.settings.max_tracked_keys:
            self.posts.pop(posted.popleft()[1], None)

    def followed(self, follower: str, author: str) -> None:
        self.follows[f"{follower}>{author}"] = None
        trim(self.follows, self.settings.max_follows)

    def unfollowed(self, follower: str, author: str) -> None:
        self.follows.pop(f"{follower}>{author}", None)

    # ------------------------------------------------------------------ checkpoints

    def dump(self) -> dict[str, Any]:
        """The state as JSON-ready values."""
        return {
            "symbols": {str(k): v for k, v in self.symbols.items()},
            "lots": {k: str(v) for k, v in self.lots.items()},
            "bases": self.bases,
            "allocations": self.allocations,
            "blocks": self.blocks,
            "leaders": self.leaders,
            "follows": list(self.follows),
            "posts": self.posts,
            "posted": list(self._posted),
        }

    def load(self, data: dict[str, Any], market_id: Any) -> None:
        """Restore what `dump` gave (`market_id` turns a market id's text back into its key)."""
        self.symbols = {market_id(k): v for k, v in data["symbols"].items()}
        self.lots = {k: Decimal(v) for k, v in data["lots"].items()}
        self.bases = dict(data["bases"])
        self.allocations = {k: list(v) for k, v in data["allocations"].items()}
        self.blocks = dict(data["blocks"])
        self.leaders = dict(data["leaders"])
        self.follows = dict.fromkeys(data["follows"])
        self.posts = data["posts"]
        self._posted = deque(data["posted"])
