"""The hash chain's check: each event's link recomputed and compared with the stored one.

The walk goes through the positions the log or the chain holds, in order. At each:

- an event without a link: **inserted** (stored by something other than the writer, which
  links every event it stores in the same transaction);
- a link without an event: **removed**;
- a link whose recorded previous position is not the last one walked: a position both lost
  (**removed** with its link), or links forged for events **inserted** since that position;
- a link that is not `link_of(stored link of its previous position, the event)`: the event
  changed. It is **reordered** when it is another position's event (and that position holds
  this one's: a swap); when the events from here on are the ones written a few positions
  further on, or back, events were **removed** or **inserted** here and the later ones moved
  (named once, the moved ones counted); else **edited**. Those look-ups search the positions
  within `_AROUND` of the disagreement.

Each event is checked against the STORED link of its predecessor, so one edited event is
named alone rather than breaking every link after it; the links themselves are checked as a
chain because each stored link must follow from the stored link before it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from socialtrading.audit.findings import (
    CHAIN,
    DAMAGED,
    EDITED,
    INSERTED,
    REMOVED,
    REORDERED,
    Finding,
)
from socialtrading.infra.chain import GENESIS, LINK_SIZE, Anchor, Segment, id_bytes, link_of

_AROUND = 256  # positions either side searched for where a mismatched event belongs
_RECENT = 1_024  # link positions remembered to name where forged links began
FINDINGS_KEPT = 100  # findings kept (the others are counted)

RawRow = tuple[int, Any, int, Any, Any]  # (position, originator id, version, topic, state)


class Link(NamedTuple):
    """A stored link and the position its segment says was chained before it."""

    previous: int
    link: bytes


def expand(segment: Segment, after: int, upto: int) -> dict[int, Link] | None:
    """The links of `segment` at positions in (after, upto]; None if the segment is damaged
    (its links are not 32 bytes per position, or its positions run backwards)."""
    first, last, previous, links = segment
    if first > last or previous >= first or len(links) != LINK_SIZE * (last - first + 1):
        return None
    found: dict[int, Link] = {}
    for position in range(max(first, after + 1), min(last, upto) + 1):
        offset = (position - first) * LINK_SIZE
        before = previous if position == first else position - 1
        found[position] = Link(before, links[offset : offset + LINK_SIZE])
    return found


def event_link(previous: bytes, position: int, row: RawRow) -> bytes | None:
    """The link `row` (as stored) would have at `position` after `previous`; None if the row
    cannot be hashed (a value no writer stores: a version beyond 64 bits, a state of no
    bytes)."""
    _, originator, version, topic, state = row
    try:
        if isinstance(state, memoryview | bytearray):
            state = bytes(state)
        if not isinstance(state, bytes) or not isinstance(topic, str):
            return None
        return link_of(previous, position, id_bytes(originator), version, topic, state)
    except Exception:
        return None


class LinkStream:
    """The stored links in position order, read a page of segments at a time."""

    def __init__(
        self, read: Callable[[int, int], list[Segment]], start: int, first: Segment | None
    ) -> None:
        """`read(after, limit)`: up to `limit` segments starting after position `after`, in
        order; `first`: the segment holding position `start + 1` if it starts before it."""
        self._read = read
        self._after = start  # links at or before this position are taken
        self._pending: deque[Segment] = deque()
        self._read_after = start  # segments starting after this position are to be read
        if first is not None and first.first <= start:
            self._pending.append(first)
            self._read_after = first.first
        self._exhausted = False
        self.damaged: list[Segment] = []

    def take(self, upto: int) -> dict[int, Link]:
        """The links at positions after the last `take` and up to `upto`."""
        found: dict[int, Link] = {}
        while True:
            if not self._pending and not self._exhausted:
                page = self._read(self._read_after, 1_000)
                if page:
                    self._pending.extend(page)
                    self._read_after = page[-1].first
                else:
                    self._exhausted = True
            if not self._pending or self._pending[0].first > upto:
                break
            segment = self._pending[0]
            links = expand(segment, self._after, upto)
            if links is None:
                self.damaged.append(segment)
                self._pending.popleft()
                continue
            if found.keys() & links.keys():  # segments that overlap: a forged one
                self.damaged.append(segment)
            found.update(links)
            if segment.last > upto:
                break
            self._pending.popleft()
        self._after = max(self._after, upto)
        return found


class ChainCheck:
    """Walks the log's rows and the chain's links page by page, collecting findings."""

    def __init__(
        self,
        start: int,
        start_link: bytes,
        anchors: Sequence[Anchor],
        around: Callable[[int, int], tuple[dict[int, RawRow], dict[int, Link]]],
    ) -> None:
        """`start_link` is the stored link at position `start` (GENESIS at 0); `around(lo,
        hi)` reads the rows and links at positions in (lo, hi] (for naming a disagreement)."""
        self.findings: list[Finding] = []
        self.more = 0  # findings beyond FINDINGS_KEPT
        self.events = 0
        self.head_position = start
        self.head_link = start_link
        self._anchors = {anchor.position: anchor for anchor in anchors}
        self._anchors_seen: set[int] = set()
        self._around = around
        self._known: dict[int, bytes] = {start: start_link}  # stored links, this page and last
        self._previous_page: dict[int, bytes] = {}
        self._last = start  # the last position walked that holds a link
        self._recent: deque[int] = deque(maxlen=_RECENT)
        self._window: tuple[int, int, dict[int, RawRow], dict[int, Link]] | None = None
        self._shift = 0  # events from here on were written this many positions on (0: none)
        self._shifted: Finding | None = None
        self._moved = 0
        self._swapped: set[int] = set()  # positions already named as swapped

    # ------------------------------------------------------------------ walking

    def walk(self, rows: Sequence[RawRow], links: dict[int, Link]) -> None:
        """Check one page: `rows` (ascending) and the links at positions up to its end."""
        by_position = {row[0]: row for row in rows}
        self._previous_page, self._known = self._known, {}
        for position in sorted(by_position.keys() | links.keys()):
            self._step(position, by_position.get(position), links.get(position))

    def finish(self) -> None:
        """Name anchors that lie on positions the chain does not hold (after the last page)."""
        self._end_shift()
        for position, anchor in sorted(self._anchors.items()):
            if position in self._anchors_seen:
                continue
            if position > self.head_position:
                self._find(
                    position,
                    REMOVED,
                    f"an anchor ({anchor.reason}) was taken here, past the end of the log and "
                    f"its hash chain (position {self.head_position}): events were removed from "
                    "the end, with their links",
                )
            else:
                self._find(
                    position,
                    DAMAGED,
                    f"the anchor ({anchor.reason}) names a position the hash chain does not hold",
                )

    def _step(self, position: int, row: RawRow | None, link: Link | None) -> None:
        if link is None:
            self.events += 1
            if self._shift < 0:  # the last of the events an insertion moved on
                self._moved += 1
                return
            self._end_shift()
            self._find(
                position,
                INSERTED,
                "the log holds an event here that the hash chain does not: something other "
                "than the writer stored it",
            )
            return
        self._known[position] = link.link
        self._recent.append(position)
        self.head_position, self.head_link = position, link.link
        anchor = self._anchors.get(position)
        if anchor is not None:
            self._anchors_seen.add(position)
            if anchor.link != link.link:
                self._find(
                    position,
                    DAMAGED,
                    f"the anchor ({anchor.reason}) records another link than the chain holds",
                )
        self._follows(position, link)
        self._last = position
        if row is None:
            if self._shift > 0:  # a position left empty by a removal's moved events
                self._moved += 1
                return
            self._end_shift()
            self._find(position, REMOVED, "the hash chain holds a link here, the log no event")
            return
        self.events += 1
        previous = self._stored_link(link.previous)
        if previous is None:
            return  # its predecessor is gone: named already
        if event_link(previous, position, row) == link.link:
            self._end_shift()
            return
        self._mismatch(position, row)

    def _follows(self, position: int, link: Link) -> None:
        """Name what lies between the last position walked and the one this link follows."""
        if link.previous == self._last:
            return
        if link.previous > self._last:
            self._end_shift()
            self._find(
                link.previous,
                REMOVED,
                f"the link at position {position} follows this position, which neither the "
                "log nor the hash chain holds any more: its event was removed with its link",
            )
            return
        forged = next((p for p in self._recent if p > link.previous and p < position), None)
        self._end_shift()
        self._find(
            forged if forged is not None else self._last,
            INSERTED,
            f"the link at position {position} follows position {link.previous}: the events "
            "linked after that one, from here, were inserted with links made for them",
        )

    def _stored_link(self, position: int) -> bytes | None:
        if position == 0:
            return GENESIS
        found = self._known.get(position)
        return found if found is not None else self._previous_page.get(position)

    # ------------------------------------------------------------------ naming a mismatch

    def _mismatch(self, position: int, row: RawRow) -> None:
        if position in self._swapped:
            return
        rows, links = self._near(position)

        def fits(event: RawRow, at: int) -> bool:
            link = links.get(at)
            if link is None:
                return False
            previous = GENESIS if link.previous == 0 else links.get(link.previous, _NO_LINK).link
            return bool(previous) and event_link(previous, at, event) == link.link

        if self._shift and fits(row, position + self._shift):
            self._moved += 1
            return
        self._end_shift()
        candidates = sorted(
            (at for at in links if at != position and fits(row, at)),
            key=lambda at: abs(at - position),
        )
        if candidates:
            origin = candidates[0]
            partner = rows.get(origin)
            if partner is not None and fits(partner, position):
                self._swapped.add(origin)
                self._find(
                    position,
                    REORDERED,
                    f"the events here and at position {origin} were swapped",
                )
                return
            moved = origin - position
            self._start_shift(
                position,
                REMOVED if moved > 0 else INSERTED,
                moved,
                f"{abs(moved)} event(s) {'removed here' if moved > 0 else 'inserted before'}"
                f", the later ones moved {'down' if moved > 0 else 'up'}: the event now "
                f"here was written at position {origin}",
            )
            return
        following = rows.get(position + 1)
        if following is not None and fits(following, position):
            self._start_shift(
                position,
                INSERTED,
                -1,
                "an event was inserted here and the later ones moved up: the next position "
                "holds the event written here",
            )
            return
        self._find(position, EDITED, "the event does not match its link: it was changed")

    def _near(self, position: int) -> tuple[dict[int, RawRow], dict[int, Link]]:
        window = self._window
        if window is None or not window[0] + _AROUND <= position <= window[1] - _AROUND:
            low, high = max(position - _AROUND, 0), position + 4 * _AROUND
            rows, links = self._around(low, high)
            window = self._window = (low, high, rows, links)
        return window[2], window[3]

    def _start_shift(self, position: int, kind: str, shift: int, message: str) -> None:
        self._shift = shift
        self._moved = 0
        self._shifted = self._find(position, kind, message)

    def _end_shift(self) -> None:
        if self._shift and self._shifted is not None and self._moved:
            index = self.findings.index(self._shifted)
            self.findings[index] = self._shifted._replace(
                message=f"{self._shifted.message} ({self._moved} later position(s) moved)"
            )
        self._shift = 0
        self._shifted = None
        self._moved = 0

    def _find(self, position: int, kind: str, message: str) -> Finding | None:
        if len(self.findings) >= FINDINGS_KEPT:
            self.more += 1
            return None
        finding = Finding(position, CHAIN, kind, message)
        self.findings.append(finding)
        return finding


_NO_LINK = Link(-1, b"")
