"""Redemptions under concurrency: sixteen clients, each with a card of its own, ask for a code
and redeem 0.01 at the laundry chain's first store, again and again. Each redemption is two
requests (the consumer's code, the store's redemption), so it is driven from Python, not wrk.
The ledger is verified after the run (bench/speed.py)."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid

import httpx

from bench.queries import BUY, CHAIN, CODE, REDEEM, REGISTER

CLIENTS = 16


async def _call(
    http: httpx.AsyncClient, query: str, variables: dict[str, str], token: str
) -> dict[str, object]:
    answer = await http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body: dict[str, object] = answer.json()
    if answer.status_code != 200 or body.get("errors"):
        raise RuntimeError(str(body.get("errors"))[:300])
    return body["data"]  # type: ignore[return-value]


async def _run(base: str, tokens: dict[str, str], seconds: float) -> str:
    merchant = tokens["merchant"]
    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
        # A new consumer each run: the demo's consumers are near the cap a consumer may hold.
        phone = f"166{uuid.uuid4().int % 10**8:08d}"
        person = {"phone": phone, "password": "bench-pass-1", "displayName": "压测用户"}
        registered = await http.post(
            "/graphql", json={"query": REGISTER, "variables": {"input": person}}
        )
        consumer = registered.json()["data"]["registerConsumer"]["accessToken"]
        chain = (await http.post("/graphql", json={"query": CHAIN})).json()["data"]
        node = chain["merchants"]["edges"][0]["node"]
        store = node["stores"]["edges"][0]["node"]["id"]
        product = node["cardProducts"]["edges"][0]["node"]["id"]
        cards = []
        for _ in range(CLIENTS):
            bought = await _call(http, BUY, {"product": product, "key": uuid.uuid4().hex}, consumer)
            cards.append(bought["purchaseCard"]["card"]["id"])  # type: ignore[index]
        latencies: list[float] = []
        failures = 0
        deadline = time.perf_counter() + seconds

        async def client(card: str) -> None:
            nonlocal failures
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    code = await _call(http, CODE, {"card": card}, consumer)
                    variables = {
                        "code": code["issueRedemptionCode"]["code"],  # type: ignore[index]
                        "store": store,
                        "key": uuid.uuid4().hex,
                    }
                    await _call(http, REDEEM, variables, merchant)
                except (RuntimeError, httpx.HTTPError):
                    failures += 1
                    continue
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client(card) for card in cards))
        elapsed = time.perf_counter() - started
    if not latencies:
        return f"redemptions: none succeeded ({failures} failed)"
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (
        f"redemptions, {CLIENTS} clients: {len(ordered) / elapsed:.1f}/s (code + redeem), "
        f"p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"{failures} failed"
    )


def report(base: str, tokens: dict[str, str], seconds: float) -> str:
    return asyncio.run(_run(base, tokens, seconds))
