"""Measure the API under concurrent load and print figures (never asserted in tests).

By default it migrates a scratch SQLite database, loads the demo data and drives
the app in-process (no network); `--url` drives a running server over HTTP
instead, and DATABASE_URL picks another database for the in-process run.

    python -m bench                      # in-process, scratch SQLite with demo data
    python -m bench --url http://127.0.0.1:8000/graphql --seconds 20
    python -m bench abuse                # a normal query beside abusive ones (bench/abuse.py)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

MERCHANT_PAGE = """
query Page($first: Int!) {
  merchants(first: $first) {
    totalCount
    edges { node {
      name creditRating { grade score } category { name }
      stores(first: 10) { totalCount edges { node { name district } } }
      cardProducts(first: 10) { edges { node { name price faceValue soldCount } } }
    } }
  }
}
"""
WALLET = """
{ wallet { totalBalance totalCashValue
  cards(first: 20) { edges { node { balance cashValue status merchant { name }
    transactions(first: 5) { edges { node { kind amount createdAt } } } } } } } }
"""
LOGIN = """
mutation Login($phone: String!, $password: String!) {
  login(phone: $phone, password: $password) { accessToken user { merchant { id } } }
}
"""
PRODUCTS = """
{ merchants(filter: {search: "淮安洁净洗衣连锁"}, first: 1) { edges { node {
  stores(first: 1) { edges { node { id } } }
  cardProducts(status: ACTIVE, first: 1) { edges { node { id } } } } } } }
"""
BUY = """
mutation Buy($product: ID!, $key: String!) {
  purchaseCard(productId: $product, idempotencyKey: $key) { card { id } }
}
"""
CODE = "mutation Code($card: ID!) { issueRedemptionCode(cardId: $card) { code } }"
REDEEM = """
mutation Redeem($code: String!, $store: ID!, $key: String!) {
  redeem(code: $code, storeId: $store, amount: "1.00", idempotencyKey: $key) {
    card { balance } transaction { id }
  }
}
"""
DEMO_PASSWORD = "anfu-demo-1"


@dataclass
class Figures:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    def report(self, name: str, seconds: float) -> str:
        if not self.latencies:
            return f"{name:<28} no successful requests ({self.errors} errors)"
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

        return (
            f"{name:<28} {len(ordered) / seconds:8.1f} req/s   "
            f"p50 {statistics.median(ordered) * 1000:7.1f} ms   p95 {pct(0.95):7.1f} ms   "
            f"p99 {pct(0.99):7.1f} ms   errors {self.errors}"
        )


async def post(
    client: httpx.AsyncClient, url: str, query: str, variables: dict[str, Any], token: str | None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        url, json={"query": query, "variables": variables}, headers=headers
    )
    return response.json()


async def run_scenario(
    name: str, call: Callable[[], Awaitable[bool]], seconds: float, concurrency: int
) -> str:
    figures = Figures()
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            ok = await call()
            if ok:
                figures.latencies.append(time.perf_counter() - started)
            else:
                figures.errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return figures.report(name, time.perf_counter() - started)


async def bench(client: httpx.AsyncClient, url: str, seconds: float, concurrency: int) -> None:
    consumer = await post(
        client, url, LOGIN, {"phone": "13800000001", "password": DEMO_PASSWORD}, None
    )
    staff = await post(
        client, url, LOGIN, {"phone": "13900000001", "password": DEMO_PASSWORD}, None
    )
    consumer_token = consumer["data"]["login"]["accessToken"]
    staff_token = staff["data"]["login"]["accessToken"]
    chain = (await post(client, url, PRODUCTS, {}, None))["data"]["merchants"]["edges"][0]["node"]
    product_id = chain["cardProducts"]["edges"][0]["node"]["id"]
    store_id = chain["stores"]["edges"][0]["node"]["id"]
    card = await post(
        client, url, BUY, {"product": product_id, "key": uuid.uuid4().hex}, consumer_token
    )
    card_id = card["data"]["purchaseCard"]["card"]["id"]

    async def merchant_page() -> bool:
        result = await post(client, url, MERCHANT_PAGE, {"first": 20}, None)
        return "errors" not in result

    async def wallet() -> bool:
        return "errors" not in await post(client, url, WALLET, {}, consumer_token)

    async def redeem() -> bool:
        code = await post(client, url, CODE, {"card": card_id}, consumer_token)
        if "errors" in code:
            return False
        variables = {
            "code": code["data"]["issueRedemptionCode"]["code"],
            "store": store_id,
            "key": uuid.uuid4().hex,
        }
        return "errors" not in await post(client, url, REDEEM, variables, staff_token)

    print(f"{seconds:.0f} s per scenario, {concurrency} concurrent clients")
    print(await run_scenario("merchants page (first: 20)", merchant_page, seconds, concurrency))
    print(await run_scenario("consumer wallet", wallet, seconds, concurrency))
    print(await run_scenario("code + redeem 1.00", redeem, seconds, concurrency))


async def in_process(seconds: float, concurrency: int) -> None:
    from tortoise import Tortoise
    from tortoise.migrations.api import migrate

    from cli.demo import load_demo
    from server import create_app
    from settings import get_settings

    if "DATABASE_URL" not in os.environ:
        os.environ["DATABASE_URL"] = f"sqlite://{Path(tempfile.mkdtemp()) / 'bench.sqlite3'}"
    settings = get_settings()
    await migrate(config=settings.tortoise_config())
    await Tortoise.close_connections()
    await Tortoise.init(config=settings.tortoise_config(), _enable_global_fallback=True)
    started = time.perf_counter()
    print(await load_demo())
    print(f"demo data ready in {time.perf_counter() - started:.1f} s ({settings.database_url})")
    app = create_app(settings, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            await bench(client, "/graphql", seconds, concurrency)
    finally:
        await Tortoise.close_connections()


async def over_http(url: str, seconds: float, concurrency: int) -> None:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await bench(client, url, seconds, concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "mode",
        nargs="?",
        choices=("load", "abuse"),
        default="load",
        help="load: common requests under load; abuse: a normal query beside abusive ones",
    )
    parser.add_argument("--url", help="a running server's /graphql; default: in-process")
    parser.add_argument("--database", help="abuse: a SQLite file with the demo (default: load it)")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    if args.mode == "abuse":
        from bench import abuse

        asyncio.run(abuse.main(args.url, args.seconds, args.database))
    elif args.url:
        asyncio.run(over_http(args.url, args.seconds, args.concurrency))
    else:
        asyncio.run(in_process(args.seconds, args.concurrency))


if __name__ == "__main__":
    main()
