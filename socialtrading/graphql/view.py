"""The ASGI GraphQL endpoint: HTTP (GraphiQL if enabled) and graphql-transport-ws on one path."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

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
