"""DataLoaders, made per request: one read-model query per kind of row per request.

`me { balances positions openOrders }` over a page of accounts costs one query for all
balances, one for all positions, and so on, instead of one per account.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy import Connection
from strawberry.dataloader import DataLoader

from socialtrading.graphql.compliance.loaders import ComplianceLoaders, make_compliance_loaders
from socialtrading.graphql.copying.loaders import CopyLoaders, make_copy_loaders
from socialtrading.graphql.social.loaders import SocialLoaders, make_social_loaders
from socialtrading.infra.store import EventStore
from socialtrading.projections import accounts, orders, positions
from socialtrading.projections.rows import AccountRow, BalanceRow, OrderRow, PositionRow

P = ParamSpec("P")
T = TypeVar("T")

# The most open orders `openOrders` lists per account.
OPEN_ORDERS_LIMIT = 100


class Reader(Protocol):
    """Runs a read-model query off the event loop (Services.read)."""

    async def __call__(
        self,
        query: Callable[Concatenate[Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T: ...


@dataclass(eq=False)
class Loaders:
    """The request's DataLoaders, keyed by account id or order id (strings)."""

    accounts: DataLoader[str, AccountRow | None]
    balances: DataLoader[str, list[BalanceRow]]
    positions: DataLoader[str, list[PositionRow]]
    open_orders: DataLoader[str, list[OrderRow]]
    orders: DataLoader[str, OrderRow | None]
    social: SocialLoaders
    copying: CopyLoaders
    compliance: ComplianceLoaders


K = TypeVar("K")
V = TypeVar("V")


async def load_fresh(loader: DataLoader[K, V], key: K) -> V:
    """Load `key` past the request's cache (after a mutation changed it)."""
    with suppress(KeyError):  # not cached
        loader.clear(key)
    return await loader.load(key)


def make_loaders(read: Reader, *, cache: bool = True, store: EventStore | None = None) -> Loaders:
    """New loaders over `read` (a request's worth of caching, or none); `store` is read for
    the logged events that alerts' evidence names."""

    async def load_accounts(ids: list[str]) -> list[AccountRow | None]:
        found = await read(accounts.accounts_by_ids, ids)
        return [found.get(i) for i in ids]

    async def load_balances(ids: list[str]) -> list[list[BalanceRow]]:
        found = await read(accounts.balances_of, ids)
        return [found.get(i, []) for i in ids]

    async def load_positions(ids: list[str]) -> list[list[PositionRow]]:
        found = await read(positions.positions_of, ids)
        return [found.get(i, []) for i in ids]

    async def load_open_orders(ids: list[str]) -> list[list[OrderRow]]:
        def query(connection: Connection) -> list[list[OrderRow]]:
            return [
                orders.orders_of(connection, i, first=OPEN_ORDERS_LIMIT, open_only=True)
                for i in ids
            ]

        return await read(query)

    async def load_orders(ids: list[str]) -> list[OrderRow | None]:
        found = await read(orders.orders_by_ids, ids)
        return [found.get(i) for i in ids]

    return Loaders(
        accounts=DataLoader(load_accounts, cache=cache),
        balances=DataLoader(load_balances, cache=cache),
        positions=DataLoader(load_positions, cache=cache),
        open_orders=DataLoader(load_open_orders, cache=cache),
        orders=DataLoader(load_orders, cache=cache),
        social=make_social_loaders(read, cache=cache),
        copying=make_copy_loaders(read, cache=cache),
        compliance=make_compliance_loaders(read, store, cache=cache),
    )
