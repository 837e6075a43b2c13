"""Subscriptions that hold: one Redis connection per process for every subscription, a bounded
queue per subscriber that only its own slowness overflows, and limits on connections per user
and subscriptions per connection, so that one consumer can never starve another's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from models import User
from schema.ids import encode_id
from server import create_app
from services import events, limits
from settings import Settings
from tests.conftest import TEST_REDIS_URL
from tests.support import data_of, gql, make_merchant, make_user, token_for
from tests.ws_support import GRAPHQL_URL, connected

CARD_ACTIVITY = "subscription CardActivity { cardActivity { id kind card { id } } }"
PURCHASE_CARD = """
mutation PurchaseCard($productId: ID!, $key: String!) {
  purchaseCard(productId: $productId, idempotencyKey: $key) { transaction { id } }
}
"""
_operation_ids = itertools.count(1)


@contextlib.asynccontextmanager
async def websockets(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, manage_database=False)
    transport = ASGIWebSocketTransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://anfu.test") as http:
        yield http


async def subscribe(ws: AsyncWebSocketSession) -> str:
    operation_id = str(next(_operation_ids))
    await ws.send_json(
        {"id": operation_id, "type": "subscribe", "payload": {"query": CARD_ACTIVITY}}
    )
    return operation_id


async def until_subscribers(count: int) -> None:
    for _ in range(500):
        if events.bus().subscribers(events.CARD_ACTIVITY) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(
        f"{events.bus().subscribers(events.CARD_ACTIVITY)} subscribers, expected {count}"
    )


async def purchase(client: httpx.AsyncClient, consumer: User, product_id: str) -> str:
    variables = {"productId": product_id, "key": uuid.uuid4().hex}
    result = await gql(client, PURCHASE_CARD, variables, token=token_for(consumer))
    return data_of(result)["purchaseCard"]["transaction"]["id"]


async def pubsub_connections(bus: Any) -> list[dict[str, Any]]:
    """The Redis connections of this bus (named after it) that listen to pub/sub."""
    clients = await bus._redis.client_list()
    return [
        entry
        for entry in clients
        if entry.get("name") == bus.name and (int(entry["sub"]) or int(entry["psub"]))
    ]


async def test_a_consumer_with_every_connection_full_of_subscriptions_starves_nobody(
    client, settings
):
    # Given a consumer holding as many connections as allowed, each with every subscription
    # it may have, and reading none of them
    world = await make_merchant()
    product_id = encode_id("CardProduct", world.product.id)
    hog, other = await make_user(), await make_user()
    before = events.bus().subscribers(events.CARD_ACTIVITY)
    connections = settings.websockets_per_user
    per_connection = settings.subscriptions_per_connection
    async with websockets(settings) as http, contextlib.AsyncExitStack() as stack:
        hog_sockets = [
            await stack.enter_async_context(connected(http, token_for(hog)))
            for _ in range(connections)
        ]
        for ws in hog_sockets:
            for _ in range(per_connection):
                await subscribe(ws)
        # And another consumer subscribed once
        other_ws = await stack.enter_async_context(connected(http, token_for(other)))
        other_op = await subscribe(other_ws)
        await until_subscribers(before + connections * per_connection + 1)

        # When the hog's own cards move many times (its queues fill) and the other one buys
        for _ in range(3):
            await purchase(client, hog, product_id)
        transaction_id = await purchase(client, other, product_id)

        # Then the other consumer's event arrives
        message = await asyncio.wait_for(other_ws.receive_json(), 5)
        assert message["id"] == other_op and message["type"] == "next", message
        assert message["payload"]["data"]["cardActivity"]["id"] == transaction_id

        # And with Redis the whole process listens through one connection
        bus = events.bus()
        if isinstance(bus, events.RedisBus):
            assert len(await pubsub_connections(bus)) == 1


@pytest.mark.skipif(not TEST_REDIS_URL, reason="counts Redis connections (TEST_REDIS_URL)")
async def test_one_redis_connection_listens_for_the_whole_process(client, settings):
    bus = events.bus()
    assert isinstance(bus, events.RedisBus)
    consumers = [await make_user() for _ in range(3)]
    async with websockets(settings) as http, contextlib.AsyncExitStack() as stack:
        before = events.bus().subscribers(events.CARD_ACTIVITY)
        for consumer in consumers:
            ws = await stack.enter_async_context(connected(http, token_for(consumer)))
            for _ in range(10):
                await subscribe(ws)
        await until_subscribers(before + 30)

        listening = await pubsub_connections(bus)

    assert len(listening) == 1
    assert int(listening[0]["psub"]) == 1


async def _first(events_: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    return await anext(events_)


async def test_a_slow_subscriber_loses_only_its_own_oldest_events(settings):
    # Given two subscribers on the bus, one that reads and one that never does
    bus = events.bus()
    channel = f"test-{uuid.uuid4().hex}"
    slow = bus.subscribe(channel)
    fast = bus.subscribe(channel)
    slow_first = asyncio.create_task(_first(slow))
    received: list[int] = []

    async def read_all(count: int) -> None:
        while len(received) < count:
            received.append((await anext(fast))["n"])

    reader = asyncio.create_task(read_all(settings.subscriber_queue_size * 3))
    for _ in range(500):
        if bus.subscribers(channel) == 2:
            break
        await asyncio.sleep(0.01)
    dropped_before = bus.fanout.dropped  # type: ignore[attr-defined]

    # When three queues' worth of events are published
    total = settings.subscriber_queue_size * 3
    for n in range(total):
        await bus.publish(channel, {"n": n})
        if n % 100 == 0:
            await asyncio.sleep(0)

    # Then the reader gets every one, in order, and only the slow one dropped some
    await asyncio.wait_for(reader, 10)
    assert received == list(range(total))
    assert (await asyncio.wait_for(slow_first, 5))["n"] >= 0
    assert bus.fanout.dropped > dropped_before  # type: ignore[attr-defined]
    await slow.aclose()
    await fast.aclose()
    assert bus.subscribers(channel) == 0


async def test_a_user_holds_at_most_the_allowed_connections(settings, monkeypatch):
    monkeypatch.setattr(settings, "websockets_per_user", 2)
    consumer = await make_user()
    async with websockets(settings) as http, contextlib.AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(connected(http, token_for(consumer)))

        # A third connection is closed with 4429 after connection_init
        ws: AsyncWebSocketSession
        with pytest.raises(ExceptionGroup) as caught:
            async with aconnect_ws(GRAPHQL_URL, http, subprotocols=["graphql-transport-ws"]) as ws:
                await ws.send_json(
                    {
                        "type": "connection_init",
                        "payload": {"authorization": f"Bearer {token_for(consumer)}"},
                    }
                )
                await asyncio.wait_for(ws.receive_json(), 5)
        disconnects = caught.value.subgroup(WebSocketDisconnect)
        assert disconnects is not None
        (disconnect,) = disconnects.exceptions
        assert isinstance(disconnect, WebSocketDisconnect)
        assert disconnect.code == 4429

        # While another user connects as usual
        async with connected(http, token_for(await make_user())):
            pass

    # And once the connections closed their places are free again
    for _ in range(200):
        if limits.websockets.held(consumer.id) == 0:
            break
        await asyncio.sleep(0.01)
    assert limits.websockets.held(consumer.id) == 0
    async with websockets(settings) as http, connected(http, token_for(consumer)):
        assert limits.websockets.held(consumer.id) == 1


async def test_subscriptions_per_connection_are_limited_with_a_code(settings, monkeypatch):
    monkeypatch.setattr(settings, "subscriptions_per_connection", 3)
    consumer = await make_user()
    async with websockets(settings) as http, connected(http, token_for(consumer)) as ws:
        for _ in range(3):
            await subscribe(ws)
        refused = await subscribe(ws)
        message = await asyncio.wait_for(ws.receive_json(), 5)

    assert message["id"] == refused and message["type"] == "error"
    assert message["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert "3" in message["payload"][0]["message"]
