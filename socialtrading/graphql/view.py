"""The ASGI GraphQL endpoint: HTTP (GraphiQL if enabled) and graphql-transport-ws on one path.

Its caps (settings in infra/settings.py), each counted per client: the account when signed
in (whatever token it uses), else the client address (graphql/clients.py):

- every HTTP request takes a token of the request rate limit; without one the answer is
  HTTP 429 with `Retry-After` (whole seconds) and a `RATE_LIMITED` error;
- WebSockets per client address (counted from the handshake) and per account (from
  `connection_init`): one too many is closed with 4429 and a reason;
- operations per WebSocket, and subscriptions per client over all its WebSockets, and each
  `subscribe` message takes a token of the request rate: a refusal is an `error` message
  for that operation (`TOO_MANY_SUBSCRIPTIONS`, `RATE_LIMITED`); the connection stays open.

Slots are given back when their operation ends or the connection closes, however it does.

A request the endpoint cannot take (a body that is not JSON, or JSON nested deeper than
orjson's 1,024 levels; a method other than GET and POST) is answered with its HTTP status
and a GraphQL error body whose `extensions.code` is the status's name (BAD_REQUEST), rather
than strawberry's plain text (or, for deeply nested JSON, which `json.loads` meets with a
RecursionError, a 500).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from socialtrading.graphql import graphiql
from socialtrading.graphql.clients import address_key
from socialtrading.graphql.context import Context, Services, bearer, make_context
from socialtrading.graphql.errors import ApiError
from socialtrading.infra.metrics import LIMIT_REFUSALS, WEBSOCKETS

TOO_MANY = 4429  # graphql-transport-ws: "Too many ..." (as for a second connection_init)
RATE_LIMITED = "Too many requests: slow down"
_USE_WEBSOCKET = "Subscriptions run over a WebSocket on this path (graphql-transport-ws)"


class TextFrames(ASGIWebSocketAdapter):
    """Send graphql-transport-ws messages as TEXT frames.

    Strawberry sends an `encode_json` that returns bytes as a binary frame; the protocol's
    messages are JSON text, and JavaScript clients (graphql-ws, Apollo, urql, GraphiQL) fail
    on binary ones. HTTP keeps orjson's bytes.
    """

    async def send_json(self, message: Mapping[str, object]) -> None:
        data = self.view.encode_json(message)
        try:
            await self.ws.send_text(data.decode() if isinstance(data, bytes) else data)
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error


class _WebSocketAdapter(TextFrames):
    async def close(self, code: int, reason: str) -> None:
        # The view may have closed it already with a reason of its own (on_ws_connect).
        if self.ws.application_state != WebSocketState.DISCONNECTED:
            await super().close(code, reason)


class _TransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with the exchange's caps on operations."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        id = message["id"]
        if not self.connection_acknowledged or id in self.operations:
            await super().handle_subscribe(message)  # the protocol's own refusals
            return
        services = self.context.services
        settings = services.settings
        if len(self.operations) >= settings.max_subscriptions_per_connection:
            limit = settings.max_subscriptions_per_connection
            text = f"Too many operations on this connection (at most {limit})"
            await self._refuse(id, "connection_operations", "TOO_MANY_SUBSCRIPTIONS", text)
            return
        client = await self.context.client_key()
        if services.query_limiter.wait(client):
            await self._refuse(id, "request_rate", "RATE_LIMITED", RATE_LIMITED)
            return
        key = "subscriptions:" + client
        if not services.slots.acquire(key, settings.max_subscriptions_per_account):
            limit = settings.max_subscriptions_per_account
            text = f"Too many subscriptions open (at most {limit} per account or address)"
            await self._refuse(id, "subscriptions", "TOO_MANY_SUBSCRIPTIONS", text)
            return
        try:
            await super().handle_subscribe(message)  # KeyError on a malformed message
        finally:
            operation = self.operations.get(id)
            if operation is None or operation.task is None:
                services.slots.release(key)
            else:  # a done callback runs even if the task is cancelled before it starts
                operation.task.add_done_callback(lambda _: services.slots.release(key))

    async def _refuse(self, id: str, limit: str, code: str, message: str) -> None:
        LIMIT_REFUSALS.labels(limit).inc()
        error = ApiError(code, message).formatted
        await self.send_message({"id": id, "type": "error", "payload": [error]})


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's Starlette view with the exchange's typed context and caps."""

    services: Services | None = None  # set by the app's lifespan
    graphql_transport_ws_handler_class = _TransportWS
    websocket_adapter_class = _WebSocketAdapter

    def __init__(
        self,
        schema: BaseSchema,
        max_subscriptions_per_connection: int = 20,
        *,
        graphiql: bool = False,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            max_subscriptions_per_connection=max_subscriptions_per_connection,
        )

    def encode_json(self, data: object) -> bytes:
        """HTTP responses encoded with orjson."""
        return orjson.dumps(data)

    def _services(self) -> Services:
        if self.services is None:
            raise RuntimeError("the app's lifespan has not started")
        return self.services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve HTTP as strawberry does; count each WebSocket while it is open."""
        if scope["type"] != "websocket":
            await super().__call__(scope, receive, send)
            return
        services = self._services()
        websocket = WebSocket(scope, receive=receive, send=send)
        context = make_context(services, websocket, websocket)
        key = "ws:ip:" + address_key(context.client_address())
        if not services.slots.acquire(key, services.settings.max_ws_connections_per_address):
            LIMIT_REFUSALS.labels("address_websockets").inc()
            subprotocol = await self.pick_websocket_subprotocol(websocket)
            await websocket.accept(subprotocol=subprotocol)
            await websocket.close(TOO_MANY, "Too many connections from this address")
            return
        context.held.append(key)
        WEBSOCKETS.inc()
        try:
            await self.run(websocket, context=context)
        finally:
            WEBSOCKETS.dec()
            for held in context.held:
                services.slots.release(held)

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL from the app's own files (fetched at install time), never from a CDN."""
        return graphiql.ide_response()

    def decode_json(self, data: str | bytes) -> object:
        """Read request bodies with orjson: it refuses nesting beyond 1,024 levels cleanly."""
        return orjson.loads(data)  # its JSONDecodeError is json's, which strawberry answers 400

    async def run(  # type: ignore[override]  # one signature for strawberry's two overloads
        self, request: Request | WebSocket, context: Any = UNSET, root_value: Any = UNSET
    ) -> Response | WebSocket:
        """Answer a request strawberry refuses with its status and a GraphQL error body."""
        try:
            return await super().run(request, context, root_value)
        except HTTPException as error:
            if isinstance(request, WebSocket):
                raise
            code = HTTPStatus(error.status_code).name  # BAD_REQUEST, NOT_FOUND...
            message = error.reason
            if message.startswith("subscriptions are not allowed"):
                code, message = "USE_WEBSOCKET", _USE_WEBSOCKET
            body = {"errors": [{"message": message, "extensions": {"code": code}}]}
            return Response(
                orjson.dumps(body), status_code=error.status_code, media_type="application/json"
            )

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return make_context(self._services(), request, response)

    async def execute_operation(  # strawberry's signature
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> Any:
        """Run an HTTP operation if the client's request rate allows it, else answer 429."""
        wait = context.services.query_limiter.wait(await context.client_key())
        if wait:
            LIMIT_REFUSALS.labels("request_rate").inc()
            sub_response.status_code = 429
            sub_response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return ExecutionResult(data=None, errors=[ApiError("RATE_LIMITED", RATE_LIMITED)])
        return await super().execute_operation(
            request, request_adapter, request_data, context, root_value, sub_response
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate a websocket from its `connection_init` payload (or its headers)."""
        params = context.connection_params or {}
        value = params.get("Authorization", params.get("authorization"))
        if value is not None:
            token = bearer(value)
            if token is None:
                raise ConnectionRejectionError({"message": "Authorization is `Bearer <token>`"})
            context.token = token
            context.forget_viewer()
        viewer = await context.viewer()
        if context.token is not None and viewer is None:
            raise ConnectionRejectionError({"message": "The token is not valid"})
        if viewer is not None:
            key = "ws:account:" + viewer.id
            limit = context.services.settings.max_ws_connections_per_account
            if not context.services.slots.acquire(key, limit):
                LIMIT_REFUSALS.labels("account_websockets").inc()
                websocket = context.response
                assert isinstance(websocket, WebSocket)
                await websocket.close(TOO_MANY, "Too many connections for this account")
                raise ConnectionRejectionError({"message": "Too many connections"})
            context.held.append(key)
        return await super().on_ws_connect(context)
