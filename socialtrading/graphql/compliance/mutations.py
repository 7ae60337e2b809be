"""The analysts' case mutations: acknowledge, escalate, dismiss (with a reason), close (with
a finding), and keep a note on an alert.

Each answers a union of its `<Name>Success` (the alert as it is after the step, read past
the request's cache) and `Rejection`. Like every mutation they go through
`graphql/commands.execute` (rate limited and checked by `guarded`: compliance analysts and
admins only; the writer checks the role again and decides the transition).
"""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated, Any
from uuid import UUID

import strawberry

from socialtrading.commands.compliance import (
    AcknowledgeAlert,
    AddAlertNote,
    CloseAlert,
    DismissAlert,
    EscalateAlert,
    alert_of,
)
from socialtrading.commands.models import Command
from socialtrading.graphql.commands import execute, new_command_id
from socialtrading.graphql.compliance.permissions import IsAnalyst
from socialtrading.graphql.compliance.types import Alert
from socialtrading.graphql.context import Info
from socialtrading.graphql.errors import Rejection
from socialtrading.graphql.loaders import load_fresh
from socialtrading.graphql.permissions import IsAuthenticated, guarded

_LAGGING = "The read models have not shown it yet; retry the query"


@strawberry.type
class AcknowledgeAlertSuccess:
    alert: Alert


@strawberry.type
class EscalateAlertSuccess:
    alert: Alert


@strawberry.type
class DismissAlertSuccess:
    alert: Alert


@strawberry.type
class CloseAlertSuccess:
    alert: Alert


@strawberry.type
class AddAlertNoteSuccess:
    alert: Alert


AcknowledgeAlertResult = Annotated[
    AcknowledgeAlertSuccess | Rejection, strawberry.union("AcknowledgeAlertResult")
]
EscalateAlertResult = Annotated[
    EscalateAlertSuccess | Rejection, strawberry.union("EscalateAlertResult")
]
DismissAlertResult = Annotated[
    DismissAlertSuccess | Rejection, strawberry.union("DismissAlertResult")
]
CloseAlertResult = Annotated[CloseAlertSuccess | Rejection, strawberry.union("CloseAlertResult")]
AddAlertNoteResult = Annotated[
    AddAlertNoteSuccess | Rejection, strawberry.union("AddAlertNoteResult")
]


async def _work(
    info: Info, kind: type[Command], alert_id: strawberry.ID, **fields: Any
) -> Alert | Rejection:
    """Run a case command on an alert; the alert after it, or the Rejection."""
    actor = await info.context.actor()
    built: list[Command] = []

    def build() -> Command:
        command = kind.model_validate(
            {"command_id": new_command_id(), "actor": actor, "alert_id": alert_id, **fields}
        )
        built.append(command)
        return command

    outcome = await execute(info.context, build)
    if isinstance(outcome, Rejection):
        return outcome
    found: UUID | None = alert_of(built[0])
    assert found is not None
    key = str(found)
    loaders = info.context.loaders.compliance
    for loader in (loaders.evidence, loaders.history):
        with suppress(KeyError):  # not cached
            loader.clear(key)
    row = await load_fresh(loaders.alerts, key)
    if row is None:
        return Rejection(code="unavailable", message=_LAGGING)
    return Alert.from_row(row)


@strawberry.type
class ComplianceMutations:
    @strawberry.mutation(
        extensions=guarded(IsAuthenticated, IsAnalyst),
        description="Take an open alert (OPEN -> ACKNOWLEDGED); taking it again changes nothing",
    )
    async def acknowledge_alert(self, info: Info, id: strawberry.ID) -> AcknowledgeAlertResult:
        found = await _work(info, AcknowledgeAlert, id)
        return found if isinstance(found, Rejection) else AcknowledgeAlertSuccess(alert=found)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated, IsAnalyst),
        description=(
            "Hand an alert to senior review (-> ESCALATED), optionally saying why (up to 500 "
            "characters); escalating it again changes nothing"
        ),
    )
    async def escalate_alert(
        self, info: Info, id: strawberry.ID, reason: str | None = None
    ) -> EscalateAlertResult:
        found = await _work(info, EscalateAlert, id, reason=reason)
        return found if isinstance(found, Rejection) else EscalateAlertSuccess(alert=found)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated, IsAnalyst),
        description="Resolve an alert as no abuse (-> DISMISSED), saying why (1 to 500 characters)",
    )
    async def dismiss_alert(self, info: Info, id: strawberry.ID, reason: str) -> DismissAlertResult:
        found = await _work(info, DismissAlert, id, reason=reason)
        return found if isinstance(found, Rejection) else DismissAlertSuccess(alert=found)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated, IsAnalyst),
        description=(
            "Resolve an alert with your finding (-> CLOSED; 1 to 4,000 characters): what you "
            "concluded and did"
        ),
    )
    async def close_alert(self, info: Info, id: strawberry.ID, finding: str) -> CloseAlertResult:
        found = await _work(info, CloseAlert, id, finding=finding)
        return found if isinstance(found, Rejection) else CloseAlertSuccess(alert=found)

    @strawberry.mutation(
        extensions=guarded(IsAuthenticated, IsAnalyst),
        description="Keep a working note on an open alert (1 to 2,000 characters, 100 at most)",
    )
    async def add_alert_note(self, info: Info, id: strawberry.ID, note: str) -> AddAlertNoteResult:
        found = await _work(info, AddAlertNote, id, note=note)
        return found if isinstance(found, Rejection) else AddAlertNoteSuccess(alert=found)
