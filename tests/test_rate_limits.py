"""Rate limits: failed logins per phone and per address (wrong credentials only), registrations
per address, redemption codes per user, and an overall request budget per user and per address
of anonymous callers; RATE_LIMITED with a retry-after hint. Counters are shared through the
cache (Redis with TEST_REDIS_URL) and kept in the process while it is down. Behind trusted
proxies the client is the nearest untrusted address of X-Forwarded-For.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from core import cache
from models import User
from schema.ids import encode_id
from server import create_app
from services import cards, limits
from settings import Settings
from tests.conftest import TEST_REDIS_URL
from tests.support import (
    PASSWORD,
    cache_outage,
    codes,
    data_of,
    make_merchant,
    make_user,
    new_credit_code,
    new_phone,
    principal_of,
    token_for,
)

LOGIN = """
mutation Login($phone: String!, $password: String!) {
  login(phone: $phone, password: $password) { accessToken }
}
"""
REGISTER_CONSUMER = """
mutation RegisterConsumer($input: RegisterConsumerInput!) {
  registerConsumer(input: $input) { accessToken }
}
"""
REGISTER_MERCHANT = """
mutation RegisterMerchant($input: RegisterMerchantInput!) {
  registerMerchant(input: $input) { merchant { id } }
}
"""
ISSUE_CODE = """
mutation IssueCode($cardId: ID!) { issueRedemptionCode(cardId: $cardId) { code } }
"""
CATEGORIES = "{ categories { code } }"

_addresses = itertools.count(1)


def new_address() -> str:
    """An address no other test sends from (counters are per address and outlive a test)."""
    n = next(_addresses) + uuid.uuid4().int % 10_000 * 1_000
    return str(ipaddress.IPv4Address("100.64.0.0") + n)


@pytest.fixture
async def from_address(database: str, settings: Settings) -> AsyncIterator[Any]:
    """Clients that send from a given address (through an app with the given settings)."""
    async with contextlib.AsyncExitStack() as stack:

        def make(address: str, app_settings: Settings | None = None) -> httpx.AsyncClient:
            app = create_app(app_settings or settings, manage_database=False)
            transport = httpx.ASGITransport(app=app, client=(address, 4242))
            http = httpx.AsyncClient(transport=transport, base_url="http://anfu.test")
            stack.push_async_callback(http.aclose)
            return http

        yield make


async def post(
    http: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = dict(headers or {})
    if token:
        sent["authorization"] = f"Bearer {token}"
    return await http.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
    )


async def login(http: httpx.AsyncClient, phone: str, password: str, **kw: Any) -> dict[str, Any]:
    return (await post(http, LOGIN, {"phone": phone, "password": password}, **kw)).json()


def assert_rate_limited(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert codes(body) == ["RATE_LIMITED"], body
    error = body["errors"][0]
    assert isinstance(error["extensions"]["retryAfter"], int)
    assert error["extensions"]["retryAfter"] >= 1
    assert response.headers["retry-after"] == str(error["extensions"]["retryAfter"])
    return error


# who the client is


TRUSTED = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.0.2.7/32"))


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "trusted", "client"),
    [
        # No trusted proxies (the default): X-Forwarded-For is never read.
        ("203.0.113.9", ["1.2.3.4"], (), "203.0.113.9"),
        # An untrusted peer's header is the peer's own invention.
        ("203.0.113.9", ["1.2.3.4"], TRUSTED, "203.0.113.9"),
        # A trusted proxy: the address it heard from, whatever the client put before it.
        ("10.0.0.1", ["1.2.3.4, 198.51.100.5"], TRUSTED, "198.51.100.5"),
        ("10.0.0.1", ["6.6.6.6, 198.51.100.5"], TRUSTED, "198.51.100.5"),
        # Two trusted proxies in a row: the nearest untrusted address.
        ("10.0.0.1", ["6.6.6.6, 198.51.100.5, 192.0.2.7"], TRUSTED, "198.51.100.5"),
        ("10.0.0.1", ["6.6.6.6", "198.51.100.5, 10.1.2.3"], TRUSTED, "198.51.100.5"),
        # Ports and IPv6 as proxies write them.
        ("10.0.0.1", ["198.51.100.5:5555"], TRUSTED, "198.51.100.5"),
        ("10.0.0.1", ["[2001:db8::1]:443"], TRUSTED, "2001:db8::1"),
        # Garbage where an address should be: the hop that passed it on is the client.
        ("10.0.0.1", ["not-an-address"], TRUSTED, "10.0.0.1"),
        ("10.0.0.1", ["1.2.3.4, junk, 10.0.0.2"], TRUSTED, "10.0.0.2"),
        # No header: the proxy itself.
        ("10.0.0.1", [], TRUSTED, "10.0.0.1"),
    ],
)
def test_the_client_is_the_nearest_untrusted_address(peer, forwarded_for, trusted, client):
    assert limits.client_address(peer, forwarded_for, trusted) == client


def test_trusted_proxies_are_refused_unless_addresses_or_networks():
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        Settings(trusted_proxies="10.0.0.1, example.com")
    assert Settings(trusted_proxies="10.0.0.1, 10.2.0.0/16, ::1").trusted_proxy_networks


async def test_rotating_x_forwarded_for_behind_a_trusted_proxy_does_not_bypass_the_limit(
    from_address, settings, monkeypatch
):
    # Given a server behind a proxy at 10.9.9.9, and a client who rotates the header it sends
    monkeypatch.setattr(settings, "login_failures_per_address", 3)
    behind_proxy = settings.model_copy(update={"trusted_proxies": "10.9.9.9"})
    proxy = from_address("10.9.9.9", behind_proxy)
    client = new_address()

    def spoofed(n: int) -> dict[str, str]:
        return {"x-forwarded-for": f"7.7.7.{n}, {client}"}

    # When it fails three logins, each with another invented address first
    for n in range(3):
        result = await login(proxy, new_phone(), PASSWORD, headers=spoofed(n))
        assert codes(result) == ["UNAUTHENTICATED"]

    # Then its own address is locked however it rotates, and others behind the proxy are not
    user = await make_user()
    locked = await post(
        proxy, LOGIN, {"phone": user.phone, "password": PASSWORD}, headers=spoofed(9)
    )
    other = await login(proxy, user.phone, PASSWORD, headers={"x-forwarded-for": new_address()})
    assert_rate_limited(locked)
    assert data_of(other)["login"]["accessToken"]


# failed logins


async def test_a_fault_while_logging_in_is_no_failed_login(from_address, monkeypatch):
    # Given the database fails while logins come in
    http = from_address(new_address())
    user = await make_user()

    async def database_down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("database is down")

    with monkeypatch.context() as patched:
        patched.setattr(User, "get_or_none", database_down)
        for _ in range(10):
            result = await login(http, user.phone, PASSWORD)
            assert codes(result) == ["INTERNAL_SERVER_ERROR"]

    # Then none of them counted: the phone still has its five failures, then is locked
    assert data_of(await login(http, user.phone, PASSWORD))["login"]["accessToken"]
    for _ in range(5):
        assert codes(await login(http, user.phone, "wrong-pass-1")) == ["UNAUTHENTICATED"]
    assert_rate_limited(await post(http, LOGIN, {"phone": user.phone, "password": PASSWORD}))


async def test_logins_work_while_the_cache_is_down_and_failures_still_count(from_address):
    http = from_address(new_address())
    user = await make_user()

    async with cache_outage():
        assert data_of(await login(http, user.phone, PASSWORD))["login"]["accessToken"]
        for _ in range(5):
            assert codes(await login(http, user.phone, "wrong-pass-1")) == ["UNAUTHENTICATED"]
        locked = await post(http, LOGIN, {"phone": user.phone, "password": PASSWORD})

    assert_rate_limited(locked)


async def test_the_failed_login_limit_says_when_to_come_back(from_address, settings):
    http = from_address(new_address())
    user = await make_user()
    for _ in range(5):
        await login(http, user.phone, "wrong-pass-1")

    error = assert_rate_limited(await post(http, LOGIN, {"phone": user.phone, "password": "x"}))

    assert error["extensions"]["retryAfter"] <= settings.login_window_seconds


# registrations


def _consumer(phone: str | None = None) -> dict[str, Any]:
    return {"input": {"phone": phone or new_phone(), "password": PASSWORD, "displayName": "张三"}}


def _merchant() -> dict[str, Any]:
    return {
        "input": {
            "name": "淮安限流洗衣",
            "creditCode": new_credit_code(),
            "legalRepresentative": "王五",
            "categoryCode": "LAUNDRY",
            "contactPhone": new_phone(),
            "password": PASSWORD,
            "stores": [{"name": "一号店", "address": "健康东路1号", "district": "清江浦区"}],
        }
    }


async def test_registrations_are_limited_per_address(from_address, settings, monkeypatch):
    # Given at most three registrations per address
    monkeypatch.setattr(settings, "registrations_per_address", 3)
    http = from_address(new_address())

    # When an address registers two consumers and a merchant
    for variables in (_consumer(), _consumer()):
        assert data_of((await post(http, REGISTER_CONSUMER, variables)).json())
    assert data_of((await post(http, REGISTER_MERCHANT, _merchant())).json())

    # Then a fourth registration of either kind is refused, and nothing is created
    phone = new_phone()
    assert_rate_limited(await post(http, REGISTER_CONSUMER, _consumer(phone)))
    assert_rate_limited(await post(http, REGISTER_MERCHANT, _merchant()))
    assert not await User.filter(phone=phone).exists()
    # While another address registers as usual
    elsewhere = from_address(new_address())
    assert data_of((await post(elsewhere, REGISTER_CONSUMER, _consumer())).json())


# redemption codes


async def test_redemption_codes_are_limited_per_user(client, settings, monkeypatch):
    monkeypatch.setattr(settings, "redemption_codes_per_user", 2)
    world = await make_merchant()
    consumer = await make_user()
    card = (
        await cards.purchase(
            principal=principal_of(consumer),
            product_id=world.product.id,
            idempotency_key=uuid.uuid4().hex,
        )
    ).card
    variables = {"cardId": encode_id("Card", card.id)}

    for _ in range(2):
        assert data_of((await post(client, ISSUE_CODE, variables, token_for(consumer))).json())
    refused = await post(client, ISSUE_CODE, variables, token_for(consumer))
    other = await make_user()
    other_card = (
        await cards.purchase(
            principal=principal_of(other),
            product_id=world.product.id,
            idempotency_key=uuid.uuid4().hex,
        )
    ).card
    others = await post(
        client, ISSUE_CODE, {"cardId": encode_id("Card", other_card.id)}, token_for(other)
    )

    assert_rate_limited(refused)
    assert data_of(others.json())["issueRedemptionCode"]["code"]


# the overall request budget


async def test_anonymous_requests_are_budgeted_per_address(from_address, settings, monkeypatch):
    monkeypatch.setattr(settings, "requests_per_address", 5)
    http = from_address(new_address())

    answers = [await post(http, CATEGORIES) for _ in range(6)]

    assert all(data_of(response.json())["categories"] for response in answers[:5])
    refused = answers[5]
    assert refused.json()["data"] is None
    assert_rate_limited(refused)
    # Another address is not affected
    assert data_of((await post(from_address(new_address()), CATEGORIES)).json())


async def test_signed_in_requests_are_budgeted_per_user(from_address, settings, monkeypatch):
    monkeypatch.setattr(settings, "requests_per_user", 5)
    address = new_address()
    http = from_address(address)
    user, other = await make_user(), await make_user()
    # The user's tokens share one budget: a second session does not double it.
    tokens = [token_for(user), token_for(user)]

    answers = [await post(http, CATEGORIES, token=tokens[n % 2]) for n in range(6)]

    assert all(data_of(response.json()) for response in answers[:5])
    assert_rate_limited(answers[5])
    # Another user, and anonymous requests from the same address, have budgets of their own
    assert data_of((await post(http, CATEGORIES, token=token_for(other))).json())
    assert data_of((await post(http, CATEGORIES)).json())


@pytest.mark.skipif(not TEST_REDIS_URL, reason="counters live in Redis only with TEST_REDIS_URL")
async def test_counters_live_in_redis_with_an_expiry():
    key = f"test-counter:{uuid.uuid4().hex}"

    first = await limits.hit(key, 60)
    second = await limits.hit(key, 60)

    store = cache.cache()
    client = cache.redis_client(store)
    assert client is not None
    assert (first.value, second.value) == (1, 2)
    assert first.shared and second.shared
    assert int(await client.get(store.build_key(key))) == 2
    assert 0 < await client.ttl(store.build_key(key)) <= 60
    # Another process sees the same count: it asks the same Redis key
    limits.local.clear()
    assert (await limits.hit(key, 60)).value == 3


def test_local_counters_are_bounded_and_expire():
    counters = limits.LocalCounters(capacity=3)
    for n in range(5):
        counters.hit(f"k{n}", 60)

    assert counters.hit("k4", 60)[0] == 2
    assert counters.hit("k0", 60)[0] == 1  # evicted, counted anew
    assert counters.hit("short", 0)[0] == 1
    assert counters.hit("short", 0)[0] == 1  # its window was over
