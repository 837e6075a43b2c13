"""Memory over time: a server's resident size after 10,000 and after 100,000 requests (the
target is flat: within 10 %). Run by `make bench BENCH_ARGS=--memory`: at a few hundred
requests per second it takes minutes, so it is not part of the default run.

The requests alternate between the anonymous home page, a consumer's wallet and a small query
with a fresh alias each time (a new document text each request: parse and validation caches
must stay bounded).
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import httpx

from bench.queries import HOME
from bench.servers import Server, tree

CHECKPOINTS = (10_000, 100_000)
CONCURRENCY = 16


def resident_mib(server: Server) -> float:
    """Resident set size of the server process and every process under it."""
    total_kib = 0
    for pid in tree(server.process.pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kib += int(line.split()[1])
    return total_kib / 1024


def _bodies(token: str) -> itertools.cycle[tuple[dict[str, object], dict[str, str]]]:
    wallet: dict[str, object] = {
        "query": "{ wallet { totalBalance cards(first: 5) { totalCount } } }"
    }
    return itertools.cycle(
        [
            ({"query": HOME, "variables": {"first": 20}}, {}),
            (wallet, {"Authorization": f"Bearer {token}"}),
            ({"query": "{ categories { code } }"}, {}),
        ]
    )


async def _run(server: Server, token: str) -> list[tuple[int, float]]:
    bodies = _bodies(token)
    sent = 0
    readings: list[tuple[int, float]] = []
    lock = asyncio.Lock()
    async with httpx.AsyncClient(base_url=server.base, timeout=60) as http:

        async def client() -> None:
            nonlocal sent
            while sent < CHECKPOINTS[-1]:
                async with lock:
                    sent += 1
                    number = sent
                    body, headers = next(bodies)
                    if body["query"] == "{ categories { code } }":
                        body = {"query": f"{{ c{number}: categories {{ code }} }}"}
                await http.post("/graphql", json=body, headers=headers)
                if number in CHECKPOINTS:
                    readings.append((number, resident_mib(server)))

        await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    return sorted(readings)


def report(server: Server, token: str) -> str:
    readings = asyncio.run(_run(server, token))
    figures = ", ".join(f"{count:,} requests: {mib:.0f} MiB" for count, mib in readings)
    (_, first), (_, last) = readings[0], readings[-1]
    return f"memory of {server.name}: {figures} ({(last / first - 1) * 100:+.1f} %)"
