"""The chain's check over an in-memory log: each kind of tampering named, once, at the
position it happened, across page boundaries; and a damaged chain table named too."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from socialtrading.audit.findings import DAMAGED, EDITED, INSERTED, REMOVED, REORDERED, Finding
from socialtrading.audit.links import ChainCheck, Link, LinkStream, RawRow, expand
from socialtrading.infra.chain import GENESIS, Anchor, Segment, link_rows, segments


class MemoryLog:
    """A log and its chain as the writer leaves them: rows by position, one segment per
    batch."""

    def __init__(self, count: int, seed: int, gaps: bool = False) -> None:
        rng = random.Random(seed)
        self.rng = rng
        aggregates = [UUID(int=rng.getrandbits(128)) for _ in range(5)]
        versions = dict.fromkeys(aggregates, 0)
        self.rows: dict[int, RawRow] = {}
        self.segments: list[Segment] = []
        position = 0
        head = (0, GENESIS)
        while len(self.rows) < count:
            size = min(rng.randint(1, 9), count - len(self.rows))
            batch: list[RawRow] = []
            for _ in range(size):
                position += 1 + (rng.random() < 0.2 if gaps else 0)
                aggregate = rng.choice(aggregates)
                versions[aggregate] += 1
                state = rng.randbytes(rng.randint(1, 40))
                batch.append((position, aggregate.hex, versions[aggregate], "t:Event", state))
            links = link_rows(head[1], batch)
            self.segments += segments(head[0], [row[0] for row in batch], links)
            self.rows.update((row[0], row) for row in batch)
            head = (batch[-1][0], links[-1])
        self.head = head

    def new_row(self, position: int) -> RawRow:
        return (position, UUID(int=self.rng.getrandbits(128)).hex, 1, "t:Event", b"{}")

    # the store's reads, over memory

    def rows_in(self, after: int, upto: int, limit: int) -> list[RawRow]:
        return [self.rows[p] for p in sorted(self.rows) if after < p <= upto][:limit]

    def segments_after(self, after: int, limit: int) -> list[Segment]:
        return [s for s in self.segments if s.first > after][:limit]

    def segment_at(self, position: int) -> Segment | None:
        return next((s for s in self.segments if s.first <= position <= s.last), None)

    def around(self, low: int, high: int) -> tuple[dict[int, RawRow], dict[int, Link]]:
        links: dict[int, Link] = {}
        for segment in self.segments:
            links.update(expand(segment, low, high) or {})
        return {row[0]: row for row in self.rows_in(low, high, high - low)}, links


def walk(log: MemoryLog, page: int = 7, anchors: tuple[Anchor, ...] = ()) -> list[Finding]:
    """What `audit verify` does with the chain, page by page."""
    end = max(max(log.rows, default=0), log.head[0])
    check = ChainCheck(0, GENESIS, anchors, log.around)
    stream = LinkStream(log.segments_after, 0, log.segment_at(1))
    position = 0
    while position < end:
        rows = log.rows_in(position, end, page)
        upto = rows[-1][0] if len(rows) == page else end
        check.walk(rows, stream.take(upto))
        position = upto
    check.finish()
    return check.findings + [Finding(s.first, "chain", DAMAGED, "segment") for s in stream.damaged]


def edit(log: MemoryLog, position: int) -> None:
    row = log.rows[position]
    log.rows[position] = (*row[:4], row[4] + b" ")


def delete(log: MemoryLog, position: int) -> None:
    del log.rows[position]


def swap(log: MemoryLog, position: int, other: int) -> None:
    one, two = log.rows[position], log.rows[other]
    log.rows[position], log.rows[other] = (position, *two[1:]), (other, *one[1:])


def insert_at(log: MemoryLog, position: int) -> None:
    """An event inserted at `position`, the later ones moved up by one."""
    moved = {
        p + 1 if p >= position else p: (p + 1, *row[1:]) if p >= position else row
        for p, row in log.rows.items()
    }
    moved[position] = log.new_row(position)
    log.rows = moved


def remove_at(log: MemoryLog, position: int) -> None:
    """The event at `position` removed, the later ones moved down by one."""
    del log.rows[position]
    log.rows = {
        p - 1 if p > position else p: (p - 1, *row[1:]) if p > position else row
        for p, row in log.rows.items()
    }


def kinds(findings: list[Finding]) -> list[tuple[int, str]]:
    return [(f.position, f.kind) for f in findings]


@settings(max_examples=60, deadline=None)
@given(st.integers(10, 120), st.integers(0, 2**32), st.integers(1, 12), st.data())
def test_each_tampering_is_named_once_at_its_position(
    count: int, seed: int, page: int, data: st.DataObject
) -> None:
    log = MemoryLog(count, seed)
    assert walk(log, page) == []
    position = data.draw(st.integers(1, count), label="position")
    operations: dict[str, tuple[Callable[[], Any], tuple[int, str]]] = {
        "edit": (lambda: edit(log, position), (position, EDITED)),
        "delete": (lambda: delete(log, position), (position, REMOVED)),
        "insert at the end": (
            lambda: log.rows.__setitem__(count + 1, log.new_row(count + 1)),
            (count + 1, INSERTED),
        ),
        "insert": (lambda: insert_at(log, position), (position, INSERTED)),
        "remove, moving the rest down": (lambda: remove_at(log, position), (position, REMOVED)),
    }
    if position < count:
        other = data.draw(st.integers(position + 1, count), label="other")
        operations["swap"] = (lambda: swap(log, position, other), (position, REORDERED))
    name = data.draw(st.sampled_from(sorted(operations)), label="operation")
    tamper, expected = operations[name]
    tamper()
    assert kinds(walk(log, page)) == [expected], name


def test_an_event_removed_with_its_link_is_named_at_its_position() -> None:
    log = MemoryLog(40, seed=3)
    segment = next(s for s in log.segments if s.first < s.last and s.first > 1)
    # the attacker drops the segment's first event and link, and re-stores the rest
    removed = segment.first
    del log.rows[removed]
    index = log.segments.index(segment)
    log.segments[index] = Segment(removed + 1, segment.last, removed, segment.links[32:])
    assert kinds(walk(log)) == [(removed, REMOVED)]


def test_links_forged_for_an_event_inserted_into_a_gap_are_named() -> None:
    log = MemoryLog(60, seed=4, gaps=True)
    gap = next(p for p in range(2, 60) if p not in log.rows and p - 1 in log.rows)
    before = gap - 1
    row = log.new_row(gap)
    held = log.segment_at(before)
    assert held is not None
    previous = expand(held, before - 1, before)
    assert previous is not None
    (link,) = link_rows(previous[before].link, [row])
    log.rows[gap] = row
    log.segments.append(Segment(gap, gap, before, link))
    log.segments.sort()
    assert kinds(walk(log)) == [(gap, INSERTED)]


def test_an_anchor_that_disagrees_with_the_chain_is_named() -> None:
    log = MemoryLog(30, seed=5)
    position, link = log.head
    anchors = (Anchor(10, bytes(32), "interval", 8), Anchor(position, link, "interval", 1))
    assert kinds(walk(log, anchors=anchors)) == [(10, DAMAGED)]
    # an anchor past the end: the log was cut off there, links and all
    beyond = (Anchor(position + 5, link, "interval", position),)
    assert kinds(walk(log, anchors=beyond)) == [(position + 5, REMOVED)]


def test_a_segment_whose_links_do_not_fit_its_positions_is_named() -> None:
    log = MemoryLog(30, seed=6)
    segment = log.segments[2]
    log.segments[2] = segment._replace(links=segment.links[:-1])
    found = walk(log)
    assert (segment.first, DAMAGED) in kinds(found)
