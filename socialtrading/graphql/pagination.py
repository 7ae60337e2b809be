"""Relay-style connections with opaque cursors and capped page sizes.

A cursor that this API did not give out is refused with BAD_CURSOR before anything is read:
one longer than any cursor we make, not base64 of `kind:value`, an integer outside 0..2^63-1
(the stores' integers), or a time without an offset or outside the DateTime range.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Generic, TypeVar

import strawberry
from graphql import GraphQLError

from socialtrading.graphql.errors import ApiError
from socialtrading.graphql.scalars import parse_datetime

N = TypeVar("N")
R = TypeVar("R")

DEFAULT_PAGE_SIZE = 20
MAX_CURSOR_CHARS = 200  # ours are under 100
MAX_INT_CURSOR = 2**63 - 1


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
    text = ""
    if len(cursor) <= MAX_CURSOR_CHARS:
        with contextlib.suppress(binascii.Error, UnicodeDecodeError, ValueError):
            text = base64.urlsafe_b64decode(cursor.encode()).decode()
    found, _, value = text.partition(":")
    if found != kind or not value:
        raise _bad_cursor()
    return value


def _bad_cursor() -> ApiError:
    return ApiError("BAD_CURSOR", "`after` is not a cursor this field gave out")


def int_cursor(kind: str, cursor: str | None) -> int | None:
    """The integer inside a cursor of `kind`."""
    value = decode_cursor(kind, cursor)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_INT_CURSOR:
        raise _bad_cursor()
    return int(value)


def datetime_cursor(kind: str, cursor: str | None) -> datetime | None:
    """The time (with its offset, as UTC) inside a cursor of `kind`."""
    value = decode_cursor(kind, cursor)
    if value is None:
        return None
    try:
        return parse_datetime(value)
    except GraphQLError:
        raise _bad_cursor() from None


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
