"""Scalars: `Decimal` as a decimal string (never a float) and `DateTime` as ISO 8601 UTC.

Inputs: a Decimal arrives as a string ("100.25") or an integer; a JSON float is refused
because it has already lost exactness. Any decimal string parses here, "NaN" included: the
command models decide what is acceptable and answer with a Rejection, not a GraphQL error.
A DateTime must carry its offset ("2026-11-22T21:00:00Z"); it is converted to UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import strawberry
from graphql import FloatValueNode, IntValueNode, StringValueNode, ValueNode
from strawberry.types.scalar import ScalarDefinition


def format_decimal(value: Decimal) -> str:
    """Render without exponent and without trailing zeros ("100", "0.5", "100.25")."""
    if not value.is_finite():
        return str(value)
    return format(value.normalize(), "f")


def parse_decimal(value: object) -> Decimal:
    """Read a Decimal input from a string or an integer."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError('a Decimal is sent as a string, such as "100.25"')
    try:
        return Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number") from None


def _decimal_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> Decimal:
    # A literal keeps its source text, so even a float literal (1.25) is exact here.
    if isinstance(node, StringValueNode | IntValueNode | FloatValueNode):
        return parse_decimal(node.value)
    raise ValueError("a Decimal is a string or a number literal")


def format_datetime(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, e.g. 2026-11-22T21:00:00.123456Z."""
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not served: times are UTC")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_datetime(value: object) -> datetime:
    """Read an ISO 8601 time with an offset, as UTC."""
    if not isinstance(value, str):
        raise ValueError("a DateTime is an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError("a DateTime needs an offset, such as 2026-11-22T21:00:00Z")
    return moment.astimezone(UTC)


def _datetime_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> datetime:
    if isinstance(node, StringValueNode):
        return parse_datetime(node.value)
    raise ValueError("a DateTime is an ISO 8601 string")


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
