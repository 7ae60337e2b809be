"""What the wiring observes for the metrics: the writer's batches (a Writer batch observer)."""

from __future__ import annotations

from socialtrading.commands.models import Command
from socialtrading.commands.state import Outcome
from socialtrading.commands.writer import CommitFailed
from socialtrading.infra.metrics import BATCH_SIZE, COMMANDS, COMMIT_SECONDS


def observe_batch(
    results: list[tuple[Command, Outcome | Exception]], commit_seconds: float
) -> None:
    """Record one writer batch (a Writer batch observer)."""
    BATCH_SIZE.observe(len(results))
    if commit_seconds:
        COMMIT_SECONDS.observe(commit_seconds)
    for command, result in results:
        if isinstance(result, CommitFailed):
            outcome = "failed"
        elif isinstance(result, Exception):
            outcome = "invalid"
        elif result.accepted:
            outcome = "accepted"
        else:
            outcome = "refused"
        COMMANDS.labels(type(command).__name__, outcome).inc()
