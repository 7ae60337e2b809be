"""What the risk gate's process reads (`policies/risk_gate.RiskSource`): the statistics'
latest closed day, the leaders (the copies read model's settings), and their risk scores over
`risk.WINDOW` as of a closed day, from the stored daily points only (final once the day has
closed, so the same day gives the same scores on every read)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, inspect

from socialtrading.domain.copy.risk import WINDOW
from socialtrading.projections.copy.copies import copy_settings, leaders
from socialtrading.projections.stats import queries
from socialtrading.projections.stats.formulas import WINDOWS
from socialtrading.projections.stats.tables import stats_clock


class LeaderRisk:
    """The read models' answers for the risk gate, over the read store `engine`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._ready = False  # the read models' tables exist

    def closed_day(self) -> int | None:
        """The day before the statistics' open day (None: no event applied yet, or no read
        model built in this read store yet)."""
        if not self._ready:
            names = set(inspect(self.engine).get_table_names())
            if stats_clock.name not in names or copy_settings.name not in names:
                return None
            self._ready = True
        with self.engine.connect() as connection:
            day = queries.clock(connection).day
        return None if day is None else day - 1

    def leaders(self) -> list[str]:
        """Every account with copy settings, by id, sorted."""
        with self.engine.connect() as connection:
            return leaders(connection)

    def scores(self, accounts: Sequence[str], day: int) -> dict[str, int | None]:
        """Each account's risk score over `WINDOW` ending on `day` (None: unknown, or not a
        trader)."""
        with self.engine.connect() as connection:
            found = queries.trader_stats(connection, accounts, WINDOW, WINDOWS[WINDOW], day)
        return {
            account: (s.risk_score if (s := found.get(account)) else None) for account in accounts
        }
