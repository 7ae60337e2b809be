"""The social DataLoaders, made per request with the others (graphql/loaders.py).

What a viewer may read depends on who asks (hidden content is shown to its author only), so
the post and comment loaders are keyed by `(viewer, id)`, the viewer's id text or "" for an
anonymous caller; so are `viewerFollows` and `viewerLiked`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Connection
from strawberry.dataloader import DataLoader

from socialtrading.projections import markets
from socialtrading.projections.social import queries
from socialtrading.projections.social.rows import CommentRow, PostRow, ProfileRow

if TYPE_CHECKING:
    from socialtrading.graphql.loaders import Reader

Viewed = tuple[str, str]  # (viewer id text or "", the id of what is read)
K = TypeVar("K")
V = TypeVar("V")


@dataclass(eq=False)
class SocialLoaders:
    """Profiles by account id; posts, comments, follows and likes by (viewer, id)."""

    profiles: DataLoader[str, ProfileRow | None]
    posts: DataLoader[Viewed, PostRow | None]
    comments: DataLoader[Viewed, CommentRow | None]
    follows: DataLoader[Viewed, bool]
    likes: DataLoader[Viewed, bool]
    last_prices: DataLoader[str, Decimal | None]


def _by_viewer(keys: Sequence[Viewed]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for viewer, key in keys:
        ids = grouped.setdefault(viewer, [])
        if key not in ids:
            ids.append(key)
    return grouped


def _per_viewer(
    read: Reader,
    query: Callable[[Connection, str, list[str]], dict[str, V]],
) -> Callable[[list[Viewed]], Awaitable[list[V | None]]]:
    async def load(keys: list[Viewed]) -> list[V | None]:
        def run(connection: Connection) -> dict[Viewed, V]:
            found: dict[Viewed, V] = {}
            for viewer, ids in _by_viewer(keys).items():
                for key, value in query(connection, viewer, ids).items():
                    found[viewer, key] = value
            return found

        found = await read(run)
        return [found.get(key) for key in keys]

    return load


def _posts(connection: Connection, viewer: str, ids: list[str]) -> dict[str, PostRow]:
    return queries.posts_by_ids(connection, ids, viewer or None)


def _comments(connection: Connection, viewer: str, ids: list[str]) -> dict[str, CommentRow]:
    return queries.comments_by_ids(connection, ids, viewer or None)


def _follows(connection: Connection, viewer: str, ids: list[str]) -> dict[str, bool]:
    if not viewer:
        return {}
    return dict.fromkeys(queries.followed_by(connection, viewer, ids), True)


def _likes(connection: Connection, viewer: str, ids: list[str]) -> dict[str, bool]:
    if not viewer:
        return {}
    return dict.fromkeys(queries.liked_by(connection, viewer, ids), True)


def make_social_loaders(read: Reader, *, cache: bool = True) -> SocialLoaders:
    """New social loaders over `read` (a request's worth of caching, or none)."""

    async def load_profiles(ids: list[str]) -> list[ProfileRow | None]:
        found = await read(queries.profiles_by_ids, ids)
        return [found.get(i) for i in ids]

    async def load_prices(symbols: list[str]) -> list[Decimal | None]:
        def run(connection: Connection) -> list[Decimal | None]:
            rows = [markets.market(connection, symbol) for symbol in symbols]
            return [None if row is None else row.last_price for row in rows]

        return await read(run)

    load_follows = _per_viewer(read, _follows)
    load_likes = _per_viewer(read, _likes)

    async def follows(keys: list[Viewed]) -> list[bool]:
        return [bool(value) for value in await load_follows(keys)]

    async def likes(keys: list[Viewed]) -> list[bool]:
        return [bool(value) for value in await load_likes(keys)]

    return SocialLoaders(
        profiles=DataLoader(load_profiles, cache=cache),
        posts=DataLoader(_per_viewer(read, _posts), cache=cache),
        comments=DataLoader(_per_viewer(read, _comments), cache=cache),
        follows=DataLoader(follows, cache=cache),
        likes=DataLoader(likes, cache=cache),
        last_prices=DataLoader(load_prices, cache=cache),
    )
