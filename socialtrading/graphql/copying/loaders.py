"""The copy-trading DataLoaders, made per request with the others (graphql/loaders.py)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from socialtrading.projections.copy import copies
from socialtrading.projections.copy.rows import CopyRow, CopySettingsRow
from socialtrading.projections.rows import PositionRow

if TYPE_CHECKING:
    from socialtrading.graphql.loaders import Reader


@dataclass(eq=False)
class CopyLoaders:
    """Copies by id, their equity by copy row, leaders' settings by account id, copies'
    positions by copy id."""

    copies: DataLoader[str, CopyRow | None]
    equity: DataLoader[CopyRow, Decimal]
    settings: DataLoader[str, CopySettingsRow | None]
    positions: DataLoader[str, list[PositionRow]]


def make_copy_loaders(read: Reader, *, cache: bool = True) -> CopyLoaders:
    """New copy loaders over `read`."""

    async def load_copies(ids: list[str]) -> list[CopyRow | None]:
        found = await read(copies.copies_by_ids, ids)
        return [found.get(i) for i in ids]

    async def load_equity(rows: list[CopyRow]) -> list[Decimal]:
        found = await read(copies.equity_of, rows)
        return [found[row.id] for row in rows]

    async def load_settings(ids: list[str]) -> list[CopySettingsRow | None]:
        found = await read(copies.settings_of, ids)
        return [found.get(i) for i in ids]

    async def load_positions(ids: list[str]) -> list[list[PositionRow]]:
        found = await read(copies.positions_of, ids)
        return [found.get(i, []) for i in ids]

    return CopyLoaders(
        copies=DataLoader(load_copies, cache=cache),
        equity=DataLoader(load_equity, cache=cache),
        settings=DataLoader(load_settings, cache=cache),
        positions=DataLoader(load_positions, cache=cache),
    )
