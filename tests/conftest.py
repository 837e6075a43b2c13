"""Test setup: a migrated database (SQLite, or PostgreSQL from TEST_DATABASE_URL),
the cache (memory, or Redis from TEST_REDIS_URL), the app over httpx, SQL counting.

The database lives for the whole session; tests make their own merchants,
consumers and cards (the helpers in tests/support.py) and never rely on global counts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from tortoise import Tortoise
from tortoise.migrations.api import migrate

from core import cache, clock
from server import create_app
from services import background, events
from settings import Settings, get_settings, orm_url, tortoise_config

# The WeChat Pay fixtures (`wechat`, `paying`, `channel`), for every test module that asks.
pytest_plugins = ["tests.payment_support", "tests.channel_refund_support"]

# The suite sends thousands of requests from one address and one user; the rate-limit tests
# set small limits of their own (tests/test_rate_limits.py). Login failures keep the defaults.
for _name in (
    "REQUESTS_PER_USER",
    "REQUESTS_PER_ADDRESS",
    "REGISTRATIONS_PER_ADDRESS",
    "REDEMPTION_CODES_PER_USER",
):
    os.environ.setdefault(_name, "1000000")

# The public-read cache is off for the suite: its helpers write rows straight through the ORM,
# past the services that invalidate it, and the SQL-count tests measure the database path.
# tests/test_public_cache.py turns it on where it tests it.
os.environ.setdefault("PUBLIC_CACHE_ENTRIES", "0")

# The suite pays through the sandbox channel, in production mode too, unless a test installs
# WeChat Pay (tests/payment_support.py); tests/test_settings.py checks production refuses it.
os.environ.setdefault("ANFU_DEMO", "1")

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
BACKEND = "postgres" if TEST_DATABASE_URL else "sqlite"


def pytest_report_header() -> str:
    return f"anfu backends: database={BACKEND}, cache={'redis' if TEST_REDIS_URL else 'memory'}"


# Tests marked `once` drive real clients (Node, subprocess servers): slow, and the same on every
# database, so `make test` runs them in its SQLite pass only. ANFU_ONCE_TESTS=skip (the
# PostgreSQL pass) skips them saying so; =run makes a missing tool (Node) a failure, not a skip.
ONCE_TESTS = os.environ.get("ANFU_ONCE_TESTS", "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ONCE_TESTS != "skip":
        return
    skip = pytest.mark.skip(reason="a `once` test: `make test` runs it in the SQLite pass")
    for item in items:
        if item.get_closest_marker("once"):
            item.add_marker(skip)


async def _create_postgres_database(base_url: str) -> tuple[str, str]:
    """A fresh database next to the one in TEST_DATABASE_URL; returns (its url, its name)."""
    import asyncpg

    name = f"anfu_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(base_url.replace("asyncpg://", "postgres://", 1).split("?")[0])
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, "")), name


async def _drop_postgres_database(base_url: str, name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(base_url.split("?")[0])
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def database() -> AsyncIterator[str]:
    """Migrate a fresh database for the session and open Tortoise on it."""
    dropped: tuple[str, str] | None = None
    if TEST_DATABASE_URL:
        url, name = await _create_postgres_database(TEST_DATABASE_URL)
        db_url = orm_url(url, 2, 30)
        dropped = (TEST_DATABASE_URL, name)
    else:
        directory = tempfile.mkdtemp(prefix="anfu-test-")
        db_url = f"sqlite://{Path(directory) / 'test.sqlite3'}"
    config = tortoise_config(db_url)
    await migrate(config=config)
    await Tortoise.close_connections()
    await Tortoise.init(config=config, _enable_global_fallback=True)
    if TEST_REDIS_URL:
        namespace = f"anfu-test-{uuid.uuid4().hex[:8]}"
        test_cache = cache.build_cache(TEST_REDIS_URL)
        test_cache.namespace = namespace
        cache.use_cache(test_cache)
        events.use_bus(
            events.RedisBus(
                TEST_REDIS_URL, prefix=f"{namespace}:events:", name=f"{namespace}-events"
            )
        )
    try:
        yield db_url
    finally:
        await events.bus().close()
        events.use_bus(events.MemoryBus())
        await cache.close_cache()
        await Tortoise.close_connections()
        if dropped:
            await _drop_postgres_database(*dropped)


@pytest.fixture(scope="session")
async def loop(database: str) -> asyncio.AbstractEventLoop:
    """The session's event loop, for synchronous (hypothesis stateful) tests to drive."""
    return asyncio.get_running_loop()


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
async def client(database: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://anfu.test") as http:
        yield http


@pytest.fixture(scope="session")
async def roomy_client(database: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a cost limit far above DESIGN.md's 5,000, for tests that read pages of up
    to 100 rows with lists inside (tests/test_limits.py tests the limits themselves)."""
    roomy = settings.model_copy(update={"max_cost": 1_000_000})
    transport = httpx.ASGITransport(app=create_app(roomy, manage_database=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://anfu.test") as http:
        yield http


@pytest.fixture
def frozen_clock() -> Iterator[Any]:
    """Move time by hand: `frozen_clock.advance(hours=73)`."""
    moving = MovableClock(clock.now())
    clock.set_clock(moving)
    try:
        yield moving
    finally:
        clock.set_clock(None)


class MovableClock:
    def __init__(self, start: Any) -> None:
        self.current = start

    def __call__(self) -> Any:
        return self.current

    def advance(self, **delta: float) -> None:
        import datetime as dt

        self.current = self.current + dt.timedelta(**delta)


def _in_background_work() -> bool:
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running event loop
        return False
    return task is not None and task.get_name().startswith(background.TASK_PREFIX)


class OutsideNetworkBlocked(RuntimeError):
    """A test tried to reach a host outside this machine (WeChat Pay, a bank, anything)."""


def _local_host(host: object) -> bool:
    if host is None:
        return True  # a passive (bind) lookup
    name = host.decode() if isinstance(host, bytes) else str(host)
    name = name.strip("[]").split("%")[0].lower()
    if name in ("localhost", "") or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


@pytest.fixture(autouse=True)
def no_outside_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs offline: a connection (or a name lookup) to anything but the loopback
    fails loudly. asyncio resolves through socket.getaddrinfo and connects through
    socket.socket.connect, so both are guarded; unix sockets pass."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _local_host(address[0]):
            raise OutsideNetworkBlocked(f"a test tried to connect to {address!r}")

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _local_host(host):
            raise OutsideNetworkBlocked(f"a test tried to look up {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(autouse=True)
async def background_work_done() -> AsyncIterator[None]:
    """What a test's operations deferred (risk rules, score recomputes) finishes with the test,
    never inside the next one."""
    yield
    await background.drain()


class SQLCounter(logging.Handler):
    """Counts the SQL statements Tortoise sends while it is attached."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if _in_background_work():
            return  # deferred work an earlier operation started is not what is being measured
        message = record.getMessage()
        if message.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            self.statements.append(message)


@pytest.fixture
def count_sql() -> Iterator[SQLCounter]:
    logger = logging.getLogger("tortoise.db_client")
    counter = SQLCounter()
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(previous)
