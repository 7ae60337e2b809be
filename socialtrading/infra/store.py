"""The event store: one eventsourcing Application, one notification log for everything."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Transcoder, Transcoding

from socialtrading.engine.book import OrderBook
from socialtrading.engine.spec import MarketSpec
from socialtrading.infra.settings import Settings, persistence_env
from socialtrading.infra.transcoder import OrjsonTranscoder

_SPEC_DECIMALS = ("tick_size", "lot_size", "min_qty", "max_qty", "max_notional", "reference_price")


class OrderBookAsDict(Transcoding):
    """Snapshots of a Market hold its order book: its spec and `OrderBook.snapshot()`."""

    type = OrderBook
    name = "order_book"

    def encode(self, obj: OrderBook) -> dict[str, Any]:
        spec = obj.spec
        data: dict[str, Any] = {name: _text(getattr(spec, name)) for name in _SPEC_DECIMALS}
        data.update(symbol=spec.symbol, collar_ticks=spec.collar_ticks, mode=spec.mode)
        return {"spec": data, "state": obj.snapshot()}

    def decode(self, data: dict[str, Any]) -> OrderBook:
        fields = dict(data["spec"])
        for name in _SPEC_DECIMALS:
            if fields[name] is not None:
                fields[name] = Decimal(fields[name])
        return OrderBook.restore(MarketSpec(**fields), data["state"])


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class Exchange(Application[UUID]):
    """The exchange's event store. Its name prefixes the PostgreSQL tables (exchange_events)."""

    name = "exchange"
    is_snapshotting_enabled = True

    def construct_transcoder(self) -> Transcoder:
        transcoder = OrjsonTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(OrderBookAsDict())


def open_store(settings: Settings) -> Exchange:
    """Open (and create if needed) the event store the settings name."""
    env = persistence_env(settings.store, settings.postgres_schema)
    if settings.postgres_schema:
        _ensure_schema(env, settings.postgres_schema)
    return Exchange(env=env)


def _ensure_schema(env: dict[str, str], schema: str) -> None:
    with psycopg.connect(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=int(env["POSTGRES_PORT"]),
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"] or None,
        autocommit=True,
    ) as connection:
        connection.execute(
            psycopg.sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(psycopg.sql.Identifier(schema))
        )
