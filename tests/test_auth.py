"""Registration, login, rate limiting, refresh-token rotation, logout and `me`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from auth.tokens import hash_refresh_token
from models import RefreshToken, User
from models.enums import Role
from server import create_app
from services import accounts
from settings import Settings
from tests.support import PASSWORD, codes, data_of, gql, make_user, new_phone

REGISTER_CONSUMER = """
mutation RegisterConsumer($input: RegisterConsumerInput!) {
  registerConsumer(input: $input) {
    accessToken
    refreshToken
    expiresAt
    user { id role displayName phone }
  }
}
"""
LOGIN = """
mutation Login($phone: String!, $password: String!) {
  login(phone: $phone, password: $password) {
    accessToken
    refreshToken
    user { id phone }
  }
}
"""
REFRESH_SESSION = """
mutation RefreshSession($refreshToken: String!) {
  refreshSession(refreshToken: $refreshToken) {
    accessToken
    refreshToken
    user { id }
  }
}
"""
LOGOUT = """
mutation Logout($refreshToken: String!) {
  logout(refreshToken: $refreshToken)
}
"""
ME = "{ me { id role displayName phone } }"


def _register_input(phone: str, password: str = PASSWORD, name: str = "张三") -> dict[str, Any]:
    return {"input": {"phone": phone, "password": password, "displayName": name}}


async def _register(client: httpx.AsyncClient, phone: str | None = None) -> dict[str, Any]:
    result = await gql(client, REGISTER_CONSUMER, _register_input(phone or new_phone()))
    return data_of(result)["registerConsumer"]


async def _login(client: httpx.AsyncClient, phone: str, password: str) -> dict[str, Any]:
    return await gql(client, LOGIN, {"phone": phone, "password": password})


async def _refresh(client: httpx.AsyncClient, refresh_token: str) -> dict[str, Any]:
    return await gql(client, REFRESH_SESSION, {"refreshToken": refresh_token})


@pytest.fixture
async def own_client(database: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a client address of its own, so login failures it makes count only here."""
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    transport = httpx.ASGITransport(
        app=create_app(settings, manage_database=False), client=(address, 4242)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://anfu.test") as http:
        yield http


# registerConsumer


async def test_register_consumer_returns_tokens_and_the_user_with_full_phone(client):
    phone = new_phone()

    payload = await _register(client, phone)

    assert payload["accessToken"] and payload["refreshToken"]
    assert payload["accessToken"] != payload["refreshToken"]
    assert payload["user"]["phone"] == phone
    assert payload["user"]["role"] == "CONSUMER"
    assert payload["user"]["displayName"] == "张三"
    row = await User.get(phone=phone)
    assert row.role is Role.CONSUMER
    assert row.password_hash != PASSWORD and row.password_hash.startswith("$argon2id$")


async def test_register_consumer_tokens_work_for_me(client):
    payload = await _register(client)

    me = data_of(await gql(client, ME, token=payload["accessToken"]))["me"]

    assert me["id"] == payload["user"]["id"]
    assert me["phone"] == payload["user"]["phone"]


async def test_register_consumer_with_a_taken_phone_is_bad_user_input(client):
    phone = new_phone()
    await _register(client, phone)

    result = await gql(client, REGISTER_CONSUMER, _register_input(phone, name="李四"))

    assert codes(result) == ["BAD_USER_INPUT"]
    assert result["data"] is None
    assert await User.filter(phone=phone).count() == 1
    assert (await User.get(phone=phone)).display_name == "张三"


async def test_concurrent_registrations_of_one_phone_create_one_account(client):
    phone = new_phone()

    results = await asyncio.gather(
        *(gql(client, REGISTER_CONSUMER, _register_input(phone, name=f"用户{n}")) for n in range(4))
    )

    outcomes = sorted(tuple(codes(result)) for result in results)
    assert outcomes == [(), ("BAD_USER_INPUT",), ("BAD_USER_INPUT",), ("BAD_USER_INPUT",)]
    user = await User.get(phone=phone)
    # The one account has exactly the one session its registration returned.
    assert await RefreshToken.filter(user_id=user.id).count() == 1


@pytest.mark.parametrize(
    "phone",
    [
        "1391234567",  # 10 digits
        "139123456789",  # 12 digits
        "1391234567a",  # a letter
        "1a912345678",
        "12912345678",  # mobile numbers start 13-19
        "10912345678",
        "+8613912345678",  # country code
        "8613912345678",
        "139 1234 5678",
        "139-1234-5678",
        "１３９１２３４５６７８",  # full-width digits
        "",
    ],
)
async def test_register_consumer_refuses_a_malformed_phone(client, phone):
    before = await User.all().count()

    result = await gql(client, REGISTER_CONSUMER, _register_input(phone))

    assert codes(result) == ["BAD_USER_INPUT"]
    assert result["data"] is None
    assert await User.all().count() == before


@pytest.mark.parametrize(
    "password",
    ["short1", "abcdefghij", "1234567890", "密码密码密码密码", "a1" * 64 + "x"],
    ids=["too-short", "letters-only", "digits-only", "cjk-letters-only", "too-long"],
)
async def test_register_consumer_refuses_a_weak_password(client, password):
    phone = new_phone()

    result = await gql(client, REGISTER_CONSUMER, _register_input(phone, password=password))

    assert codes(result) == ["BAD_USER_INPUT"]
    assert not await User.filter(phone=phone).exists()


async def test_register_consumer_refuses_a_blank_display_name(client):
    phone = new_phone()

    result = await gql(client, REGISTER_CONSUMER, _register_input(phone, name="   "))

    assert codes(result) == ["BAD_USER_INPUT"]
    assert not await User.filter(phone=phone).exists()


async def test_no_account_is_made_for_the_platform_itself(client):
    # SYSTEM marks what the platform does by itself; no one signs in as it.
    phone = new_phone()

    with pytest.raises(ValueError, match="SYSTEM"):
        await accounts.create_user(
            role=Role.SYSTEM, phone=phone, password=PASSWORD, display_name="平台"
        )

    assert not await User.filter(phone=phone).exists()


# login


async def test_login_with_the_right_password_returns_a_working_session(client):
    user = await make_user()

    result = data_of(await _login(client, user.phone, PASSWORD))["login"]

    assert result["user"]["phone"] == user.phone
    me = data_of(await gql(client, ME, token=result["accessToken"]))["me"]
    assert me["phone"] == user.phone
    assert me["role"] == "CONSUMER"
    assert data_of(await _refresh(client, result["refreshToken"]))["refreshSession"]


async def test_login_with_a_wrong_phone_or_password_gives_one_answer(own_client):
    user = await make_user()

    wrong_phone = await _login(own_client, new_phone(), PASSWORD)
    wrong_password = await _login(own_client, user.phone, PASSWORD + "x")

    assert wrong_phone["data"] is None and wrong_password["data"] is None
    assert codes(wrong_phone) == codes(wrong_password) == ["UNAUTHENTICATED"]
    assert wrong_phone["errors"][0]["message"] == wrong_password["errors"][0]["message"]
    assert "phone" in wrong_phone["errors"][0]["message"]


async def test_login_of_a_deactivated_user_gives_the_same_answer(own_client):
    user = await make_user()
    wrong_password = await _login(own_client, user.phone, PASSWORD + "x")
    await User.filter(id=user.id).update(is_active=False)

    result = await _login(own_client, user.phone, PASSWORD)

    assert codes(result) == ["UNAUTHENTICATED"]
    assert result["errors"][0]["message"] == wrong_password["errors"][0]["message"]


async def test_login_with_a_malformed_phone_or_huge_password_is_unauthenticated(own_client):
    user = await make_user()

    malformed = await _login(own_client, "not a phone" * 100, PASSWORD)
    huge = await _login(own_client, user.phone, "x1" * 50_000)

    assert codes(malformed) == codes(huge) == ["UNAUTHENTICATED"]


# login rate limiting


async def test_five_failures_lock_the_phone_even_for_the_right_password(own_client):
    user = await make_user(phone=new_phone())
    for _ in range(5):
        assert codes(await _login(own_client, user.phone, "wrong-pass-1")) == ["UNAUTHENTICATED"]

    result = await _login(own_client, user.phone, PASSWORD)

    assert codes(result) == ["RATE_LIMITED"]
    assert result["data"] is None


async def test_a_locked_phone_does_not_lock_other_phones(own_client):
    locked = await make_user(phone=new_phone())
    other = await make_user(phone=new_phone())
    for _ in range(6):
        await _login(own_client, locked.phone, "wrong-pass-1")

    result = await _login(own_client, other.phone, PASSWORD)

    assert data_of(result)["login"]["user"]["phone"] == other.phone


async def test_successful_logins_do_not_use_up_the_allowance(own_client):
    user = await make_user(phone=new_phone())
    for _ in range(4):
        await _login(own_client, user.phone, "wrong-pass-1")

    for _ in range(3):
        data_of(await _login(own_client, user.phone, PASSWORD))

    assert codes(await _login(own_client, user.phone, "wrong-pass-1")) == ["UNAUTHENTICATED"]
    assert codes(await _login(own_client, user.phone, PASSWORD)) == ["RATE_LIMITED"]


async def test_concurrent_guesses_cannot_slip_past_the_limit(own_client):
    user = await make_user(phone=new_phone())

    results = await asyncio.gather(
        *(_login(own_client, user.phone, f"wrong-pass-{n}") for n in range(12))
    )

    outcomes = sorted(code for result in results for code in codes(result))
    assert outcomes == ["RATE_LIMITED"] * 7 + ["UNAUTHENTICATED"] * 5
    assert codes(await _login(own_client, user.phone, PASSWORD)) == ["RATE_LIMITED"]


async def test_failures_from_one_address_lock_that_address(
    own_client, client, settings, monkeypatch
):
    monkeypatch.setattr(settings, "login_failures_per_address", 3)
    user = await make_user(phone=new_phone())
    for _ in range(3):
        assert codes(await _login(own_client, new_phone(), PASSWORD)) == ["UNAUTHENTICATED"]

    from_that_address = await _login(own_client, user.phone, PASSWORD)
    from_elsewhere = await _login(client, user.phone, PASSWORD)

    assert codes(from_that_address) == ["RATE_LIMITED"]
    assert data_of(from_elsewhere)["login"]["user"]["phone"] == user.phone


# refreshSession


async def test_refresh_session_rotates_the_refresh_token(client):
    first = await _register(client)

    second = data_of(await _refresh(client, first["refreshToken"]))["refreshSession"]

    assert second["refreshToken"] != first["refreshToken"]
    assert second["user"]["id"] == first["user"]["id"]
    me = data_of(await gql(client, ME, token=second["accessToken"]))["me"]
    assert me["id"] == first["user"]["id"]


async def test_a_spent_refresh_token_fails(client):
    first = await _register(client)
    data_of(await _refresh(client, first["refreshToken"]))

    result = await _refresh(client, first["refreshToken"])

    assert codes(result) == ["UNAUTHENTICATED"]
    assert result["data"] is None


async def test_reusing_a_spent_token_revokes_the_whole_family(client):
    first = await _register(client)
    second = data_of(await _refresh(client, first["refreshToken"]))["refreshSession"]
    third = data_of(await _refresh(client, second["refreshToken"]))["refreshSession"]

    reuse = await _refresh(client, first["refreshToken"])
    newest = await _refresh(client, third["refreshToken"])

    assert codes(reuse) == ["UNAUTHENTICATED"]
    assert codes(newest) == ["UNAUTHENTICATED"]


async def test_reuse_does_not_touch_other_sessions_of_the_user(client):
    user = await make_user()
    stolen = data_of(await _login(client, user.phone, PASSWORD))["login"]
    other = data_of(await _login(client, user.phone, PASSWORD))["login"]
    data_of(await _refresh(client, stolen["refreshToken"]))
    await _refresh(client, stolen["refreshToken"])

    result = await _refresh(client, other["refreshToken"])

    assert data_of(result)["refreshSession"]["user"]["id"] == other["user"]["id"]


async def test_concurrent_refreshes_of_one_token_let_exactly_one_through(client):
    first = await _register(client)

    results = await asyncio.gather(*(_refresh(client, first["refreshToken"]) for _ in range(5)))

    winners = [result for result in results if not result.get("errors")]
    losers = [result for result in results if result.get("errors")]
    assert len(winners) == 1
    assert [codes(result) for result in losers] == [["UNAUTHENTICATED"]] * 4
    # Four of them were reuses: the family is revoked, the winner's new token included.
    newest = winners[0]["data"]["refreshSession"]["refreshToken"]
    assert codes(await _refresh(client, newest)) == ["UNAUTHENTICATED"]


async def test_a_token_added_after_its_family_was_revoked_is_refused(client):
    # The interleaving a reuse can produce: the loser of a race revokes the family between the
    # winner's claim and the winner's insert of its new token, which is left unrevoked.
    first = await _register(client)
    second = data_of(await _refresh(client, first["refreshToken"]))["refreshSession"]
    spent = await RefreshToken.get(token_hash=hash_refresh_token(first["refreshToken"]))
    await RefreshToken.filter(id=spent.id).update(revoked_at=spent.used_at)

    result = await _refresh(client, second["refreshToken"])

    assert codes(result) == ["UNAUTHENTICATED"]
    newest = await RefreshToken.get(token_hash=hash_refresh_token(second["refreshToken"]))
    assert newest.revoked_at is not None


async def test_an_unknown_refresh_token_is_unauthenticated(client):
    result = await _refresh(client, "no-such-token")

    assert codes(result) == ["UNAUTHENTICATED"]


async def test_an_expired_refresh_token_is_unauthenticated(client, frozen_clock, settings):
    first = await _register(client)
    frozen_clock.advance(days=settings.refresh_token_days, seconds=1)

    result = await _refresh(client, first["refreshToken"])

    assert codes(result) == ["UNAUTHENTICATED"]


async def test_a_deactivated_user_cannot_refresh(client):
    first = await _register(client)
    await User.filter(phone=first["user"]["phone"]).update(is_active=False)

    result = await _refresh(client, first["refreshToken"])

    assert codes(result) == ["UNAUTHENTICATED"]


async def _user_id(payload: dict[str, Any]) -> int:
    phone = payload["user"]["phone"]
    return (await User.get(phone=phone)).id


async def test_refresh_tokens_are_stored_hashed(client):
    first = await _register(client)

    assert not await RefreshToken.filter(token_hash=first["refreshToken"]).exists()
    assert await RefreshToken.filter(user_id=await _user_id(first)).count() == 1


# logout


async def test_logout_revokes_the_family(client):
    first = await _register(client)
    second = data_of(await _refresh(client, first["refreshToken"]))["refreshSession"]

    result = data_of(await gql(client, LOGOUT, {"refreshToken": second["refreshToken"]}))

    assert result["logout"] is True
    assert codes(await _refresh(client, second["refreshToken"])) == ["UNAUTHENTICATED"]


async def test_logout_with_an_older_token_of_the_family_ends_the_session(client):
    first = await _register(client)
    second = data_of(await _refresh(client, first["refreshToken"]))["refreshSession"]

    result = data_of(await gql(client, LOGOUT, {"refreshToken": first["refreshToken"]}))

    assert result["logout"] is True
    assert codes(await _refresh(client, second["refreshToken"])) == ["UNAUTHENTICATED"]


async def test_logout_of_an_unknown_or_ended_session_is_false(client):
    first = await _register(client)
    data_of(await gql(client, LOGOUT, {"refreshToken": first["refreshToken"]}))

    unknown = data_of(await gql(client, LOGOUT, {"refreshToken": "no-such-token"}))
    again = data_of(await gql(client, LOGOUT, {"refreshToken": first["refreshToken"]}))

    assert unknown["logout"] is False
    assert again["logout"] is False


# me


async def test_me_is_null_when_anonymous(client):
    result = data_of(await gql(client, ME))

    assert result["me"] is None


async def test_me_returns_the_caller(client):
    user = await make_user(Role.CONSUMER, display_name="王小明")
    session = data_of(await _login(client, user.phone, PASSWORD))["login"]

    me = data_of(await gql(client, ME, token=session["accessToken"]))["me"]

    assert me == {
        "id": session["user"]["id"],
        "role": "CONSUMER",
        "displayName": "王小明",
        "phone": user.phone,
    }
