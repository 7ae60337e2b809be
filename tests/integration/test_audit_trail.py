"""Audit trails on both backends: an order's, an account's and a post's trail list exactly the
events that touched them, with who did it; pages join up; the index built in tiny batches
across a restart agrees with a plain scan of the log for every order."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from uuid import UUID

import pytest
from sqlalchemy import Engine

from socialtrading.audit.events import Described, Describer
from socialtrading.commands.models import Deposit, PlaceOrder
from socialtrading.commands.writer import Writer
from socialtrading.domain.account import Account
from socialtrading.domain.ids import SYSTEM_ACTOR, market_id
from socialtrading.domain.market import Market
from socialtrading.engine.records import (
    KIND,
    SEQ,
    TRADE,
    TRADE_MAKER,
    TRADE_MAKER_ACCOUNT,
    TRADE_TAKER,
    TRADE_TAKER_ACCOUNT,
)
from socialtrading.infra.decoding import EventDecoder
from socialtrading.infra.store import EventStore
from socialtrading.projections import audit_trail as trail
from socialtrading.projections.audit_trail import AuditTrailProjection, audit_pending
from socialtrading.projections.runner import ProjectionRunner
from tests.integration.audit_world import AuditWorld, Story, tell
from tests.integration.projection_scenario import Scenario, random_flow, run_scenario
from tests.unit.commands.copy_world import CAL, CAT, CID, LEA, MM


@pytest.fixture
def world(make_writer: Callable[..., Writer]) -> AuditWorld:
    return AuditWorld(make_writer)


@pytest.fixture
def story(world: AuditWorld, read_engine: Engine) -> Story:
    told = tell(world)
    world.index(read_engine)
    return told


def _page(
    store: EventStore, engine: Engine, subject: trail.Subject, first: int, after: int | None = None
) -> list[Described]:
    """A page of a trail, as `auditTrail` and the CLI read it."""
    with engine.connect() as connection:
        positions = trail.trail_positions(connection, subject, first=first, after=after)
    return Describer(store).at(positions)


def _trail(world: AuditWorld, engine: Engine, subject: trail.Subject) -> list[Described]:
    return _page(world.writer.store, engine, subject, 10_000)


def test_an_orders_trail_is_its_market_events_and_its_owners_ledger_postings(
    world: AuditWorld, story: Story, read_engine: Engine
) -> None:
    market = world.market()
    expected = [
        world.at("o_place", "OrderAccepted", market),
        world.at("o_place", "LedgerPosted", CAL),  # the reservation
        world.at("o_amend", "OrderAmended", market),
        world.at("o_amend", "LedgerPosted", CAL),  # the reservation's change
        world.at("o_fill", "OrderAccepted", market),  # the market maker's order filled it
        world.at("o_fill", "LedgerPosted", CAL),  # the settlement of the fill
        world.at("o_cancel", "OrderCancelled", market),
        world.at("o_cancel", "LedgerPosted", CAL),  # the release
    ]
    found = _trail(world, read_engine, trail.order_subject(story.order))
    assert [event.position for event in found] == sorted(expected)
    # who did it: the owner, the market maker, and nobody for a batch's ledger postings
    assert [(event.type, event.actor) for event in found] == [
        ("OrderAccepted", str(CAL)),
        ("LedgerPosted", None),
        ("OrderAmended", str(CAL)),
        ("LedgerPosted", None),
        ("OrderAccepted", str(MM)),
        ("LedgerPosted", None),
        ("OrderCancelled", str(CAL)),
        ("LedgerPosted", None),
    ]
    assert found[0].command_id == "a1"
    assert found[0].aggregate == "market" and found[1].aggregate == "account"
    assert found[0].fields["records"][0]["price"] == "99"  # ticks shown as the price
    # the market maker's own settlement of that fill is in its trail, not the order's
    maker_settlement = world.at("o_fill", "LedgerPosted", MM)
    assert maker_settlement not in {event.position for event in found}


def test_a_posts_trail_holds_its_edits_comments_likes_reports_and_moderation(
    world: AuditWorld, story: Story, read_engine: Engine
) -> None:
    expected = {
        world.at("post", "Published", story.post): LEA,
        world.at("edit", "Edited", story.post): LEA,
        world.at("comment", "Written", story.first_comment): CAL,
        world.at("reply", "Written", story.reply): CAT,
        world.at("like", "Liked", story.like): CAL,
        world.at("unlike", "Unliked", story.like): CAL,
        world.at("relike", "Reliked", story.like): CAL,
        world.at("report", "Filed", story.comment_report): CAT,
        world.at("report_post", "Filed", story.post_report): CAL,
        world.at("hide", "Hidden", story.first_comment): CID,
    }
    found = _trail(world, read_engine, trail.post_subject(str(story.post)))
    assert [(event.position, event.actor) for event in found] == [
        (position, str(actor)) for position, actor in sorted(expected.items())
    ]
    assert [event.aggregate for event in found] == [
        "post",
        "post",
        "comment",
        "comment",
        "like",
        "like",
        "like",
        "report",
        "report",
        "comment",
    ]


def test_an_accounts_trail_holds_its_events_orders_trades_social_and_copy_events(
    world: AuditWorld, story: Story, read_engine: Engine
) -> None:
    market = world.market()
    expected = set(world.of(CAL))  # registration, deposits, ledger, follows, blocks
    expected |= {
        world.at("o_place", "OrderAccepted", market),
        world.at("o_amend", "OrderAmended", market),
        world.at("o_fill", "OrderAccepted", market),
        world.at("o_cancel", "OrderCancelled", market),
        world.at("follow", "Followed", CAT),  # followed by cat
        world.at("post", "Published", story.post),  # mentioned
        world.at("edit", "Edited", story.post),  # mentioned again
        world.at("comment", "Written", story.first_comment),
        world.at("like", "Liked", story.like),
        world.at("unlike", "Unliked", story.like),
        world.at("relike", "Reliked", story.like),
        world.at("report", "Filed", story.comment_report),  # a report of cal's comment
        world.at("report_post", "Filed", story.post_report),  # cal reported
        world.at("hide", "Hidden", story.first_comment),  # cal's comment hidden
        world.at("post2", "Published", story.deleted_post),
        world.at("delete", "Deleted", story.deleted_post),
        world.at("block", "Unfollowed", CAT),  # cal's block ended cat's follow
    }
    assert world.at("block", "Blocked", CAL) in expected
    found = _trail(world, read_engine, trail.account_subject("cal"))
    assert [event.position for event in found] == sorted(expected)
    # by id, the same trail
    assert _trail(world, read_engine, trail.account_subject(str(CAL))) == found
    # cat's unfollow was cal's doing (cal's block command), cal's own follow was cal's
    actors = {event.position: event.actor for event in found}
    assert actors[world.at("block", "Unfollowed", CAT)] == str(CAL)
    assert actors[world.at("follow", "Followed", CAT)] == str(CAT)
    assert actors[world.at("hide", "Hidden", story.first_comment)] == str(CID)


def test_copy_events_are_in_the_copiers_and_the_leaders_trails(
    world: AuditWorld, story: Story, read_engine: Engine
) -> None:
    copy_events = world.of(story.copy)
    assert len(copy_events) >= 2  # started, then each copy order executed (one event each)
    for account in ("cat", "lea"):
        found = {e.position for e in _trail(world, read_engine, trail.account_subject(account))}
        assert set(copy_events) <= found, account
    lea = _trail(world, read_engine, trail.account_subject("lea"))
    assert world.at("lea_buy", "OrderAccepted", world.market()) in {e.position for e in lea}
    # the copy's decisions were the system's (the policy's command), recorded as such
    copied = [e for e in lea if e.aggregate == "copy" and e.type != "Started"]
    assert copied and {e.actor for e in copied} == {str(SYSTEM_ACTOR)}


def test_pages_of_a_trail_join_up_to_the_whole(
    world: AuditWorld, story: Story, read_engine: Engine
) -> None:
    whole = _trail(world, read_engine, trail.account_subject("cal"))
    pages: list[Described] = []
    after = None
    store = world.writer.store
    while events := _page(store, read_engine, trail.account_subject("cal"), 4, after):
        assert len(events) <= 4
        pages += events
        after = events[-1].position
    assert pages == whole
    assert _page(store, read_engine, trail.account_subject("nobody"), 5) == []


def test_malformed_subjects_are_refused() -> None:
    with pytest.raises(trail.UnknownSubjectError):
        trail.subject_of()
    with pytest.raises(trail.UnknownSubjectError):
        trail.subject_of(order_id="0" * 32, account="cal")
    for bad in ("", "x" * 1000, "not-hex" * 5):
        with pytest.raises(trail.UnknownSubjectError):
            trail.order_subject(bad)
        with pytest.raises(trail.UnknownSubjectError):
            trail.post_subject(bad)
    with pytest.raises(trail.UnknownSubjectError):
        trail.account_subject("no spaces allowed")
    assert trail.subject_of(order_id=" " + "AB" * 16) == trail.Subject("order", "ab" * 16)


# ---------------------------------------------------------------------- against a scan


def _scanned_order_trails(store: EventStore) -> dict[str, list[int]]:
    """Every order's trail by a plain scan of the log: the events whose stored text names
    the order, and its owner's ledger postings settling one of its trades."""
    decoder = EventDecoder(store.mapper)
    rows = []
    position = 0
    while read := store.read(position, 500):
        rows += read
        position = read[-1].id
    events = decoder.decode(rows)
    orders: set[str] = set()
    parties: dict[tuple[str, int], dict[str, set[str]]] = {}
    for _, event in events:
        if isinstance(event, Market.BookChanged):
            for record in event.records:
                if record[KIND] == TRADE:
                    sides = parties.setdefault((str(event.originator_id), record[SEQ]), {})
                    sides.setdefault(record[TRADE_TAKER_ACCOUNT], set()).add(record[TRADE_TAKER])
                    sides.setdefault(record[TRADE_MAKER_ACCOUNT], set()).add(record[TRADE_MAKER])
            if event.order_id is not None:
                orders.add(event.order_id)
    trails: dict[str, set[int]] = {order: set() for order in orders}
    for row, (position, event) in zip(rows, events, strict=True):
        for order in orders:
            if order.encode() in row.state:
                trails[order].add(position)
        if isinstance(event, Account.LedgerPosted):
            for kind, _, reference, *_ in event.entries:
                if kind == "settle":
                    symbol, _, seq = reference.rpartition(":")
                    trade = parties[(str(market_id(symbol)), int(seq))]
                    for order in trade.get(str(event.originator_id), ()):
                        trails[order].add(position)
    return {order: sorted(found) for order, found in trails.items()}


def _burst(scenario: Scenario, count: int) -> None:
    """Crossing orders sent without waiting, each after a deposit of the same account: in
    a write batch the account is then touched before the market, so its settlement is
    logged before the trade it settles."""
    acks = []
    for n in range(count):
        who = ("alice", "bob", "carol")[n % 3]
        account = scenario.accounts[who]
        side = "buy" if n % 2 else "sell"
        acks.append(
            scenario.writer.submit(
                Deposit(
                    command_id=f"bd{n}",
                    actor=account,
                    account=account,
                    asset="USD",
                    amount=Decimal(1),
                )
            )
        )
        acks.append(
            scenario.writer.submit(
                PlaceOrder(
                    command_id=f"bo{n}",
                    actor=account,
                    market="BTC-USD",
                    side=side,  # type: ignore[arg-type]
                    price=Decimal("100.5") if side == "buy" else Decimal("99.5"),
                    quantity=Decimal("0.01"),
                )
            )
        )
    for ack in acks:
        assert ack.result(30).accepted


def test_every_orders_trail_agrees_with_a_scan_of_the_log_when_built_in_tiny_batches(
    scenario: Scenario, read_engine: Engine
) -> None:
    run_scenario(scenario)
    random_flow(scenario, 250, seed=14)
    _burst(scenario, 150)
    store = scenario.writer.store
    # tiny batches and chunks, so that trades and their settlements fall in different ones,
    # and a restart halfway: the pairs not made yet are read back from the read store
    options = {"batch_size": 5, "read_size": 3, "catch_up_batch_size": 5}
    first = ProjectionRunner(store, read_engine, [AuditTrailProjection()], **options)
    first.setup()
    for _ in range(40):
        first.run_once()
    second = ProjectionRunner(store, read_engine, [AuditTrailProjection()], **options)
    second.setup()
    second.catch_up()
    assert second.dead_letters() == []
    expected = _scanned_order_trails(store)
    assert len(expected) > 200
    for order, positions in expected.items():
        found = _page(store, read_engine, trail.order_subject(order), 10_000)
        assert [event.position for event in found] == positions, order
    # nothing waits for a pair once the log is read to its end
    with read_engine.connect() as connection:
        assert connection.execute(audit_pending.select()).all() == []


def test_an_unknown_or_system_subject_has_an_empty_trail(
    world: AuditWorld, story: Story, read_engine: Engine
) -> None:
    assert _trail(world, read_engine, trail.order_subject("f" * 32)) == []
    assert _trail(world, read_engine, trail.account_subject(str(SYSTEM_ACTOR))) == []
    assert _trail(world, read_engine, trail.post_subject(str(UUID(int=7)))) == []
