"""The scanner: decoded events in log order in, findings out, through every detector.

It keeps the shared context current (listings, copies, follows, young posts), splits each
market event into its engine records and calls the hooks the detectors implement, in a fixed
order: the same log gives the same findings, in the same order, however it is cut into
chunks and wherever the scan is stopped and resumed from a checkpoint (`dump`, `load`).

Every `SWEEP_EVERY` events the detectors forget what can no longer count (a window that
has passed); what they find does not depend on it, what they hold in memory does.

One event never stops the scan: a row that cannot be decoded, or an event a detector fails
on, is logged with its position, counted in `failures` and skipped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final
from uuid import UUID

import orjson
from eventsourcing.utils import resolve_topic

from socialtrading.domain.account import Account
from socialtrading.domain.copy.copy import Copy
from socialtrading.domain.market import Market
from socialtrading.domain.social.post import Post
from socialtrading.domain.time import to_micros
from socialtrading.engine.records import (
    ACCEPTED,
    AMENDED,
    CANCELLED,
    EXPIRED,
    KIND,
    RESTED,
    TRADE,
    TS,
)
from socialtrading.infra.settings import SurveillanceSettings
from socialtrading.policies.surveillance.against_recommendation import AgainstRecommendation
from socialtrading.policies.surveillance.base import Detector
from socialtrading.policies.surveillance.context import Context
from socialtrading.policies.surveillance.findings import Finding
from socialtrading.policies.surveillance.front_running import FrontRunning
from socialtrading.policies.surveillance.marking_close import MarkingTheClose
from socialtrading.policies.surveillance.order_to_trade import OrderToTrade
from socialtrading.policies.surveillance.pump_dump import PumpAndDump
from socialtrading.policies.surveillance.spoofing import Spoofing
from socialtrading.policies.surveillance.wash import WashTrading

DETECTORS: Final = (
    WashTrading,
    Spoofing,
    OrderToTrade,
    MarkingTheClose,
    PumpAndDump,
    AgainstRecommendation,
    FrontRunning,
)
# the events the scanner reads (anything else is not decoded)
DECODED: Final = (
    Market.BookChanged,
    Market.Listed,
    Post.Published,
    Post.Edited,
    Account.Followed,
    Account.Unfollowed,
    Copy.Started,
)
# market events that are one order message of their actor
_MESSAGES: Final = frozenset(
    {
        Market.OrderAccepted,
        Market.OrderRejected,
        Market.OrderCancelled,
        Market.OrderAmended,
        Market.RequestRejected,
    }
)
log = logging.getLogger(__name__)

SWEEP_EVERY: Final = 1 << 16
# the checkpoint's layout: a checkpoint of another format is not loaded (a scan from zero)
FORMAT: Final = 1
_RECORD_HOOKS: Final = (
    (ACCEPTED, "accepted"),
    (RESTED, "rested"),
    (TRADE, "trade"),
    (CANCELLED, "cancelled"),
    (EXPIRED, "expired"),
    (AMENDED, "amended"),
)

Handler = Callable[[int, Any], None]


def wanted(topic: str) -> bool:
    """Whether the scanner reads events of this topic."""
    return issubclass(resolve_topic(topic), DECODED)


class Scanner:
    """Every detector over one log (module text)."""

    def __init__(self, settings: SurveillanceSettings) -> None:
        self.settings = settings
        self.context = Context(settings)
        self.detectors: list[Detector] = [detector(self.context) for detector in DETECTORS]
        self.events = 0  # events scanned (the sweeps' schedule)
        self.now = 0  # the latest market event's time (µs)
        self.failures = 0  # events that could not be decoded or scanned (logged, skipped)
        self._hooks: dict[str, list[Callable[..., None]]] = {
            name: [
                getattr(detector, name)
                for detector in self.detectors
                if getattr(type(detector), name) is not getattr(Detector, name)
            ]
            for name in (*(name for _, name in _RECORD_HOOKS), "message", "published", "edited")
        }
        self._by_kind = {kind: self._hooks[name] for kind, name in _RECORD_HOOKS}
        self._handlers: dict[type, Handler | None] = {}  # None: not read
        self._topics: dict[str, bool] = {}  # topic -> whether its rows are read

    # ------------------------------------------------------------------ scanning

    def scan_rows(
        self, rows: Sequence[Any], decode: Callable[[Sequence[Any]], list[tuple[int, Any]]]
    ) -> list[tuple[int, Finding]]:
        """`scan` stored rows (`EventStore.read`'s), decoding with `decode` only the rows of
        the events the scanner reads."""
        topics = self._topics
        chosen = []
        for row in rows:
            known = topics.get(row.topic)
            if known is None:
                known = topics[row.topic] = wanted(row.topic)
            if known:
                chosen.append(row)
        try:
            items = decode(chosen)
        except Exception:  # one at a time: a row that cannot be decoded is logged, skipped
            items = []
            for row in chosen:
                try:
                    items += decode([row])
                except Exception:
                    self.failures += 1
                    log.exception("surveillance: event %d could not be decoded", row.id)
        return self.scan(items)

    def scan(self, items: Iterable[tuple[int, Any]]) -> list[tuple[int, Finding]]:
        """Feed (position, event) pairs in log order; the findings, with the position of
        the event that completed each."""
        out: list[tuple[int, Finding]] = []
        found = self.context.found
        handlers = self._handlers
        for position, event in items:
            cls = type(event)
            if cls in handlers:
                handler = handlers[cls]
            else:
                handler = handlers[cls] = self._handler(cls)
            if handler is None:
                continue
            try:
                handler(position, event)
            except Exception:  # one event never stops surveillance: it is logged and skipped
                self.failures += 1
                log.exception("surveillance: event %d (%s) could not be scanned", position, cls)
            if found:
                out += [(position, each) for each in found]
                found.clear()
            self.events += 1
            if not self.events % SWEEP_EVERY:
                self._sweep()
        return out

    def _handler(self, cls: type) -> Handler | None:
        if issubclass(cls, Market.BookChanged):
            return self._book
        for event_class, handler in (
            (Market.Listed, self._listed),
            (Post.Published, self._published),
            (Post.Edited, self._edited),
            (Account.Followed, self._followed),
            (Account.Unfollowed, self._unfollowed),
            (Copy.Started, self._copy_started),
        ):
            if issubclass(cls, event_class):
                return handler
        return None

    def _book(self, position: int, event: Any) -> None:
        symbol = self.context.symbols.get(event.originator_id)
        records = event.records
        if symbol is None or not records:
            return
        self.now = records[-1][TS]
        if type(event) in _MESSAGES:
            for hook in self._hooks["message"]:
                hook(position, symbol, event.actor, self.now, event.order_id or "")
        by_kind = self._by_kind
        for record in records:
            hooks = by_kind.get(record[KIND])
            if hooks:
                for hook in hooks:
                    hook(position, symbol, record)

    def _listed(self, position: int, event: Any) -> None:
        self.context.listed(event.originator_id, event.symbol, event.base, event.lot_size)

    def _published(self, position: int, event: Any) -> None:
        self.context.posted(str(event.originator_id), to_micros(event.timestamp), event)
        for hook in self._hooks["published"]:
            hook(position, event)

    def _edited(self, position: int, event: Any) -> None:
        for hook in self._hooks["edited"]:
            hook(position, event)

    def _followed(self, position: int, event: Any) -> None:
        self.context.followed(str(event.originator_id), event.target)

    def _unfollowed(self, position: int, event: Any) -> None:
        self.context.unfollowed(str(event.originator_id), event.target)

    def _copy_started(self, position: int, event: Any) -> None:
        self.context.copy_started(event.leader, event.copier, event.allocation)

    def _sweep(self) -> None:
        for detector in self.detectors:
            detector.sweep(self.now)

    # ------------------------------------------------------------------ checkpoints

    def dump(self) -> bytes:
        """The whole state, as bytes `load` takes (JSON: no code runs to read it)."""
        state = {
            "format": FORMAT,
            "settings": self.settings.model_dump(),
            "events": self.events,
            "now": self.now,
            "context": self.context.dump(),
            "detectors": {detector.kind: detector.dump() for detector in self.detectors},
        }
        try:
            return b"O" + orjson.dumps(state)
        except TypeError:  # an integer past 64 bits (sums of lots may get there)
            return b"J" + json.dumps(state, separators=(",", ":")).encode()

    def load(self, data: bytes) -> bool:
        """Restore a state `dump` gave; False (and nothing changed) if it was made by
        another format or with other thresholds."""
        state = orjson.loads(data[1:]) if data[:1] == b"O" else json.loads(data[1:])
        if state.get("format") != FORMAT or state.get("settings") != self.settings.model_dump():
            return False
        self.events = state["events"]
        self.now = state["now"]
        self.context.load(state["context"], UUID)
        for detector in self.detectors:
            detector.load(state["detectors"][detector.kind])
        return True
