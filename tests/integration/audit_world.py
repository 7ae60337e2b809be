"""A scenario for the audit tests: orders, a fill, an amend, a cancel, a copy of a leader's
fill, follows and a block, a post with an edit, comments, likes, reports and moderation.

Every command is labelled, and every stored event is known by (label, type, aggregate), so
a test can say exactly which events a trail must list without naming positions.
The cast is `copy_world`'s: `lea` leads and posts, `cat` copies and comments, `cal` trades,
comments and likes, `mmm` makes the market, `cid` moderates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from uuid import UUID

from socialtrading.commands.copying import StartCopying, copy_of
from socialtrading.commands.models import (
    AmendOrder,
    CancelOrder,
    Command,
    GrantRole,
    PlaceOrder,
)
from socialtrading.commands.social import (
    Block,
    CommentOnPost,
    DeletePost,
    EditPost,
    Follow,
    HideComment,
    LikePost,
    PublishPost,
    ReportContent,
    UnlikePost,
)
from socialtrading.commands.state import Outcome
from socialtrading.commands.writer import Writer
from socialtrading.domain.ids import SYSTEM_ACTOR
from socialtrading.domain.social.comment import comment_id
from socialtrading.domain.social.like import like_id
from socialtrading.domain.social.post import post_id
from socialtrading.domain.social.report import report_id
from socialtrading.infra.decoding import EventDecoder
from socialtrading.projections.audit_trail import AuditTrailProjection
from socialtrading.projections.runner import ProjectionRunner
from tests.unit.commands.copy_world import CAL, CAT, CID, LEA, MM, SYMBOL, Clock, World

D = Decimal


class AuditWorld(World):
    """`copy_world.World` with labelled commands and the log read back."""

    def __init__(self, make_writer: Callable[..., Writer]) -> None:
        self.label = "setup"
        self.spans: list[tuple[str, int, int]] = []  # (label, first position, last position)
        super().__init__(make_writer, Clock())

    def run(self, command: Command) -> Outcome:
        before = self.head()
        outcome = super().run(command)
        if self.head() > before:
            self.spans.append((self.label, before + 1, self.head()))
        return outcome

    def step(self, label: str, command: Command) -> Outcome:
        """Run a command under `label` (it must be accepted)."""
        self.label = label
        return self.ok(command)

    def log(self) -> list[tuple[int, Any]]:
        """Every stored event: (position, event)."""
        store = self.writer.store
        decoder = EventDecoder(store.mapper)
        found: list[tuple[int, Any]] = []
        position = 0
        while rows := store.read(position, 1000):
            found += decoder.decode(rows)
            position = rows[-1].id
        return found

    def labelled(self) -> Iterator[tuple[str, int, Any]]:
        """(label, position, event) of every stored event."""
        spans = iter(self.spans)
        label, first, last = next(spans)
        for position, event in self.log():
            while position > last:
                label, first, last = next(spans)
            assert first <= position
            yield label, position, event

    def at(self, label: str, event_type: str, aggregate: UUID | str) -> int:
        """The position of the one event of `event_type` on `aggregate` stored by `label`."""
        found = [
            position
            for step, position, event in self.labelled()
            if step == label
            and type(event).__qualname__.endswith("." + event_type)
            and str(event.originator_id) == str(aggregate)
        ]
        assert len(found) == 1, (label, event_type, aggregate, found)
        return found[0]

    def of(self, aggregate: UUID | str) -> list[int]:
        """The positions of every event stored on `aggregate`."""
        return [p for _, p, e in self.labelled() if str(e.originator_id) == str(aggregate)]

    def market(self) -> UUID:
        """The market's id."""
        return self.writer.state.markets[SYMBOL].id

    def index(self, engine: Any, **options: Any) -> ProjectionRunner:
        """Build the audit trail read model over the log (a fresh runner)."""
        runner = ProjectionRunner(self.writer.store, engine, [AuditTrailProjection()], **options)
        runner.setup()
        runner.catch_up()
        assert runner.dead_letters() == []
        return runner


class Story:
    """The scenario's ids, once run."""

    order: str  # cal's order: placed, amended, partly filled, cancelled
    copy: UUID  # cat's copy of lea
    leader_trades: list[str]
    post: UUID  # lea's post, edited, commented, liked, reported, its comment hidden
    first_comment: UUID  # cal's, hidden
    reply: UUID  # cat's reply
    like: UUID  # cal's like of the post
    comment_report: UUID  # cat's report of cal's comment
    post_report: UUID  # cal's report of the post
    deleted_post: UUID  # cal's second post, deleted


def tell(world: AuditWorld) -> Story:
    """Run the scenario (see the module docstring)."""
    story = Story()
    n = iter(range(1, 1000))

    def cid() -> str:
        return f"a{next(n)}"

    def order(label: str, actor: UUID, side: str, price: str, qty: str) -> Outcome:
        return world.step(
            label,
            PlaceOrder(
                command_id=cid(),
                actor=actor,
                market=SYMBOL,
                side=side,  # type: ignore[arg-type]
                price=D(price),
                quantity=D(qty),
            ),
        )

    # cal's order: placed, amended, partly filled by the market maker, cancelled
    placed = order("o_place", CAL, "buy", "99", "2")
    assert placed.order_id is not None
    story.order = placed.order_id
    world.step(
        "o_amend", AmendOrder(command_id=cid(), actor=CAL, order_id=story.order, price=D(100))
    )
    order("o_fill", MM, "sell", "100", "1")
    world.step("o_cancel", CancelOrder(command_id=cid(), actor=CAL, order_id=story.order))

    # cat copies lea; lea buys from the market maker; the policy's copy of her fills
    world.label = "lead"
    world.lead()
    command = StartCopying(command_id=cid(), actor=CAT, leader="lea", amount=D(1000))
    world.step("copy_start", command)
    story.copy = copy_of(command)  # type: ignore[assignment]
    order("mm_ask", MM, "sell", "100", "30")
    story.leader_trades = world.trades(order("lea_buy", LEA, "buy", "100", "2"))
    world.label = "copy_fill"
    for trade in story.leader_trades:
        world.copy_fill(trade)

    # follows, a post, an edit, comments, likes, reports and moderation
    world.step("follow", Follow(command_id=cid(), actor=CAT, handle="cal"))
    world.step("follow2", Follow(command_id=cid(), actor=CAL, handle="lea"))
    key = cid()
    world.step(
        "post",
        PublishPost(
            command_id=key,
            actor=LEA,
            body="Long $BTC, ask @cal",
            market=SYMBOL,
            sentiment="BULLISH",
            trade_ids=story.leader_trades[:1],
        ),
    )
    story.post = post_id(LEA, key)
    world.step(
        "edit", EditPost(command_id=cid(), actor=LEA, post_id=story.post, body="Long $BTC, @cal")
    )
    key = cid()
    world.step("comment", CommentOnPost(command_id=key, actor=CAL, post_id=story.post, body="hm"))
    story.first_comment = comment_id(CAL, key)
    key = cid()
    world.step(
        "reply",
        CommentOnPost(
            command_id=key, actor=CAT, post_id=story.post, body="yes", reply_to=story.first_comment
        ),
    )
    story.reply = comment_id(CAT, key)
    story.like = like_id(story.post, CAL)
    world.step("like", LikePost(command_id=cid(), actor=CAL, post_id=story.post))
    world.step("unlike", UnlikePost(command_id=cid(), actor=CAL, post_id=story.post))
    world.step("relike", LikePost(command_id=cid(), actor=CAL, post_id=story.post))
    key = cid()
    world.step(
        "report",
        ReportContent(command_id=key, actor=CAT, comment_id=story.first_comment, reason="rude"),
    )
    story.comment_report = report_id(CAT, key)
    key = cid()
    world.step(
        "report_post", ReportContent(command_id=key, actor=CAL, post_id=story.post, reason="pump")
    )
    story.post_report = report_id(CAL, key)
    world.step(
        "grant", GrantRole(command_id=cid(), actor=SYSTEM_ACTOR, account=CID, role="moderator")
    )
    world.step(
        "hide",
        HideComment(command_id=cid(), actor=CID, comment_id=story.first_comment, reason="rude"),
    )
    key = cid()
    world.step("post2", PublishPost(command_id=key, actor=CAL, body="gm"))
    story.deleted_post = post_id(CAL, key)
    world.step("delete", DeletePost(command_id=cid(), actor=CAL, post_id=story.deleted_post))
    # cal blocks cat, which ends cat's follow of cal: an event of cat's, cal's doing
    world.step("block", Block(command_id=cid(), actor=CAL, handle="cat"))
    return story
