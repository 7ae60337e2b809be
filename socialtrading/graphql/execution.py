"""The executor: graphql-core's, with a short path for plain scalar fields.

graphql-core completes every field the same general way: it builds a resolve-info object and
a path, calls the field's resolver, then works out from the field's type how to complete the
value, and an object's fields go through the same machinery one by one. For a field that
strawberry resolves as a plain attribute (no resolver, no extensions) and whose type is a
scalar or an enum, such as the price, quantity and count of each level of an order book,
that machinery is most of what the field costs. This executor reads such a field straight
from its object and coerces it with the type's own `coerce_output_value` (which is how the
general way ends too); an object whose selected fields are all such fields (a book level, a
balance) is built in one go.

Anything else, and anything unusual on the short path (a null where none is allowed, an
exception, a value the scalar refuses), goes the general way, which then gives the same
answer or the same error as without this executor: reading a plain field again is harmless.
The short path is off when field middleware (a schema extension with a `resolve` hook) must
see every field, and for deferred selections and types with an `is_type_of` check.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, NamedTuple

from graphql import (
    GraphQLError,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    Undefined,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField


class _Plain(NamedTuple):
    """A plain scalar field: read from the object, coerced by its type."""

    field: StrawberryField
    type: GraphQLLeafType
    non_null: bool


_UNUSUAL = object()  # the short path does not apply: take the general way
_SCALAR_VALUES = frozenset({str, int, bool, Decimal, datetime})  # surely not awaitable


def _read(plain: _Plain, source: Any, is_awaitable: Callable[[Any], bool]) -> Any:
    """The completed value of a plain field of `source`, or _UNUSUAL."""
    try:
        value = plain.field.get_result(source, None, [], {})
        if value is None:
            return _UNUSUAL if plain.non_null else None
        if type(value) not in _SCALAR_VALUES and (
            value is Undefined or isinstance(value, Exception) or is_awaitable(value)
        ):
            return _UNUSUAL
        coerced = plain.type.coerce_output_value(value)
    except Exception:  # the general way reports it
        return _UNUSUAL
    return _UNUSUAL if coerced is None or coerced is Undefined else coerced


# Per schema: (object type name, field name) -> the field if plain, else None.
_plans: weakref.WeakKeyDictionary[GraphQLSchema, dict[tuple[str, str], _Plain | None]] = (
    weakref.WeakKeyDictionary()
)


def _plan(schema: GraphQLSchema, parent_type: GraphQLObjectType, name: str) -> _Plain | None:
    field_def = schema.get_field(parent_type, name)
    if field_def is None or field_def.args:
        return None
    field = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(field, StrawberryField) or not field.is_basic_field:
        return None
    type_ = field_def.type
    non_null = isinstance(type_, GraphQLNonNull)
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if not is_leaf_type(inner):
        return None
    return _Plain(field, inner, non_null)


class Executor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, with the short path for plain scalar fields, and a cap on the
    objects one operation may build (`max_objects`).

    The document limits (depth, aliases, selections) count what a query writes, not what it
    makes: fifteen aliases of `me` with a hundred orders each, every order with its account's
    open orders, are a short document and a 20 MB answer that holds the event loop for
    seconds. Counting the objects as they are completed bounds that work whatever the shape;
    past the cap every further object fails at once (`RESULT_TOO_LARGE`).
    """

    max_objects: ClassVar[int] = 5_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._built = 0
        # Field middleware (extensions with a `resolve` hook) must see every field.
        manager = self.middleware_manager
        self._short = manager is None or not manager.middlewares
        plans = _plans.get(self.schema)
        if plans is None:
            plans = _plans.setdefault(self.schema, {})
        self._plans = plans
        # This operation's selections of objects: id -> (the selection, its plain fields or
        # None). The selection is kept so that its id stays its own.
        self._objects: dict[int, tuple[GroupedFieldSet, list[tuple[str, _Plain]] | None]] = {}

    def _plain(self, parent_type: GraphQLObjectType, name: str) -> _Plain | None:
        key = (parent_type.name, name)
        try:
            return self._plans[key]
        except KeyError:
            plain = self._plans[key] = _plan(self.schema, parent_type, name)
            return plain

    def _plain_fields(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> list[tuple[str, _Plain]] | None:
        """The selection's fields if all are plain (by response name), else None."""
        known = self._objects.get(id(grouped_field_set))
        if known is not None:
            return known[1]
        found = [
            (response_name, self._plain(parent_type, field_details_list[0].node.name.value))
            for response_name, field_details_list in grouped_field_set.items()
        ]
        plain = [(response_name, field) for response_name, field in found if field is not None]
        fields = plain if len(plain) == len(found) else None
        self._objects[id(grouped_field_set)] = (grouped_field_set, fields)
        return fields

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        self._built += 1
        if self._built > self.max_objects:
            raise GraphQLError(
                f"The answer would hold more than {self.max_objects} objects: ask for less"
                " (smaller pages, fewer aliases, less nesting)",
                extensions={"code": "RESULT_TOO_LARGE"},
            )
        if self._short and return_type.is_type_of is None and position_context is None:
            grouped_field_set, new_defer_usages, _ = self.collect_subfields(
                return_type, field_details_list
            )
            fields = (
                None if new_defer_usages else self._plain_fields(return_type, grouped_field_set)
            )
            if fields is not None:
                data = _read_all(fields, result, self.is_awaitable)
                if data is not None:
                    return data
        return super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        if self._short:
            plain = self._plain(parent_type, field_details_list[0].node.name.value)
            if plain is not None:
                value = _read(plain, source, self.is_awaitable)
                if value is not _UNUSUAL:
                    return value
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )


def _read_all(
    fields: Sequence[tuple[str, _Plain]], source: Any, is_awaitable: Callable[[Any], bool]
) -> dict[str, Any] | None:
    """An object of plain fields, completed; None if any field is unusual."""
    data: dict[str, Any] = {}
    for response_name, plain in fields:
        value = _read(plain, source, is_awaitable)
        if value is _UNUSUAL:
            return None
        data[response_name] = value
    return data
