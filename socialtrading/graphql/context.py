"""The typed request context: the app's services, the caller, and per-request DataLoaders.

Callers authenticate with an API token: `Authorization: Bearer <token>` on HTTP, or the
websocket `connection_init` payload `{"Authorization": "Bearer <token>"}` (the handshake
header works too). Only the SHA-256 hash of a token is stored; the account is looked up
by that hash in the accounts read model, once per request (on a websocket connection, again
when the last look-up is more than a second old), so a revoked or expired token stops working
at once. When each token was last used is kept in memory per process (`TokenUses`), never
stored: a request must not cost a write.
Limits count per account, whatever token it uses, and anonymous callers per client address
(graphql/clients.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, TypeVar
from uuid import UUID

import strawberry
from sqlalchemy import Connection, Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from socialtrading.commands.writer import Writer
from socialtrading.domain.account import ADMIN, COMPLIANCE
from socialtrading.domain.time import to_micros
from socialtrading.domain.tokens import hash_token
from socialtrading.graphql.clients import TrustedProxies, address_key, client_address
from socialtrading.graphql.feeds import Feeds
from socialtrading.graphql.loaders import Loaders, make_loaders
from socialtrading.graphql.ratelimit import RateLimiter
from socialtrading.graphql.slots import Slots
from socialtrading.graphql.social.limits import SocialLimits
from socialtrading.infra.bus import Bus
from socialtrading.infra.progress import ProgressWatcher
from socialtrading.infra.settings import Settings
from socialtrading.projections import accounts, markets
from socialtrading.projections.rows import AccountRow
from socialtrading.projections.runner import ProjectionRunner

P = ParamSpec("P")
T = TypeVar("T")

# How long a websocket connection's look-up of its token is trusted (a token revoked
# meanwhile stops working for new operations after this).
WEBSOCKET_VIEWER_SECONDS = 1.0


class TokenUses:
    """When each token (by public id) was last used, in this process; bounded in size."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._last: dict[str, datetime] = {}

    def used(self, token_id: str, at: datetime) -> None:
        """Record a use of `token_id` at `at`."""
        last = self._last
        if token_id not in last and len(last) >= self.limit:
            del last[next(iter(last))]  # forget the least recently first-seen token
        last[token_id] = at

    def last(self, token_id: str) -> datetime | None:
        """When `token_id` was last used in this process (None: not since it started)."""
        return self._last.get(token_id)


def bearer(value: object) -> str | None:
    """The token of an `Authorization: Bearer <token>` value, if it is one."""
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


@dataclass(eq=False)
class Services:
    """What resolvers use: the writer, the read models, the bus, the limits."""

    settings: Settings
    writer: Writer
    runner: ProjectionRunner
    read_engine: Engine
    bus: Bus
    progress: ProgressWatcher
    limiter: RateLimiter  # mutations
    query_limiter: RateLimiter  # every request and WebSocket operation
    proxies: TrustedProxies = field(default_factory=TrustedProxies)
    # Open WebSockets and subscriptions, by client (connection and subscription keys differ).
    slots: Slots = field(default_factory=Slots)
    feeds: Feeds = field(default_factory=Feeds)
    # Symbols known to be listed: markets are never delisted, so one lookup each is enough.
    listed_markets: set[str] = field(default_factory=set)
    token_uses: TokenUses = field(default_factory=TokenUses)
    social_limits: SocialLimits = field(default_factory=SocialLimits)  # per account and kind

    def is_listed(self, connection: Connection, symbol: str) -> bool:
        """Whether `symbol` is a listed market (in a read-model query)."""
        if symbol in self.listed_markets:
            return True
        if markets.market(connection, symbol) is None:
            return False
        self.listed_markets.add(symbol)
        return True

    async def read(
        self,
        query: Callable[Concatenate[Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run a read-model query: inline on SQLite, in a worker thread on PostgreSQL.

        A SQLite read-model query is short CPU work (WAL readers do not wait for the
        projections' writes), so it runs on the event loop; a PostgreSQL query waits on the
        network, so it runs in a thread and leaves the event loop free meanwhile.
        """

        def run() -> T:
            with self.read_engine.connect() as connection:
                return query(connection, *args, **kwargs)

        if self.read_engine.dialect.name == "sqlite":
            return run()
        return await asyncio.to_thread(run)


@dataclass(eq=False)
class Context:
    """One HTTP request's (or one websocket connection's) context."""

    services: Services
    request: Request | WebSocket
    response: Response | WebSocket
    loaders: Loaders
    token: str | None = None
    # Set by strawberry from the websocket `connection_init` payload.
    connection_params: dict[str, Any] | None = None
    # Keys of the Services.slots a websocket holds, given back when it closes.
    held: list[str] = field(default_factory=list)
    _viewer: asyncio.Future[AccountRow | None] | None = field(default=None, repr=False)
    _viewer_at: float = field(default=0.0, repr=False)  # monotonic time of the look-up
    token_id: str | None = field(default=None, repr=False)  # the valid token's public id

    async def viewer(self) -> AccountRow | None:
        """The authenticated account, or None (anonymous, or a token revoked, expired or
        unknown)."""
        if self.token is None:
            return None
        if (
            self._viewer is not None
            and isinstance(self.request, WebSocket)
            and time.monotonic() - self._viewer_at > WEBSOCKET_VIEWER_SECONDS
        ):
            self._viewer = None  # long-lived: the token may have been revoked since
        if self._viewer is None:
            self._viewer_at = time.monotonic()
            self._viewer = asyncio.ensure_future(self._look_up(self.token))
        elif self._viewer.done():  # asked by every guard and private field: answer at once
            return self._viewer.result()
        return await asyncio.shield(self._viewer)

    async def _look_up(self, token: str) -> AccountRow | None:
        now = datetime.now(UTC)  # the read side may use the wall clock: expiry is checked here
        found = await self.services.read(
            accounts.account_for_token, hash_token(token), to_micros(now)
        )
        if found is None:
            self.token_id = None
            return None
        row, self.token_id = found
        self.services.token_uses.used(self.token_id, now)
        return row

    def forget_viewer(self) -> None:
        """Look the account up again at next use (the token changed)."""
        self._viewer = None

    async def actor(self) -> UUID:
        """The caller's account id, in resolvers that a guard lets in only when signed in."""
        viewer = await self.viewer()
        if viewer is None:
            raise RuntimeError("this resolver needs an IsAuthenticated guard")
        return UUID(viewer.id)

    async def is_staff(self) -> bool:
        """Whether the caller is an admin or a compliance analyst."""
        viewer = await self.viewer()
        return viewer is not None and bool({ADMIN, COMPLIANCE} & set(viewer.roles))

    def client_address(self) -> str:
        """The caller's IP address (X-Forwarded-For only from a trusted proxy)."""
        return client_address(self.request, self.services.proxies)

    async def client_key(self) -> str:
        """Who the limits count: the account when the token is valid, else the address.

        By account, not by token: an account's tokens share its limits.
        """
        viewer = await self.viewer()
        if viewer is not None:
            return "account:" + viewer.id
        return "ip:" + address_key(self.client_address())


def make_context(
    services: Services,
    request: Request | WebSocket,
    response: Response | WebSocket,
) -> Context:
    """A fresh context: the header's token, and new DataLoaders.

    A websocket connection lives long, so its loaders batch but do not cache: each
    subscription event reads current rows.
    """
    websocket = isinstance(request, WebSocket)
    return Context(
        services=services,
        request=request,
        response=response,
        loaders=make_loaders(services.read, cache=not websocket, store=services.writer.store),
        token=bearer(request.headers.get("authorization")),
    )


Info = strawberry.Info[Context, None]
