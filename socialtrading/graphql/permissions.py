"""Who may do what: permission rules, usable on fields and on mutations.

On a query field or a subscription a rule that fails raises a GraphQL error with
`extensions.code` (UNAUTHENTICATED or FORBIDDEN). On a mutation, `guarded` turns the same
rules, and the rate limit, into a `Rejection` member of the mutation's result union. The
writer checks authorization again on every command: these rules answer early and clearly,
the writer is the authority.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types.field import StrawberryField

from socialtrading.domain.account import ADMIN, TRADER
from socialtrading.graphql.context import Info
from socialtrading.graphql.errors import Rejection
from socialtrading.infra.metrics import LIMIT_REFUSALS


class Rule(BasePermission):
    """A permission with a stable code (the Rejection code on mutations)."""

    code: ClassVar[str] = "not_authorized"
    error_code: ClassVar[str] = "FORBIDDEN"  # extensions.code of the GraphQL error
    message = "You are not allowed to do this"

    def __init__(self) -> None:
        self.error_extensions = {"code": self.error_code}

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        raise NotImplementedError


class IsAuthenticated(Rule):
    """The caller sent a valid API token."""

    code = "unauthenticated"
    message = "Sign in: send a valid token as `Authorization: Bearer <token>`"
    error_code = "UNAUTHENTICATED"

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return await info.context.viewer() is not None


class IsAdmin(Rule):
    """The caller holds the admin role."""

    message = "This needs the admin role"

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = await info.context.viewer()
        return viewer is not None and ADMIN in viewer.roles


class CanTrade(Rule):
    """The caller holds the trader role (the writer also checks KYC)."""

    message = "Trading needs the trader role"

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = await info.context.viewer()
        return viewer is not None and TRADER in viewer.roles


class IsOwnerOrStaff(Rule):
    """The field belongs to the caller's own account, or the caller is admin or compliance."""

    message = "This is private to the account's owner"

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = await info.context.viewer()
        if viewer is None:
            return False
        return str(getattr(source, "id", "")) == viewer.id or await info.context.is_staff()


class Guard(FieldExtension):
    """Rate-limit a mutation and check its rules, answering a Rejection on failure."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules

    def apply(self, field: StrawberryField) -> None:
        # Show the rules in the SDL, as `requires` does on queries and subscriptions.
        for rule in self.rules:
            if rule.schema_directive not in field.directives:
                field.directives.append(rule.schema_directive)

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: Info,
        **kwargs: Any,
    ) -> Any:
        context = info.context
        if not context.services.limiter.allow(await context.client_key()):
            LIMIT_REFUSALS.labels("mutation_rate").inc()
            return Rejection(code="rate_limited", message="Too many requests: slow down")
        for rule in self.rules:
            if not await rule.has_permission(source, info, **kwargs):
                return Rejection(code=rule.code, message=rule.message or rule.code)
        return await next_(source, info, **kwargs)


def requires(*rules: type[Rule]) -> list[FieldExtension]:
    """The extensions of a guarded query field or subscription (a GraphQL error on failure)."""
    return [PermissionExtension(permissions=[rule() for rule in rules])]


def guarded(*rules: type[Rule]) -> list[FieldExtension]:
    """The extensions of a mutation field: `strawberry.mutation(extensions=guarded(IsAdmin))`."""
    return [Guard([rule() for rule in rules])]
