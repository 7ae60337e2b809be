"""The schema: every feature's queries, mutations and subscriptions, and the protections.

Protections: a token limit (the parser's), one validation rule bounding each operation's
depth, aliases and selections and the document's fragment spreads (validation.py: each
fragment measured once; the rule is made once, so the validation cache keeps hitting),
introspection off unless asked for, a time limit on queries and mutations, page sizes capped
in the resolvers, a rate limit on mutations (permissions.Guard), and unexpected errors
masked. Parsing and validation are cached: they are most of the cost of a small query.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.execution import StreamExecutionResult
from strawberry.types.graphql import OperationType

from socialtrading.graphql.accounts.mutations import AccountMutations
from socialtrading.graphql.accounts.queries import AccountQueries
from socialtrading.graphql.compliance.mutations import ComplianceMutations
from socialtrading.graphql.compliance.queries import ComplianceQueries
from socialtrading.graphql.compliance.subscriptions import ComplianceSubscriptions
from socialtrading.graphql.compliance.trails import TrailQueries
from socialtrading.graphql.copying.mutations import CopyMutations
from socialtrading.graphql.copying.queries import CopyQueries
from socialtrading.graphql.copying.subscriptions import CopySubscriptions
from socialtrading.graphql.errors import ApiError, shorten
from socialtrading.graphql.execution import Executor
from socialtrading.graphql.markets.mutations import MarketMutations
from socialtrading.graphql.markets.queries import MarketQueries
from socialtrading.graphql.markets.subscriptions import MarketSubscriptions
from socialtrading.graphql.scalars import SCALARS
from socialtrading.graphql.social.mutations import SocialMutations
from socialtrading.graphql.social.queries import SocialQueries
from socialtrading.graphql.social.subscriptions import SocialSubscriptions
from socialtrading.graphql.stats.queries import StatsQueries
from socialtrading.graphql.trading.mutations import TradingMutations
from socialtrading.graphql.trading.queries import TradingQueries
from socialtrading.graphql.trading.subscriptions import TradingSubscriptions
from socialtrading.graphql.validation import DocumentLimits, limits_rule
from socialtrading.infra.metrics import GRAPHQL_SECONDS

log = logging.getLogger(__name__)

Query = merge_types(
    "Query",
    (
        AccountQueries,
        MarketQueries,
        TradingQueries,
        SocialQueries,
        CopyQueries,
        StatsQueries,
        ComplianceQueries,
        TrailQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        AccountMutations,
        TradingMutations,
        MarketMutations,
        SocialMutations,
        CopyMutations,
        ComplianceMutations,
    ),
)
Subscription = merge_types(
    "Subscription",
    (
        MarketSubscriptions,
        TradingSubscriptions,
        SocialSubscriptions,
        CopySubscriptions,
        ComplianceSubscriptions,
    ),
)

CACHE_SIZE = 1024  # distinct query texts whose parse and validation are kept


@dataclass(frozen=True)
class Limits:
    """The request limits (Settings.max_query_depth and friends)."""

    max_depth: int = 10
    max_tokens: int = 2000
    max_aliases: int = 15
    max_selections: int = 2000
    max_fragment_spreads: int = 100
    max_seconds: float | None = 5.0  # a query or mutation running longer is cancelled
    max_objects: int = 5_000  # objects one operation may build (execution.Executor)


class OperationMetrics(SchemaExtension):
    """Time queries and mutations (a subscription's lifetime is not a latency)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        operation = self.execution_context.operation_type
        if operation is not OperationType.SUBSCRIPTION:
            name = operation.value if operation is not None else "invalid"
            GRAPHQL_SECONDS.labels(name).observe(time.perf_counter() - started)


class ShortMessages(SchemaExtension):
    """Cut the values that error messages echo (errors.shorten), graphql-core's included."""

    def on_operation(self) -> Iterator[None]:
        yield
        _shorten_result(self.execution_context.result)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        """Each result of a subscription (or a query over a WebSocket), before it is sent."""
        _shorten_result(result)
        yield


def _shorten_result(result: object) -> None:
    errors = getattr(result, "errors", None)
    if errors:
        result.errors = [_shortened(error) for error in errors]  # type: ignore[attr-defined]


def _shortened(error: GraphQLError) -> GraphQLError:
    message = shorten(error.message)
    if message == error.message:
        return error
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=error.extensions,
    )


def _unexpected(error: GraphQLError) -> bool:
    """Mask errors that are not ours on purpose (bugs): their text may hold internals.

    An error without a path is about the document (parsing, validation), whatever raised it:
    graphql-core reports a literal its scalar cannot read (an Int of 5,000 digits meets
    Python's limit on converting digit strings) with that ValueError as the original error.
    It is the client's error, and its text is cut like every echo.
    """
    original = error.original_error
    return (
        original is not None and not isinstance(original, GraphQLError) and error.path is not None
    )


class ExchangeSchema(strawberry.Schema):
    """Log only the errors that are bugs; cancel a query or mutation that runs too long."""

    max_seconds: float | None = None

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """Run a query or mutation; answer TIMEOUT if it takes over `max_seconds`.

        Only awaiting can be cancelled (a slow read, a mutation waiting for the read
        models); CPU is bounded by the document limits instead. A cancelled mutation may
        still take effect, as when the connection drops.
        """
        if allowed_operation_types is not None:
            # Subscriptions run over the WebSocket only: strawberry would run one sent over
            # HTTP as a query, which fails on its stream ("Internal error").
            allowed_operation_types = [
                kind for kind in allowed_operation_types if kind is not OperationType.SUBSCRIPTION
            ]
        limit = asyncio.timeout(self.max_seconds)
        try:
            async with limit:
                return await super().execute(
                    query,
                    variable_values,
                    context_value,
                    root_value,
                    operation_name,
                    allowed_operation_types,
                    operation_extensions,
                )
        except TimeoutError:
            if not limit.expired():
                raise
        log.warning("operation %r cancelled after %s s", operation_name, self.max_seconds)
        return ExecutionResult(
            data=None,
            errors=[
                ApiError(
                    "TIMEOUT", f"The request took over {self.max_seconds:g} s and was cancelled"
                )
            ],
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if _unexpected(error):
                log.error("unexpected error at %s", error.path, exc_info=error.original_error)


def make_schema(limits: Limits | None = None, *, introspection: bool = True) -> strawberry.Schema:
    """The GraphQL schema with its protections; `introspection=False` refuses `__schema`."""
    limits = limits or Limits()
    rules: list[type[ASTValidationRule]] = [
        limits_rule(
            DocumentLimits(
                max_depth=limits.max_depth,
                max_aliases=limits.max_aliases,
                max_selections=limits.max_selections,
                max_fragment_spreads=limits.max_fragment_spreads,
            )
        )
    ]
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: AddValidationRules(rules),
        lambda: ParserCache(maxsize=CACHE_SIZE),
        lambda: ValidationCache(maxsize=CACHE_SIZE),
        lambda: MaskErrors(should_mask_error=_unexpected, error_message="Internal error"),
        ShortMessages,
        OperationMetrics,
    ]
    schema = ExchangeSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALARS),
        extensions=extensions,
        execution_context_class=type(
            "LimitedExecutor", (Executor,), {"max_objects": limits.max_objects}
        ),
    )
    schema.max_seconds = limits.max_seconds
    return schema


def sdl() -> str:
    """The schema in SDL, as committed in schema.graphql."""
    return make_schema().as_str() + "\n"
