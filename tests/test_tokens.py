"""Access tokens: anything not exactly right is UNAUTHENTICATED and the operation never runs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import jwt
import jwt.warnings
import pytest

from auth.tokens import (
    decode_access_token,
    issue_access_token,
    principal_from_authorization,
)
from core.errors import Unauthenticated
from core.principal import ANONYMOUS
from models import User
from models.enums import Role
from settings import get_settings
from tests.support import PASSWORD, codes, data_of, make_merchant, make_user, new_phone, token_for

ME = "{ me { id phone } }"
REGISTER_CONSUMER = """
mutation RegisterConsumer($input: RegisterConsumerInput!) {
  registerConsumer(input: $input) { accessToken user { phone } }
}
"""
OTHER_SECRET = "another-secret-of-at-least-thirty-two-bytes!"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    settings = get_settings()
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "1",
        "sid": str(uuid.uuid4()),
        "role": "CONSUMER",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not ...}


def _sign(claims: dict[str, Any], secret: str | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret or get_settings().jwt_secret, algorithm=algorithm)


def _sign_hs512(claims: dict[str, Any]) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return _sign(claims, algorithm="HS512")


def _hand_made(header: dict[str, Any], claims: dict[str, Any], signature: bytes) -> str:
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{head}.{body}.{_b64(signature)}"


def _alg_none() -> str:
    return _hand_made({"alg": "none", "typ": "JWT"}, _claims(), b"")


def _rs256_signed_with_the_hmac_secret() -> str:
    """The key-confusion attack: an RS256 header over an HMAC made with the shared secret."""
    head = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(_claims()).encode())
    mac = hmac.new(get_settings().jwt_secret.encode(), f"{head}.{body}".encode(), hashlib.sha256)
    return f"{head}.{body}.{_b64(mac.digest())}"


BAD_TOKENS: dict[str, Callable[[], str]] = {
    "expired": lambda: _sign(_claims(iat=int(time.time()) - 3600, exp=int(time.time()) - 60)),
    "wrong-signature": lambda: _sign(_claims(), secret=OTHER_SECRET),
    "alg-none": _alg_none,
    "hs512": lambda: _sign_hs512(_claims()),
    "rs256-header": _rs256_signed_with_the_hmac_secret,
    "wrong-audience": lambda: _sign(_claims(aud="someone-else")),
    "wrong-issuer": lambda: _sign(_claims(iss="someone-else")),
    "unknown-role": lambda: _sign(_claims(role="ADMIN")),
    "lowercase-role": lambda: _sign(_claims(role="consumer")),
    "system-role": lambda: _sign(_claims(role="SYSTEM")),
    "missing-sub": lambda: _sign(_claims(sub=...)),
    "missing-sid": lambda: _sign(_claims(sid=...)),
    "sid-not-a-string": lambda: _sign(_claims(sid=42)),
    "sid-too-long": lambda: _sign(_claims(sid="a" * 37)),
    "sid-with-other-characters": lambda: _sign(_claims(sid="a b")),
    "missing-exp": lambda: _sign(_claims(exp=...)),
    "missing-iat": lambda: _sign(_claims(iat=...)),
    "missing-role": lambda: _sign(_claims(role=...)),
    "missing-aud": lambda: _sign(_claims(aud=...)),
    "missing-iss": lambda: _sign(_claims(iss=...)),
    "sub-not-integer": lambda: _sign(_claims(sub="abc")),
    "sub-negative": lambda: _sign(_claims(sub="-1")),
    "sub-with-underscore": lambda: _sign(_claims(sub="1_0")),
    "sub-not-ascii": lambda: _sign(_claims(sub="١٢")),
    "merchant-without-merchant-claim": lambda: _sign(_claims(role="MERCHANT")),
    "merchant-claim-not-integer": lambda: _sign(_claims(role="MERCHANT", merchant="x")),
    "merchant-claim-boolean": lambda: _sign(_claims(role="MERCHANT", merchant=True)),
    "exp-not-integer": lambda: _sign(_claims(exp="soon")),
    "issued-in-the-future": lambda: _sign(
        _claims(iat=int(time.time()) + 3600, exp=int(time.time()) + 7200)
    ),
    "not-yet-valid": lambda: _sign(_claims(nbf=int(time.time()) + 3600)),
    "garbage": lambda: "not.a.token",
    "truncated": lambda: _sign(_claims())[:-5],
}


def _bearer(make: Callable[[], str]) -> Callable[[], str]:
    return lambda: f"Bearer {make()}"


BAD_HEADERS = {
    **{name: _bearer(make) for name, make in BAD_TOKENS.items()},
    "basic-scheme": lambda: "Basic xyz",
    "token-without-scheme": lambda: _sign(_claims()),
    "bearer-with-nothing": lambda: "Bearer ",
    "bearer-alone": lambda: "Bearer",
}


async def _post(client, query: str, variables: dict[str, Any], authorization: str) -> Any:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": authorization},
    )
    assert response.status_code == 200, response.text
    return response.json()


# Over HTTP


@pytest.mark.parametrize("name", sorted(BAD_HEADERS))
async def test_a_bad_token_is_refused_before_the_query_runs(client, name):
    result = await _post(client, ME, {}, BAD_HEADERS[name]())

    assert result["data"] is None
    assert codes(result) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("name", sorted(BAD_HEADERS))
async def test_a_mutation_sent_with_a_bad_token_changes_nothing(client, name):
    phone = new_phone()
    variables = {"input": {"phone": phone, "password": PASSWORD, "displayName": "赵六"}}

    result = await _post(client, REGISTER_CONSUMER, variables, BAD_HEADERS[name]())

    assert result["data"] is None
    assert codes(result) == ["UNAUTHENTICATED"]
    assert not await User.filter(phone=phone).exists()


async def test_the_expired_token_says_it_expired(client):
    result = await _post(client, ME, {}, f"Bearer {BAD_TOKENS['expired']()}")

    assert "expired" in result["errors"][0]["message"]


async def test_a_good_token_is_accepted_with_any_case_of_bearer(client):
    user = await make_user()

    result = await _post(client, ME, {}, f"bEaReR {token_for(user)}")

    assert data_of(result)["me"]["phone"] == user.phone


async def test_a_hand_signed_hs256_token_for_a_real_user_is_accepted(client):
    # The crafting helpers above make valid tokens unless told otherwise.
    user = await make_user()

    result = await _post(client, ME, {}, f"Bearer {_sign(_claims(sub=str(user.id)))}")

    assert data_of(result)["me"]["phone"] == user.phone


async def test_tokens_issued_under_a_moved_clock_are_accepted(client, frozen_clock):
    user = await make_user()
    frozen_clock.advance(days=8)

    result = await _post(client, ME, {}, f"Bearer {token_for(user)}")

    assert data_of(result)["me"]["phone"] == user.phone


async def test_a_token_expires_by_the_servers_clock(client, frozen_clock, settings):
    user = await make_user()
    token = token_for(user)
    frozen_clock.advance(minutes=settings.access_token_minutes, seconds=1)

    result = await _post(client, ME, {}, f"Bearer {token}")

    assert codes(result) == ["UNAUTHENTICATED"]
    assert "expired" in result["errors"][0]["message"]


async def test_a_token_of_a_deleted_user_is_unauthenticated(client):
    user = await make_user()
    token = token_for(user)
    await user.delete()

    result = await _post(client, ME, {}, f"Bearer {token}")

    assert result["data"] is None
    assert codes(result) == ["UNAUTHENTICATED"]


# decode_access_token


def test_decode_returns_the_principal_the_token_was_issued_for():
    settings = get_settings()
    session = str(uuid.uuid4())
    token = issue_access_token(
        settings, user_id=42, role=Role.MERCHANT, session_id=session, merchant_id=7, store_id=9
    ).token

    principal = decode_access_token(settings, token)

    assert principal.user_id == 42
    assert principal.role is Role.MERCHANT
    assert principal.merchant_id == 7
    assert principal.store_id == 9
    assert principal.session_id == session
    assert principal.is_merchant


def test_an_issued_token_carries_the_documented_claims():
    settings = get_settings()
    session = str(uuid.uuid4())
    token = issue_access_token(settings, user_id=5, role=Role.CONSUMER, session_id=session).token

    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})

    assert header["alg"] == "HS256"
    assert set(claims) == {"sub", "sid", "role", "iss", "aud", "iat", "exp"}
    assert claims["sub"] == "5"
    assert claims["sid"] == session
    assert claims["exp"] - claims["iat"] == settings.access_token_minutes * 60


def test_no_token_is_issued_for_the_platform_itself():
    with pytest.raises(ValueError, match="SYSTEM"):
        issue_access_token(get_settings(), user_id=1, role=Role.SYSTEM, session_id="s")


@pytest.mark.parametrize("name", sorted(BAD_TOKENS))
def test_decode_refuses_a_bad_token(name):
    with pytest.raises(Unauthenticated) as raised:
        decode_access_token(get_settings(), BAD_TOKENS[name]())

    assert raised.value.code == "UNAUTHENTICATED"


def test_decode_refuses_a_token_from_another_deployment():
    # Same claims, same algorithm, but signed for a server configured with another secret.
    settings = get_settings()
    other = settings.model_copy(update={"anfu_jwt_secret": OTHER_SECRET})
    token = issue_access_token(other, user_id=1, role=Role.CONSUMER, session_id="s").token

    with pytest.raises(Unauthenticated):
        decode_access_token(settings, token)
    assert decode_access_token(other, token).user_id == 1


def test_decode_tolerates_a_little_clock_skew_between_servers():
    token = _sign(_claims(iat=int(time.time()) + 5))

    assert decode_access_token(get_settings(), token).user_id == 1


def test_no_header_is_anonymous():
    assert principal_from_authorization(get_settings(), None) is ANONYMOUS
    assert principal_from_authorization(get_settings(), "") is ANONYMOUS


@pytest.mark.parametrize("header", ["Basic xyz", "Bearer ", "Bearer", "Token abc", "bearer\tabc"])
def test_a_header_that_is_not_bearer_is_refused(header):
    with pytest.raises(Unauthenticated):
        principal_from_authorization(get_settings(), header)


async def test_a_merchant_token_carries_the_merchant(client):
    world = await make_merchant(stores=1)

    principal = decode_access_token(get_settings(), world.token)

    assert principal.merchant_id == world.merchant.id
    assert principal.user_id == world.owner.id
