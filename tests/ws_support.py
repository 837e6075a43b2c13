"""graphql-transport-ws connections to the app under test (httpx-ws over ASGI)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from httpx_ws import AsyncWebSocketSession, aconnect_ws

GRAPHQL_URL = "http://anfu.test/graphql"


@contextlib.asynccontextmanager
async def connected(
    http: httpx.AsyncClient, token: str | None
) -> AsyncIterator[AsyncWebSocketSession]:
    """A graphql-transport-ws connection, acknowledged; the token goes in connection_init."""
    ws: AsyncWebSocketSession
    async with aconnect_ws(GRAPHQL_URL, http, subprotocols=["graphql-transport-ws"]) as ws:
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await ws.send_json({"type": "connection_init", "payload": payload})
        assert (await asyncio.wait_for(ws.receive_json(), 5))["type"] == "connection_ack"
        yield ws
