"""The cardActivity subscription over graphql-transport-ws: a consumer sees their own cards only."""

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
from schema.ids import decode_id, encode_id
from server import create_app
from services import cards, events, redemption, refunds
from services.ledger import verify_ledger
from tests.support import (
    buy_card,
    data_of,
    gql,
    make_merchant,
    make_user,
    principal_of,
    redeem_fen,
    token_for,
)
from tests.ws_support import GRAPHQL_URL, connected

CARD_ACTIVITY = """
subscription CardActivity {
  cardActivity {
    id kind amount cashAmount balanceAfter
    card { id balance cashValue }
    merchant { name }
  }
}
"""

PURCHASE_CARD = """
mutation PurchaseCard($productId: ID!, $key: String!) {
  purchaseCard(productId: $productId, idempotencyKey: $key) { card { id } transaction { id } }
}
"""

QUIET_SECONDS = 1.0
_operation_ids = itertools.count(1)


@pytest.fixture
def app(database: str, settings) -> Any:
    return create_app(settings, manage_database=False)


@contextlib.asynccontextmanager
async def websockets(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client for WebSocket connections to the app (entered and left in the test's own task:
    the transport runs the app in an anyio task group)."""
    transport = ASGIWebSocketTransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://anfu.test") as http:
        yield http


async def subscriber_count() -> int:
    """Subscribers of the card-activity channel in this process (the Redis bus counts one once
    its process listens on Redis, so an event published after that reaches it)."""
    return events.bus().subscribers(events.CARD_ACTIVITY)


async def subscribe(ws: AsyncWebSocketSession, *, wait: bool = True) -> str:
    """Start cardActivity; with `wait`, return once the server listens on the bus."""
    before = await subscriber_count()
    operation_id = str(next(_operation_ids))
    await ws.send_json(
        {"id": operation_id, "type": "subscribe", "payload": {"query": CARD_ACTIVITY}}
    )
    if wait:
        for _ in range(200):
            if await subscriber_count() > before:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the subscription never reached the event bus")
    return operation_id


async def next_event(ws: AsyncWebSocketSession, operation_id: str) -> dict:
    message = await asyncio.wait_for(ws.receive_json(), 5)
    assert message["type"] == "next", message
    assert message["id"] == operation_id
    return data_of(message["payload"])["cardActivity"]


async def assert_quiet(ws: AsyncWebSocketSession) -> None:
    with pytest.raises(TimeoutError):
        message = await asyncio.wait_for(ws.receive_json(), QUIET_SECONDS)
        raise AssertionError(f"unexpected message {message}")


async def purchase(client: httpx.AsyncClient, consumer: User, world) -> dict:
    variables = {
        "productId": encode_id("CardProduct", world.product.id),
        "key": uuid.uuid4().hex,
    }
    result = await gql(client, PURCHASE_CARD, variables, token=token_for(consumer))
    return data_of(result)["purchaseCard"]


async def test_a_consumer_sees_each_transaction_on_their_cards(client, app):
    async with websockets(app) as ws_client:
        # Given a consumer subscribed to their card activity
        world = await make_merchant()
        consumer = await make_user()
        async with connected(ws_client, token_for(consumer)) as ws:
            operation_id = await subscribe(ws)

            # When they buy a card over HTTP and the merchant redeems 100.00 of it
            bought = await purchase(client, consumer, world)
            bought_event = await next_event(ws, operation_id)
            card_id = decode_id(bought["card"]["id"], "Card")
            await redeem_fen(world, card_id, consumer, 10_000)
            redeemed_event = await next_event(ws, operation_id)

        # Then each transaction arrives with the card as it was after it
        assert bought_event == {
            "id": bought["transaction"]["id"],
            "kind": "PURCHASE",
            "amount": "1000.00",
            "cashAmount": "700.00",
            "balanceAfter": "1000.00",
            "card": {"id": bought["card"]["id"], "balance": "1000.00", "cashValue": "700.00"},
            "merchant": {"name": world.merchant.name},
        }
        assert redeemed_event["kind"] == "REDEMPTION"
        assert (redeemed_event["amount"], redeemed_event["cashAmount"]) == ("100.00", "70.00")
        assert redeemed_event["balanceAfter"] == "900.00"
        assert redeemed_event["card"] == {
            "id": bought["card"]["id"],
            "balance": "900.00",
            "cashValue": "630.00",
        }
        assert (await verify_ledger()).problems == []


async def test_top_ups_and_refunds_are_seen_too(app):
    async with websockets(app) as ws_client:
        world = await make_merchant()
        consumer = await make_user()
        card_id = (await buy_card(consumer, world)).card.id
        async with connected(ws_client, token_for(consumer)) as ws:
            operation_id = await subscribe(ws)
            await cards.top_up(
                principal=principal_of(consumer),
                card_id=card_id,
                pay_fen=35_000,
                idempotency_key="top-up",
            )
            topped = await next_event(ws, operation_id)
            await refunds.request_refund(
                principal=principal_of(consumer), card_id=card_id, reason="不要了"
            )
            refunded = await next_event(ws, operation_id)

        assert (topped["kind"], topped["amount"], topped["balanceAfter"]) == (
            "TOP_UP",
            "500.00",
            "1500.00",
        )
        assert (refunded["kind"], refunded["cashAmount"], refunded["balanceAfter"]) == (
            "REFUND",
            "1050.00",
            "0.00",
        )
        assert (await verify_ledger()).problems == []


async def test_nobody_receives_another_consumers_activity(client, app):
    async with websockets(app) as ws_client:
        # Given two consumers subscribed at the same time
        world = await make_merchant()
        alice, bob = await make_user(), await make_user()
        async with (
            connected(ws_client, token_for(alice)) as alice_ws,
            connected(ws_client, token_for(bob)) as bob_ws,
        ):
            alice_op = await subscribe(alice_ws)
            bob_op = await subscribe(bob_ws)

            # When Alice buys a card and uses it
            bought = await purchase(client, alice, world)
            first = await next_event(alice_ws, alice_op)
            card_id = decode_id(bought["card"]["id"], "Card")
            await redeem_fen(world, card_id, alice, 5_000)
            second = await next_event(alice_ws, alice_op)

            # Then Bob hears nothing of it
            await assert_quiet(bob_ws)

            # And when Bob buys, only Bob hears of it
            bobs = await purchase(client, bob, world)
            assert (await next_event(bob_ws, bob_op))["id"] == bobs["transaction"]["id"]
            await assert_quiet(alice_ws)

        assert first["id"] == bought["transaction"]["id"]
        assert second["kind"] == "REDEMPTION"


async def test_a_failed_or_replayed_operation_sends_nothing(client, app):
    async with websockets(app) as ws_client:
        world = await make_merchant()
        consumer = await make_user()
        key = uuid.uuid4().hex
        variables = {"productId": encode_id("CardProduct", world.product.id), "key": key}
        bought = data_of(await gql(client, PURCHASE_CARD, variables, token=token_for(consumer)))
        card_id = decode_id(bought["purchaseCard"]["card"]["id"], "Card")

        async with connected(ws_client, token_for(consumer)) as ws:
            await subscribe(ws)
            # A replay of the purchase, and a redemption over the balance
            data_of(await gql(client, PURCHASE_CARD, variables, token=token_for(consumer)))
            with pytest.raises(redemption.InsufficientBalance):
                await redeem_fen(world, card_id, consumer, 100_001)

            await assert_quiet(ws)


async def test_a_bad_token_closes_the_connection_with_4403(app):
    async with websockets(app) as ws_client:
        ws: AsyncWebSocketSession
        with pytest.raises(ExceptionGroup) as caught:
            async with aconnect_ws(
                GRAPHQL_URL, ws_client, subprotocols=["graphql-transport-ws"]
            ) as ws:
                await ws.send_json(
                    {"type": "connection_init", "payload": {"authorization": "Bearer not-a-token"}}
                )
                await asyncio.wait_for(ws.receive_json(), 5)

        disconnects = caught.value.subgroup(WebSocketDisconnect)
        assert disconnects is not None
        (disconnect,) = disconnects.exceptions
        assert isinstance(disconnect, WebSocketDisconnect)
        assert disconnect.code == 4403


async def subscription_error(ws: AsyncWebSocketSession) -> dict:
    operation_id = await subscribe(ws, wait=False)
    message = await asyncio.wait_for(ws.receive_json(), 5)
    assert message["id"] == operation_id
    payload = message["payload"]
    errors = payload if isinstance(payload, list) else payload.get("errors")
    assert errors, message
    assert not (isinstance(payload, dict) and payload.get("data"))
    if message["type"] == "next":  # an `error` message ends the operation by itself
        ending = await asyncio.wait_for(ws.receive_json(), 5)
        assert ending == {"id": operation_id, "type": "complete"}
    return errors[0]


async def test_a_merchant_cannot_subscribe_to_card_activity(app):
    async with websockets(app) as ws_client:
        world = await make_merchant()
        consumer = await make_user()
        async with connected(ws_client, token_for(world.owner)) as ws:
            error = await subscription_error(ws)
            # Nothing of the consumer's purchase reaches the merchant's connection either.
            await buy_card(consumer, world)
            await assert_quiet(ws)

        assert error["extensions"]["code"] == "FORBIDDEN"
        assert "consumer" in error["message"].lower()


async def test_an_anonymous_connection_cannot_subscribe(app):
    async with websockets(app) as ws_client:
        async with connected(ws_client, None) as ws:
            error = await subscription_error(ws)

        assert error["extensions"]["code"] == "UNAUTHENTICATED"
