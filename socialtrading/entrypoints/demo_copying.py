"""The demo's copy trading: `alice` leads (10% profit share), `bob` and `carol` copy her
with 5,000 and 10,000 USD, so one trade of alice's through GraphiQL visibly produces copies
(their `copies { activity }`, `myCopies`).

Idempotent across restarts like the rest of the demo: fixed command ids and client copy
ids, so a restart's repeats are answered from the command index and store nothing. Best
effort: a refused step is logged and skipped (a copy stopped by hand stays stopped).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from socialtrading.commands.copying import SetCopySettings, StartCopying
from socialtrading.commands.models import Command
from socialtrading.commands.writer import Writer
from socialtrading.domain.ids import account_id

log = logging.getLogger(__name__)

LEADER = "alice"
COPIERS = {"bob": Decimal(5000), "carol": Decimal(10000)}


def _try(writer: Writer, command: Command) -> None:
    outcome = writer.execute(command)
    if not outcome.accepted:
        log.warning("demo seeding: %s skipped: %s", command.command_id, outcome.code)


def seed_copying(writer: Writer) -> None:
    """Make the demo leader take copiers and start the demo copies."""
    _try(
        writer,
        SetCopySettings(
            command_id="demo:copy-settings", actor=account_id(LEADER), profit_share_bps=1000
        ),
    )
    for copier, amount in COPIERS.items():
        _try(
            writer,
            StartCopying(
                command_id=f"demo:copy:{copier}",
                actor=account_id(copier),
                leader=LEADER,
                amount=amount,
                client_copy_id=f"demo:{LEADER}",
            ),
        )
