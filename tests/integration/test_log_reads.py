"""`read_at` reads the events at scattered log positions (both backends): exactly what
`EventStore.read` gives at those positions, in log order, positions without an event left
out."""

from __future__ import annotations

from collections.abc import Callable

from socialtrading.commands.models import RegisterTrader
from socialtrading.commands.writer import Writer
from socialtrading.infra.log_reads import read_at


def test_read_at_gives_the_rows_at_those_positions_in_log_order(
    make_writer: Callable[..., Writer],
) -> None:
    writer = make_writer()
    for n in range(30):
        assert writer.execute(RegisterTrader(command_id="r", handle=f"trader{n:02d}")).accepted
    store = writer.store
    every = store.read(0, 1000)
    head = every[-1].id
    assert head >= 30
    wanted = [head, 1, 7, 7, 2, 3, head - 1, head + 5, 0, -4, 2**63]
    rows = read_at(store, wanted)
    assert rows == [row for row in every if row.id in {1, 2, 3, 7, head - 1, head}]
    assert [row.id for row in rows] == sorted({1, 2, 3, 7, head - 1, head})
    assert read_at(store, []) == [] and read_at(store, [head + 1]) == []
    many = list(range(1, head + 1)) * 3  # over one SQLite statement's chunk of positions
    assert read_at(store, many) == every
