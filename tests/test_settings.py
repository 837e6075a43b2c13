"""Settings: production refuses a weak or missing JWT secret, database URLs, no GraphiQL there."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import ValidationError

from server import create_app
from settings import DEVELOPMENT_JWT_SECRET, MIN_JWT_SECRET_BYTES, Settings, orm_url

STRONG_SECRET = "s" * MIN_JWT_SECRET_BYTES
CATEGORIES = "{ categories { code } }"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """These tests build Settings themselves: the shell's ANFU_* must not leak in."""
    for name in ("ANFU_ENV", "ANFU_JWT_SECRET", "DATABASE_URL", "CACHE_URL"):
        monkeypatch.delenv(name, raising=False)


# The JWT secret


@pytest.mark.parametrize(
    "secret",
    ["", "short", "s" * (MIN_JWT_SECRET_BYTES - 1), DEVELOPMENT_JWT_SECRET],
    ids=["missing", "short", "one-byte-short", "the-development-secret"],
)
def test_production_refuses_a_missing_or_weak_secret(secret):
    with pytest.raises(ValidationError) as raised:
        Settings(anfu_env="production", anfu_jwt_secret=secret)

    assert "ANFU_JWT_SECRET" in str(raised.value)


def test_production_without_a_secret_in_the_environment_refuses(monkeypatch):
    monkeypatch.setenv("ANFU_ENV", "production")

    with pytest.raises(ValidationError):
        Settings()


def test_production_with_a_32_byte_secret_works():
    settings = Settings(anfu_env="production", anfu_jwt_secret=STRONG_SECRET)

    assert settings.is_production
    assert settings.jwt_secret == STRONG_SECRET


def test_the_secret_is_measured_in_bytes_not_characters():
    eleven_chinese_characters = "预付卡资金监管平台密钥"  # 11 characters, 33 bytes in UTF-8

    settings = Settings(anfu_env="production", anfu_jwt_secret=eleven_chinese_characters)

    assert settings.jwt_secret == eleven_chinese_characters


def test_production_reads_the_secret_from_the_environment(monkeypatch):
    monkeypatch.setenv("ANFU_ENV", "production")
    monkeypatch.setenv("ANFU_JWT_SECRET", STRONG_SECRET)

    settings = Settings()

    assert settings.is_production and settings.jwt_secret == STRONG_SECRET


def test_development_falls_back_to_the_development_secret():
    settings = Settings()

    assert not settings.is_production
    assert settings.jwt_secret == DEVELOPMENT_JWT_SECRET


def test_an_unknown_environment_name_is_refused():
    with pytest.raises(ValidationError):
        Settings(anfu_env="staging")  # type: ignore[arg-type]


def test_login_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("LOGIN_FAILURES_PER_PHONE", "3")
    monkeypatch.setenv("LOGIN_FAILURES_PER_ADDRESS", "50")

    settings = Settings()

    assert (settings.login_failures_per_phone, settings.login_failures_per_address) == (3, 50)


# Database URLs


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "asyncpg"])
def test_postgres_urls_map_to_asyncpg_with_a_sized_pool(scheme):
    url = orm_url(f"{scheme}://anfu:pw@db.internal:5432/anfu", 3, 40)

    parts = urlsplit(url)
    assert parts.scheme == "asyncpg"
    assert parts.netloc == "anfu:pw@db.internal:5432"
    assert parts.path == "/anfu"
    assert parse_qs(parts.query) == {"minsize": ["3"], "maxsize": ["40"]}


def test_an_explicit_pool_size_and_other_options_are_kept():
    url = orm_url("postgres://anfu@db/anfu?maxsize=7&ssl=require&application_name=", 2, 20)

    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert query == {
        "maxsize": ["7"],
        "minsize": ["2"],
        "ssl": ["require"],
        "application_name": [""],
    }


@pytest.mark.parametrize(
    "url", ["sqlite://./data/anfu.sqlite3", "sqlite:///tmp/x.sqlite3", "sqlite://:memory:"]
)
def test_sqlite_urls_are_unchanged(url):
    assert orm_url(url) == url


def test_settings_use_their_pool_bounds():
    settings = Settings(database_url="postgresql://u@h/d", db_pool_min=4, db_pool_max=8)

    query = parse_qs(urlsplit(settings.orm_db_url).query)
    assert query == {"minsize": ["4"], "maxsize": ["8"]}
    assert settings.tortoise_config()["connections"]["default"] == settings.orm_db_url


# GraphiQL


async def _get_graphql_page(settings: Settings) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(settings, manage_database=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://anfu.test") as http:
        return await http.get("/graphql", headers={"Accept": "text/html"})


async def test_development_serves_graphiql():
    response = await _get_graphql_page(Settings())

    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_production_has_no_graphiql():
    response = await _get_graphql_page(
        Settings(anfu_env="production", anfu_jwt_secret=STRONG_SECRET)
    )

    assert "graphiql" not in response.text.lower()
    assert not response.headers.get("content-type", "").startswith("text/html")


async def test_production_still_answers_queries_over_get(client):
    # `client` opens the database; this app shares it.
    transport = httpx.ASGITransport(
        app=create_app(
            Settings(anfu_env="production", anfu_jwt_secret=STRONG_SECRET), manage_database=False
        )
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://anfu.test") as http:
        response = await http.get("/graphql", params={"query": CATEGORIES})

    assert response.status_code == 200
    assert {"code": "LAUNDRY"} in response.json()["data"]["categories"]


def test_production_refuses_the_sandbox_channel_unless_a_demo(monkeypatch):
    monkeypatch.setenv("ANFU_DEMO", "0")
    with pytest.raises(
        ValidationError, match="ANFU_PAYMENT_CHANNEL=sandbox approves every payment"
    ):
        Settings(anfu_env="production", anfu_jwt_secret=STRONG_SECRET)
    monkeypatch.setenv("ANFU_DEMO", "1")
    assert Settings(anfu_env="production", anfu_jwt_secret=STRONG_SECRET).is_production


def test_the_wechat_channel_needs_its_keys_and_a_32_byte_apiv3_key(monkeypatch):
    monkeypatch.setenv("ANFU_PAYMENT_CHANNEL", "wechat")
    with pytest.raises(ValidationError, match="needs WECHATPAY_MCHID, WECHATPAY_APPID"):
        Settings()
    complete = {
        "wechatpay_mchid": "1900000109",
        "wechatpay_appid": "wx0000000000000001",
        "wechatpay_private_key_path": "/keys/apiclient_key.pem",
        "wechatpay_cert_serial": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        "wechatpay_public_key_path": "/keys/pub_key.pem",
        "wechatpay_public_key_id": "PUB_KEY_ID_0000000000000024101100397200000006",
        "wechatpay_notify_url": "https://anfu.example/payments/wechat/notify",
    }
    with pytest.raises(ValidationError, match="WECHATPAY_APIV3_KEY must be 32 bytes"):
        Settings(wechatpay_apiv3_key="short", **complete)
    settings = Settings(wechatpay_apiv3_key="k" * 32, **complete)
    assert settings.payment_channel == "wechat"
