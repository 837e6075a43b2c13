"""Sessions end when they should: logout, a reused refresh token and deactivation end the
session's access tokens at once, through the revocation list in the shared cache; a token
for a user that does not exist is UNAUTHENTICATED; the hot path asks the database nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import httpx
import jwt
import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from auth import sessions
from auth.tokens import hash_refresh_token
from models import Card, RefreshToken, User
from schema.ids import encode_id
from server import create_app
from services import accounts
from tests.support import (
    PASSWORD,
    cache_outage,
    codes,
    data_of,
    gql,
    make_merchant,
    make_user,
    new_phone,
    token_for,
)

REGISTER_CONSUMER = """
mutation RegisterConsumer($input: RegisterConsumerInput!) {
  registerConsumer(input: $input) { accessToken refreshToken user { id } }
}
"""
LOGIN = """
mutation Login($phone: String!, $password: String!) {
  login(phone: $phone, password: $password) { accessToken refreshToken }
}
"""
REFRESH_SESSION = """
mutation RefreshSession($refreshToken: String!) {
  refreshSession(refreshToken: $refreshToken) { accessToken refreshToken }
}
"""
LOGOUT = "mutation Logout($refreshToken: String!) { logout(refreshToken: $refreshToken) }"
PURCHASE_CARD = """
mutation PurchaseCard($productId: ID!, $key: String!) {
  purchaseCard(productId: $productId, idempotencyKey: $key) { card { id } }
}
"""
ME = "{ me { id } }"
TYPENAME = "{ __typename }"


async def _register(client: httpx.AsyncClient) -> dict[str, Any]:
    variables = {"input": {"phone": new_phone(), "password": PASSWORD, "displayName": "张三"}}
    return data_of(await gql(client, REGISTER_CONSUMER, variables))["registerConsumer"]


async def _login(client: httpx.AsyncClient, phone: str) -> dict[str, Any]:
    return data_of(await gql(client, LOGIN, {"phone": phone, "password": PASSWORD}))["login"]


async def _works(client: httpx.AsyncClient, access_token: str) -> bool:
    result = await gql(client, ME, token=access_token)
    if codes(result) == ["UNAUTHENTICATED"]:
        return False
    return data_of(result)["me"] is not None


def _sid(access_token: str) -> str:
    return jwt.decode(access_token, options={"verify_signature": False})["sid"]


def _user_id(access_token: str) -> str:
    return jwt.decode(access_token, options={"verify_signature": False})["sub"]


async def test_an_access_token_names_its_session(client):
    session = await _register(client)

    sid = _sid(session["accessToken"])

    stored = await RefreshToken.get(token_hash=hash_refresh_token(session["refreshToken"]))
    assert sid == stored.family


async def test_a_refreshed_token_stays_in_its_session(client):
    first = await _register(client)

    second = data_of(await gql(client, REFRESH_SESSION, {"refreshToken": first["refreshToken"]}))

    assert _sid(second["refreshSession"]["accessToken"]) == _sid(first["accessToken"])


# logout


async def test_logout_ends_the_access_token_at_once(client):
    # Given a session whose access token works
    session = await _register(client)
    assert await _works(client, session["accessToken"])

    # When it logs out
    assert data_of(await gql(client, LOGOUT, {"refreshToken": session["refreshToken"]}))["logout"]

    # Then its access token is refused, long before it would expire
    result = await gql(client, ME, token=session["accessToken"])
    assert result["data"] is None
    assert codes(result) == ["UNAUTHENTICATED"]
    assert "log in again" in result["errors"][0]["message"]


async def test_logout_leaves_the_users_other_sessions_alone(client):
    first = await _register(client)
    user = await User.get(id=int(_user_id(first["accessToken"])))
    second = await _login(client, user.phone)

    await gql(client, LOGOUT, {"refreshToken": first["refreshToken"]})

    assert not await _works(client, first["accessToken"])
    assert await _works(client, second["accessToken"])


async def test_a_mutation_with_a_logged_out_token_changes_nothing(client):
    world = await make_merchant()
    session = await _register(client)
    await gql(client, LOGOUT, {"refreshToken": session["refreshToken"]})
    variables = {"productId": encode_id("CardProduct", world.product.id), "key": uuid.uuid4().hex}

    result = await gql(client, PURCHASE_CARD, variables, token=session["accessToken"])

    assert codes(result) == ["UNAUTHENTICATED"]
    assert not await Card.filter(merchant_id=world.merchant.id).exists()


# refresh-token reuse


async def test_reusing_a_refresh_token_ends_the_sessions_access_tokens(client):
    # Given a session refreshed once: the first refresh token is spent
    first = await _register(client)
    rotated = data_of(await gql(client, REFRESH_SESSION, {"refreshToken": first["refreshToken"]}))
    current = rotated["refreshSession"]
    assert await _works(client, current["accessToken"])

    # When the spent refresh token is used again (someone stole it)
    reuse = await gql(client, REFRESH_SESSION, {"refreshToken": first["refreshToken"]})

    # Then the family is revoked and every access token of the session with it
    assert codes(reuse) == ["UNAUTHENTICATED"]
    assert not await _works(client, current["accessToken"])
    assert not await _works(client, first["accessToken"])


# deactivation


async def test_a_deactivated_users_token_buys_nothing(client):
    # Given a consumer with a working token
    world = await make_merchant()
    consumer = await make_user()
    token = token_for(consumer)
    assert await _works(client, token)

    # When the account is deactivated
    assert await accounts.deactivate_user(consumer.id)

    # Then the token is refused at once and nothing is bought
    variables = {"productId": encode_id("CardProduct", world.product.id), "key": uuid.uuid4().hex}
    result = await gql(client, PURCHASE_CARD, variables, token=token)
    assert result["data"] is None
    assert codes(result) == ["UNAUTHENTICATED"]
    assert not await Card.filter(owner_id=consumer.id).exists()


async def test_deactivation_ends_every_session_and_refresh_token(client):
    session = await _register(client)
    user = await User.get(id=int(_user_id(session["accessToken"])))
    other = await _login(client, user.phone)

    await accounts.deactivate_user(user.id)

    assert not await _works(client, session["accessToken"])
    assert not await _works(client, other["accessToken"])
    refreshed = await gql(client, REFRESH_SESSION, {"refreshToken": other["refreshToken"]})
    assert codes(refreshed) == ["UNAUTHENTICATED"]
    relogin = await gql(client, LOGIN, {"phone": user.phone, "password": PASSWORD})
    assert codes(relogin) == ["UNAUTHENTICATED"]


async def test_a_deactivation_made_in_the_database_is_seen_at_the_next_look(
    client, settings, monkeypatch
):
    # Deactivated by hand (no revocation entry): each process looks at the rows again after
    # SESSION_RECHECK_SECONDS; with 0 it looks at every request.
    consumer = await make_user()
    token = token_for(consumer)
    assert await _works(client, token)
    await User.filter(id=consumer.id).update(is_active=False)
    monkeypatch.setattr(settings, "session_recheck_seconds", 0)

    assert not await _works(client, token)


# unknown users


async def test_a_token_for_a_user_that_never_existed_is_unauthenticated(client):
    user = await make_user()
    await user.delete()

    result = await gql(client, ME, token=token_for(user))

    assert result["data"] is None
    assert codes(result) == ["UNAUTHENTICATED"]


# the hot path and the shared cache


async def test_a_known_session_costs_no_database_query(client, count_sql):
    consumer = await make_user()
    token = token_for(consumer)
    await gql(client, TYPENAME, token=token)  # the first sight looks at the rows
    count_sql.statements.clear()

    for _ in range(5):
        data_of(await gql(client, TYPENAME, token=token))

    assert count_sql.statements == []


async def test_the_revocation_reaches_a_process_that_already_trusts_the_session(client):
    # Another process saw the session a moment ago and will not look at the rows for a while:
    # only the shared cache's entry can stop it.
    session = await _register(client)
    user_id = int(_user_id(session["accessToken"]))
    sid = _sid(session["accessToken"])
    await gql(client, LOGOUT, {"refreshToken": session["refreshToken"]})
    sessions.known.remember((user_id, sid))

    assert not await _works(client, session["accessToken"])


async def test_while_the_cache_is_down_tokens_work_and_revocations_hold(client):
    world = await make_merchant()
    live = await _register(client)
    ended = await _register(client)
    await gql(client, LOGOUT, {"refreshToken": ended["refreshToken"]})
    variables = {"productId": encode_id("CardProduct", world.product.id), "key": uuid.uuid4().hex}

    async with cache_outage():
        bought = await gql(client, PURCHASE_CARD, variables, token=live["accessToken"])
        refused = await gql(client, ME, token=ended["accessToken"])
        logged_in = await gql(client, LOGIN, {"phone": new_phone(), "password": PASSWORD})

    assert data_of(bought)["purchaseCard"]["card"]["id"]
    assert codes(refused) == ["UNAUTHENTICATED"]
    assert codes(logged_in) == ["UNAUTHENTICATED"]  # a wrong phone, not a fault


async def test_a_logout_while_the_cache_is_down_still_ends_the_session(client):
    session = await _register(client)
    assert await _works(client, session["accessToken"])

    async with cache_outage():
        assert data_of(await gql(client, LOGOUT, {"refreshToken": session["refreshToken"]}))
        during = await _works(client, session["accessToken"])
    after = await _works(client, session["accessToken"])

    assert not during
    assert not after


# WebSockets


@contextlib.asynccontextmanager
async def _websocket_client(settings):
    app = create_app(settings, manage_database=False)
    transport = ASGIWebSocketTransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://anfu.test") as http:
        yield http


async def test_a_logged_out_token_cannot_open_a_subscription_connection(client, settings):
    session = await _register(client)
    await gql(client, LOGOUT, {"refreshToken": session["refreshToken"]})

    ws: AsyncWebSocketSession
    async with _websocket_client(settings) as http:
        with pytest.raises(ExceptionGroup) as caught:
            async with aconnect_ws(
                "http://anfu.test/graphql", http, subprotocols=["graphql-transport-ws"]
            ) as ws:
                payload = {"authorization": f"Bearer {session['accessToken']}"}
                await ws.send_json({"type": "connection_init", "payload": payload})
                await asyncio.wait_for(ws.receive_json(), 5)

    disconnects = caught.value.subgroup(WebSocketDisconnect)
    assert disconnects is not None
    (disconnect,) = disconnects.exceptions
    assert isinstance(disconnect, WebSocketDisconnect)
    assert disconnect.code == 4403


async def test_an_open_connection_closes_when_its_session_ends(client, settings, monkeypatch):
    # Given a consumer's subscription connection, its session looked at every 0.1 s
    monkeypatch.setattr(settings, "websocket_session_check_seconds", 0.1)
    session = await _register(client)
    ws: AsyncWebSocketSession
    async with _websocket_client(settings) as http:
        with pytest.raises(ExceptionGroup) as caught:
            async with aconnect_ws(
                "http://anfu.test/graphql", http, subprotocols=["graphql-transport-ws"]
            ) as ws:
                payload = {"authorization": f"Bearer {session['accessToken']}"}
                await ws.send_json({"type": "connection_init", "payload": payload})
                assert (await asyncio.wait_for(ws.receive_json(), 5))["type"] == "connection_ack"

                # When the session logs out over HTTP
                await gql(client, LOGOUT, {"refreshToken": session["refreshToken"]})

                # Then the server closes the connection
                await asyncio.wait_for(ws.receive_json(), 5)

    disconnects = caught.value.subgroup(WebSocketDisconnect)
    assert disconnects is not None
    (disconnect,) = disconnects.exceptions
    assert isinstance(disconnect, WebSocketDisconnect)
    assert disconnect.code == 4403
