"""Several server processes on one PostgreSQL and one Redis act as one server: persisted
queries, subscriptions, single-use redemption codes and rate limits are shared.

It needs PostgreSQL and Redis, so it runs in the PostgreSQL pass of `make test` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, aconnect_ws

from models import Card
from models.enums import Role
from schema.ids import encode_id
from settings import get_settings
from tests.live_server import LiveServer, live_server
from tests.support import make_merchant, make_user, token_for

pytestmark = pytest.mark.skipif(
    not (
        os.environ.get("TEST_DATABASE_URL", "").startswith("postgres")
        and os.environ.get("TEST_REDIS_URL")
    ),
    reason="two servers share PostgreSQL and Redis: the PostgreSQL pass runs this",
)

CATEGORIES = "query Categories { categories { code name } }"
BUY = """
mutation Buy($product: ID!, $key: String!) {
  purchaseCard(productId: $product, idempotencyKey: $key) { card { id } }
}
"""
CODE = "mutation Code($card: ID!) { issueRedemptionCode(cardId: $card) { code } }"
REDEEM = """
mutation Redeem($code: String!, $store: ID!, $key: String!) {
  redeem(code: $code, storeId: $store, amount: "5.00", idempotencyKey: $key) { card { id } }
}
"""
REGISTER = """
mutation Register($input: RegisterConsumerInput!) { registerConsumer(input: $input) { user { id } } }
"""
ACTIVITY = "subscription { cardActivity { kind amount } }"


@contextlib.asynccontextmanager
async def two_servers(
    database: str, registrations_per_address: int = 10
) -> AsyncIterator[list[LiveServer]]:
    """Two servers on the session's PostgreSQL and Redis, signing with the tests' secret."""
    secret, registrations = get_settings().jwt_secret, str(registrations_per_address)
    async with (
        live_server(
            database,
            ANFU_ENV="development",
            ANFU_JWT_SECRET=secret,
            REGISTRATIONS_PER_ADDRESS=registrations,
            TRUSTED_PROXIES="127.0.0.1",
        ) as first,
        live_server(
            database,
            ANFU_ENV="development",
            ANFU_JWT_SECRET=secret,
            REGISTRATIONS_PER_ADDRESS=registrations,
            TRUSTED_PROXIES="127.0.0.1",
        ) as second,
    ):
        yield [first, second]


async def _post(
    url: str, body: dict[str, Any], token: str | None = None, address: str | None = None
) -> dict[str, Any]:
    """POST as a client at `address` (behind the trusted proxy 127.0.0.1), if given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if address:
        headers["X-Forwarded-For"] = address
    async with httpx.AsyncClient(timeout=30) as http:
        answer: dict[str, Any] = (await http.post(url, json=body, headers=headers)).json()
        return answer


async def test_an_apq_document_registered_through_one_is_served_by_the_other(database):
    query = f"{CATEGORIES} # {uuid.uuid4().hex}"  # a text no earlier test registered
    sha = hashlib.sha256(query.encode()).hexdigest()
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": sha}}
    async with two_servers(database) as (first, second):
        unknown = await _post(second.url, {"extensions": persisted})
        assert unknown["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        registered = await _post(first.url, {"query": query, "extensions": persisted})
        assert registered["data"]["categories"]
        async with httpx.AsyncClient(timeout=30) as http:
            hash_only = await http.get(second.url, params={"extensions": json.dumps(persisted)})
        assert hash_only.json() == registered


async def test_a_subscription_on_one_hears_a_purchase_through_the_other(database):
    world = await make_merchant()
    consumer = await make_user(Role.CONSUMER)
    token = token_for(consumer)
    async with two_servers(database) as (first, second), httpx.AsyncClient(timeout=30) as http:
        ws: AsyncWebSocketSession
        async with aconnect_ws(first.url, http, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send_json(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            )
            assert (await asyncio.wait_for(ws.receive_json(), 10))["type"] == "connection_ack"
            await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": ACTIVITY}})
            await asyncio.sleep(0.5)  # the subscription is listening on Redis
            variables = {"product": encode_id("CardProduct", world.product.id), "key": "k1"}
            bought = await _post(second.url, {"query": BUY, "variables": variables}, token)
            assert "errors" not in bought, bought
            event: dict[str, Any] = await asyncio.wait_for(ws.receive_json(), 10)
    assert event["type"] == "next"
    assert event["payload"]["data"]["cardActivity"] == {"kind": "PURCHASE", "amount": "1000.00"}


async def test_one_code_redeemed_through_both_at_once_is_spent_once(database):
    world = await make_merchant()
    consumer = await make_user(Role.CONSUMER)
    token = token_for(consumer)
    store = encode_id("Store", world.stores[0].id)
    async with two_servers(database) as (first, second):
        variables = {"product": encode_id("CardProduct", world.product.id), "key": "buy"}
        card = (await _post(first.url, {"query": BUY, "variables": variables}, token))["data"]
        card_id = card["purchaseCard"]["card"]["id"]
        for _ in range(5):
            code = await _post(first.url, {"query": CODE, "variables": {"card": card_id}}, token)
            one_code = code["data"]["issueRedemptionCode"]["code"]
            answers = await asyncio.gather(
                *(
                    _post(
                        server.url,
                        {
                            "query": REDEEM,
                            "variables": {
                                "code": one_code,
                                "store": store,
                                "key": uuid.uuid4().hex,
                            },
                        },
                        world.token,
                    )
                    for server in (first, second, first, second)
                )
            )
            assert sum("errors" not in answer for answer in answers) == 1, answers
    row = await Card.get(owner_id=consumer.id)
    assert row.balance_fen == world.product.face_value_fen - 5 * 500


async def test_rate_limits_count_across_both(database):
    # An address of its own: the counters live in Redis, beyond this test.
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    async with two_servers(database, registrations_per_address=3) as (first, second):
        answers = []
        for server in (first, second, first, second):
            person = {"phone": f"139{uuid.uuid4().int % 10**8:08d}", "password": "pass-word-1"}
            person["displayName"] = "两台服务器"
            answers.append(
                await _post(
                    server.url, {"query": REGISTER, "variables": {"input": person}}, None, address
                )
            )
    assert ["errors" in answer for answer in answers] == [False, False, False, True]
    assert answers[3]["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
