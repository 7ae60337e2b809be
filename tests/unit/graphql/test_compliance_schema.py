"""Alerts are reachable only through fields open to analysts: every query, mutation and
subscription from which an alert, its evidence, its case history or a logged event can be
reached carries the `@isAnalyst` rule (a field added later that leads there without it
fails here)."""

from __future__ import annotations

from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLUnionType,
    build_schema,
    get_named_type,
)

from socialtrading.graphql.schema import sdl

COMPLIANCE_TYPES = {"Alert", "Evidence", "CaseEvent", "LoggedEvent"}


def _reachable(start: GraphQLNamedType) -> set[str]:
    """The names of every output type reachable from `start` through fields and unions."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        kind = todo.pop()
        if kind.name in seen:
            continue
        seen.add(kind.name)
        if isinstance(kind, GraphQLObjectType | GraphQLInterfaceType):
            todo.extend(get_named_type(field.type) for field in kind.fields.values())
        elif isinstance(kind, GraphQLUnionType):
            todo.extend(kind.types)
    return seen


def _directives(field: GraphQLField) -> set[str]:
    node = field.ast_node
    if node is None:
        return set()
    return {directive.name.value for directive in node.directives or ()}


def test_every_way_to_an_alert_needs_the_analyst_rule() -> None:
    schema = build_schema(sdl())
    leading = []
    for root in (schema.query_type, schema.mutation_type, schema.subscription_type):
        assert root is not None
        for name, field in root.fields.items():
            if _reachable(get_named_type(field.type)) & COMPLIANCE_TYPES:
                leading.append(f"{root.name}.{name}")
                assert {"isAuthenticated", "isAnalyst"} <= _directives(field), name
    assert sorted(leading) == [
        "Mutation.acknowledgeAlert",
        "Mutation.addAlertNote",
        "Mutation.closeAlert",
        "Mutation.dismissAlert",
        "Mutation.escalateAlert",
        "Query.alert",
        "Query.alerts",
        "Subscription.alerts",
    ]
