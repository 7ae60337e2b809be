"""The analysts' queries: the alerts, filtered and paged, and one alert by id (compliance
analysts and admins only: anybody else gets UNAUTHENTICATED or FORBIDDEN)."""

from __future__ import annotations

from uuid import UUID

import strawberry
from sqlalchemy import Connection as Db

from socialtrading.domain.compliance.alert import MAX_SCORE
from socialtrading.graphql.compliance.permissions import IsAnalyst
from socialtrading.graphql.compliance.types import ALERT_CURSOR, Alert, AlertKind, AlertStatus
from socialtrading.graphql.context import Info
from socialtrading.graphql.errors import bad_input, clip
from socialtrading.graphql.pagination import Connection, int_cursor, page_size, paginate
from socialtrading.graphql.permissions import IsAuthenticated, requires
from socialtrading.projections import accounts
from socialtrading.projections.surveillance import alerts
from socialtrading.projections.surveillance.alerts import AlertRow

MAX_FILTER_CHARS = 64  # an account (handle or id) or a market named in a filter


def account_of(db: Db, account: str) -> str | None:
    """The id text of an account named by its id or its handle (`@` allowed), if it exists."""
    try:
        return str(UUID(account))
    except ValueError:
        row = accounts.account_by_handle(db, account.removeprefix("@"))
        return None if row is None else row.id


def _alerts(
    db: Db,
    statuses: list[str],
    kind: str | None,
    account: str | None,
    market: str | None,
    min_score: int | None,
    first: int,
    after: int | None,
) -> list[AlertRow]:
    account_id = None
    if account is not None:
        account_id = account_of(db, account)
        if account_id is None:
            return []
    return alerts.alerts_page(
        db,
        statuses=statuses,
        kind=kind,
        account=account_id,
        market=market,
        min_score=min_score,
        first=first,
        after=after,
    )


def checked_filter(name: str, value: str | None) -> str | None:
    """A filter's value (an account or a market), BAD_USER_INPUT when it is too long."""
    if value is not None and len(value) > MAX_FILTER_CHARS:
        raise bad_input(f"`{name}` is too long: {clip(value, 16)}")
    return value


@strawberry.type
class ComplianceQueries:
    @strawberry.field(
        extensions=requires(IsAuthenticated, IsAnalyst),
        description=(
            "Surveillance alerts, newest first (compliance and admins), filtered by any of: "
            "statuses (one or more), kind, account (handle or id), market, least score"
        ),
    )
    async def alerts(
        self,
        info: Info,
        status: list[AlertStatus] | None = None,
        kind: AlertKind | None = None,
        account: str | None = None,
        market: str | None = None,
        min_score: int | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Alert]:
        services = info.context.services
        size = page_size(first, services.settings.max_page_size)
        cursor = int_cursor(ALERT_CURSOR, after)
        if min_score is not None and not 0 <= min_score <= MAX_SCORE:
            raise bad_input(f"`minScore` must be between 0 and {MAX_SCORE}")
        rows = await services.read(
            _alerts,
            sorted({value.value for value in status or ()}),
            None if kind is None else kind.value,
            checked_filter("account", account),
            checked_filter("market", market),
            min_score,
            size + 1,
            cursor,
        )
        return paginate(rows, size, ALERT_CURSOR, lambda row: row.cursor, Alert.from_row)

    @strawberry.field(
        extensions=requires(IsAuthenticated, IsAnalyst),
        description="An alert by id, with its evidence and case history, or null",
    )
    async def alert(self, info: Info, id: strawberry.ID) -> Alert | None:
        try:
            alert_id = str(UUID(str(id)))
        except ValueError:
            return None
        row = await info.context.loaders.compliance.alerts.load(alert_id)
        return None if row is None else Alert.from_row(row)
