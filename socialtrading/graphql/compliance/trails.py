"""`auditTrail`: every event that touched an order, an account or a post, for compliance.

Compliance analysts and admins only. A trader may not read even their own account's trail:
a trail names counterparties (both sides of every trade), reporters and moderators, which
the trader's own queries (orders, fills, balances, notifications) never show.
"""

from __future__ import annotations

from datetime import datetime
from weakref import WeakKeyDictionary

import strawberry
from sqlalchemy import Connection as ReadConnection

from socialtrading.audit.events import Described, Describer, summarize, to_json
from socialtrading.graphql.compliance.permissions import IsAnalyst
from socialtrading.graphql.context import Info
from socialtrading.graphql.errors import ApiError
from socialtrading.graphql.pagination import Connection, int_cursor, page_size, paginate
from socialtrading.graphql.permissions import IsAuthenticated, requires
from socialtrading.infra.store import EventStore
from socialtrading.projections import audit_trail

CURSOR = "audit"
MAX_SUMMARY_CHARS = 500
# An event's fields can be long (a batch's fee postings, a sweep's trades): a page stays
# bounded; the CLI and exports give them whole.
MAX_DATA_CHARS = 65_536


@strawberry.type(
    description="One event of an audit trail: where and when it was stored, on which "
    "aggregate, who did it (the command's actor and command id) and what it says"
)
class AuditEvent:
    position: str = strawberry.field(description="Its position in the log (decimal digits)")
    at: datetime = strawberry.field(description="The sequencer's time")
    aggregate: str = strawberry.field(
        description="market, account, post, comment, like, report or copy"
    )
    aggregate_id: strawberry.ID
    version: str = strawberry.field(description="The aggregate's version (decimal digits)")
    type: str = strawberry.field(description="The event's type, e.g. OrderAccepted")
    actor: strawberry.ID | None = strawberry.field(
        description="The account whose command stored it (null: a ledger posting, which "
        "holds a batch's entries, or an account opened by the system)"
    )
    command_id: str | None
    summary: str = strawberry.field(description="Its fields in one line (cut at 500 characters)")
    data: str = strawberry.field(
        description="Its fields as a JSON object (cut at 65,536 characters: see `truncated`)"
    )
    truncated: bool = strawberry.field(description="Whether `data` was cut")

    @classmethod
    def of(cls, event: Described) -> AuditEvent:
        data = to_json(event.fields)
        return cls(
            position=str(event.position),
            at=event.at,
            aggregate=event.aggregate,
            aggregate_id=strawberry.ID(event.aggregate_id),
            version=str(event.version),
            type=event.type,
            actor=None if event.actor is None else strawberry.ID(event.actor),
            command_id=event.command_id,
            summary=_cut(summarize(event.fields), MAX_SUMMARY_CHARS),
            data=data[:MAX_DATA_CHARS],
            truncated=len(data) > MAX_DATA_CHARS,
        )


# One describer per store, shared by requests: what it looks up (a market's spec, an
# aggregate's first event) never changes, so its bounded caches stay true.
_describers: WeakKeyDictionary[EventStore, Describer] = WeakKeyDictionary()


def _describer(store: EventStore) -> Describer:
    found = _describers.get(store)
    if found is None:
        found = _describers[store] = Describer(store)
    return found


def _page(
    connection: ReadConnection,
    describer: Describer,
    subject: audit_trail.Subject,
    first: int,
    after: int | None,
) -> list[Described]:
    """A page of a trail: its positions from the read model, its events from the store."""
    return describer.at(audit_trail.trail_positions(connection, subject, first=first, after=after))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@strawberry.type
class TrailQueries:
    @strawberry.field(
        extensions=requires(IsAuthenticated, IsAnalyst),
        description=(
            "Every event that touched one order (`orderId`), account (`account`: its handle "
            "or id) or post (`postId`), oldest first: orders, fills on both sides, amends, "
            "cancels, expiries and the owner's ledger postings for them; an account's own "
            "events, orders, trades, social and copy events; a post's edits, comments, likes, "
            "reports and moderation. Compliance and admins only"
        ),
    )
    async def audit_trail(
        self,
        info: Info,
        order_id: strawberry.ID | None = None,
        account: str | None = None,
        post_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditEvent]:
        services = info.context.services
        size = page_size(first, services.settings.max_page_size)
        since = int_cursor(CURSOR, after)
        try:
            subject = audit_trail.subject_of(
                None if order_id is None else str(order_id),
                account,
                None if post_id is None else str(post_id),
            )
        except audit_trail.UnknownSubjectError as error:
            raise ApiError("BAD_SUBJECT", str(error)) from None
        describer = _describer(services.writer.store)
        events = await services.read(_page, describer, subject, size + 1, since)
        return paginate(events, size, CURSOR, lambda event: event.position, AuditEvent.of)
