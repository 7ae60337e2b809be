"""Settings from environment variables with the SOCIALTRADING_ prefix (pydantic-settings)."""

from __future__ import annotations

from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, Self
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class SurveillanceSettings(BaseSettings):
    """The market-abuse detectors' thresholds: `SOCIALTRADING_SURVEILLANCE_<NAME>`.

    Times are in seconds of log time, shares and ratios are whole percents, so nothing is
    a float; docs/surveillance.md says what each detector does with them. Every process that
    runs the detectors over the same log must use the same values to find the same things.
    """

    model_config = SettingsConfigDict(env_prefix="SOCIALTRADING_SURVEILLANCE_", extra="ignore")

    # wash trading
    wash_window_seconds: int = Field(default=600, ge=1, le=86_400 * 7)
    wash_min_legs: int = Field(default=4, ge=2, le=1000)
    wash_max_net_percent: int = Field(default=10, ge=0, le=100)
    wash_min_pair_share_percent: int = Field(default=50, ge=1, le=100)
    wash_min_cycles: int = Field(default=2, ge=1, le=1000)
    wash_quantity_tolerance_percent: int = Field(default=5, ge=0, le=100)
    # spoofing and layering
    spoof_cancel_seconds: int = Field(default=10, ge=1, le=3600)
    spoof_min_book_share_percent: int = Field(default=50, ge=1, le=100)
    spoof_min_size_ratio: int = Field(default=4, ge=1, le=10_000)
    # order-to-trade ratio
    otr_window_seconds: int = Field(default=86_400, ge=60, le=86_400 * 31)
    otr_min_messages: int = Field(default=1000, ge=1, le=100_000_000)
    otr_max_ratio: int = Field(default=100, ge=1, le=1_000_000)
    # marking the close / ramping
    close_period_seconds: int = Field(default=3600, ge=60, le=86_400 * 7)
    close_window_seconds: int = Field(default=300, ge=1, le=86_400)
    close_min_move_bps: int = Field(default=100, ge=1, le=100_000)
    close_min_orders: int = Field(default=2, ge=1, le=1000)
    close_min_share_percent: int = Field(default=75, ge=1, le=100)
    # pump and dump through posts
    pump_window_seconds: int = Field(default=86_400, ge=60, le=86_400 * 31)
    pump_min_buyers: int = Field(default=3, ge=1, le=100_000)
    pump_min_sold_percent: int = Field(default=50, ge=1, le=100)
    pump_min_buying_share_percent: int = Field(default=25, ge=1, le=100)
    # trading against one's own recommendation
    against_window_seconds: int = Field(default=3600, ge=60, le=86_400 * 31)
    against_min_percent: int = Field(default=50, ge=1, le=100)
    # front-running copiers
    front_window_seconds: int = Field(default=60, ge=1, le=3600)
    front_min_repeats: int = Field(default=2, ge=1, le=1000)
    front_repeat_seconds: int = Field(default=86_400, ge=60, le=86_400 * 31)
    # what the detectors remember at most (an attacker cannot grow them past these)
    max_tracked_orders: int = Field(default=300_000, ge=1000, le=50_000_000)
    max_tracked_keys: int = Field(default=100_000, ge=100, le=10_000_000)
    max_follows: int = Field(default=200_000, ge=100, le=50_000_000)
    max_events_per_key: int = Field(default=256, ge=8, le=100_000)

    @model_validator(mode="after")
    def _close_window_inside_the_period(self) -> Self:
        if self.close_window_seconds >= self.close_period_seconds:
            raise ValueError("close_window_seconds must be shorter than close_period_seconds")
        return self


class Settings(BaseSettings):
    """Process configuration. Every field is `SOCIALTRADING_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="SOCIALTRADING_", extra="ignore")

    store: str = Field(
        default="sqlite:///./data/events.db",
        description="Event store URL: sqlite:///PATH or postgresql://USER[:PW]@HOST:PORT/DB",
    )
    read_store: str | None = Field(
        default=None,
        description="Read-model database URL (default: readmodels.db beside a SQLite store, "
        "or the PostgreSQL store's database)",
    )
    postgres_schema: str | None = Field(
        default=None, description="PostgreSQL schema for the event tables (created if missing)"
    )
    batch_max: int = Field(default=1000, ge=1, description="Most commands per group commit")
    batch_ms: float = Field(
        default=5.0, ge=0, description="Longest time (ms) a batch stays open while commands flow"
    )
    snapshot_interval: int = Field(
        default=500,
        ge=1,
        description=(
            "Snapshot an aggregate every this many events (a market: at least half its live orders)"
        ),
    )
    copy_settlement_hours: int = Field(
        default=168,
        ge=1,
        le=24 * 366,
        description="Copy trading: settle each copy's profit share this often (log time)",
    )
    demo_funding: bool = Field(
        default=False, description="Let traders credit themselves and grant KYC 1 on sign-up"
    )
    mutation_rate: float = Field(
        default=20.0,
        gt=0,
        description="GraphQL mutations per second per account (anonymous: per client address)",
    )
    mutation_burst: int = Field(
        default=40, ge=1, description="Mutations a client may send at once before the rate applies"
    )
    query_rate: float = Field(
        default=50.0,
        gt=0,
        description="GraphQL requests per second per account (anonymous: per client address)",
    )
    query_burst: int = Field(
        default=100, ge=1, description="Requests a client may send at once before the rate applies"
    )
    social_posts_per_minute: int = Field(
        default=10, ge=1, description="Posts an account may publish per minute (rate_limited)"
    )
    social_comments_per_minute: int = Field(
        default=30, ge=1, description="Comments an account may write per minute (rate_limited)"
    )
    social_likes_per_minute: int = Field(
        default=120, ge=1, description="Likes and unlikes per account per minute (rate_limited)"
    )
    social_follows_per_minute: int = Field(
        default=60,
        ge=1,
        description="Follows, unfollows, blocks and unblocks per account per minute (rate_limited)",
    )
    max_body_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Largest HTTP request body (bytes); more is 413"
    )
    max_ws_message_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Largest WebSocket message (bytes); more closes it"
    )
    max_ws_connections_per_account: int = Field(
        default=20, ge=1, description="Most open WebSockets per account"
    )
    max_ws_connections_per_address: int = Field(
        default=50, ge=1, description="Most open WebSockets per client address"
    )
    max_subscriptions_per_connection: int = Field(
        default=20, ge=1, description="Most operations running at once on one WebSocket"
    )
    max_subscriptions_per_account: int = Field(
        default=100,
        ge=1,
        description="Most subscriptions per account over all its WebSockets (anonymous: per "
        "client address)",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For "
        "is believed",
    )
    max_page_size: int = Field(default=100, ge=1, description="Largest `first` of a connection")
    max_query_depth: int = Field(default=10, ge=1, description="Deepest GraphQL selection")
    max_query_tokens: int = Field(default=2000, ge=100, description="Most tokens in a query")
    max_aliases: int = Field(default=15, ge=1, description="Most aliases in a GraphQL operation")
    max_selections: int = Field(
        default=2000,
        ge=1,
        description="Most fields a GraphQL operation selects, fragments counted at each use",
    )
    max_fragment_spreads: int = Field(
        default=100, ge=0, description="Most fragment spreads (`...Name`) in a GraphQL document"
    )
    max_query_seconds: float = Field(
        default=5.0, gt=0, description="A GraphQL query or mutation running longer is cancelled"
    )
    max_result_objects: int = Field(
        default=5_000,
        gt=0,
        le=1_000_000,
        description="Most objects one GraphQL operation may build (RESULT_TOO_LARGE beyond)",
    )
    graphiql: bool = Field(
        default=False, description="Serve GraphiQL at /graphql to browsers (on with --demo)"
    )
    introspection: bool = Field(
        default=False, description="Answer GraphQL introspection (`__schema`; on with --demo)"
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="/metrics answers only `Authorization: Bearer <this token>`"
    )
    metrics_public: bool = Field(
        default=False,
        description="Serve /metrics to anyone when no metrics token is set (on with --demo)",
    )
    read_your_writes_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How long a mutation waits for the read models to show its effects",
    )
    feed_pull_threshold: int = Field(
        default=5_000,
        ge=1,
        le=100_000_000,
        description="Followers from which an author's posts are pulled into home feeds at read "
        "time instead of written into each follower's feed (every process building the read "
        "models must use the same value)",
    )
    ready_max_lag: int = Field(
        default=10_000, ge=0, description="/readyz fails when projections lag more notifications"
    )
    stats_reference_asset: str = Field(
        default="USD",
        pattern=r"^[A-Z0-9]{1,16}$",
        description="The asset statistics value equity in (changing it needs "
        "`projections rebuild stats`)",
    )
    copy_part_size: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Copies a part of a copied fill settles: smaller parts hold other "
        "orders for less time, larger ones settle a fill with fewer commits",
    )
    leaderboard_min_trades: int = Field(
        default=10, ge=0, description="Fewest fills in the window to be on a leaderboard"
    )
    leaderboard_min_days: int = Field(
        default=7, ge=0, description="Fewest days of history to be on a leaderboard"
    )
    audit_anchor_every: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000_000,
        description="Log positions between the hash chain's anchors, where `audit verify` "
        "may start and checks the ledger",
    )

    surveillance: bool = Field(
        default=True,
        description="Run the market-abuse detectors over the log (docs/surveillance.md)",
    )
    surveillance_detectors: SurveillanceSettings = Field(
        default_factory=SurveillanceSettings,
        description="The detectors' thresholds (SOCIALTRADING_SURVEILLANCE_<NAME>)",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        """Read `10.0.0.1, 10.1.0.0/16` as a list; refuse what is not an address or network."""
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            for item in value:
                ip_network(str(item), strict=False)  # a ValueError names the bad entry
        return value


def persistence_env(store: str, postgres_schema: str | None = None) -> dict[str, str]:
    """Map a store URL onto the eventsourcing library's persistence settings."""
    url = urlsplit(store)
    if url.scheme == "sqlite":
        path = unquote(url.path[1:] if url.path.startswith("/") else url.path)
        if not path or path == ":memory:":
            raise ValueError("use a file for SQLite: sqlite:///./data/events.db")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "10",
        }
    if url.scheme in ("postgresql", "postgres"):
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            # the writer holds one connection; readers and subscriptions need their own
            "POSTGRES_POOL_SIZE": "2",
            "POSTGRES_MAX_OVERFLOW": "4",
            "POSTGRES_LOCK_TIMEOUT": "5",
        }
        if postgres_schema:
            env["POSTGRES_SCHEMA"] = postgres_schema
        return env
    raise ValueError(f"unsupported store URL {store!r}: use sqlite:/// or postgresql://")
