"""The document's cost, measured once per fragment: depth, aliases, selections, spreads.

A document's real cost is that of its operations with every fragment spread replaced by the
fragment. Expanded literally, `fragment F1 { ...F0 ...F0 }`, `fragment F2 { ...F1 ...F1 }`...
doubles per level: 29 levels (1.2 KB) stand for 2^29 fields, and a rule that walks the
expansion (strawberry's depth and alias limiters do) burns minutes of CPU. Here each
fragment's cost is computed once and remembered, so the walk is linear in the document, and
the totals are those of the expansion (Python integers do not overflow).

Per operation: depth (as strawberry counts it: a top-level field is at depth 0, and
introspection fields are not counted, so GraphiQL's schema query passes), aliases and
selections (fields, `__typename` included); per document: fragment spreads as written.
Each limit broken is one error, with `extensions.code` DEPTH, ALIASES, SELECTIONS or
FRAGMENTS. Fragment cycles and unknown fragments are graphql-core's to report
(NoFragmentCyclesRule, KnownFragmentNamesRule): here they cost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    Visitor,
)


@dataclass(frozen=True)
class DocumentLimits:
    """The largest document the API runs."""

    max_depth: int = 10
    max_aliases: int = 15
    max_selections: int = 2000
    max_fragment_spreads: int = 100


class Cost(NamedTuple):
    """What a selection set costs once every fragment in it is expanded."""

    depth: int  # of its deepest field, counted from the set's own fields (0)
    aliases: int
    selections: int


_FREE = Cost(0, 0, 0)
_CYCLE = object()  # a fragment being measured: meeting it again is a cycle


class _Measure:
    """Costs of one document's selection sets, each fragment measured once."""

    def __init__(self, document: DocumentNode) -> None:
        self._fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self._known: dict[str, Cost | object] = {}

    def selection_set(self, node: SelectionSetNode | None) -> Cost:
        if node is None:
            return _FREE
        depth = aliases = selections = 0
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                inner = self.selection_set(selection.selection_set)
                field_depth = 0
                if selection.selection_set is not None and not _introspection(selection):
                    field_depth = 1 + inner.depth
                cost = Cost(
                    field_depth,
                    inner.aliases + (selection.alias is not None),
                    inner.selections + 1,
                )
            elif isinstance(selection, InlineFragmentNode):
                cost = self.selection_set(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                cost = self.fragment(selection.name.value)
            else:  # pragma: no cover - graphql-core has no other selection
                continue
            depth = max(depth, cost.depth)
            aliases += cost.aliases
            selections += cost.selections
        return Cost(depth, aliases, selections)

    def fragment(self, name: str) -> Cost:
        known = self._known.get(name)
        if isinstance(known, Cost):
            return known
        definition = self._fragments.get(name)
        if known is _CYCLE or definition is None:
            return _FREE
        self._known[name] = _CYCLE
        cost = self.selection_set(definition.selection_set)
        self._known[name] = cost
        return cost


def _introspection(field: FieldNode) -> bool:
    return field.name.value.startswith("__")


def _spreads(document: DocumentNode) -> int:
    """Fragment spreads as written (each counted once, wherever it sits)."""
    count = 0
    stack: list[SelectionSetNode] = [
        definition.selection_set
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                count += 1
            elif (
                isinstance(selection, FieldNode | InlineFragmentNode)
                and selection.selection_set is not None
            ):
                stack.append(selection.selection_set)
    return count


def operation_costs(document: DocumentNode) -> list[tuple[OperationDefinitionNode, Cost]]:
    """Each operation of `document` with its cost, fragments expanded (each measured once)."""
    measure = _Measure(document)
    return [
        (definition, measure.selection_set(definition.selection_set))
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
    ]


def document_errors(document: DocumentNode, limits: DocumentLimits) -> list[GraphQLError]:
    """The limits `document` breaks, one error each (none when it is within them)."""
    errors: list[GraphQLError] = []
    spreads = _spreads(document)
    if spreads > limits.max_fragment_spreads:
        errors.append(
            _error(
                "FRAGMENTS",
                f"The document has {spreads} fragment spreads; the most is "
                f"{limits.max_fragment_spreads}",
                document,
            )
        )
    for definition, cost in operation_costs(document):
        name = f"'{definition.name.value}'" if definition.name else "The operation"
        if cost.depth > limits.max_depth:
            errors.append(
                _error(
                    "DEPTH",
                    f"{name} exceeds maximum operation depth of {limits.max_depth}",
                    definition,
                )
            )
        if cost.aliases > limits.max_aliases:
            errors.append(
                _error(
                    "ALIASES",
                    f"{name} has too many aliases (most: {limits.max_aliases}, fragments "
                    "counted at each use)",
                    definition,
                )
            )
        if cost.selections > limits.max_selections:
            errors.append(
                _error(
                    "SELECTIONS",
                    f"{name} selects too many fields (most: {limits.max_selections}, "
                    "fragments counted at each use)",
                    definition,
                )
            )
    return errors


def _error(code: str, message: str, node: Any) -> GraphQLError:
    return GraphQLError(message, node, extensions={"code": code})


def limits_rule(limits: DocumentLimits) -> type[ASTValidationRule]:
    """A validation rule enforcing `limits`.

    Make it once per schema: strawberry's ValidationCache keys on the rule classes, so a
    class made per request would make every lookup miss.
    """

    class DocumentLimitsRule(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)

        def enter_document(self, node: DocumentNode, *_args: object) -> object:
            for error in document_errors(node, limits):
                self.report_error(error)
            return Visitor.SKIP  # measured already: no need to visit the rest

    return DocumentLimitsRule
