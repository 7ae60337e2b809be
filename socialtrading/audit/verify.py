"""`audit verify`: one pass over the log checking its hash chain, its markets' determinism
and its ledger's sums.

The log is read a page at a time (constant memory: a page of rows and links, one book per
market, a few sums per asset), from the log's start or from an anchor, up to where the log
or the chain ended when the run started (a writer may go on meanwhile). Each page goes to:

- the chain's check (`links.py`): every event's link recomputed (`infra/chain.py`);
- the markets' re-run (`determinism.py`): every market event's command through a fresh
  engine, its records compared with the stored ones;
- the ledger (`ledger.py`): deposits, withdrawals and trading entries summed per asset and
  checked at each anchor and at the end.

An attacker who edits an event and recomputes every link after it passes the first check;
the other two still catch what changes trades or money. Publishing the head link that a run
prints (or an anchor's) somewhere the store's administrators cannot write makes even a
recomputed chain show: `--expect` compares it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.utils import resolve_topic

from socialtrading.audit.determinism import Determinism
from socialtrading.audit.findings import (
    CHAIN,
    DAMAGED,
    DETERMINISM,
    LEDGER,
    UNREADABLE,
    Finding,
)
from socialtrading.audit.ledger import Ledger
from socialtrading.audit.links import (
    FINDINGS_KEPT,
    ChainCheck,
    Link,
    LinkStream,
    RawRow,
    expand,
)
from socialtrading.domain import money
from socialtrading.domain.account import Account
from socialtrading.domain.market import Market
from socialtrading.infra.chain import ADOPTED, GENESIS, UPGRADE, Anchor, Head
from socialtrading.infra.decoding import EventDecoder
from socialtrading.infra.store import EventStore, Row

PAGE = 5_000  # events per read
_TOPICS_KEPT = 10_000
_IDS_KEPT = 100_000

# The events the re-run and the ledger read (every other event is only hashed).
_LEDGER_EVENTS = (
    Account.FundsDeposited,
    Account.FundsWithdrawn,
    Account.LedgerPosted,
    # who may draw credit, and the plans that owe it (`audit/ledger.py`)
    Account.Registered,
    Account.BlockPlanned,
    Account.BlockPlaced,
    Account.BlockPartApplied,
)

# (done, total) positions, after each page
Progress = Callable[[int, int], None]


@dataclass
class Report:
    """What a run checked and found."""

    start: int  # the run checked the positions after this one...
    end: int  # ...up to this one
    anchor: Anchor | None  # the anchor it started from (None: the log's start)
    chained: bool  # whether the store has a hash chain at all
    events: int = 0
    head: Head | None = None  # the chain's head as stored, once checked
    markets: int = 0
    commands: int = 0  # market events re-run
    assets: list[str] = field(default_factory=list)
    balanced_at: int = 0  # anchors (and the end) where the ledger was checked
    findings: list[Finding] = field(default_factory=list)
    more: int = 0  # findings not kept
    notices: list[str] = field(default_factory=list)  # worth knowing, not failures

    @property
    def intact(self) -> bool:
        """Whether nothing disagreed (and there is a chain to agree with)."""
        return self.chained and not self.findings and not self.more

    def first(self) -> Finding | None:
        """The finding at the lowest position (the chain's first, where checks agree on
        one)."""
        return min(self.findings, key=_order, default=None)


def verify(
    store: EventStore,
    from_position: int | None = None,
    progress: Progress | None = None,
    expect: tuple[int, bytes] | None = None,
) -> Report:
    """Check the log from its start, or from the anchor at or before `from_position`.
    `expect` = (position, link): a link recorded elsewhere, which the chain must hold."""
    chained = store.chain_exists()
    anchors = store.chain_anchors() if chained else []
    anchor = None
    if from_position is not None:
        anchor = max((a for a in anchors if a.position <= from_position), default=None)
    start = 0 if anchor is None else anchor.position
    chain_end = store.chain_head().position if chained else 0
    end = max(store.recorder.max_notification_id() or 0, chain_end)
    report = Report(start, end, anchor, chained)
    ahead = [a for a in anchors if start < a.position <= end]
    for notice in anchors:
        if notice.reason in (UPGRADE, ADOPTED) and notice.position > start:
            report.notices.append(_notice(notice))

    check = None
    stream = None
    if chained:
        start_link = _start_link(store, anchor, report)
        later = [a for a in anchors if a.position > start]  # the chain's check sees all
        check = ChainCheck(start, start_link, later, lambda lo, hi: _around(store, lo, hi))
        stream = LinkStream(store.chain_segments, start, store.chain_segment_at(start + 1))
    determinism = Determinism(lambda market_id, version: _market(store, market_id, version))
    ledger = Ledger(from_start=anchor is None)
    since = "the log's start" if anchor is None else f"the anchor at position {start}"
    decoder = EventDecoder(store.mapper)
    ids = _Ids()
    classes: dict[str, type | None] = {}
    findings = report.findings

    def ledger_check(position: int, where: str) -> None:
        findings.extend(ledger.check(position, where, since))
        findings.extend(ledger.check_credit(position, where))
        report.balanced_at += 1

    with money.exact():
        position = start
        while position < end:
            rows = ids.parse(store.log_rows(position, end, PAGE))
            upto = rows[-1][0] if len(rows) == PAGE else end
            if check is not None and stream is not None:
                check.walk(rows, stream.take(upto))
            events = _decode_all(decoder, classes, rows)
            for row in rows:
                while ahead and ahead[0].position < row[0]:
                    passed = ahead.pop(0)
                    ledger_check(passed.position, f"the anchor at position {passed.position}")
                event = events.get(row[0])
                if event is None:
                    continue
                if isinstance(event, Finding):
                    findings.append(event)
                elif isinstance(event, _LEDGER_EVENTS):
                    found = ledger.apply(row[0], event)
                    if found is not None:
                        findings.append(found)
                else:
                    findings.extend(determinism.apply(row[0], event))
            report.events += len(rows)
            position = upto
            if len(findings) > 2 * FINDINGS_KEPT:
                _keep_first(report)
            if progress is not None:
                progress(position - start, end - start)
        for passed in ahead:
            ledger_check(passed.position, f"the anchor at position {passed.position}")
        ledger_check(end, "the log's end")

    report.markets, report.commands = determinism.markets, determinism.commands
    report.assets = ledger.assets()
    if check is not None and stream is not None:
        check.finish()
        for segment in stream.damaged:
            findings.append(
                Finding(
                    segment.first,
                    CHAIN,
                    DAMAGED,
                    f"the hash chain's segment of positions {segment.first} to {segment.last} "
                    "is damaged (its links do not fit its positions, or overlap another's)",
                )
            )
        findings.extend(check.findings)
        report.more += check.more
        report.head = Head(check.head_position, check.head_link)
        if expect is not None:
            findings.extend(_expected(store, *expect))
    _keep_first(report)
    return report


def _keep_first(report: Report) -> None:
    """Keep the FINDINGS_KEPT findings at the lowest positions; count the others."""
    report.findings.sort(key=_order)
    report.more += len(report.findings[FINDINGS_KEPT:])
    del report.findings[FINDINGS_KEPT:]


def _order(finding: Finding) -> tuple[int, bool]:
    return finding.position, finding.check != CHAIN


def _start_link(store: EventStore, anchor: Anchor | None, report: Report) -> bytes:
    """The stored link at the run's start: the anchor's, checked against the chain's."""
    if anchor is None:
        return GENESIS
    segment = store.chain_segment_at(anchor.position)
    links = None if segment is None else expand(segment, anchor.position - 1, anchor.position)
    stored = None if not links else links[anchor.position].link
    if stored != anchor.link:
        report.findings.append(
            Finding(
                anchor.position,
                CHAIN,
                DAMAGED,
                f"the anchor the run starts from ({anchor.reason}) records another link than "
                "the hash chain holds there",
            )
        )
    return anchor.link


def _expected(store: EventStore, position: int, link: bytes) -> list[Finding]:
    segment = store.chain_segment_at(position)
    links = None if segment is None else expand(segment, position - 1, position)
    if links and links[position].link == link:
        return []
    return [
        Finding(
            position,
            CHAIN,
            DAMAGED,
            "the hash chain does not hold the expected link here: the log (and its chain) "
            "differ from when that link was recorded",
        )
    ]


def _notice(anchor: Anchor) -> str:
    first, last = anchor.since + 1, anchor.position
    if anchor.reason == UPGRADE:
        return f"positions {first} to {last} were linked when the hash chain was created"
    return (
        f"positions {first} to {last} were linked at a writer's start, not as they were "
        "stored: something other than the writer stored them"
    )


def _around(store: EventStore, low: int, high: int) -> tuple[dict[int, RawRow], dict[int, Link]]:
    rows = {row[0]: row for row in store.log_rows(low, high, high - low)}
    links: dict[int, Link] = {}
    segment = store.chain_segment_at(low + 1)
    segments = [] if segment is None else [segment]
    segments += store.chain_segments(low + 1 if segment is None else segment.first, high - low)
    for found in segments:
        expanded = expand(found, low, high)
        if expanded:
            links.update(expanded)
    return rows, links


def _decode_all(
    decoder: EventDecoder, classes: dict[str, type | None], rows: list[RawRow]
) -> dict[int, Any]:
    """Position -> the market or ledger event its row holds, or a Finding if it does not
    decode (rows of other events, or whose topic is not text, are left out: the chain's
    check names those)."""
    wanted: list[tuple[Row, type]] = []
    for position, originator, version, topic, state in rows:
        if not isinstance(topic, str):
            continue
        cls = classes.get(topic, Ellipsis)
        if cls is Ellipsis:
            cls = _relevant(topic)
            if len(classes) < _TOPICS_KEPT:
                classes[topic] = cls
        if cls is not None:
            wanted.append((Row(position, originator, version, topic, state), cls))
    try:  # all at once; one by one if one of them fails
        return dict(decoder.decode([_parsed(row) for row, _ in wanted]))
    except Exception:
        return {row.id: _decode(decoder, row, cls) for row, cls in wanted}


def _parsed(row: Row) -> Row:
    originator = row.originator_id
    if not isinstance(originator, UUID):
        originator = UUID(str(originator))  # raises for text that names no UUID
    return Row(row.id, originator, row.originator_version, row.topic, bytes(row.state))


class _Ids:
    """Originator ids as stored (SQLite: text) -> one UUID each: a log names few
    aggregates, many times each."""

    def __init__(self) -> None:
        self._known: dict[Any, Any] = {}

    def parse(self, rows: list[RawRow]) -> list[RawRow]:
        """The rows with their originator ids as UUIDs (text naming none kept as it is)."""
        known = self._known
        if len(known) > _IDS_KEPT:
            known.clear()
        parsed = []
        for position, originator, version, topic, state in rows:
            found = known.get(originator)
            if found is None:
                found = known[originator] = _uuid(originator)
            parsed.append((position, found, version, topic, state))
        return parsed


def _uuid(originator: Any) -> Any:
    if isinstance(originator, UUID):
        return originator
    try:
        return UUID(str(originator))
    except ValueError:
        return originator


def _decode(decoder: EventDecoder, row: Row, cls: type) -> Any:
    try:
        ((_, event),) = decoder.decode([_parsed(row)])
    except Exception as error:
        check = LEDGER if issubclass(cls, _LEDGER_EVENTS) else DETERMINISM
        return Finding(
            row.id,
            check,
            UNREADABLE,
            f"the {cls.__name__} event here does not decode ({type(error).__name__}): it "
            "was changed",
        )
    return event


def _relevant(topic: str) -> type | None:
    try:
        cls = resolve_topic(topic)
    except Exception:
        return None
    if not isinstance(cls, type):
        return None
    if issubclass(cls, Market.Listed | Market.BookChanged) or issubclass(cls, _LEDGER_EVENTS):
        return cls
    return None


def _market(store: EventStore, market_id: UUID, version: int) -> Market:
    market: object = store.repository.get(market_id, version=version)
    if not isinstance(market, Market):
        raise TypeError(f"{market_id} is not a market")
    return market
