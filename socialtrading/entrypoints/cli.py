"""The `socialtrading` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from socialtrading.engine import journal

if TYPE_CHECKING:
    from socialtrading.infra.lock import StoreLock
    from socialtrading.infra.settings import Settings
    from socialtrading.projections.base import Projection
    from socialtrading.projections.runner import ProjectionRunner

app = typer.Typer(
    help="InstantSocialTrading: an event-sourced social trading backend.",
    no_args_is_help=True,
    add_completion=False,
    # Click's plain help: paragraphs re-wrapped to the terminal, `--port INTEGER` rather than a
    # column of `<bool>`/`<int>` labels (typer's rich panels kept the docstrings' line breaks).
    rich_markup_mode=None,
)


@app.command()
def match(
    input: Annotated[
        Path,
        typer.Option(
            "--input",
            "-i",
            help="Journal of commands (JSON Lines).",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where to write records (default: stdout)."),
    ] = None,
) -> None:
    """Run the matching engine over a journal and write one JSON object per result record.

    Unreadable lines are reported on stderr with their line number and the run goes on;
    the exit code is then 1, with the number of such lines on stderr.
    """
    errors = 0
    with input.open(encoding="utf-8") as source:
        sink = output.open("w", encoding="utf-8") if output else sys.stdout
        try:
            for item in journal.run(source):
                if item["type"] == "error":
                    errors += 1
                    typer.echo(f"{input}:{item['line']}: {item['message']}", err=True)
                sink.write(json.dumps(item, separators=(",", ":")) + "\n")
        finally:
            if output:
                sink.close()
    if errors:
        typer.echo(f"{errors} line(s) could not be read", err=True)
        raise typer.Exit(1)


@app.command()
def demo(
    commands: Annotated[int, typer.Option(help="How many generated commands to run.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Seed of the generated order flow.")] = 1,
) -> None:
    """Run the engine over a generated BTC-USD market and print a summary."""
    from socialtrading.entrypoints.demo import run_engine_demo

    run_engine_demo(commands, seed)


@app.command()
def serve(
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Bootstrap the demo exchange: BTC-USD and ETH-USD, demo funding, funded demo "
            "traders whose API tokens are printed at start.",
        ),
    ] = False,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the GraphQL API: writer, projections and API in one process.

    The store is SOCIALTRADING_STORE (default: SQLite under ./data); a restart continues from
    the stored events. GraphQL (and GraphiQL) at http://HOST:PORT/graphql; also /healthz,
    /readyz and /metrics. Ctrl-C stops cleanly.
    """
    import uvicorn

    from socialtrading.entrypoints.app import create_app, server_options
    from socialtrading.infra.collector import tune_collector
    from socialtrading.infra.settings import Settings

    settings = Settings()
    lock = _writer_lock(settings)
    tune_collector()
    try:
        uvicorn.run(
            create_app(settings, demo=demo, lock=lock),
            host=host,
            port=port,
            log_level=log_level,
            http="httptools",  # the C parser: ~15% more queries/s than h11 (docs/decisions.md)
            timeout_graceful_shutdown=5,
            **server_options(settings),
        )
    finally:
        lock.release()


STORE_LOCKED_EXIT = 3


def _writer_lock(settings: Settings) -> StoreLock:
    """Take the store's writer lock, or exit 3 with a message when another process holds it."""
    from socialtrading.infra.lock import StoreLock, StoreLockedError

    try:
        return StoreLock(settings).acquire()
    except StoreLockedError as error:
        typer.echo(
            f"the store {error} is in use by another process (one writer per store): stop it first",
            err=True,
        )
        raise typer.Exit(STORE_LOCKED_EXIT) from error


admin_app = typer.Typer(help="Administration: admin accounts.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")


@admin_app.command("create")
def admin_create(
    handle: Annotated[str, typer.Option(help="The new admin's handle.")],
) -> None:
    """Open an admin account and print its API token (shown this once).

    Run it while the server is stopped (one writer per store: exit code 3 while another
    process holds the store), then start the server.
    """
    from socialtrading.commands.writer import Writer
    from socialtrading.domain.errors import DomainError
    from socialtrading.entrypoints.bootstrap import BootstrapError, create_admin
    from socialtrading.infra.settings import Settings
    from socialtrading.infra.store import open_store

    settings = Settings()
    lock = _writer_lock(settings)  # before any token exists
    try:
        store = open_store(settings)
        try:
            with Writer(store) as writer:
                outcome, token = create_admin(writer, handle)
        except (BootstrapError, DomainError, ValueError) as error:
            typer.echo(f"not created: {error}", err=True)
            raise typer.Exit(1) from error
        finally:
            store.close()
    finally:
        lock.release()
    typer.echo(f"admin {handle} ({outcome.account_id})")
    typer.echo(f"token: {token}")


@app.command("export-schema")
def export_schema(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where to write the SDL (default: stdout)."),
    ] = None,
) -> None:
    """Print the GraphQL schema (SDL); `-o schema.graphql` regenerates the committed file."""
    from socialtrading.graphql.schema import sdl

    text = sdl()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


projections_app = typer.Typer(
    help="Read models: rebuild them, see where they stand, retry the events they set aside."
)
app.add_typer(projections_app, name="projections", no_args_is_help=True)


def _projections(settings: Settings) -> list[Projection]:
    """Every projection, configured as the server configures them (so a rebuild gives the
    server's rows)."""
    from socialtrading.projections.registry import all_projections

    return all_projections(
        feed_pull_threshold=settings.feed_pull_threshold,
        stats_reference=settings.stats_reference_asset,
    )


def _known_projections(runner: ProjectionRunner, names: list[str] | None) -> list[str]:
    """The runner's projection names; exit 2 naming any of `names` that is not one."""
    known = [p.name for p in runner.projections]
    unknown = sorted(set(names or ()) - set(known))
    if unknown:
        typer.echo(
            f"unknown projection(s): {', '.join(unknown)}; known: {', '.join(known)}", err=True
        )
        raise typer.Exit(2)
    return known


def rebuild_progress(console: Console | None = None) -> Progress:
    """The progress bar of a rebuild: label, bar, notifications done of all, time left."""
    from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def rebuild_label(names: list[str]) -> str:
    """A short label, so that the bar and its figures fit an 80-column terminal."""
    return f"rebuilding {names[0] if len(names) == 1 else f'{len(names)} read models'}"


@projections_app.command("rebuild")
def projections_rebuild(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Projections to rebuild (default: all).", show_default=False, metavar="NAME"
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Notifications per transaction.")] = 200_000,
) -> None:
    """Rebuild read models from the event store, with progress.

    Drops the named read models (all by default) and applies the whole log again.

    Uses SOCIALTRADING_STORE and SOCIALTRADING_READ_STORE. Run it while no server follows
    the same read store.
    """
    from socialtrading.infra.readstore import open_read_store
    from socialtrading.infra.settings import Settings
    from socialtrading.infra.store import open_store
    from socialtrading.projections.runner import ProjectionRunner

    settings = Settings()
    lock = _writer_lock(settings)  # the serving process writes the same read models
    store = open_store(settings)
    engine = open_read_store(settings)
    try:
        runner = ProjectionRunner(
            store, engine, _projections(settings), catch_up_batch_size=batch_size
        )
        known = _known_projections(runner, names)
        runner.setup()
        chosen = names or known
        with rebuild_progress() as progress:
            task = progress.add_task(rebuild_label(chosen), total=runner.head())

            def advance(position: int, head: int) -> None:
                progress.update(task, completed=position, total=head)

            applied = runner.rebuild(chosen, progress=advance)
            progress.update(task, completed=runner.position)
        typer.echo(f"rebuilt {', '.join(chosen)}: {applied} notifications")
    finally:
        engine.dispose()
        store.close()
        lock.release()


@projections_app.command("status")
def projections_status() -> None:
    """Show where each read model stands.

    Each projection's position, how far it lags the event store, and the events it set
    aside (dead letters) because applying them failed.
    """
    from socialtrading.infra.readstore import open_read_store
    from socialtrading.infra.settings import Settings
    from socialtrading.infra.store import open_store
    from socialtrading.projections.runner import ProjectionRunner

    settings = Settings()
    store = open_store(settings)
    engine = open_read_store(settings)
    try:
        runner = ProjectionRunner(store, engine, _projections(settings))
        runner.setup()
        typer.echo(f"{'projection':<12} {'position':>12} {'lag':>12} {'dead letters':>12}")
        for status in runner.status():
            typer.echo(
                f"{status.name:<12} {status.position:>12} {status.lag:>12} "
                f"{status.dead_letters:>12}"
            )
        letters = runner.dead_letters()
        if letters:
            typer.echo("\nset aside (retry with `socialtrading projections retry`):")
        for letter in letters[:_LETTERS_SHOWN]:
            error = letter.error.splitlines()[0][:120] if letter.error else ""
            typer.echo(f"  {letter.name:<12} {letter.position:>12}  {letter.topic}\n    {error}")
        if len(letters) > _LETTERS_SHOWN:
            typer.echo(f"  ... and {len(letters) - _LETTERS_SHOWN} more")
    finally:
        engine.dispose()
        store.close()


_LETTERS_SHOWN = 20


@projections_app.command("retry")
def projections_retry(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Projections whose events to retry (default: all).", show_default=False
        ),
    ] = None,
) -> None:
    """Apply again the events projections set aside (after a fix), oldest first.

    Each event is applied in its own transaction, after the events that followed it in the
    log; one that applies leaves the dead letters, one that still fails stays with its new
    error. Exits 1 if some still fail. Run it while no server follows the same read store.
    """
    from socialtrading.infra.readstore import open_read_store
    from socialtrading.infra.settings import Settings
    from socialtrading.infra.store import open_store
    from socialtrading.projections.runner import ProjectionRunner

    settings = Settings()
    lock = _writer_lock(settings)  # the serving process writes the same read models
    store = open_store(settings)
    engine = open_read_store(settings)
    try:
        runner = ProjectionRunner(store, engine, _projections(settings))
        _known_projections(runner, names)
        runner.setup()
        result = runner.retry(names or None)
    finally:
        engine.dispose()
        store.close()
        lock.release()
    typer.echo(f"applied {result.applied} set-aside event(s); {result.failing} still fail")
    if result.failing:
        raise typer.Exit(1)


store_app = typer.Typer(help="The event store.", no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("verify")
def store_verify() -> None:
    """Check the command index against the event log.

    The index is what repeated commands are answered from, and lists the accounts and markets
    a start-up loads. Read-only; run it while the server is stopped. Exits 1 and names each
    disagreement if they disagree.
    """
    from socialtrading.commands.dedup import check
    from socialtrading.infra.settings import Settings
    from socialtrading.infra.store import open_store

    store = open_store(Settings())
    try:
        if not store.index_exists():
            typer.echo("no command index yet: the writer creates it from the log when it starts")
            return
        result = check(store)
    finally:
        store.close()
    for line in result.disagreements:
        typer.echo(line, err=True)
    if result.disagreements:
        raise typer.Exit(1)
    typer.echo(
        f"the index agrees with the log: {result.commands} commands, {result.aggregates} aggregates"
    )


copy_app = typer.Typer(help="Copy trading: its process over the log.")
app.add_typer(copy_app, name="copy", no_args_is_help=True)


@copy_app.command("catch-up")
def copy_catch_up() -> None:
    """Run the copy-trading process over the log up to its end, then stop.

    It sends the copy commands the log calls for (copying leaders' fills, settlements, the
    stop-loss) through a writer of its own, so run it while the server is stopped (exit code
    3 while another process holds the store). Then the risk gate scores the leaders as of the
    statistics' latest closed day in the read store. `serve` runs both continuously.
    """
    from socialtrading.commands.writer import Writer
    from socialtrading.infra.readstore import open_read_store
    from socialtrading.infra.settings import Settings
    from socialtrading.infra.store import open_store
    from socialtrading.policies.copying import CopyPolicy
    from socialtrading.policies.risk_gate import RiskGatePolicy
    from socialtrading.projections.stats.risk import LeaderRisk

    settings = Settings()
    lock = _writer_lock(settings)
    try:
        store = open_store(settings)
        read_engine = open_read_store(settings)
        try:
            # no part size: offline, each fill is copied whole by its own command (no other
            # users' orders to interleave with); plans opened by a server are done by parts
            with Writer(
                store,
                batch_max=settings.batch_max,
                batch_ms=settings.batch_ms,
                snapshot_interval=settings.snapshot_interval,
                demo_funding=settings.demo_funding,
            ) as writer:
                policy = CopyPolicy(
                    store,
                    read_engine,
                    writer.submit,
                    settlement_period_us=settings.copy_settlement_hours * 3600 * 1_000_000,
                )
                policy.setup()
                position = policy.catch_up()
                risk_gate = RiskGatePolicy(
                    store, read_engine, writer.submit, LeaderRisk(read_engine)
                )
                risk_gate.setup()
                risk_gate.catch_up()
        finally:
            read_engine.dispose()
            store.close()
    finally:
        lock.release()
    typer.echo(f"copy trading is at position {position}: {policy.sent} command(s) sent")
    typer.echo(f"risk gate: {risk_gate.sent} risk score(s) sent")


from socialtrading.entrypoints.audit_cli import audit_app  # noqa: E402 (registered here)

app.add_typer(audit_app, name="audit")


surveillance_app = typer.Typer(help="Market-abuse surveillance: the detectors over the log.")
app.add_typer(surveillance_app, name="surveillance", no_args_is_help=True)


@surveillance_app.command("scan")
def surveillance_scan(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where to write the findings (default: stdout)."),
    ] = None,
) -> None:
    """Run the detectors over the whole log and write what they find, one JSON object per
    line (with the log position of the event that completed it), with progress on stderr.

    Nothing is sent or stored: a dry run, for instance of other thresholds
    (SOCIALTRADING_SURVEILLANCE_*, docs/surveillance.md) before the server uses them. It
    only reads the store, so it may run beside the server.
    """
    from socialtrading.infra.decoding import EventDecoder
    from socialtrading.infra.settings import Settings
    from socialtrading.infra.store import open_store
    from socialtrading.policies.surveillance.scanner import Scanner

    settings = Settings()
    store = open_store(settings)
    scanner = Scanner(settings.surveillance_detectors)
    decode = EventDecoder(store.mapper).decode
    sink = output.open("w", encoding="utf-8") if output else sys.stdout
    found = 0
    try:
        head = store.recorder.max_notification_id() or 0
        with rebuild_progress(Console(stderr=True)) as progress:
            task = progress.add_task("scanning the log", total=head)
            after = 0
            while rows := store.read(after, 10_000):
                for position, finding in scanner.scan_rows(rows, decode):
                    found += 1
                    line = {"position": position, **finding._asdict()}
                    line["account"] = str(finding.account)
                    line["evidence"] = [evidence._asdict() for evidence in finding.evidence]
                    sink.write(json.dumps(line, separators=(",", ":")) + "\n")
                after = rows[-1].id
                progress.update(task, completed=after, total=max(head, after))
    finally:
        if output:
            sink.close()
        store.close()
    typer.echo(f"{found} finding(s) in {after} notifications", err=True)


def main() -> None:
    """Entry point of the console script."""
    app()


if __name__ == "__main__":
    main()
