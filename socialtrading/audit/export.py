"""Analysts' extracts: the events of a time range and a stream, as JSON Lines, CSV or Parquet.

An export reads the log in pages of `page_size` events between the positions of its two
times (`timeline.py`) and writes each page before it reads the next, so its memory does not
grow with the range. The file is written beside its name and renamed once complete: a failed
or interrupted export leaves no partial file under that name.

One row per event, with the columns of `COLUMNS`, in log order:

- position: the event's position in the log; time: the sequencer's time (ISO 8601 UTC, or a
  UTC timestamp in microseconds in Parquet);
- aggregate: market, account, post, comment, like, report or copy; aggregate_id; version: of
  the aggregate;
- type: the event's type (OrderAccepted, LedgerPosted, ...);
- actor and command_id: who did it and with which command (empty when the event does not
  answer one command: see `events.py`);
- data: the event's fields as a JSON object (text in CSV and Parquet): market records with
  decimal prices and quantities, amounts as decimal strings.

Streams: `markets` (listings, orders, trades, halts and auctions), `accounts` (registrations,
KYC, roles, deposits, withdrawals, tokens, the ledger), `social` (profiles, follows, blocks,
posts, comments, likes, reports, moderation), `copy` (copies and leaders' settings), `all`.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import IO, Any, NamedTuple, Protocol

import orjson

from socialtrading.audit.events import Described, Describer, to_json
from socialtrading.audit.timeline import LogRange, log_range
from socialtrading.infra.store import EventStore

MARKETS = "markets"
ACCOUNTS = "accounts"
SOCIAL = "social"
COPY = "copy"
ALL = "all"
STREAMS = (MARKETS, ACCOUNTS, SOCIAL, COPY, ALL)

JSONL = "jsonl"
CSV = "csv"
PARQUET = "parquet"
FORMATS = (JSONL, CSV, PARQUET)

COLUMNS = (
    "position",
    "time",
    "aggregate",
    "aggregate_id",
    "version",
    "type",
    "actor",
    "command_id",
    "data",
)
PAGE_SIZE = 5_000
MAX_PAGE_SIZE = 100_000

# Account events of the social and copy streams (the rest of Account's are `accounts`).
_ACCOUNT_SOCIAL = frozenset(
    {"ProfileUpdated", "Followed", "Unfollowed", "Blocked", "Unblocked", "NotificationsRead"}
)
_ACCOUNT_COPY = frozenset({"CopySettingsChanged", "RiskScoreRecorded"})
_AGGREGATE_STREAMS = {
    "Market": MARKETS,
    "Post": SOCIAL,
    "Comment": SOCIAL,
    "Like": SOCIAL,
    "Report": SOCIAL,
    "Copy": COPY,
}


class ParquetUnavailableError(RuntimeError):
    """Parquet was asked for without pyarrow installed."""


class Exported(NamedTuple):
    """What an export wrote: rows, pages read, and the log range it covered."""

    rows: int
    pages: int
    range: LogRange


def stream_of(topic: str) -> str | None:
    """The stream of events stored under `topic` (None: only in `all`)."""
    qualname = topic.partition(":")[2]
    aggregate, _, name = qualname.partition(".")
    if aggregate == "Account":
        if name in _ACCOUNT_SOCIAL:
            return SOCIAL
        return COPY if name in _ACCOUNT_COPY else ACCOUNTS
    return _AGGREGATE_STREAMS.get(aggregate)


def pyarrow_modules() -> tuple[ModuleType, ModuleType]:
    """pyarrow and pyarrow.parquet, or ParquetUnavailableError saying how to install them."""
    try:
        return importlib.import_module("pyarrow"), importlib.import_module("pyarrow.parquet")
    except ImportError as error:
        raise ParquetUnavailableError(
            "Parquet needs pyarrow: install the `parquet` extra (pip install "
            "'socialtrading[parquet]'), or export as jsonl or csv"
        ) from error


def export(
    store: EventStore,
    path: Path,
    *,
    file_format: str,
    stream: str = ALL,
    start: datetime | None = None,
    end: datetime | None = None,
    page_size: int = PAGE_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> Exported:
    """Write the events of `stream` recorded from `start` (included) to `end` (excluded) to
    `path` in `file_format`; `progress(done, total)` is told positions covered after each
    page."""
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}: one of {', '.join(STREAMS)}")
    if file_format not in FORMATS:
        raise ValueError(f"unknown format {file_format!r}: one of {', '.join(FORMATS)}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"a page holds 1 to {MAX_PAGE_SIZE} events")
    if start is not None and end is not None and end < start:
        raise ValueError("the range ends before it starts")
    if file_format == PARQUET:
        pyarrow_modules()  # before anything is written
    return export_range(
        store,
        path,
        log_range(store, start, end),
        file_format=file_format,
        stream=stream,
        page_size=page_size,
        progress=progress,
    )


def export_range(
    store: EventStore,
    path: Path,
    span: LogRange,
    *,
    file_format: str,
    stream: str = ALL,
    page_size: int = PAGE_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> Exported:
    """Write the events of `stream` in the log range `span` (see `export`)."""
    describer = Describer(store)
    partial = path.with_name(path.name + ".partial")
    rows = pages = 0
    sink = _SINKS[file_format](partial)
    try:
        after = span.after
        while after < span.last:
            read = store.read(after, min(page_size, span.last - after))
            pages += 1
            if not read:
                break
            chosen = [
                row
                for row in read
                if row.id <= span.last and (stream == ALL or stream_of(row.topic) == stream)
            ]
            described = describer.describe(chosen)
            sink.write(described)
            rows += len(described)
            after = read[-1].id
            if progress is not None:
                progress(min(after, span.last) - span.after, span.size)
        sink.close()
    except BaseException:
        with contextlib.suppress(Exception):  # the first error is the one to tell
            sink.close()
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
    return Exported(rows, pages, span)


def row_of(event: Described) -> dict[str, Any]:
    """An event as an export row: COLUMNS, with `data` as a dict and the time as text."""
    return {
        "position": event.position,
        "time": event.at.isoformat().replace("+00:00", "Z"),
        "aggregate": event.aggregate,
        "aggregate_id": event.aggregate_id,
        "version": event.version,
        "type": event.type,
        "actor": event.actor,
        "command_id": event.command_id,
        "data": event.fields,
    }


class _Sink(Protocol):
    def write(self, events: Sequence[Described]) -> None: ...

    def close(self) -> None: ...


class _JsonLines:
    """One JSON object per line."""

    def __init__(self, path: Path) -> None:
        self._file: IO[bytes] = path.open("wb")

    def write(self, events: Sequence[Described]) -> None:
        self._file.write(b"".join(orjson.dumps(row_of(event)) + b"\n" for event in events))

    def close(self) -> None:
        self._file.close()


class _Csv:
    """A header of COLUMNS, then a row per event (`data` as JSON text; empty for none)."""

    def __init__(self, path: Path) -> None:
        self._file: IO[str] = path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(COLUMNS)

    def write(self, events: Sequence[Described]) -> None:
        rows = []
        for event in events:
            row = row_of(event)
            row["data"] = to_json(event.fields)
            rows.append(["" if row[name] is None else row[name] for name in COLUMNS])
        self._writer.writerows(rows)

    def close(self) -> None:
        self._file.close()


class _Parquet:
    """One row group per page; `time` a UTC timestamp in microseconds, `data` JSON text."""

    def __init__(self, path: Path) -> None:
        pa, pq = pyarrow_modules()
        self._pa = pa
        self._schema = pa.schema(
            [
                ("position", pa.int64()),
                ("time", pa.timestamp("us", tz="UTC")),
                ("aggregate", pa.string()),
                ("aggregate_id", pa.string()),
                ("version", pa.int64()),
                ("type", pa.string()),
                ("actor", pa.string()),
                ("command_id", pa.string()),
                ("data", pa.string()),
            ]
        )
        self._writer: Any = pq.ParquetWriter(str(path), self._schema)

    def write(self, events: Sequence[Described]) -> None:
        if not events:
            return
        columns = {
            "position": [e.position for e in events],
            "time": [e.at for e in events],
            "aggregate": [e.aggregate for e in events],
            "aggregate_id": [e.aggregate_id for e in events],
            "version": [e.version for e in events],
            "type": [e.type for e in events],
            "actor": [e.actor for e in events],
            "command_id": [e.command_id for e in events],
            "data": [to_json(e.fields) for e in events],
        }
        self._writer.write_table(self._pa.table(columns, schema=self._schema))

    def close(self) -> None:
        self._writer.close()


_SINKS: dict[str, Callable[[Path], _Sink]] = {JSONL: _JsonLines, CSV: _Csv, PARQUET: _Parquet}
