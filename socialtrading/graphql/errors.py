"""How the API says no.

Mutations answer with a `Rejection` (a member of their result union) carrying a stable code:
clients branch on `__typename` and `code`. Queries and subscriptions raise `ApiError`, a
GraphQL error with `extensions.code`. Anything else that escapes a resolver is a bug: its
message is masked (see schema.py), and it is logged, never sent as a stack trace.
"""

from __future__ import annotations

import re

import strawberry
from graphql import GraphQLError
from pydantic import ValidationError


@strawberry.type(description="Why a mutation was refused. Nothing was changed.")
class Rejection:
    code: str = strawberry.field(description="Stable, machine-readable reason, e.g. kyc_required")
    message: str = strawberry.field(description="What went wrong, for people")


ECHO_CHARS = 64  # the most of a client's value that a message repeats


class ApiError(GraphQLError):
    """A refusal of a query or subscription, with `extensions.code` (upper case)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, extensions={"code": code})


def bad_input(message: str) -> ApiError:
    """The error of an argument or variable that its type refuses (BAD_USER_INPUT)."""
    return ApiError("BAD_USER_INPUT", message)


def clip(value: object, limit: int = ECHO_CHARS) -> str:
    """A value as a message may echo it: its first `limit` characters, then "..."."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


MAX_MESSAGE_CHARS = 500
_LONG_QUOTE = re.compile(f"'([^']{{{ECHO_CHARS}}})[^']+'|\"([^\"]{{{ECHO_CHARS}}})[^\"]+\"")


def shorten(message: str) -> str:
    """A message with every quoted value cut to ECHO_CHARS, and the whole to MAX_MESSAGE_CHARS.

    graphql-core quotes the values it echoes ("Value 'BYU' does not exist in 'Side' enum",
    an unknown input field's name): without this a 1 MB value would come back whole.
    """
    if len(message) <= ECHO_CHARS:
        return message

    def cut(found: re.Match[str]) -> str:
        quote = found.group(0)[0]
        return f"{quote}{found.group(1) or found.group(2)}...{quote}"

    return clip(_LONG_QUOTE.sub(cut, message), MAX_MESSAGE_CHARS)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def describe(error: ValidationError) -> str:
    """A readable one-line summary of a pydantic error, with GraphQL field names."""
    parts = []
    for detail in error.errors(include_url=False):
        where = ".".join(_camel(str(item)) for item in detail["loc"])
        message = clip(re.sub(r"^Value error, ", "", detail["msg"]), 2 * ECHO_CHARS)
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def invalid_input(error: ValidationError) -> Rejection:
    """The Rejection of a command that failed validation."""
    return Rejection(code="invalid_input", message=describe(error))
