"""Live alerts for analysts: each alert raised or changed (a step of its case), once the read
model has committed it, from the bus topic `alerts` the alerts read model publishes on.

Compliance analysts and admins only; the role is looked up again before each alert is sent
(a WebSocket's account is read again at most a second later), so a token revoked, or an
account no longer an analyst, ends the subscription.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from socialtrading.graphql.compliance.permissions import IsAnalyst, is_analyst
from socialtrading.graphql.compliance.queries import account_of, checked_filter
from socialtrading.graphql.compliance.types import Alert, AlertKind, AlertStatus
from socialtrading.graphql.context import Info
from socialtrading.graphql.errors import ApiError, clip
from socialtrading.graphql.permissions import IsAuthenticated, requires
from socialtrading.projections.surveillance.alerts import TOPIC, AlertRow


@strawberry.type
class ComplianceSubscriptions:
    @strawberry.subscription(
        extensions=requires(IsAuthenticated, IsAnalyst),
        description=(
            "Each alert as it is raised or its case changes (compliance and admins), "
            "optionally only those of some statuses, a kind, an account (handle or id) or a "
            "market; it completes when the connection's token stops working or its account "
            "loses the compliance and admin roles"
        ),
    )
    async def alerts(
        self,
        info: Info,
        status: list[AlertStatus] | None = None,
        kind: AlertKind | None = None,
        account: str | None = None,
        market: str | None = None,
    ) -> AsyncGenerator[Alert, None]:
        market = checked_filter("market", market)
        account = checked_filter("account", account)
        services = info.context.services
        account_id = None
        if account is not None:
            account_id = await services.read(account_of, account)
            if account_id is None:
                raise ApiError("UNKNOWN_ACCOUNT", f"no account {clip(account)}")
        statuses = {value.value for value in status or ()}

        def wanted(row: AlertRow) -> bool:
            return (
                (not statuses or row.status in statuses)
                and (kind is None or row.kind == kind.value)
                and (account_id is None or row.account == account_id)
                and (market is None or row.market == market)
            )

        async with services.bus.subscribe(TOPIC) as queue:
            while True:
                rows: list[AlertRow] = await queue.get()
                if not await is_analyst(info):
                    return
                for row in rows:
                    if wanted(row):
                        yield Alert.from_row(row)
