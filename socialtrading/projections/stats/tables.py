"""The tables of the `stats` read model. Days are UTC days since the epoch (an integer);
amounts in the reference asset are exact decimals rounded to `QUANTUM`."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table

from socialtrading.projections.base import metadata
from socialtrading.projections.market_specs import market_table
from socialtrading.projections.types import BigIntText, DecimalText

TRADER = "trader"  # ranked and given statistics
COPY = "copy"  # a copy's allocation or a leader's block account: never ranked
OTHER = "other"  # fee account, staff: no points

stats_markets = market_table("stats_markets")

stats_market_assets = Table(
    "stats_market_assets",
    metadata,
    Column("market_id", String(36), primary_key=True),
    Column("base", String(16), nullable=False),
    Column("quote", String(16), nullable=False),
)

stats_accounts = Table(
    "stats_accounts",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("kind", String(8), nullable=False),  # TRADER | COPY | OTHER
    Column("first_day", Integer, nullable=True),  # the day of its first point
)

stats_balances = Table(
    "stats_balances",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("asset", String(16), primary_key=True),
    Column("total", DecimalText, nullable=False),  # available + reserved
    # unique, so a catch-up keeps it: each day's close looks up the holders of assets
    Index("ux_stats_balances_asset", "asset", "account_id", unique=True),
)

stats_positions = Table(
    "stats_positions",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("market", String(32), primary_key=True),
    Column("quantity", BigIntText, nullable=False),  # signed lots
    Column("cost", BigIntText, nullable=False),  # ticks x lots of the open quantity
    Column("trip", BigIntText, nullable=False),  # quote units realized in the open round trip
)

# The mark of each asset that has a market quoted in the reference asset: the price of its
# last trade there, and the day of that trade.
stats_marks = Table(
    "stats_marks",
    metadata,
    Column("asset", String(16), primary_key=True),
    Column("price", DecimalText, nullable=False),
    Column("day", Integer, nullable=False),
)

stats_points = Table(
    "stats_points",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("day", Integer, primary_key=True, autoincrement=False),
    Column("equity", DecimalText, nullable=False),
    Column("flow", DecimalText, nullable=False),
    Column("inflow", DecimalText, nullable=False),
    Column("trades", Integer, nullable=False),
    Column("realized", DecimalText, nullable=False),
    Column("fees", DecimalText, nullable=False),
    Column("wins", Integer, nullable=False),
    Column("closed", Integer, nullable=False),
    Column("copiers", Integer, nullable=False),
    Column("assets_under_copy", DecimalText, nullable=False),
    Column("copiers_pnl", DecimalText, nullable=False),
    # unique, so a catch-up keeps it: each day's close reads that day's points
    Index("ux_stats_points_day", "day", "account_id", unique=True),
)

# The open day (the day of the last event applied) and the reference asset: one row, id 1.
stats_clock = Table(
    "stats_clock",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("day", Integer, nullable=False),
    Column("reference", String(16), nullable=False),
)

# Copies (from the `Copy.*` events, matched by class name) and what each account moved by
# transfers that name a copy as their reference (the copier's: contributions < 0, returns
# > 0; valued in the reference asset when they happened).
stats_copies = Table(
    "stats_copies",
    metadata,
    Column("copy_id", String(36), primary_key=True),
    Column("leader", String(36), nullable=False),
    Column("copier", String(36), nullable=False),
    Column("allocation", String(36), nullable=False),
    Column("active", Boolean, nullable=False),
)

stats_transfers = Table(
    "stats_transfers",
    metadata,
    Column("reference", String(64), primary_key=True),
    Column("account_id", String(36), primary_key=True),
    Column("net", DecimalText, nullable=False),
)

TABLES = (
    stats_markets,
    stats_market_assets,
    stats_accounts,
    stats_balances,
    stats_positions,
    stats_marks,
    stats_points,
    stats_clock,
    stats_copies,
    stats_transfers,
)
