"""The `socialtrading` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from socialtrading.engine import journal

app = typer.Typer(
    help="InstantSocialTrading: an event-sourced social trading backend.",
    no_args_is_help=True,
    add_completion=False,
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

    Unreadable lines are reported on stderr with their line number; the run goes on.
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


@app.command()
def demo(
    commands: Annotated[int, typer.Option(help="How many generated commands to run.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Seed of the generated order flow.")] = 1,
) -> None:
    """Run the engine over a generated BTC-USD market and print a summary."""
    from socialtrading.infra.demo import run_engine_demo

    run_engine_demo(commands, seed)


def main() -> None:
    """Entry point of the console script."""
    app()


if __name__ == "__main__":
    main()
