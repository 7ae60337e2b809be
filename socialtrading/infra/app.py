"""The app factory: one process running the writer, the projections and the GraphQL API.

`create_app` wires everything; its lifespan opens the event store, starts the writer, opens
the read-model database, brings the projections up to date and follows the log, and on
shutdown stops and closes all of it in reverse order. Routes:

- `/graphql`  GraphQL over HTTP (GraphiQL in a browser) and graphql-transport-ws
- `/healthz`  the process is up
- `/readyz`   the event store answers and the projections lag less than `ready_max_lag`
- `/metrics`  Prometheus metrics
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from socialtrading.commands.writer import Writer
from socialtrading.graphql.context import Services
from socialtrading.graphql.ratelimit import RateLimiter
from socialtrading.graphql.schema import Limits, make_schema
from socialtrading.graphql.view import GraphQLView
from socialtrading.infra import metrics
from socialtrading.infra.bootstrap import bootstrap_demo
from socialtrading.infra.bus import Bus
from socialtrading.infra.lock import StoreLock
from socialtrading.infra.progress import ProgressWatcher
from socialtrading.infra.readstore import open_read_store
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import open_store
from socialtrading.projections.registry import all_projections
from socialtrading.projections.runner import ProjectionRunner

log = logging.getLogger(__name__)


def _announce(tokens: dict[str, str]) -> None:
    lines = ["Demo API tokens (send as `Authorization: Bearer <token>`; new at each start):"]
    lines += [f"  {handle:<12} {token}" for handle, token in tokens.items()]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


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
        settings = settings.model_copy(update={"demo_funding": True})
    schema = make_schema(
        Limits(settings.max_query_depth, settings.max_query_tokens, settings.max_aliases)
    )
    view = GraphQLView(schema)

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
            )
            writer.add_batch_observer(metrics.observe_batch)
            writer.start()
            stack.callback(writer.stop)
            read_engine = open_read_store(settings)
            stack.callback(read_engine.dispose)
            bus = Bus()
            runner = ProjectionRunner(store, read_engine, all_projections(bus))
            await asyncio.to_thread(runner.setup)
            await asyncio.to_thread(runner.catch_up)
            runner.start()
            stack.callback(runner.stop)
            writer.add_listener(runner.wake)
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
        services: Services = request.app.state.services
        if lock is not None and not await asyncio.to_thread(lock.held):
            return JSONResponse({"status": "unwritable"}, status_code=503)
        try:
            statuses = await asyncio.to_thread(services.runner.status)
        except Exception as error:  # the store is unreachable: not ready, say why
            return JSONResponse({"status": "unavailable", "store": str(error)}, status_code=503)
        lag = max((status.lag for status in statuses), default=0)
        failing = services.runner.error
        ready = lag <= settings.ready_max_lag and failing is None
        body: dict[str, object] = {
            "status": "ok" if ready else "lagging",
            "lag": lag,
            "head": statuses[0].head if statuses else 0,
        }
        if failing is not None:
            body["status"] = "failing"
            body["error"] = str(failing)
        return JSONResponse(body, status_code=200 if ready else 503)

    async def prometheus(request: Request) -> Response:
        services: Services = request.app.state.services
        try:
            statuses = await asyncio.to_thread(services.runner.status)
        except Exception:  # still serve the other metrics
            log.warning("projection status unavailable for /metrics", exc_info=True)
            statuses = []
        for status in statuses:
            metrics.PROJECTION_POSITION.labels(status.name).set(status.position)
            metrics.PROJECTION_LAG.labels(status.name).set(status.lag)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", prometheus),
        ],
        lifespan=lifespan,
    )
