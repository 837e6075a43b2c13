"""The two-step purchase the way `make run` serves it: `anfu payments simulator` and the server
as separate processes on the loopback, WeChat Pay configured by settings and opened by the
server's lifespan, the notification crossing real HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from channel.keys import generate_test_keys
from models import Card
from schema.ids import encode_id
from tests.live_server import REPO, free_port, live_server
from tests.support import PASSWORD, make_merchant, make_user

pytestmark = pytest.mark.once
ANFU = Path(sys.executable).parent / "anfu"


@contextlib.asynccontextmanager
async def simulator(keys: Path, port: int) -> AsyncIterator[str]:
    process = await asyncio.create_subprocess_exec(
        str(ANFU), "payments", "simulator", "--port", str(port), "--keys", str(keys),
        "--refund-delay", "0",
        cwd=REPO,
        env=os.environ.copy(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(timeout=1) as http:
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    await http.get(f"{url}/simulator/pay/none")
                    break
                await asyncio.sleep(0.1)
        yield url
    finally:
        process.terminate()
        await process.wait()


async def graphql(http: httpx.AsyncClient, url: str, query: str, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = await http.post(url, json={"query": query}, headers=headers)
    body = answer.json()
    assert not body.get("errors"), body
    return body["data"]


async def test_a_card_bought_through_the_simulator_process_and_a_real_server(database, tmp_path):
    world = await make_merchant()
    consumer = await make_user()
    keys = generate_test_keys(tmp_path / "keys")
    server_port, simulator_port = free_port(), free_port()
    channel = keys.settings(
        gateway=f"http://127.0.0.1:{simulator_port}",
        notify_url=f"http://127.0.0.1:{server_port}/payments/wechat/notify",
    )
    environment = {
        "ANFU_PAYMENT_CHANNEL" if name == "payment_channel" else name.upper(): value
        for name, value in channel.items()
    }

    async with (
        simulator(tmp_path / "keys", simulator_port) as gateway,
        live_server(database, port=server_port, settings=environment, ANFU_DEMO="0") as server,
        httpx.AsyncClient(timeout=10) as http,
    ):
        token = (
            await graphql(
                http,
                server.url,
                f'mutation {{ login(phone: "{consumer.phone}", password: "{PASSWORD}") '
                "{ accessToken } }",
            )
        )["login"]["accessToken"]
        product = encode_id("CardProduct", world.product.id)
        created = (
            await graphql(
                http,
                server.url,
                f'mutation {{ createPaymentOrder(productId: "{product}", idempotencyKey: "live-1") '
                "{ order { id status } payment { package } } }",
                token,
            )
        )["createPaymentOrder"]
        assert created["order"]["status"] == "CREATED"
        prepay_id = created["payment"]["package"].removeprefix("prepay_id=")

        paid = await http.post(f"{gateway}/simulator/pay/{prepay_id}", json={})
        assert paid.status_code == 200, paid.text
        order = created["order"]["id"]
        for _ in range(100):
            seen = (
                await graphql(
                    http,
                    server.url,
                    f'{{ paymentOrder(id: "{order}") {{ status card {{ balance cashValue }} }} }}',
                    token,
                )
            )["paymentOrder"]
            if seen["status"] != "CREATED":
                break
            await asyncio.sleep(0.1)

    assert seen == {"status": "PAID", "card": {"balance": "1000.00", "cashValue": "700.00"}}
    assert await Card.filter(owner_id=consumer.id).count() == 1
    assert "Traceback" not in (server.final_log or "")
