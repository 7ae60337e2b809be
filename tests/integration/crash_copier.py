"""A server's writer and copy-trading process, to be killed mid fan-out:
`python crash_copier.py STORE_URL READ_URL [SCHEMA]`.

Sets up (fixed command ids, so a second run changes nothing) BTC-USD, a market maker resting
a deep ask at 100 and a deep bid at 99, a leader and COPIERS copiers of it, then starts the
copy policy following the log (fills settled in parts of PART_SIZE copies) and has the
leader trade TRADES times (buying at 100, selling at 99, alternately), printing
`TRADE <trade id>` as each leader order is acknowledged. Once every trade is acknowledged, it
waits for the policy to reach the end of the log, prints `DONE <position>` and exits.
"""

from __future__ import annotations

import sys
from decimal import Decimal

from socialtrading.commands.copying import SetCopySettings, StartCopying
from socialtrading.commands.models import Command, Deposit, ListMarket, PlaceOrder, RegisterTrader
from socialtrading.commands.writer import Writer
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id
from socialtrading.engine.book import Side
from socialtrading.engine.records import KIND, SEQ, TRADE
from socialtrading.infra.readstore import open_read_store
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import open_store
from socialtrading.policies.copying import CopyPolicy

MARKET = "BTC-USD"
COPIERS = 150
TRADES = 12
PART_SIZE = 20  # each fill is settled by eight part commands (a kill lands between them)
LEADER = account_id("leader")
MAKER = account_id("maker")


def copiers() -> list[str]:
    return [f"copier{i:04d}" for i in range(COPIERS)]


def setup_commands() -> list[Command]:
    """The market, the cast, their funds, the leader's terms and the copies."""
    commands: list[Command] = [
        ListMarket(
            command_id="list",
            actor=SYSTEM_ACTOR,
            symbol=MARKET,
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.01"),
            collar_ticks=1000,
            reference_price=Decimal(100),
            taker_fee_bps=10,
        )
    ]
    for handle, usd, btc in [("leader", 10_000, 0), ("maker", 10**8, 10**6)] + [
        (h, 1000, 0) for h in copiers()
    ]:
        commands.append(RegisterTrader(command_id="register", handle=handle))
        trader = account_id(handle)
        for asset, amount in (("USD", usd), ("BTC", btc)):
            if amount:
                commands.append(
                    Deposit(
                        command_id=f"fund-{asset}",
                        actor=trader,
                        account=trader,
                        asset=asset,
                        amount=Decimal(amount),
                    )
                )
    commands.append(SetCopySettings(command_id="lead", actor=LEADER))
    commands += [
        StartCopying(command_id="copy", actor=account_id(h), leader="leader", amount=Decimal(500))
        for h in copiers()
    ]
    rests: tuple[tuple[Side, str], ...] = (("sell", "100"), ("buy", "99"))
    for side, price in rests:
        commands.append(
            PlaceOrder(
                command_id=f"rest-{side}",
                actor=MAKER,
                market=MARKET,
                side=side,
                price=Decimal(price),
                quantity=Decimal(100_000),
            )
        )
    return commands


def leader_order(i: int) -> PlaceOrder:
    """The leader's i-th order: buy 1 BTC at 100, or sell it at 99."""
    buy = i % 2 == 0
    return PlaceOrder(
        command_id=f"trade-{i}",
        actor=LEADER,
        market=MARKET,
        side="buy" if buy else "sell",
        price=Decimal(100 if buy else 99),
        quantity=Decimal(1),
    )


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4):
        sys.stderr.write(__doc__ or "")
        return 2
    settings = Settings(
        store=argv[1], read_store=argv[2], postgres_schema=argv[3] if len(argv) == 4 else None
    )
    store = open_store(settings)
    read_engine = open_read_store(settings)
    writer = Writer(
        store, demo_funding=True, batch_ms=1.0, snapshot_interval=50, copy_part_size=PART_SIZE
    ).start()
    for ack in [writer.submit(command) for command in setup_commands()]:
        ack.result(60)
    policy = CopyPolicy(store, read_engine, writer.submit, chunk=500)
    policy.setup()
    writer.add_listener(policy.wake)
    policy.start()
    for i in range(TRADES):
        outcome = writer.execute(leader_order(i), 60)
        for record in outcome.records:
            if record[KIND] == TRADE:
                print(f"TRADE {MARKET}:{record[SEQ]}", flush=True)
    head = store.recorder.max_notification_id() or 0
    while not policy.wait_for(head, 5) or policy.position < (
        store.recorder.max_notification_id() or 0
    ):
        head = store.recorder.max_notification_id() or 0
    print(f"DONE {policy.position}", flush=True)
    policy.stop()
    writer.stop()
    read_engine.dispose()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
