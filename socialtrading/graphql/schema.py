"""The schema: every feature's queries, mutations and subscriptions, and the protections.

Protections: a query depth limit, a token limit and an alias limit (validation rules made
once, so the validation cache keeps hitting), page sizes capped in the resolvers, a rate
limit on mutations (permissions.Guard), and unexpected errors masked. Parsing and validation
are cached: they are most of the cost of a small query.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
    max_aliases,
    query_depth_limiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from socialtrading.graphql.accounts.mutations import AccountMutations
from socialtrading.graphql.accounts.queries import AccountQueries
from socialtrading.graphql.execution import Executor
from socialtrading.graphql.markets.mutations import MarketMutations
from socialtrading.graphql.markets.queries import MarketQueries
from socialtrading.graphql.markets.subscriptions import MarketSubscriptions
from socialtrading.graphql.scalars import SCALARS
from socialtrading.graphql.trading.mutations import TradingMutations
from socialtrading.graphql.trading.queries import TradingQueries
from socialtrading.graphql.trading.subscriptions import TradingSubscriptions
from socialtrading.infra.metrics import GRAPHQL_SECONDS

log = logging.getLogger(__name__)

Query = merge_types("Query", (AccountQueries, MarketQueries, TradingQueries))
Mutation = merge_types("Mutation", (AccountMutations, TradingMutations, MarketMutations))
Subscription = merge_types("Subscription", (MarketSubscriptions, TradingSubscriptions))

CACHE_SIZE = 1024  # distinct query texts whose parse and validation are kept


@dataclass(frozen=True)
class Limits:
    """The document limits (Settings.max_query_depth and friends)."""

    max_depth: int = 10
    max_tokens: int = 2000
    max_aliases: int = 15


class OperationMetrics(SchemaExtension):
    """Time queries and mutations (a subscription's lifetime is not a latency)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        operation = self.execution_context.operation_type
        if operation is not OperationType.SUBSCRIPTION:
            name = operation.value if operation is not None else "invalid"
            GRAPHQL_SECONDS.labels(name).observe(time.perf_counter() - started)


def _unexpected(error: GraphQLError) -> bool:
    """Mask errors that are not ours on purpose (bugs): their text may hold internals."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class ExchangeSchema(strawberry.Schema):
    """Log only the errors that are bugs; refusals are the clients' business."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if _unexpected(error):
                log.error("unexpected error at %s", error.path, exc_info=error.original_error)


def make_schema(limits: Limits | None = None) -> strawberry.Schema:
    """The GraphQL schema with its protections."""
    limits = limits or Limits()
    rules: list[type[ASTValidationRule]] = [
        query_depth_limiter.create_validator(limits.max_depth, None),
        max_aliases.create_validator(limits.max_aliases),
    ]
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: AddValidationRules(rules),
        lambda: ParserCache(maxsize=CACHE_SIZE),
        lambda: ValidationCache(maxsize=CACHE_SIZE),
        lambda: MaskErrors(should_mask_error=_unexpected, error_message="Internal error"),
        OperationMetrics,
    ]
    return ExchangeSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALARS),
        extensions=extensions,
        execution_context_class=Executor,
    )


def sdl() -> str:
    """The schema in SDL, as committed in schema.graphql."""
    return make_schema().as_str() + "\n"
