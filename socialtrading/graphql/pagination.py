"""Relay-style connections with opaque cursors and capped page sizes."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import strawberry

from socialtrading.graphql.errors import ApiError

N = TypeVar("N")
R = TypeVar("R")

DEFAULT_PAGE_SIZE = 20


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[N]):
    cursor: str
    node: N


@strawberry.type
class Connection(Generic[N]):
    edges: list[Edge[N]]
    page_info: PageInfo


def encode_cursor(kind: str, value: str) -> str:
    """An opaque cursor: base64 of `kind:value`."""
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode()


def decode_cursor(kind: str, cursor: str | None) -> str | None:
    """The value inside a cursor of `kind`; ApiError when it is not one."""
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    found, _, value = text.partition(":")
    if found != kind or not value:
        raise ApiError("BAD_CURSOR", "`after` is not a cursor this field gave out")
    return value


def int_cursor(kind: str, cursor: str | None) -> int | None:
    """The integer inside a cursor of `kind`."""
    value = decode_cursor(kind, cursor)
    if value is None:
        return None
    if not value.isdigit():
        raise ApiError("BAD_CURSOR", "`after` is not a cursor this field gave out")
    return int(value)


def page_size(first: int | None, maximum: int) -> int:
    """`first`, defaulted and checked against the cap."""
    size = DEFAULT_PAGE_SIZE if first is None else first
    if not 1 <= size <= maximum:
        raise ApiError("PAGE_SIZE", f"`first` must be between 1 and {maximum}")
    return size


def paginate(
    rows: Sequence[R],
    size: int,
    kind: str,
    key: Callable[[R], object],
    node: Callable[[R], N],
) -> Connection[N]:
    """A page from rows fetched with one extra row (which says there is a next page)."""
    page = rows[:size]
    edges = [Edge(cursor=encode_cursor(kind, str(key(row))), node=node(row)) for row in page]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > size,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
