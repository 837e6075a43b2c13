"""Crash safety: a server killed (SIGKILL) in the middle of a stream of money mutations loses
nothing and half-does nothing.

Four clients buy cards, top them up and redeem from them through a real server process, each
operation with its own idempotency key. The server is killed while they run and started again
on the same database. Then: `anfu ledger verify` is clean; every operation the clients saw
answered is there; replaying every operation with its key (answered or not) completes it
exactly once, and a second replay changes nothing.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from models import Card, Transfer
from models.enums import Role
from settings import get_settings
from tests.live_server import live_server
from tests.support import make_merchant, make_user, token_for

pytestmark = pytest.mark.once

CLIENTS = 4
RUN_SECONDS = 1.5
BUY = """
mutation Buy($product: ID!, $key: String!) {
  purchaseCard(productId: $product, idempotencyKey: $key) { card { id } transaction { id } }
}
"""
TOP_UP = """
mutation TopUp($card: ID!, $key: String!) {
  topUpCard(cardId: $card, payAmount: "10.00", idempotencyKey: $key) {
    card { id } transaction { id }
  }
}
"""
CODE = "mutation Code($card: ID!) { issueRedemptionCode(cardId: $card) { code } }"
REDEEM = """
mutation Redeem($code: String!, $store: ID!, $key: String!) {
  redeem(code: $code, storeId: $store, amount: "1.00", idempotencyKey: $key) {
    card { id } transaction { id }
  }
}
"""


@dataclass
class Operation:
    document: str
    variables: dict[str, Any]
    token: str
    answer: dict[str, Any] | None = None  # what the client saw, when it saw an answer


@dataclass
class Stream:
    operations: list[Operation] = field(default_factory=list)


async def _send(http: httpx.AsyncClient, url: str, operation: Operation) -> dict[str, Any]:
    response = await http.post(
        url,
        json={"query": operation.document, "variables": operation.variables},
        headers={"Authorization": f"Bearer {operation.token}"},
    )
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    payload: dict[str, Any] = next(iter(body["data"].values()))
    return payload


async def _client(url: str, world: Any, consumer: str, merchant: str, stream: Stream) -> None:
    """Buy a card, then top up and redeem from it, round and round, until the server dies."""
    product = world.product_id
    async with httpx.AsyncClient(timeout=30) as http:
        while True:
            buy = Operation(BUY, {"product": product, "key": uuid.uuid4().hex}, consumer)
            stream.operations.append(buy)
            buy.answer = await _send(http, url, buy)
            card = buy.answer["card"]["id"]
            for _ in range(3):
                top_up = Operation(TOP_UP, {"card": card, "key": uuid.uuid4().hex}, consumer)
                stream.operations.append(top_up)
                top_up.answer = await _send(http, url, top_up)
                code = (await http.post(
                    url,
                    json={"query": CODE, "variables": {"card": card}},
                    headers={"Authorization": f"Bearer {consumer}"},
                )).json()["data"]["issueRedemptionCode"]["code"]  # fmt: skip
                variables = {"code": code, "store": world.store_id, "key": uuid.uuid4().hex}
                redeem = Operation(REDEEM, variables, merchant)
                stream.operations.append(redeem)
                redeem.answer = await _send(http, url, redeem)


@dataclass(frozen=True)
class World:
    product_id: str
    store_id: str
    merchant_id: int


def _verify_ledger(database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "anfu"), "ledger", "verify"],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


async def test_a_killed_server_loses_nothing_and_replays_complete_exactly_once(database):
    from schema.ids import encode_id

    # Given a merchant with cheap cards, a consumer, and the merchant's owner
    made = await make_merchant(price_fen=1_000, face_fen=1_500)
    world = World(
        encode_id("CardProduct", made.product.id),
        encode_id("Store", made.stores[0].id),
        made.merchant.id,
    )
    consumers = [token_for(await make_user(Role.CONSUMER)) for _ in range(CLIENTS)]
    merchant = made.token
    # The tests' tokens are signed with the tests' secret, which may be the development one.
    secret = get_settings().jwt_secret
    streams = [Stream() for _ in range(CLIENTS)]

    # When four clients stream money mutations and the server is killed among them
    async with live_server(database, ANFU_ENV="development", ANFU_JWT_SECRET=secret) as server:
        clients = [
            asyncio.create_task(_client(server.url, world, consumers[index], merchant, stream))
            for index, stream in enumerate(streams)
        ]
        await asyncio.sleep(RUN_SECONDS)
        await server.kill()
        for outcome in await asyncio.gather(*clients, return_exceptions=True):
            assert isinstance(outcome, httpx.TransportError), outcome  # cut off, nothing else
    operations = [operation for stream in streams for operation in stream.operations]
    answered = [operation for operation in operations if operation.answer is not None]
    assert len(answered) >= CLIENTS * 3, "the server was killed before any real work"

    # Then the ledger is whole
    verified = _verify_ledger(database)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # And, on the server started again, every operation replayed with its key completes once:
    # an answered one gives the answer the client saw
    async with (
        live_server(database, ANFU_ENV="development", ANFU_JWT_SECRET=secret) as server,
        httpx.AsyncClient(timeout=30) as http,
    ):
        first = [await _send(http, server.url, operation) for operation in operations]
        second = [await _send(http, server.url, operation) for operation in operations]
    for operation, replayed in zip(operations, first, strict=True):
        if operation.answer is not None:
            assert replayed == operation.answer
    assert second == first

    # And the database holds each operation exactly once
    card_ids = {replayed["card"]["id"] for replayed in first}
    transaction_ids = [replayed["transaction"]["id"] for replayed in first]
    assert len(transaction_ids) == len(set(transaction_ids)) == len(operations)
    assert await Card.filter(product_id=made.product.id).count() == len(card_ids)
    assert await Transfer.filter(merchant_id=made.merchant.id).count() == len(operations)
    verified = _verify_ledger(database)
    assert verified.returncode == 0, verified.stdout + verified.stderr
