"""Two server processes on one SQLite file take turns at writing (core/sqlite.py): concurrent
money operations through both all complete, none fails with "database is locked"."""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import httpx
import pytest
from tortoise import connections

from core.sqlite import ImmediateSqliteClient
from models import Card
from models.enums import Role
from schema.ids import encode_id
from settings import get_settings
from tests.live_server import live_server
from tests.support import make_merchant, make_user, token_for

pytestmark = [
    pytest.mark.once,
    pytest.mark.skipif(
        os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"),
        reason="SQLite's locking: the SQLite pass runs this",
    ),
]

CARDS = 6
ROUNDS = 4
BUY = """
mutation Buy($product: ID!, $key: String!) {
  purchaseCard(productId: $product, idempotencyKey: $key) { card { id } }
}
"""
CODE = "mutation Code($card: ID!) { issueRedemptionCode(cardId: $card) { code } }"
REDEEM = """
mutation Redeem($code: String!, $store: ID!, $key: String!) {
  redeem(code: $code, storeId: $store, amount: "1.00", idempotencyKey: $key) { card { id } }
}
"""


def test_sqlite_databases_use_the_immediate_transactions_client(database):
    assert isinstance(connections.get("default"), ImmediateSqliteClient)


async def _call(url: str, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=60) as http:
        answer: dict[str, Any] = (
            await http.post(
                url,
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {token}"},
            )
        ).json()
    assert not answer.get("errors"), answer
    return answer["data"]


async def test_two_processes_on_one_sqlite_file_complete_every_redemption(database):
    world = await make_merchant(price_fen=1_000, face_fen=1_000)
    consumer = await make_user(Role.CONSUMER)
    token = token_for(consumer)
    product = encode_id("CardProduct", world.product.id)
    store = encode_id("Store", world.stores[0].id)
    secret = get_settings().jwt_secret
    async with (
        live_server(database, ANFU_ENV="development", ANFU_JWT_SECRET=secret) as first,
        live_server(database, ANFU_ENV="development", ANFU_JWT_SECRET=secret) as second,
    ):
        urls = [first.url, second.url]

        async def card_stream(index: int) -> None:
            url = urls[index % 2]
            bought = await _call(url, BUY, {"product": product, "key": uuid.uuid4().hex}, token)
            card = bought["purchaseCard"]["card"]["id"]
            for turn in range(ROUNDS):
                issued = await _call(urls[(index + turn) % 2], CODE, {"card": card}, token)
                code = issued["issueRedemptionCode"]["code"]
                variables = {"code": code, "store": store, "key": uuid.uuid4().hex}
                await _call(urls[(index + turn + 1) % 2], REDEEM, variables, world.token)

        await asyncio.gather(*(card_stream(index) for index in range(CARDS)))
    balances = await Card.filter(owner_id=consumer.id).values_list("balance_fen", flat=True)
    assert sorted(balances) == [1_000 - ROUNDS * 100] * CARDS
