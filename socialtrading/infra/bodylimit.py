"""A cap on HTTP request bodies, as pure ASGI middleware: too large is answered 413.

A body announced larger than the cap (`Content-Length`) is refused before any of it is read.
A body without a length (chunked) is counted as it arrives, and refused as soon as it passes
the cap, so no more than the cap (plus one chunk) is ever held.

The 413 does not ask to close the connection: closing a socket with unread data resets it,
and the client, still sending, would lose the answer (an httpx client sending 5 MB did).
Once the response is complete uvicorn reads what still arrives of the body and throws it
away (memory stays flat), as a proxy's lingering close does; then the connection is free
for the next request, or ends after the keep-alive timeout.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from socialtrading.infra.metrics import LIMIT_REFUSALS


class _TooLargeError(Exception):
    pass


class BodyLimit:
    """Refuse HTTP request bodies over `max_bytes` with 413 Content Too Large."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLargeError
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except _TooLargeError:
            if started:  # too late to answer 413: the app answered without reading it all
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        LIMIT_REFUSALS.labels("body").inc()
        body = f"Request body too large (at most {self.max_bytes} bytes)".encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length itself
    return None
