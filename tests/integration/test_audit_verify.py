"""`socialtrading audit verify` on each backend: an intact log passes; each row edited,
removed, inserted or swapped with SQL is named at its position; a trade or a ledger entry
changed and the chain recomputed is still caught; `--from` starts at an anchor; a store
without a chain gets one at its first start."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import orjson
import pytest
from typer.testing import CliRunner, Result

from socialtrading.audit.verify import verify
from socialtrading.commands.models import (
    CancelOrder,
    Deposit,
    ListMarket,
    PlaceOrder,
    RegisterTrader,
    Withdraw,
)
from socialtrading.commands.writer import Ack, Writer
from socialtrading.domain.account import Account
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id, order_id
from socialtrading.entrypoints.cli import app
from socialtrading.infra.chain import ChainBrokenError
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import EventStore, open_store
from tests.integration.tamper import Tamper

ANCHOR_EVERY = 12
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def store_settings(store_settings: Settings) -> Settings:
    """The test's store (conftest's, on each backend), with an anchor every 12 positions."""
    return store_settings.model_copy(update={"audit_anchor_every": ANCHOR_EVERY})


def audit(settings: Settings, *args: str) -> Result:
    """Run `socialtrading audit verify ARGS` on the test's store."""
    env = {"SOCIALTRADING_STORE": settings.store}
    if settings.postgres_schema:
        env["SOCIALTRADING_POSTGRES_SCHEMA"] = settings.postgres_schema
    return CliRunner().invoke(app, ["audit", "verify", *args], env=env)


def trade(store: EventStore) -> EventStore:
    """A market, three traders, deposits, orders that trade (several commands per batch), a
    cancel and a withdrawal, written by a writer; the store, its writer stopped."""
    with Writer(store, demo_funding=True) as writer:
        listed = writer.execute(
            ListMarket(
                command_id="list",
                actor=SYSTEM_ACTOR,
                symbol="BTC-USD",
                tick_size=Decimal("0.01"),
                lot_size=Decimal("0.01"),
                maker_fee_bps=10,
                taker_fee_bps=20,
            )
        )
        assert listed.accepted, listed
        traders = ("alice", "bob", "carol")
        for handle in traders:
            writer.execute(RegisterTrader(command_id="r", handle=handle))
            for asset in ("USD", "BTC"):
                actor = account_id(handle)
                writer.execute(
                    Deposit(
                        command_id=f"d{asset}",
                        actor=actor,
                        account=actor,
                        asset=asset,
                        amount=Decimal(10_000),
                    )
                )
        acks: list[Ack] = []
        for n in range(36):
            if n % 4 == 0:  # four orders at a time: batches of several commands
                assert all(ack.result(30).accepted for ack in acks)
            actor = account_id(traders[n % 3])
            side: Literal["buy", "sell"] = "buy" if n % 2 else "sell"
            acks.append(
                writer.submit(
                    PlaceOrder(
                        command_id=f"o{n}",
                        actor=actor,
                        market="BTC-USD",
                        side=side,
                        price=Decimal(100 + n % 5),
                        quantity=Decimal("0.5"),
                    )
                )
            )
        assert all(ack.result(30).accepted for ack in acks)
        bob = account_id("bob")
        far = PlaceOrder(
            command_id="far",
            actor=bob,
            market="BTC-USD",
            side="sell",
            price=Decimal(200),
            quantity=Decimal(1),
        )
        assert writer.execute(far).accepted
        cancel = CancelOrder(command_id="x", actor=bob, order_id=order_id(bob, "far"))
        assert writer.execute(cancel).accepted
        writer.execute(Withdraw(command_id="w", actor=bob, asset="USD", amount=Decimal(10)))
    return store


def positions(store: EventStore, topic_end: str) -> list[int]:
    """The positions of the events whose topic ends with `topic_end`."""
    end = store.recorder.max_notification_id() or 0
    return [row[0] for row in store.log_rows(0, end, end) if row[3].endswith(topic_end)]


def test_an_intact_log_verifies_with_its_anchors(
    open_event_store: Callable[[], EventStore], store_settings: Settings
) -> None:
    store = trade(open_event_store())
    end = store.recorder.max_notification_id()
    assert end is not None and end > 3 * ANCHOR_EVERY
    anchors = store.chain_anchors()
    assert len(anchors) >= 3
    assert all(a.reason == "interval" for a in anchors)
    # one anchor per multiple of the interval reached, each at the end of a batch
    assert [a.position // ANCHOR_EVERY for a in anchors] == list(range(1, len(anchors) + 1))

    result = audit(store_settings)

    assert result.exit_code == 0, result.output
    assert f"checked positions 1 to {end}: {end} events, from the log's start" in result.output
    head = store.chain_head()
    assert f"chain head: position {end}, link {head.link.hex()}" in result.output
    # 36 orders, one more that rests and its cancel
    assert "markets: 1 followed, 38 commands re-run" in result.output
    assert f"checked at {len(anchors) + 1} point(s)" in result.output
    assert result.output.rstrip().endswith("intact")


Tampering = Callable[[Tamper, int], None]
TAMPERINGS: dict[str, tuple[Tampering, str]] = {
    "edit": (lambda t, p: t.edit_state(p, t.row(p)[3] + b" "), "edited"),
    "delete": (lambda t, p: t.delete(p), "removed"),
    "swap": (lambda t, p: t.swap(p, p + 3), "reordered"),
    "insert": (lambda t, p: t.insert(p, "t:Forged", b"{}"), "inserted"),
}


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_each_tampering_is_named_at_its_position(
    name: str, open_event_store: Callable[[], EventStore], store_settings: Settings
) -> None:
    store = trade(open_event_store())
    position = (store.recorder.max_notification_id() or 0) // 2
    tamper, kind = TAMPERINGS[name]
    tamper(Tamper(store), position)

    result = audit(store_settings)

    assert result.exit_code == 1, result.output
    assert f"chain: position {position}: {kind}" in result.output
    assert f"NOT INTACT: first at position {position}: {kind} (chain)" in result.output


def test_an_event_appended_behind_the_writers_back_is_named(
    open_event_store: Callable[[], EventStore], store_settings: Settings
) -> None:
    store = trade(open_event_store())
    position = Tamper(store).append("t:Forged", b"{}")
    result = audit(store_settings)
    assert result.exit_code == 1, result.output
    assert f"NOT INTACT: first at position {position}: inserted (chain)" in result.output


def test_a_trade_changed_and_the_chain_recomputed_fails_the_re_run(
    open_event_store: Callable[[], EventStore], store_settings: Settings
) -> None:
    store = trade(open_event_store())
    tamper = Tamper(store)
    position = next(
        p for p in positions(store, "Market.OrderAccepted") if b'"trade"' in tamper.row(p)[3]
    )
    state = orjson.loads(tamper.row(position)[3])
    trade_record = next(record for record in state["records"] if record[0] == "trade")
    trade_record[3] -= 1  # the price, one tick lower
    tamper.edit_state(position, orjson.dumps(state))
    tamper.rechain()

    result = audit(store_settings)

    assert result.exit_code == 1, result.output
    assert "chain:" not in result.output  # the chain agrees: it was recomputed
    assert f"determinism: position {position}: records: BTC-USD OrderAccepted" in result.output
    assert "re-running gives" in result.output


def test_a_ledger_entry_changed_and_the_chain_recomputed_fails_the_sums(
    open_event_store: Callable[[], EventStore], store_settings: Settings
) -> None:
    store = trade(open_event_store())
    tamper = Tamper(store)
    position = positions(store, "Account.LedgerPosted")[3]
    state = orjson.loads(tamper.row(position)[3])
    entry = state["entries"][0]
    asset = entry[3]
    entry[4] = str(Decimal(entry[4]) + 7)  # 7 more available, from nowhere
    tamper.edit_state(position, orjson.dumps(state))
    tamper.rechain()

    result = audit(store_settings)

    assert result.exit_code == 1, result.output
    assert "chain:" not in result.output
    anchor = next(a.position for a in store.chain_anchors() if a.position >= position)
    assert f"ledger: position {anchor}: unbalanced: {asset} does not balance" in result.output
    assert "trading entries created 7" in result.output
    assert result.output.count("ledger: position") == 1  # named where it shows, once


def test_from_starts_at_the_anchor_at_or_before_the_position(
    open_event_store: Callable[[], EventStore], store_settings: Settings
) -> None:
    store = trade(open_event_store())
    first, second = (a.position for a in store.chain_anchors()[:2])
    intact = audit(store_settings, "--from", str(second + 1))
    assert intact.exit_code == 0, intact.output
    assert f"checked positions {second + 1} to" in intact.output
    assert f"from the anchor at {second}" in intact.output

    edited = first + 2
    tamper = Tamper(store)
    tamper.edit_state(edited, tamper.row(edited)[3] + b" ")
    # a run from a later anchor does not look at it; one from before it, or the start, does
    assert audit(store_settings, "--from", str(second)).exit_code == 0
    for start in ("0", str(first)):
        broken = audit(store_settings, "--from", start)
        assert broken.exit_code == 1, broken.output
        assert f"first at position {edited}: edited" in broken.output


def test_a_link_recorded_elsewhere_is_compared(
    open_event_store: Callable[[], EventStore], store_settings: Settings
) -> None:
    store = trade(open_event_store())
    head = store.chain_head()
    assert audit(store_settings, "--expect", f"{head.position}:{head.link.hex()}").exit_code == 0
    tamper = Tamper(store)
    tamper.edit_state(3, tamper.row(3)[3] + b" ")
    tamper.rechain()  # the chain agrees again, but not with the link kept elsewhere
    result = audit(store_settings, "--expect", f"{head.position}:{head.link.hex()}")
    assert result.exit_code == 1, result.output
    assert f"chain: position {head.position}: damaged: the hash chain does not hold" in (
        result.output
    )
    assert audit(store_settings, "--expect", "12:zz").exit_code == 2


def test_a_store_without_a_chain_gets_one_at_its_first_start(
    open_event_store: Callable[[], EventStore], store_settings: Settings
) -> None:
    store = trade(open_event_store())
    Tamper(store).run(
        *((f"DROP TABLE {name}", ()) for name in _qualified(store))
    )  # as a store written before the chain
    store.close()
    before = audit(store_settings)
    assert before.exit_code == 1, before.output
    assert "chain: none" in before.output

    restarted = open_event_store()
    Writer(restarted)  # its start-up links the log
    anchors = restarted.chain_anchors()
    end = restarted.recorder.max_notification_id()
    assert [(a.position, a.reason, a.since) for a in anchors] == [(end, "upgrade", 0)]
    after = audit(store_settings)
    assert after.exit_code == 0, after.output
    assert f"note: positions 1 to {end} were linked when the hash chain was created" in (
        after.output
    )


def test_the_store_of_2026_12_06_gets_a_chain_and_verifies(tmp_path: Path) -> None:
    shutil.copyfile(FIXTURES / "store-2026-12-06.db", tmp_path / "events.db")
    settings = Settings(store=f"sqlite:///{tmp_path}/events.db")
    store = open_store(settings)
    try:
        assert not store.chain_exists()
        Writer(store)
        report = verify(store)
    finally:
        store.close()
    assert report.intact, report.findings
    assert report.markets >= 1 and report.commands > 0 and report.assets


def test_events_stored_beside_the_writer_are_named_then_linked_at_its_start(
    open_event_store: Callable[[], EventStore], store_settings: Settings
) -> None:
    store = trade(open_event_store())
    outsider = Account.register(account_id("mallory"), "mallory", "M", ["trader"], "r", 10**15)
    store.save(outsider)  # the library's own save: not the writer's append, so no link
    position = store.recorder.max_notification_id()
    assert audit(store_settings).exit_code == 1

    Writer(open_event_store())  # a start links them, and says so
    result = audit(store_settings)
    assert result.exit_code == 0, result.output
    assert f"note: positions {position} to {position} were linked at a writer's start" in (
        result.output
    )


def test_an_event_stored_beside_a_running_writer_is_named_and_the_chain_goes_on_after_it(
    open_event_store: Callable[[], EventStore], store_settings: Settings
) -> None:
    store = trade(open_event_store())
    bob = account_id("bob")
    with Writer(store) as writer:
        outsider = Account.register(account_id("eve"), "eve", "E", ["trader"], "r", 10**15)
        store.save(outsider)  # between two of the writer's batches
        position = store.recorder.max_notification_id()
        for n in range(3):
            withdrawn = writer.execute(
                Withdraw(command_id=f"w{n}", actor=bob, asset="USD", amount=Decimal(1))
            )
            assert withdrawn.accepted
    result = audit(store_settings)
    assert result.exit_code == 1, result.output
    assert result.output.count("chain: position") == 1, result.output
    assert f"NOT INTACT: first at position {position}: inserted (chain)" in result.output


def test_a_writer_does_not_start_over_a_log_whose_end_was_removed(
    open_event_store: Callable[[], EventStore],
) -> None:
    store = trade(open_event_store())
    end = store.recorder.max_notification_id() or 0
    Tamper(store).delete(end)
    with pytest.raises(ChainBrokenError, match=f"ends at position {end - 1}"):
        Writer(open_event_store())


def test_the_end_of_the_log_cut_off_with_its_links_is_named_by_the_anchor_past_it(
    open_event_store: Callable[[], EventStore], store_settings: Settings
) -> None:
    store = trade(open_event_store())
    last = store.chain_anchors()[-1].position
    held = store.chain_segment_at(last)
    assert held is not None
    cut = held.first - 1  # the log and its chain, as they were before that batch
    tamper = Tamper(store)
    tamper.run(("DELETE FROM {t} WHERE {id} > ?", (cut,)))
    chain = _qualified(store)[0]
    tamper.run((f"DELETE FROM {chain} WHERE first_position > ?", (cut,)))

    result = audit(store_settings)

    assert result.exit_code == 1, result.output
    assert f"NOT INTACT: first at position {last}: removed (chain)" in result.output
    assert "past the end of the log and its hash chain" in result.output
    with pytest.raises(ChainBrokenError, match=f"reached {last}"):
        Writer(open_event_store())


def test_a_batch_that_fails_stores_no_links_and_the_chain_goes_on(
    open_event_store: Callable[[], EventStore], store_settings: Settings
) -> None:
    store = trade(open_event_store())
    writer = Writer(store)
    taken = next(iter(writer.state.accounts.values()))
    stale = Account.register(taken.id, "again", "A", ["trader"], "r", 10**15)  # version 1 again
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        store.append(store.to_stored(stale.collect_events()))
    with writer:
        bob = account_id("bob")
        assert writer.execute(Withdraw(command_id="w2", actor=bob, asset="USD", amount=Decimal(1)))
    report = verify(store)
    assert report.intact, report.findings


def _qualified(store: EventStore) -> list[Any]:
    tables = store.chain_tables
    recorder: Any = store.recorder
    schema = getattr(recorder.datastore, "schema", None)
    return [f'"{schema}"."{n}"' if schema else n for n in (tables.chain, tables.anchors)]
