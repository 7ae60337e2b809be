"""Exports on both backends: a time range's events in each format and stream, read back;
the log read in pages; no partial file left behind; times found by bisection."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from socialtrading.audit import export as exports
from socialtrading.audit.events import Describer
from socialtrading.audit.timeline import bound, log_range
from socialtrading.commands.writer import Writer
from socialtrading.domain.account import Account
from socialtrading.domain.copy.copy import Copy
from socialtrading.domain.market import Market
from socialtrading.domain.social.comment import Comment
from socialtrading.domain.social.like import Like
from socialtrading.domain.social.post import Post
from socialtrading.domain.social.report import Report
from socialtrading.infra.store import EventStore
from tests.integration.audit_world import AuditWorld, tell
from tests.unit.commands.copy_world import CAL

# What each stream holds, by event class (the export decides by the stored topic).
_ACCOUNT_SOCIAL = (
    Account.ProfileUpdated,
    Account.Followed,
    Account.Unfollowed,
    Account.Blocked,
    Account.Unblocked,
    Account.NotificationsRead,
)
STREAMS: dict[str, Callable[[Any], bool]] = {
    "markets": lambda e: isinstance(e, Market.Event),
    "accounts": lambda e: (
        isinstance(e, Account.Event)
        and not isinstance(e, _ACCOUNT_SOCIAL)
        and not isinstance(e, Account.CopySettingsChanged | Account.RiskScoreRecorded)
    ),
    "social": lambda e: isinstance(
        e, (*_ACCOUNT_SOCIAL, Post.Event, Comment.Event, Like.Event, Report.Event)
    ),
    "copy": lambda e: isinstance(
        e, Copy.Event | Account.CopySettingsChanged | Account.RiskScoreRecorded
    ),
    "all": lambda e: True,
}


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """A folder for the exports alone (the SQLite store is in `tmp_path`)."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def world(make_writer: Callable[..., Writer]) -> AuditWorld:
    told = AuditWorld(make_writer)
    tell(told)
    return told


def _middle(world: AuditWorld) -> tuple[list[tuple[int, Any]], Any, Any]:
    """The log, and the times of its second and fourth quarters' first events."""
    log = world.log()
    times = [event.timestamp for _, event in log]
    assert times == sorted(times)  # one command per batch: the log is in time order
    return log, times[len(log) // 4], times[3 * len(log) // 4]


def _read(path: Path, file_format: str) -> list[dict[str, Any]]:
    """An export's rows as dicts of plain values (`data` parsed)."""
    if file_format == "jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if file_format == "csv":
        with path.open(encoding="utf-8", newline="") as source:
            rows = list(csv.DictReader(source))
        assert rows and list(rows[0]) == list(exports.COLUMNS)
        for row in rows:
            row["position"] = int(row["position"])
            row["version"] = int(row["version"])
            row["actor"] = row["actor"] or None
            row["command_id"] = row["command_id"] or None
            row["data"] = json.loads(row["data"])
        return rows
    parquet = pytest.importorskip("pyarrow.parquet")
    table = parquet.read_table(path)
    assert table.column_names == list(exports.COLUMNS)
    read: list[dict[str, Any]] = table.to_pylist()
    for row in read:
        row["time"] = row["time"].isoformat().replace("+00:00", "Z")
        row["data"] = json.loads(row["data"])
    return read


@pytest.mark.parametrize("file_format", ["jsonl", "csv", "parquet"])
def test_an_export_holds_exactly_the_events_of_its_range_in_each_format(
    world: AuditWorld, out: Path, file_format: str
) -> None:
    if file_format == "parquet":
        pytest.importorskip("pyarrow")
    store = world.writer.store
    log, start, end = _middle(world)
    path = out / f"out.{file_format}"
    done = exports.export(store, path, file_format=file_format, start=start, end=end)
    expected = [(p, e) for p, e in log if start <= e.timestamp < end]
    rows = _read(path, file_format)
    assert done.rows == len(rows) == len(expected)
    assert [
        (r["position"], r["type"], r["aggregate_id"], r["version"], r["time"]) for r in rows
    ] == [
        (
            p,
            type(e).__qualname__.split(".")[-1],
            str(e.originator_id),
            e.originator_version,
            e.timestamp.isoformat().replace("+00:00", "Z"),
        )
        for p, e in expected
    ]
    # every format holds the same rows: the description of each event
    described = Describer(store).at([p for p, _ in expected])
    assert rows == [json.loads(json.dumps(exports.row_of(event))) for event in described]
    assert not list(out.glob("*.partial"))


def test_each_stream_holds_its_events_only(world: AuditWorld, out: Path) -> None:
    store = world.writer.store
    log = world.log()
    seen: set[int] = set()
    for stream, wanted in STREAMS.items():
        path = out / f"{stream}.jsonl"
        exports.export(store, path, file_format="jsonl", stream=stream)
        positions = [row["position"] for row in _read(path, "jsonl")]
        assert positions == [p for p, e in log if wanted(e)], stream
        assert positions, stream
        if stream != "all":
            assert not seen & set(positions), f"{stream} shares events with another stream"
            seen |= set(positions)
    assert seen == {p for p, _ in log}  # the four streams make the whole log


def test_rows_carry_who_did_it_and_exact_values(world: AuditWorld, out: Path) -> None:
    path = out / "accounts.jsonl"
    exports.export(world.writer.store, path, file_format="jsonl", stream="accounts")
    rows = _read(path, "jsonl")
    deposit = next(
        r for r in rows if r["type"] == "FundsDeposited" and r["aggregate_id"] == str(CAL)
    )
    assert deposit["aggregate"] == "account"
    assert deposit["actor"] == str(CAL) and deposit["command_id"]
    assert deposit["data"] == {
        "asset": "USD",
        "amount": "10000",
        "by": str(CAL),
        "command_id": deposit["command_id"],
    }
    ledger = next(r for r in rows if r["type"] == "LedgerPosted")
    assert ledger["actor"] is None and ledger["command_id"] is None
    path = out / "markets.jsonl"
    exports.export(world.writer.store, path, file_format="jsonl", stream="markets")
    accepted = next(r for r in _read(path, "jsonl") if r["type"] == "OrderAccepted")
    record = accepted["data"]["records"][0]
    assert (record["type"], record["price"], record["qty"]) == ("accepted", "99", "2")


class _CountingStore:
    """The store, with the size of each `read` recorded."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self.reads: list[tuple[int, int]] = []  # (limit, rows)

    def read(self, after: int, limit: int) -> Any:
        rows = self._store.read(after, limit)
        self.reads.append((limit, len(rows)))
        return rows

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_an_export_reads_the_log_a_page_at_a_time(world: AuditWorld, out: Path) -> None:
    counting = _CountingStore(world.writer.store)
    log, start, end = _middle(world)
    span = log_range(world.writer.store, start, end)
    counting.reads.clear()
    done = exports.export(
        counting,  # type: ignore[arg-type]
        out / "out.csv",
        file_format="csv",
        start=start,
        end=end,
        page_size=7,
    )
    pages = [read for read in counting.reads if read[0] > 1]  # the rest find the two bounds
    assert pages and max(limit for limit, _ in pages) == 7
    assert max(rows for _, rows in counting.reads) <= 7
    assert len(pages) == done.pages == -(-span.size // 7)
    assert sum(rows for _, rows in pages) == span.size == done.rows
    assert len(counting.reads) - len(pages) <= 2 * (len(log).bit_length() + 1)


def test_a_failed_export_leaves_no_file(
    world: AuditWorld, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    describe = Describer.describe

    def failing(self: Describer, rows: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return describe(self, rows)

    monkeypatch.setattr(Describer, "describe", failing)
    path = out / "out.jsonl"
    with pytest.raises(RuntimeError, match="disk full"):
        exports.export(world.writer.store, path, file_format="jsonl", page_size=5)
    assert list(out.iterdir()) == []


def test_parquet_without_pyarrow_is_a_clear_error_and_writes_nothing(
    world: AuditWorld, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # what an absent module imports as
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(exports.ParquetUnavailableError, match=r"socialtrading\[parquet\]"):
        exports.export(world.writer.store, out / "x.parquet", file_format="parquet")
    assert list(out.iterdir()) == []


def test_a_time_is_found_at_the_first_event_recorded_at_or_after_it(world: AuditWorld) -> None:
    store = world.writer.store
    log = world.log()
    for index in (0, 1, len(log) // 2, len(log) - 1):
        moment = log[index][1].timestamp
        earlier = [p for p, e in log if e.timestamp < moment]  # a command's events share it
        assert bound(store, moment) == (earlier[-1] if earlier else 0)
        assert bound(store, moment + timedelta(microseconds=1)) == max(
            p for p, e in log if e.timestamp <= moment
        )
    last_position, last = log[-1]
    assert bound(store, last.timestamp + timedelta(days=1)) == last_position
    assert log_range(store, None, None) == (0, last_position)
    early = log[0][1].timestamp - timedelta(days=1)
    assert log_range(store, early, early).size == 0


def test_bad_arguments_are_refused_before_anything_is_written(world: AuditWorld, out: Path) -> None:
    store = world.writer.store
    path = out / "x"
    for options, message in (
        ({"file_format": "xml"}, "unknown format"),
        ({"file_format": "csv", "stream": "orders"}, "unknown stream"),
        ({"file_format": "csv", "page_size": 0}, "a page holds"),
    ):
        with pytest.raises(ValueError, match=message):
            exports.export(store, path, **options)
    _, start, end = _middle(world)
    with pytest.raises(ValueError, match="ends before it starts"):
        exports.export(store, path, file_format="csv", start=end, end=start)
    assert list(out.iterdir()) == []
