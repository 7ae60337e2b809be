"""`socialtrading audit ...`: the audit commands (registered by `cli.py`)."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from socialtrading.audit.events import Described, Describer
    from socialtrading.infra.settings import Settings
    from socialtrading.infra.store import EventStore

audit_app = typer.Typer(
    help="Audit: check the log's hash chain, markets and ledger; trails of orders, accounts "
    "and posts; extracts of the log.",
    no_args_is_help=True,
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


TRAIL_PAGE = 500  # events read (and, as a table, printed) at a time


class TrailFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"


class Stream(StrEnum):
    markets = "markets"
    accounts = "accounts"
    social = "social"
    copy = "copy"
    all = "all"


@audit_app.command("trail")
def trail(
    order: Annotated[str | None, typer.Option("--order", help="An order id.")] = None,
    account: Annotated[
        str | None, typer.Option("--account", help="An account's handle or id.")
    ] = None,
    post: Annotated[str | None, typer.Option("--post", help="A post id.")] = None,
    output_format: Annotated[
        TrailFormat, typer.Option("--format", help="A table, or one JSON object per line.")
    ] = TrailFormat.table,
    after: Annotated[
        int, typer.Option("--after", min=0, help="Start after this log position.")
    ] = 0,
    limit: Annotated[
        int, typer.Option("--limit", min=0, help="Show at most this many events (0: all).")
    ] = 0,
) -> None:
    """Show every event that touched an order, an account or a post, in log order.

    Each with its position in the log, its time, its aggregate, who did it (the command's
    actor and command id) and what it says. Name exactly one of --order, --account, --post.

    Reads the `audit_trail` read model and the event store (SOCIALTRADING_STORE and
    SOCIALTRADING_READ_STORE). When that read model lags the log and no server holds the
    store, it is brought up to date first; while a server runs, the server does that.
    """
    from socialtrading.audit.events import Describer
    from socialtrading.infra.readstore import open_read_store
    from socialtrading.infra.settings import Settings
    from socialtrading.infra.store import open_store
    from socialtrading.projections import audit_trail as trails

    try:
        subject = trails.subject_of(order, account, post)
    except trails.UnknownSubjectError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from error
    settings = Settings()
    store = open_store(settings)
    engine = open_read_store(settings)
    try:
        _bring_trails_up_to_date(settings, store, engine)
        describer = Describer(store)
        shown = 0
        position = after
        while not limit or shown < limit:
            size = TRAIL_PAGE if not limit else min(TRAIL_PAGE, limit - shown)
            with engine.connect() as connection:
                found = trails.trail_positions(connection, subject, first=size, after=position)
            events = describer.at(found)
            if not events:
                break
            if output_format is TrailFormat.jsonl:
                _print_lines(events, describer)
            else:
                _print_table(events, describer, header=shown == 0)
            shown += len(events)
            position = events[-1].position
        if not shown and output_format is TrailFormat.table:
            typer.echo("no events")
    finally:
        engine.dispose()
        store.close()


def _bring_trails_up_to_date(settings: Settings, store: EventStore, engine: Engine) -> None:
    """Catch the trail index up with the log when no other process holds the store."""
    from socialtrading.entrypoints.cli import rebuild_progress
    from socialtrading.infra.lock import StoreLock, StoreLockedError
    from socialtrading.projections.audit_trail import AuditTrailProjection
    from socialtrading.projections.runner import ProjectionRunner

    runner = ProjectionRunner(store, engine, [AuditTrailProjection()])
    runner.setup()
    (status,) = runner.status()
    if not status.lag:
        return
    try:
        lock = StoreLock(settings).acquire()
    except StoreLockedError:
        typer.echo(
            f"note: the trail index is {status.lag} event(s) behind the log; the process "
            "holding the store brings it up to date",
            err=True,
        )
        return
    try:
        with rebuild_progress(Console(stderr=True)) as progress:
            task = progress.add_task("indexing trails", total=status.head)

            def advance(position: int, head: int) -> None:
                progress.update(task, completed=position, total=head)

            runner.catch_up(progress=advance)
    finally:
        lock.release()


def _print_lines(events: list[Described], describer: Describer) -> None:
    from socialtrading.audit.events import summarize
    from socialtrading.audit.export import row_of

    handles = describer.handles(event.actor for event in events)
    out = sys.stdout.buffer
    for event in events:
        row = row_of(event)
        row["actor_handle"] = handles.get(event.actor or "")
        row["summary"] = summarize(event.fields)
        out.write(orjson.dumps(row) + b"\n")
    out.flush()


def _print_table(events: list[Described], describer: Describer, *, header: bool) -> None:
    from socialtrading.audit.events import summarize

    handles = describer.handles(event.actor for event in events)
    table = Table(show_header=header, box=None, pad_edge=False)
    for name in ("position", "time (UTC)", "aggregate", "event", "actor", "command", "summary"):
        table.add_column(name, overflow="fold")
    for event in events:
        actor = handles.get(event.actor or "", event.actor or "-")
        table.add_row(
            str(event.position),
            event.at.strftime("%Y-%m-%d %H:%M:%S.%f"),
            f"{event.aggregate} {event.aggregate_id[:8]} v{event.version}",
            event.type,
            actor,
            event.command_id or "-",
            summarize(event.fields),
        )
    Console().print(table)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with its offset (a bare date is midnight UTC)."""
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(0), tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time") from error
    if moment.tzinfo is None:
        raise typer.BadParameter("give the time's offset, e.g. 2027-01-15T08:00:00Z")
    return moment.astimezone(UTC)


@audit_app.command("export")
def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="The file to write.")],
    file_format: Annotated[
        ExportFormat, typer.Option("--format", help="JSON Lines, CSV or Parquet (needs pyarrow).")
    ],
    start: Annotated[
        datetime | None,
        typer.Option(
            "--from",
            parser=parse_time,
            metavar="TIME",
            help="First time included, ISO 8601 with offset (default: the beginning).",
        ),
    ] = None,
    end: Annotated[
        datetime | None,
        typer.Option(
            "--to",
            parser=parse_time,
            metavar="TIME",
            help="First time excluded, ISO 8601 with offset (default: now).",
        ),
    ] = None,
    stream: Annotated[Stream, typer.Option("--stream", help="Which events.")] = Stream.all,
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, max=100_000, help="Events read at a time.")
    ] = 5_000,
) -> None:
    """Write the events recorded in a time range, one row per event, for analysts.

    Columns: position, time, aggregate, aggregate_id, version, type, actor, command_id and
    data (the event's fields as JSON). Streams: markets (orders, trades, market control),
    accounts (registrations, KYC, roles, money, tokens, the ledger), social (profiles,
    follows, posts, comments, likes, reports, moderation), copy (copy trading), all.

    The log is read in pages and written as it is read, with progress on stderr. Reads
    SOCIALTRADING_STORE only; it may run beside the server.
    """
    from socialtrading.audit import export as exports
    from socialtrading.entrypoints.cli import rebuild_progress
    from socialtrading.infra.settings import Settings
    from socialtrading.infra.store import open_store

    if start is not None and end is not None and end < start:
        typer.echo("--to is before --from", err=True)
        raise typer.Exit(2)
    if file_format is ExportFormat.parquet:
        try:
            exports.pyarrow_modules()
        except exports.ParquetUnavailableError as error:
            typer.echo(str(error), err=True)
            raise typer.Exit(2) from error
    store = open_store(Settings())
    try:
        with rebuild_progress(Console(stderr=True)) as progress:
            task = progress.add_task(f"exporting {stream.value}", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            done = exports.export(
                store,
                output,
                file_format=file_format.value,
                stream=stream.value,
                start=start,
                end=end,
                page_size=page_size,
                progress=advance,
            )
    finally:
        store.close()
    span = done.range
    typer.echo(
        f"exported {done.rows} event(s) of positions {span.after + 1} to {span.last} to {output}"
    )
