"""The copy-trading world (tests/unit/commands/copy_world.py) with what the surveillance
scenarios need: more traders, log time moved by hand, cancels, posts, follows, and the
detectors run over the store.

Time starts at `START` (2027-01-15T08:00:00Z, on the hour): `at(seconds)` moves the writer's
clock to that many seconds after it (never back).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from socialtrading.commands.models import CancelOrder, RegisterTrader
from socialtrading.commands.social import Follow, PublishPost
from socialtrading.commands.state import Outcome
from socialtrading.domain.ids import account_id
from socialtrading.domain.social.post import post_id
from socialtrading.engine.book import Side
from socialtrading.infra.decoding import EventDecoder
from socialtrading.infra.settings import SurveillanceSettings
from socialtrading.policies.surveillance.findings import Finding
from socialtrading.policies.surveillance.scanner import Scanner
from tests.unit.commands.copy_world import MM, START, SYMBOL, World

SECOND = 1_000_000


class Watched(World):
    """The copy-trading world, watched by the detectors."""

    def trader(self, handle: str, usd: str = "100000", btc: str = "100") -> UUID:
        """Register and fund a trader."""
        trader = account_id(handle)
        self.ok(RegisterTrader(command_id="r", handle=handle))
        self.fund(trader, "USD", usd)
        self.fund(trader, "BTC", btc)
        return trader

    def at(self, seconds: float) -> None:
        """Move log time to `seconds` after START."""
        moment = START + int(seconds * SECOND)
        assert moment >= self.clock.now, "log time never goes back"
        self.clock.now = moment

    def place(self, actor: UUID, side: Side, price: str, quantity: str, **fields: Any) -> str:
        """Place an order; its id."""
        order = self.order(actor, side, price, quantity, **fields).order_id
        assert order is not None
        return order

    def cancel(self, actor: UUID, order: str) -> Outcome:
        return self.ok(CancelOrder(command_id=self.id(), actor=actor, order_id=order))

    def quote(self, bid: str, ask: str, quantity: str = "5") -> tuple[str, str]:
        """The market maker's bid and ask."""
        return (self.place(MM, "buy", bid, quantity), self.place(MM, "sell", ask, quantity))

    def post(self, author: UUID, sentiment: str, market: str | None = SYMBOL) -> str:
        """Publish a post; its id."""
        command = PublishPost(
            command_id=self.id(),
            actor=author,
            body=f"$BTC looks {sentiment.lower()} to me",
            market=market,
            sentiment=sentiment,  # type: ignore[arg-type]
        )
        self.ok(command)
        return str(post_id(author, command.command_id))

    def follow(self, who: UUID, handle: str) -> None:
        self.ok(Follow(command_id=self.id(), actor=who, handle=handle))

    def findings(self, **thresholds: Any) -> list[Finding]:
        """What the detectors find over the whole store (default thresholds but these)."""
        store = self.writer.store
        scanner = Scanner(SurveillanceSettings(**thresholds))
        decode = EventDecoder(store.mapper).decode
        found: list[Finding] = []
        after = 0
        while rows := store.read(after, 1000):
            found += [each for _, each in scanner.scan_rows(rows, decode)]
            after = rows[-1].id
        return found


def kinds(found: list[Finding]) -> list[tuple[str, UUID]]:
    """(kind, account) of each finding, in order."""
    return [(each.kind, each.account) for each in found]
