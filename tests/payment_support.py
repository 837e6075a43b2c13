"""The WeChat Pay channel against the in-process simulator, for tests (registered for the whole
suite by tests/conftest.py):

    async def test_x(wechat, client):
        wechat.route_notifications_to(app)        # where notifications go (an ASGI app)
        prepay_id = await wechat.channel.create_order(...)
        await wechat.simulator.pay(prepay_id, duplicates=3, parallel=True)
        await wechat.simulator.settle()           # every delivery done
        wechat.simulator.deliveries               # what was sent, and the answers

`wechat` leaves the services on the sandbox; `paying` installs the channel for them
(services.payments.use_channel) with its notifications going to the API app.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from channel.keys import TestKeys, generate_test_keys
from channel.simulator import Simulator, SimulatorConfig
from channel.wechat import WeChatPayChannel

GATEWAY = "http://wechat.test"
NOTIFY_URL = "http://anfu.test/payments/wechat/notify"

_keys: TestKeys | None = None


def test_keys() -> TestKeys:
    """One set of keys for the session (RSA generation takes a while)."""
    global _keys
    if _keys is None:
        _keys = generate_test_keys(Path(tempfile.mkdtemp(prefix="anfu-wechat-keys-")))
    return _keys


test_keys.__test__ = False  # type: ignore[attr-defined]


class Clock:
    """Seconds since the epoch, movable: the channel's `now`, for stale-timestamp tests."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        import time

        return time.time() + self.offset


@dataclass
class WeChatFixture:
    channel: WeChatPayChannel
    simulator: Simulator
    keys: TestKeys
    clock: Clock  # the channel's clock: `clock.offset = 600` makes notifications look stale
    settings_overrides: dict[str, Any]
    _clients: list[httpx.AsyncClient]

    def route_notifications_to(self, app: Any) -> httpx.AsyncClient:
        """Deliver the simulator's notifications to this ASGI app (e.g. server.create_app())."""
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
        self._clients.append(client)
        self.simulator.use_notifier(client)
        return client

    def settings(self, base: Any) -> Any:
        """`base` (a settings.Settings) with the channel's settings."""
        return base.model_copy(update=self.settings_overrides)


def settings_overrides(keys: TestKeys) -> dict[str, Any]:
    """The WECHATPAY_* settings (as Settings field names) for the simulator's keys."""
    return dict(keys.settings(gateway=GATEWAY, notify_url=NOTIFY_URL))


@pytest.fixture(name="wechat")
async def wechat_fixture() -> AsyncIterator[WeChatFixture]:
    """A WeChatPayChannel whose HTTP goes to a fresh in-process simulator."""
    from settings import Settings

    keys = test_keys()
    simulator = Simulator(SimulatorConfig.from_keys(keys))
    overrides = settings_overrides(keys)
    clock = Clock()
    channel = WeChatPayChannel.from_settings(
        Settings().model_copy(update=overrides),
        transport=httpx.ASGITransport(app=simulator.app),
        now=clock,
    )
    fixture = WeChatFixture(channel, simulator, keys, clock, overrides, [])
    try:
        yield fixture
    finally:
        await simulator.aclose()
        await channel.aclose()
        for client in fixture._clients:
            await client.aclose()


class _Unreachable(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)


def unreachable(wechat: WeChatFixture, base: Any) -> WeChatPayChannel:
    """The same adapter with nothing answering at the gateway (the channel's outage); close it
    with `aclose()`."""
    return WeChatPayChannel.from_settings(wechat.settings(base), transport=_Unreachable())


@pytest.fixture(name="paying")
async def paying_fixture(wechat: WeChatFixture, settings: Any) -> AsyncIterator[WeChatFixture]:
    """WeChat Pay installed for the services (services.payments.use_channel), its
    notifications going to the API app; every delivery done before the test ends."""
    from server import create_app
    from services import payments

    wechat.route_notifications_to(create_app(wechat.settings(settings), manage_database=False))
    previous = payments.use_channel(wechat.channel)
    try:
        yield wechat
    finally:
        await wechat.simulator.settle()
        payments.use_channel(previous)
