"""The app factory: one process running the writer, the projections and the GraphQL API.

`create_app` wires everything; its lifespan opens the event store, starts the writer, opens
the read-model database, brings the projections up to date and follows the log, and on
shutdown stops and closes all of it in reverse order. Routes:

- `/graphql`  GraphQL over HTTP (GraphiQL in a browser, if enabled) and graphql-transport-ws
- `/graphiql/<file>`  GraphiQL's scripts and styles, fetched at install time
- `/healthz`  the process is up
- `/readyz`   the event store answers, the projections lag less than `ready_max_lag` and
  have set no event aside (a status and counts, never an error's text)
- `/metrics`  Prometheus metrics: with `metrics_token` set, only to `Bearer <token>`; without
  one, only when `metrics_public` (or in demo mode)

Request bodies are capped (infra/bodylimit.py); `server_options` holds what uvicorn must be
told for the other caps to hold (the WebSocket message size, no proxy headers of its own).
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from socialtrading.commands.writer import Writer
from socialtrading.entrypoints.bootstrap import bootstrap_demo
from socialtrading.entrypoints.observers import observe_batch
from socialtrading.graphql import graphiql
from socialtrading.graphql.clients import TrustedProxies
from socialtrading.graphql.context import Services
from socialtrading.graphql.ratelimit import RateLimiter
from socialtrading.graphql.schema import Limits, make_schema
from socialtrading.graphql.view import GraphQLView
from socialtrading.infra import metrics
from socialtrading.infra.bodylimit import BodyLimit
from socialtrading.infra.bus import Bus
from socialtrading.infra.lock import StoreLock
from socialtrading.infra.progress import ProgressWatcher
from socialtrading.infra.readstore import open_read_store
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import open_store
from socialtrading.policies.copying import CopyPolicy
from socialtrading.policies.risk_gate import RiskGatePolicy
from socialtrading.policies.surveillance.policy import SurveillancePolicy, alerts_through
from socialtrading.projections.registry import all_projections
from socialtrading.projections.runner import ProjectionRunner
from socialtrading.projections.stats.risk import LeaderRisk

log = logging.getLogger(__name__)


def _announce(tokens: dict[str, str]) -> None:
    lines = ["Demo API tokens (send as `Authorization: Bearer <token>`; new at each start):"]
    lines += [f"  {handle:<12} {token}" for handle, token in tokens.items()]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def _metrics_guard(settings: Settings) -> Callable[[Request], Response | None]:
    """Who may read /metrics: a function answering None (go on) or the refusal."""
    secret = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    if secret:
        expected = f"Bearer {secret}".encode()

        def with_token(request: Request) -> Response | None:
            sent = request.headers.get("authorization", "").encode()
            if hmac.compare_digest(sent, expected):
                return None
            return PlainTextResponse(
                "/metrics needs `Authorization: Bearer <SOCIALTRADING_METRICS_TOKEN>`\n",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )

        return with_token
    if settings.metrics_public:
        return lambda _request: None
    return lambda _request: PlainTextResponse(
        "/metrics is off: set SOCIALTRADING_METRICS_TOKEN (or SOCIALTRADING_METRICS_PUBLIC)\n",
        status_code=404,
    )


def create_app(
    settings: Settings,
    *,
    demo: bool = False,
    announce: Callable[[dict[str, str]], None] = _announce,
    lock: StoreLock | None = None,
) -> Starlette:
    """The exchange's ASGI app. With `demo`, bootstrap the demo exchange at start-up.

    Demo mode turns demo funding on (traders credit themselves, sign-up grants KYC 1), lists
    BTC-USD and ETH-USD, funds a few demo traders, and hands their fresh API tokens to
    `announce` (printed by default) and to `app.state.demo_tokens`.

    `lock` is the store's writer lock the caller holds (`serve` takes it before anything):
    the writer checks it before each append, and `/readyz` is not ready while it is lost.
    """
    if demo:
        settings = settings.model_copy(
            update={
                "demo_funding": True,
                "graphiql": True,
                "introspection": True,
                "metrics_public": True,
            }
        )
    schema = make_schema(
        Limits(
            max_depth=settings.max_query_depth,
            max_tokens=settings.max_query_tokens,
            max_aliases=settings.max_aliases,
            max_selections=settings.max_selections,
            max_fragment_spreads=settings.max_fragment_spreads,
            max_seconds=settings.max_query_seconds,
            max_objects=settings.max_result_objects,
        ),
        introspection=settings.introspection,
    )
    view = GraphQLView(
        schema, settings.max_subscriptions_per_connection, graphiql=settings.graphiql
    )
    metrics_allowed = _metrics_guard(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            store = await asyncio.to_thread(open_store, settings)
            stack.callback(store.close)
            if lock is not None:
                store.fence = lock.held
            writer = await asyncio.to_thread(
                Writer,
                store,
                batch_max=settings.batch_max,
                batch_ms=settings.batch_ms,
                snapshot_interval=settings.snapshot_interval,
                demo_funding=settings.demo_funding,
                copy_part_size=settings.copy_part_size,
            )
            writer.add_batch_observer(observe_batch)
            writer.start()
            stack.callback(writer.stop)
            read_engine = open_read_store(settings)
            stack.callback(read_engine.dispose)
            bus = Bus()
            runner = ProjectionRunner(
                store,
                read_engine,
                all_projections(
                    bus,
                    settings.feed_pull_threshold,
                    stats_reference=settings.stats_reference_asset,
                ),
            )
            try:
                await asyncio.to_thread(runner.setup)
            except Exception as error:
                raise RuntimeError(
                    "cannot set up the read models' tables in the read store "
                    f"(SOCIALTRADING_READ_STORE): {type(error).__name__}: {error}"[:2000]
                ) from error
            await asyncio.to_thread(runner.catch_up)
            runner.start()
            stack.callback(runner.stop)
            writer.add_listener(runner.wake)
            # copy trading: follows the log beside the projections, sends to the writer
            policy = CopyPolicy(
                store,
                read_engine,
                writer.submit,
                settlement_period_us=settings.copy_settlement_hours * 3600 * 1_000_000,
            )
            await asyncio.to_thread(policy.setup)
            policy.start()
            stack.callback(policy.stop)
            writer.add_listener(policy.wake)
            # the risk gate: leaders' risk scores, from the statistics, to the writer
            risk_gate = RiskGatePolicy(store, read_engine, writer.submit, LeaderRisk(read_engine))
            await asyncio.to_thread(risk_gate.setup)
            risk_gate.start()
            stack.callback(risk_gate.stop)
            if settings.surveillance:
                # market-abuse detectors: follow the log, report what they find
                surveillance = SurveillancePolicy(
                    store,
                    read_engine,
                    alerts_through(writer.submit),
                    settings.surveillance_detectors,
                )
                await asyncio.to_thread(surveillance.setup)
                surveillance.start()
                stack.callback(surveillance.stop)
                writer.add_listener(surveillance.wake)
            progress = ProgressWatcher(runner).start()
            stack.callback(progress.stop)
            services = Services(
                settings=settings,
                writer=writer,
                runner=runner,
                read_engine=read_engine,
                bus=bus,
                progress=progress,
                limiter=RateLimiter(settings.mutation_rate, settings.mutation_burst),
                query_limiter=RateLimiter(settings.query_rate, settings.query_burst),
                proxies=TrustedProxies(settings.trusted_proxies),
            )
            app.state.services = services
            app.state.demo_tokens = {}
            if demo:
                tokens = await asyncio.to_thread(bootstrap_demo, writer)
                # The tokens authenticate through the accounts read model: wait for it.
                await progress.wait_for(runner.head(), 30.0)
                app.state.demo_tokens = tokens
                announce(tokens)
            view.services = services
            # What start-up built lives as long as the app: keep it out of the collector's
            # full passes, which otherwise walk all of it and pause requests (~70 ms each).
            gc.collect()
            gc.freeze()
            stack.callback(gc.unfreeze)
            yield
            log.info("shutting down")

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        # A status and counts only: errors (SQL, parameters) are logged, never answered.
        services: Services = request.app.state.services
        if lock is not None and not await asyncio.to_thread(lock.held):
            return JSONResponse({"status": "unwritable"}, status_code=503)
        try:
            statuses = await asyncio.to_thread(services.runner.status)
        except Exception:
            log.warning("readiness: the projections' status is unavailable", exc_info=True)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        lag = max((status.lag for status in statuses), default=0)
        dead_letters = sum(status.dead_letters for status in statuses)
        if services.runner.error is not None:
            state = "failing"
        elif dead_letters:
            state = "dead_letters"
        elif lag > settings.ready_max_lag:
            state = "lagging"
        else:
            state = "ok"
        body = {"status": state, "lag": lag, "dead_letters": dead_letters}
        return JSONResponse(body, status_code=200 if state == "ok" else 503)

    async def prometheus(request: Request) -> Response:
        refusal = metrics_allowed(request)
        if refusal is not None:
            return refusal
        services: Services = request.app.state.services
        try:
            statuses = await asyncio.to_thread(services.runner.status)
        except Exception:  # still serve the other metrics
            log.warning("projection status unavailable for /metrics", exc_info=True)
            statuses = []
        for status in statuses:
            metrics.PROJECTION_POSITION.labels(status.name).set(status.position)
            metrics.PROJECTION_LAG.labels(status.name).set(status.lag)
            metrics.PROJECTION_DEAD_LETTERS.labels(status.name).set(status.dead_letters)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),
            graphiql.assets_route(),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", prometheus),
        ],
        lifespan=lifespan,
        middleware=[Middleware(BodyLimit, max_bytes=settings.max_body_bytes)],
    )


def server_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn options the app's caps rely on (`serve` and the tests pass them).

    uvicorn's own proxy headers are off: it would believe `X-Forwarded-For` from 127.0.0.1 by
    default; the app reads it itself, from `SOCIALTRADING_TRUSTED_PROXIES` only.
    """
    return {
        "ws": "websockets-sansio",
        "ws_max_size": settings.max_ws_message_bytes,
        "proxy_headers": False,
    }
