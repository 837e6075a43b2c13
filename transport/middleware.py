"""The request body limit: no request makes the server hold more than `max_bytes` of it."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from transport.responses import error_response


class BodyTooLarge(Exception):
    """The body grew past the limit while it was being read."""


class BodyLimit:
    """413 for a body over the limit (declared or streamed), 414 for a query string over it;
    either answered with a GraphQL error body before the application reads on."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        accept = headers.get("accept")
        if len(scope.get("query_string", b"")) > self.max_bytes:
            await self._refuse(414, "URL", scope, receive, send, accept)
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(413, "body", scope, receive, send, accept)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def noting_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, noting_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(413, "body", scope, receive, send, accept)

    async def _refuse(
        self, status: int, what: str, scope: Scope, receive: Receive, send: Send, accept: str | None
    ) -> None:
        message = (
            f"The request {what} is larger than the limit of {self.max_bytes:,} bytes "
            "(setting max_body_bytes)"
        )
        # The client may still be sending: the connection closes after this answer.
        response = error_response(status, message, accept, headers={"Connection": "close"})
        await response(scope, receive, send)
