"""`socialtrading audit ...`: the audit commands (registered by `cli.py`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

audit_app = typer.Typer(
    help="Audit: check the log's hash chain, markets and ledger.", no_args_is_help=True
)

INTACT_EXIT = 0
FOUND_EXIT = 1  # something disagreed, or there is no chain to agree with
_LINK_HEX = 64
MAX_POSITION = 2**63 - 1  # a notification id is a signed 64-bit integer on both stores


@audit_app.command("verify")
def audit_verify(
    from_position: Annotated[
        int | None,
        typer.Option(
            "--from",
            min=0,
            max=MAX_POSITION,
            metavar="POSITION",
            help="Start at the anchor at or before this log position (default: the start).",
        ),
    ] = None,
    expect: Annotated[
        str | None,
        typer.Option(
            metavar="POSITION:LINK",
            help="A link recorded elsewhere (64 hex digits) that the chain must hold there.",
        ),
    ] = None,
) -> None:
    """Check the event log: its hash chain, every market's matching, every asset's ledger.

    Re-reads the log (streamed, with a progress bar) and recomputes each event's link in the
    hash chain; re-runs every market's recorded commands through a fresh engine and compares
    the records; sums every asset's ledger and checks that the accounts hold deposits minus
    withdrawals at each anchor and at the end. With --from, starts at the anchor at or before
    that position.

    Exits 0 when everything agrees; exits 1 naming each disagreement (what it looks like:
    edited, removed, inserted or reordered; a market's records; an asset's sums), the first
    position last, or when the store has no hash chain. Read-only: it may run beside the
    server, and checks the log up to where it ended when the run started.
    """
    from socialtrading.audit.verify import verify
    from socialtrading.entrypoints.cli import rebuild_progress
    from socialtrading.infra.settings import Settings
    from socialtrading.infra.store import open_store

    expected = None if expect is None else _expected(expect)
    store = open_store(Settings())
    try:
        if not store.chain_exists() and not store.recorder.max_notification_id():
            typer.echo("the log is empty: nothing to verify")
            return
        with rebuild_progress(Console(stderr=True)) as progress:
            task = progress.add_task("verifying the log", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            report = verify(store, from_position, advance, expected)
    finally:
        store.close()

    since = "the log's start" if report.anchor is None else f"the anchor at {report.start}"
    typer.echo(
        f"checked positions {report.start + 1} to {report.end}: {report.events} events, "
        f"from {since}"
    )
    for notice in report.notices:
        typer.echo(f"note: {notice}")
    if not report.chained:
        typer.echo("chain: none: start the writer (`socialtrading serve`) once to create it")
    elif report.head is not None:
        typer.echo(f"chain head: position {report.head.position}, link {report.head.link.hex()}")
    typer.echo(f"markets: {report.markets} followed, {report.commands} commands re-run")
    typer.echo(
        f"ledger: {len(report.assets)} asset(s) summed, checked at {report.balanced_at} "
        "point(s) (anchors and the end)"
    )
    for finding in report.findings:
        typer.echo(f"{finding.check}: {finding}", err=True)
    if report.more:
        typer.echo(f"... and {report.more} more", err=True)
    first = report.first()
    if first is not None:
        typer.echo(
            f"NOT INTACT: first at position {first.position}: {first.kind} ({first.check})",
            err=True,
        )
        raise typer.Exit(FOUND_EXIT)
    if not report.intact:
        raise typer.Exit(FOUND_EXIT)
    typer.echo("intact")


def _expected(text: str) -> tuple[int, bytes]:
    """Parse POSITION:LINK."""
    position, _, link = text.partition(":")
    digits = position.isascii() and position.isdigit() and len(position) <= 19
    if not digits or int(position) > MAX_POSITION or len(link) != _LINK_HEX:
        raise typer.BadParameter(
            "expected POSITION:LINK, LINK 64 hex digits", param_hint="--expect"
        )
    try:
        return int(position), bytes.fromhex(link)
    except ValueError as error:
        raise typer.BadParameter("LINK must be hex digits", param_hint="--expect") from error
