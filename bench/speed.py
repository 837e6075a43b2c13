"""`make bench`: the API under load next to a hand-written floor, on SQLite and PostgreSQL,
with one and with two server processes. Figures are printed, never asserted.

Per scenario it prints requests per second, p50 and p99 (wrk -t1 -c16), the server's CPU time
per request (from /proc), SQL statements per request (counted in-process on the same database)
and, where a floor exists, the ratio to it. Rounds alternate (every scenario on every server,
then again) and each figure is the median over the rounds. Before measuring, every answer is
checked: the home page must be byte-identical to the floor's. Then redemptions run under
concurrency and `anfu ledger verify` must stay clean.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import logging
import multiprocessing
import os
import secrets
import statistics
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx

from bench import memory as bench_memory
from bench import redemptions, wrk
from bench.queries import HOME, LOGIN, STATS
from bench.servers import ANFU, ROOT, Server, anfu_server, floor_server, postgres_demo, sqlite_demo

CLIENTS = ROOT / "clients"
DEMO_PASSWORD = "anfu-demo-1"
PHONES = {"consumer": "13800000001", "merchant": "13900000001", "regulator": "13700000001"}


@dataclass(frozen=True)
class Scenario:
    name: str
    query: str
    variables: dict[str, Any]
    role: str | None  # whose token, None: anonymous
    floor_path: str | None = None

    @property
    def body(self) -> bytes:
        return json.dumps({"query": self.query, "variables": self.variables}).encode()


SCENARIOS = [
    Scenario("home page (anonymous)", HOME, {"first": 20}, None, "/home"),
    Scenario(
        "wallet (consumer)", (CLIENTS / "consumer-miniprogram/wallet.graphql").read_text(), {},
        "consumer", "/wallet",
    ),
    Scenario(
        "sales page (merchant)", (CLIENTS / "merchant-miniprogram/sales.graphql").read_text(), {},
        "merchant",
    ),
    Scenario("statistics (regulator)", STATS, {}, "regulator"),
]  # fmt: skip


def tokens(base: str) -> dict[str, str]:
    found = {}
    for role, phone in PHONES.items():
        answer = httpx.post(
            f"{base}/graphql", json={"query": LOGIN, "variables": {"p": phone, "w": DEMO_PASSWORD}}
        ).json()
        found[role] = answer["data"]["login"]["accessToken"]
    return found


def check(anfu: Server, floor: Server, keys: dict[str, str]) -> None:
    """Every scenario answers without errors, and as its floor does, to the byte."""
    for scenario in SCENARIOS:
        headers = {"Content-Type": "application/json"}
        if scenario.role:
            headers["Authorization"] = f"Bearer {keys[scenario.role]}"
        answer = httpx.post(
            f"{anfu.base}/graphql", content=scenario.body, headers=headers, timeout=60
        )
        if answer.status_code != 200 or "errors" in answer.json():
            raise SystemExit(f"{scenario.name}: {answer.status_code} {answer.text[:300]}")
        if scenario.floor_path:
            by_hand = httpx.post(
                f"{floor.base}{scenario.floor_path}", content=scenario.body, headers=headers
            )
            if by_hand.content != answer.content:
                raise SystemExit(f"{scenario.name}: the floor's answer differs from the API's")


def sql_per_request(database_url: str) -> dict[str, float]:
    """Statements each scenario sends, counted on Tortoise's log in this process, with the
    public-read cache off: what a request costs the database when nothing is cached."""
    os.environ["PUBLIC_CACHE_ENTRIES"] = "0"  # this runs in an interpreter of its own

    async def count() -> dict[str, float]:
        from tortoise import Tortoise

        from server import create_app
        from settings import Settings

        settings = Settings(DATABASE_URL=database_url, REQUESTS_PER_ADDRESS=10**9)  # type: ignore[call-arg]
        await Tortoise.init(config=settings.tortoise_config(), _enable_global_fallback=True)
        app = create_app(settings, manage_database=False)
        statements = _Counter()
        logger = logging.getLogger("tortoise.db_client")
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench"
            ) as client:
                keys = {}
                for role, phone in PHONES.items():
                    answer = await client.post(
                        "/graphql",
                        json={"query": LOGIN, "variables": {"p": phone, "w": DEMO_PASSWORD}},
                    )
                    body = answer.json()
                    if not body.get("data"):
                        raise SystemExit(f"logging in as the demo {role} failed: {body}")
                    keys[role] = body["data"]["login"]["accessToken"]
                figures = {}
                logger.setLevel(logging.DEBUG)
                logger.addHandler(statements)
                for scenario in SCENARIOS:
                    headers = {"Content-Type": "application/json"}
                    if scenario.role:
                        headers["Authorization"] = f"Bearer {keys[scenario.role]}"
                    await client.post("/graphql", content=scenario.body, headers=headers)
                    statements.count = 0
                    for _ in range(5):
                        await client.post("/graphql", content=scenario.body, headers=headers)
                    figures[scenario.name] = statements.count / 5
                return figures
        finally:
            logger.removeHandler(statements)
            await Tortoise.close_connections()

    return asyncio.run(count())


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        verb = record.getMessage().lstrip()[:6].upper()
        if verb in {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"} or verb.startswith("WITH"):
            self.count += 1


@dataclass
class Row:
    runs: list[wrk.Run]

    def median(self, field: str) -> float:
        return statistics.median(getattr(run, field) for run in self.runs)


def measure(database: str, url: str, rounds: int, seconds: float, memory: bool = False) -> None:
    print(f"\n== {database}: {url}", flush=True)
    # In a fresh interpreter: Tortoise keeps SQL built for one backend on the model classes,
    # so one process cannot count on SQLite and then on PostgreSQL.
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as counter:
        sql = counter.submit(sql_per_request, url).result()
    results: dict[tuple[str, str], Row] = {}
    secret = secrets.token_urlsafe(48)  # one for all: a token from one server works on each
    with ExitStack() as stack:
        servers = [
            stack.enter_context(anfu_server(url, 1, secret)),
            stack.enter_context(anfu_server(url, 2, secret)),
            # The public-read cache off: what a plan costs when it reads the database.
            stack.enter_context(anfu_server(url, 1, secret, public_cache=False)),
        ]
        floor = stack.enter_context(floor_server(url, secret))
        keys = tokens(servers[0].base)
        check(servers[0], floor, keys)
        for _round in range(rounds):
            for scenario in SCENARIOS:
                token = keys[scenario.role] if scenario.role else None
                for server in servers:
                    if server.name.endswith(" nc") and scenario is not SCENARIOS[0]:
                        continue  # the cache only serves the anonymous home page
                    run = wrk.run(server, "/graphql", scenario.body, token, seconds)
                    results.setdefault((scenario.name, server.name), Row([])).runs.append(run)
                if scenario.floor_path:
                    run = wrk.run(floor, scenario.floor_path, scenario.body, token, seconds)
                    results.setdefault((scenario.name, "floor"), Row([])).runs.append(run)
        print_table(results, sql)
        for server in servers[:2]:
            print(redemptions.report(server.base, keys, seconds), flush=True)
        if memory:
            print(bench_memory.report(servers[0], keys["consumer"]), flush=True)
    verify = subprocess.run(
        [str(ANFU), "ledger", "verify"],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )
    print(f"anfu ledger verify: exit {verify.returncode}: {verify.stdout.strip()[-300:]}")


def print_table(results: dict[tuple[str, str], Row], sql: dict[str, float]) -> None:
    print(
        f"{'scenario':<26} {'server':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'CPU ms/req':>10} {'SQL/req':>8} {'vs floor':>8} {'failed':>6}"
    )
    for scenario in SCENARIOS:
        floor = results.get((scenario.name, "floor"))
        for server in ("Anfu ×1", "Anfu ×2", "Anfu ×1 nc", "floor"):
            row = results.get((scenario.name, server))
            if row is None:
                continue
            rate = row.median("requests_per_second")
            ratio = f"{rate / floor.median('requests_per_second'):8.2f}" if floor else f"{'—':>8}"
            statements = f"{sql[scenario.name]:8.1f}" if server != "floor" else f"{'—':>8}"
            failed = sum(run.failures for run in row.runs)
            print(
                f"{scenario.name:<26} {server:<8} {rate:8.1f} {row.median('p50_ms'):8.1f} "
                f"{row.median('p99_ms'):8.1f} {row.median('cpu_ms_per_request'):10.2f} "
                f"{statements} {ratio} {failed:6d}",
                flush=True,
            )


def databases(only: str | None) -> Iterator[tuple[str, str]]:
    if only in (None, "sqlite"):
        yield "SQLite", sqlite_demo()
    if only in (None, "postgres"):
        url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/anfu_bench")
        ready = postgres_demo(url)
        if ready is None:
            print(f"\n== PostgreSQL: {url} does not answer; skipped")
        else:
            yield "PostgreSQL", ready


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--database", choices=("sqlite", "postgres"))
    parser.add_argument(
        "--memory", action="store_true", help="also 100,000 requests, resident size at 10k and 100k"
    )
    args = parser.parse_args(argv)
    if not wrk.available():
        raise SystemExit("wrk is needed: apt-get install wrk")
    for name, url in databases(args.database):
        measure(name, url, args.rounds, args.seconds, args.memory)


if __name__ == "__main__":
    main()
