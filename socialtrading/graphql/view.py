"""The ASGI GraphQL endpoint: HTTP (GraphiQL if enabled) and graphql-transport-ws on one path.

A request the endpoint cannot take (a body that is not JSON, or JSON nested deeper than
orjson's 1,024 levels; a method other than GET and POST) is answered with its HTTP status
and a GraphQL error body whose `extensions.code` is the status's name (BAD_REQUEST), rather
than strawberry's plain text (or, for deeply nested JSON, which `json.loads` meets with a
RecursionError, a 500).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from socialtrading.graphql.context import Context, Services, bearer, make_context


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's Starlette view with the exchange's typed context."""

    services: Services | None = None  # set by the app's lifespan

    def __init__(self, schema: BaseSchema, *, graphiql: bool = False) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            max_subscriptions_per_connection=20,
        )

    def encode_json(self, data: object) -> bytes:
        """HTTP responses with orjson: ~15 times faster than `json.dumps` for a book."""
        return orjson.dumps(data)

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
            body = {"errors": [{"message": error.reason, "extensions": {"code": code}}]}
            return Response(
                orjson.dumps(body), status_code=error.status_code, media_type="application/json"
            )

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        if self.services is None:
            raise RuntimeError("the app's lifespan has not started")
        return make_context(self.services, request, response)

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
        if context.token is not None and await context.viewer() is None:
            raise ConnectionRejectionError({"message": "The token is not valid"})
        return await super().on_ws_connect(context)
