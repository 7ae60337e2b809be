"""A writer under load, to be killed: `python crash_writer.py STORE_URL [SCHEMA]`.

Opens the store, starts a Writer (demo funding, short batches, frequent snapshots), runs the
setup (list BTC-USD, register four traders, fund them: fixed command ids, so running it again
after a crash changes nothing), then submits a long deterministic stream of commands with
known command ids (mostly crossing limit orders, some market orders, cancels, deposits and
withdrawals, a few of them too large), keeping many futures in flight.

For each command, as soon as its future resolves (after its batch committed), it prints one
flushed line to stdout:

    ACK <actor> <command_id> ok|refused:<code>     an outcome (stored, or a stored refusal)
    INVALID <actor> <command_id> <code>            refused before anything was stored
    ERROR <actor> <command_id> <exception name>    anything else (a bug)

The store URL and schema come from the arguments only, never from the environment.
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal

from socialtrading.commands.models import (
    CancelOrder,
    Command,
    Deposit,
    ListMarket,
    PlaceOrder,
    RegisterTrader,
    Withdraw,
)
from socialtrading.commands.state import Outcome
from socialtrading.commands.writer import Ack, Writer
from socialtrading.domain.errors import InvalidCommand
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id, order_id
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import open_store

MARKET = "BTC-USD"
TRADERS = ("ann", "ben", "cat", "dan")
FUNDS = {"USD": Decimal(1_000_000), "BTC": Decimal(10_000)}
STREAM_LENGTH = 100_000
IN_FLIGHT = 400  # futures outstanding at once


def setup_commands() -> list[Command]:
    """List the market, register and fund the traders (idempotent: fixed command ids)."""
    commands: list[Command] = [
        ListMarket(
            command_id=f"list-{MARKET}",
            actor=SYSTEM_ACTOR,
            symbol=MARKET,
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.001"),
            collar_ticks=500,
            reference_price=Decimal(100),
            maker_fee_bps=5,
            taker_fee_bps=15,
        )
    ]
    commands += [RegisterTrader(command_id=f"register-{h}", handle=h) for h in TRADERS]
    for handle in TRADERS:
        trader = account_id(handle)
        commands += [
            Deposit(
                command_id=f"fund-{asset}", actor=trader, account=trader, asset=asset, amount=amount
            )
            for asset, amount in FUNDS.items()
        ]
    return commands


def stream_commands(length: int = STREAM_LENGTH) -> Iterator[Command]:
    """The deterministic command stream: the same commands with the same ids on every run."""
    rnd = random.Random(20240611)
    placed: dict[str, list[str]] = {handle: [] for handle in TRADERS}
    for i in range(length):
        handle = rnd.choice(TRADERS)
        trader = account_id(handle)
        roll = rnd.random()
        if roll < 0.72:
            command_id = f"o{i}"
            placed[handle].append(command_id)
            yield PlaceOrder(
                command_id=command_id,
                actor=trader,
                market=MARKET,
                side=rnd.choice(["buy", "sell"]),
                price=Decimal(100) + Decimal("0.05") * rnd.randint(-8, 8),
                quantity=Decimal("0.001") * rnd.randint(1, 20),
                time_in_force=rnd.choice(["GTC", "GTC", "GTC", "IOC"]),
            )
        elif roll < 0.80:
            command_id = f"o{i}"
            placed[handle].append(command_id)
            yield PlaceOrder(
                command_id=command_id,
                actor=trader,
                market=MARKET,
                side=rnd.choice(["buy", "sell"]),
                type="market",
                quantity=Decimal("0.001") * rnd.randint(1, 20),
            )
        elif roll < 0.93 and placed[handle]:
            target = rnd.choice(placed[handle][-50:])
            yield CancelOrder(command_id=f"x{i}", actor=trader, order_id=order_id(trader, target))
        elif roll < 0.97:
            asset = rnd.choice(list(FUNDS))
            # Now and then far more than the trader has: a stored refusal.
            amount = FUNDS[asset] * 3 if rnd.random() < 0.2 else Decimal(rnd.randint(1, 500))
            yield Withdraw(command_id=f"w{i}", actor=trader, asset=asset, amount=amount)
        else:
            asset = rnd.choice(list(FUNDS))
            yield Deposit(
                command_id=f"d{i}",
                actor=trader,
                account=trader,
                asset=asset,
                amount=Decimal(rnd.randint(1, 500)),
            )


def summary(outcome: Outcome) -> str:
    """How an ACK line states an outcome."""
    return "ok" if outcome.accepted else f"refused:{outcome.code}"


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        sys.stderr.write(__doc__ or "")
        return 2
    settings = Settings(store=argv[1], postgres_schema=argv[2] if len(argv) == 3 else None)
    writer = Writer(
        open_store(settings), demo_funding=True, batch_ms=1.0, snapshot_interval=50
    ).start()
    lock = threading.Lock()
    slots = threading.BoundedSemaphore(IN_FLIGHT)

    def report(command: Command, future: Ack) -> None:
        who = f"{command.actor} {command.command_id}"
        try:
            outcome = future.result()
        except InvalidCommand as error:
            line = f"INVALID {who} {error.code}"
        except Exception as error:  # reported, for the test to fail on
            line = f"ERROR {who} {type(error).__name__}"
        else:
            line = f"ACK {who} {summary(outcome)}"
        with lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    for command in setup_commands():
        future = writer.submit(command)
        future.exception(60)
        report(command, future)

    def done(command: Command) -> Callable[[Ack], None]:
        def callback(future: Ack) -> None:
            try:
                report(command, future)
            finally:
                slots.release()

        return callback

    for command in stream_commands():
        slots.acquire()
        writer.submit(command).add_done_callback(done(command))
    writer.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
