"""The writer's index of copies: every copy by id, the live ones by leader and by copier.

Derived from the `Copy` aggregates (loaded at start-up, like accounts and markets) and kept
current by the handlers, so "is this leader full" and "does this copier copy this leader
already" are lookups. Nothing here is stored: a reload rebuilds it from the copies.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from itertools import islice
from uuid import UUID

from socialtrading.domain.copy.copy import Copy


class CopyBook:
    """Copies by id; live copies by leader (in id order) and by (copier, leader)."""

    def __init__(self) -> None:
        self.by_id: dict[UUID, Copy] = {}
        self.by_text: dict[str, Copy] = {}  # str(copy id) -> copy (plans name copies so)
        self.texts: dict[UUID, str] = {}  # copy id -> str(copy id)
        self._led: dict[str, dict[UUID, None]] = {}  # leader text -> live copy ids
        self._copying: dict[tuple[str, str], UUID] = {}  # (copier, leader) -> live copy id
        # leader -> its live copies in id order, and their ids as text (a cache of `_led`)
        self._ordered: dict[str, tuple[list[str], list[Copy]]] = {}

    def __len__(self) -> int:
        return len(self.by_id)

    def get(self, copy_id: UUID) -> Copy | None:
        """The copy with this id, if any."""
        return self.by_id.get(copy_id)

    def add(self, copy: Copy) -> None:
        """Index a copy (new or loaded)."""
        self.by_id[copy.id] = copy
        text = str(copy.id)
        self.by_text[text] = copy
        self.texts[copy.id] = text
        if copy.live:
            self._ordered.pop(copy.leader, None)
            self._led.setdefault(copy.leader, {})[copy.id] = None
            self._copying[(copy.copier, copy.leader)] = copy.id

    def ended(self, copy: Copy) -> None:
        """Forget a stopped copy in the live indexes."""
        self._ordered.pop(copy.leader, None)
        led = self._led.get(copy.leader)
        if led is not None:
            led.pop(copy.id, None)
            if not led:
                del self._led[copy.leader]
        if self._copying.get((copy.copier, copy.leader)) == copy.id:
            del self._copying[(copy.copier, copy.leader)]

    def led_by(self, leader: str) -> list[Copy]:
        """The live copies of a leader, in id order (the fair tie-break of allocations)."""
        return list(self._in_order(leader)[1])

    def led_after(self, leader: str, after: str) -> Iterator[Copy]:
        """The live copies of a leader with an id (text) after `after`, in id order, one at a
        time (a sizing part reads only as far as it goes)."""
        texts, copies = self._in_order(leader)
        return islice(copies, bisect_right(texts, after) if after else 0, None)

    def _in_order(self, leader: str) -> tuple[list[str], list[Copy]]:
        ordered = self._ordered.get(leader)
        if ordered is None:
            by_id = self.by_id
            ids = sorted(self._led.get(leader, ()), key=lambda i: i.bytes)
            copies = [by_id[copy_id] for copy_id in ids]
            ordered = self._ordered[leader] = ([self.texts[c.id] for c in copies], copies)
        return ordered

    def live_count(self, leader: str) -> int:
        """How many live copies a leader has."""
        return len(self._led.get(leader, ()))

    def copying(self, copier: str, leader: str) -> UUID | None:
        """The copier's live copy of this leader, if any."""
        return self._copying.get((copier, leader))

    def live(self) -> list[Copy]:
        """Every live copy, in id order."""
        return sorted((c for c in self.by_id.values() if c.live), key=lambda c: c.id.bytes)
