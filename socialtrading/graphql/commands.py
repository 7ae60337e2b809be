"""Turn a mutation into a command, submit it, and wait until the read models show it.

Every mutation goes through `execute`: it builds the command (pydantic validates it), hands
it to the writer, awaits the outcome without blocking the event loop, and then waits
(bounded) for the projections to pass the outcome's position, so the mutation's answer and
any query that follows it read the command's effects. Every failure becomes a Rejection.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

from pydantic import ValidationError

from socialtrading.commands.models import Command
from socialtrading.commands.state import Outcome
from socialtrading.commands.writer import CommitFailed, WriterStopped
from socialtrading.domain.errors import DomainError
from socialtrading.graphql.context import Context
from socialtrading.graphql.errors import Rejection, invalid_input

log = logging.getLogger(__name__)

# The longest a mutation waits for the writer's acknowledgement.
WRITER_TIMEOUT_SECONDS = 30.0


def new_command_id() -> str:
    """A fresh command id, for mutations the client gave none."""
    return uuid.uuid4().hex


async def execute(context: Context, build: Callable[[], Command]) -> Outcome | Rejection:
    """Run one command; an accepted Outcome, or the Rejection that says why not."""
    try:
        command = build()
    except ValidationError as error:
        return invalid_input(error)
    services = context.services
    try:
        outcome = await asyncio.wait_for(
            services.writer.submit(command).wait_async(), WRITER_TIMEOUT_SECONDS
        )
    except DomainError as error:
        return Rejection(code=error.code, message=error.message)
    except (CommitFailed, WriterStopped, TimeoutError) as error:
        log.warning("command %s not stored: %s", type(command).__name__, error)
        return Rejection(code="unavailable", message="The exchange could not store this; retry")
    except Exception:  # a bug: log it, and tell the client no more than that
        log.exception("command %s failed", type(command).__name__)
        return Rejection(code="internal_error", message="The command failed; nothing was stored")
    if outcome.position:  # refusals the audit trail keeps (a rejected order) are stored too
        await services.progress.wait_for(
            outcome.position, services.settings.read_your_writes_seconds
        )
    if not outcome.accepted:
        return Rejection(
            code=outcome.code or "refused", message=outcome.message or "The command was refused"
        )
    return outcome
