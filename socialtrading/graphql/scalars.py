"""Scalars: `Decimal` as a decimal string (never a float) and `DateTime` as ISO 8601 UTC.

Inputs: a Decimal arrives as a string ("100.25") or an integer; a JSON float is refused
because it has already lost exactness. Any decimal string parses here, "NaN" included: the
command models decide what is acceptable and answer with a Rejection, not a GraphQL error.
A DateTime must carry its offset ("2026-11-22T21:00:00Z"); it is converted to UTC and lies
within the years 1970 to 9999, so that it always fits the stores' integer microseconds.
Refusals are GraphQL errors with `extensions.code` BAD_USER_INPUT (a plain ValueError would
be masked as "Internal error"), and they echo at most a short prefix of the value.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import strawberry
from graphql import FloatValueNode, GraphQLError, IntValueNode, StringValueNode, ValueNode
from strawberry.types.scalar import ScalarDefinition

from socialtrading.domain.money import CONTEXT as EXACT
from socialtrading.graphql.errors import bad_input, clip

_T = TypeVar("_T")
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def format_decimal(value: Decimal) -> str:
    """Render without exponent and without trailing zeros ("100", "0.5", "100.25")."""
    if not value.is_finite():
        return str(value)
    # the exact context: the thread's (28 digits) would round sums of many max-size orders
    return format(value.normalize(EXACT), "f")


def parse_decimal(value: object) -> Decimal:
    """Read a Decimal input from a string or an integer."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise bad_input('a Decimal is sent as a string, such as "100.25"')
    try:
        return Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError):
        raise bad_input(f"{clip(value)!r} is not a decimal number") from None


def _decimal_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> Decimal:
    # A literal keeps its source text, so even a float literal (1.25) is exact here.
    if isinstance(node, StringValueNode | IntValueNode | FloatValueNode):
        return _at(node, parse_decimal, node.value)
    raise _at_node(node, bad_input("a Decimal is a string or a number literal"))


def _at(node: ValueNode, parse: Callable[[object], _T], value: object) -> _T:
    """`parse(value)`, its refusal pointing at the literal (graphql-core leaves it unplaced)."""
    try:
        return parse(value)
    except GraphQLError as error:
        raise _at_node(node, error) from None


def _at_node(node: ValueNode, error: GraphQLError) -> GraphQLError:
    return GraphQLError(error.message, node, extensions=error.extensions)


def format_datetime(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, e.g. 2026-11-22T21:00:00.123456Z."""
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not served: times are UTC")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_datetime(value: object) -> datetime:
    """Read an ISO 8601 time with an offset, as UTC, within the years 1970 to 9999."""
    if not isinstance(value, str):
        raise bad_input("a DateTime is an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise bad_input(f"{clip(value)!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise bad_input("a DateTime needs an offset, such as 2026-11-22T21:00:00Z")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00:00-05:00 is in the year 10000
        raise _out_of_range() from None
    if not EARLIEST <= moment <= LATEST:
        raise _out_of_range()
    return moment


def _out_of_range() -> Exception:
    return bad_input("a DateTime lies between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z")


def _datetime_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> datetime:
    if isinstance(node, StringValueNode):
        return _at(node, parse_datetime, node.value)
    raise _at_node(node, bad_input("a DateTime is an ISO 8601 string"))


SCALARS: dict[object, ScalarDefinition] = {
    Decimal: strawberry.scalar(
        name="Decimal",
        description='An exact decimal number, sent and received as a string: "100.25".',
        serialize=format_decimal,
        parse_value=parse_decimal,
        parse_literal=_decimal_literal,
    ),
    datetime: strawberry.scalar(
        name="DateTime",
        description='A point in time, ISO 8601 in UTC: "2026-11-22T21:00:00.123456Z".',
        serialize=format_datetime,
        parse_value=parse_datetime,
        parse_literal=_datetime_literal,
    ),
}
"""Annotations use Decimal and datetime; the schema's `scalar_map` maps them onto these."""
