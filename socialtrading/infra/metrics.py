"""Prometheus metrics: the writer's commands and batches, the SQLite event store's WAL
checkpoints, projection lag, GraphQL latency, requests refused by a cap, open WebSockets.

Metrics live in the process-wide default registry (what `/metrics` serves). The writer
reports through a batch observer (`entrypoints/observers.py`); projection lag is sampled
when `/metrics` is scraped; the WAL checkpointer (`infra/checkpointer.py`) counts its own.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

COMMANDS = Counter(
    "socialtrading_commands",
    "Commands the writer handled, by type and outcome",
    ["type", "outcome"],
)
BATCH_SIZE = Histogram(
    "socialtrading_batch_size",
    "Commands per group commit",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
)
COMMIT_SECONDS = Histogram(
    "socialtrading_commit_seconds",
    "Time to store one batch (one transaction)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
WAL_CHECKPOINTS = Counter(
    "socialtrading_wal_checkpoints", "WAL checkpoints run by the event store's checkpointer"
)
WAL_CHECKPOINTED_PAGES = Counter(
    "socialtrading_wal_checkpointed_pages",
    "Pages the event store's WAL checkpoints copied into the database file",
)
WAL_BACKLOG_PAGES = Gauge(
    "socialtrading_wal_backlog_pages",
    "Pages in the event store's WAL not yet copied into the database file",
)
PROJECTION_POSITION = Gauge(
    "socialtrading_projection_position", "Last notification id applied", ["projection"]
)
PROJECTION_LAG = Gauge(
    "socialtrading_projection_lag", "Notifications not yet applied", ["projection"]
)
PROJECTION_DEAD_LETTERS = Gauge(
    "socialtrading_projection_dead_letters",
    "Events a projection set aside because applying them failed",
    ["projection"],
)
GRAPHQL_SECONDS = Histogram(
    "socialtrading_graphql_seconds",
    "GraphQL operation latency (queries and mutations)",
    ["operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

LIMIT_REFUSALS = Counter(
    "socialtrading_limit_refusals",
    "Requests, connections and operations refused by a cap, by cap",
    ["limit"],
)
WEBSOCKETS = Gauge("socialtrading_websockets", "Open WebSocket connections")
