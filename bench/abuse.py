"""`python -m bench abuse`: a normal query's latency alone, then while four abusive requests are
in flight at every moment: first requests the limits refuse, then the most expensive ones they
accept. Figures are printed, never asserted (issue 9, "Done when").

By default it serves the SQLite demo `make bench` keeps in .bench/ (loaded the first time,
about two minutes; `--database` names another file) in production mode in a subprocess, so the
bench's own work does not share the server's core. `--url` drives a running server instead:
give it rate limits above what one address sends here (REQUESTS_PER_*).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import dataclass, field

import httpx

from bench.queries import FIRST_MERCHANT, HOME
from bench.servers import anfu_server, sqlite_demo


def _cyclic(levels: int) -> str:
    inner = "name"
    for _ in range(levels):
        inner = f"cardProducts(first: 100) {{ edges {{ node {{ stores {{ merchant {{ {inner} }} }} }} }} }}"
    return f"query Cyclic($id: ID!) {{ merchant(id: $id) {{ {inner} }} }}"


def _aliases(count: int, selection: str) -> str:
    return "{ " + " ".join(f"a{i}: {selection}" for i in range(count)) + " }"


@dataclass(frozen=True)
class Request:
    name: str
    body: bytes
    content_type: str = "application/json"


def graphql(name: str, query: str, variables: dict[str, object] | None = None) -> Request:
    return Request(name, json.dumps({"query": query, "variables": variables or {}}).encode())


def refused_requests(merchant_id: str) -> list[Request]:
    """The issue's attacks and graphql-cop's: each refused before it runs."""
    page = "merchants(first: 100) { edges { node { stores { totalCount } cardProducts { totalCount } } } }"
    return [
        graphql("cyclic query, four deep", _cyclic(4), {"id": merchant_id}),
        graphql("1,000 aliases of a page", _aliases(1000, page)),
        graphql("1 MiB of category aliases", _aliases(60_000, "categories { code }")[:1_040_000]),
        # Under the body limit, so that the document's length is what refuses it.
        graphql("100 KiB of category aliases", _aliases(6_000, "categories { code }")[:100_000]),
        graphql("__typename 1,000 times", "{ " + "__typename " * 1000 + "}"),
        graphql("60 directives", "{ __typename " + "@include(if: true) " * 60 + "}"),
        graphql("cost over 5,000", HOME, {"first": 100}),
        Request("JSON nested 10,000 deep", b"[" * 10_000 + b"]" * 10_000),
    ]


def expensive_requests() -> list[Request]:
    """Accepted, each close to a limit: the most an anonymous caller can ask for at once."""
    page = """{ merchants(first: 100) { totalCount edges { node {
      name status category { name } creditRating { grade score }
      stores(first: 5) { edges { node { name district address } } }
      cardProducts(first: 3) { edges { node { name price faceValue soldCount } } } } } } }"""
    return [
        graphql("a page of cost 4,703", page),
        graphql(
            "15 aliased pages of 100",
            _aliases(15, "merchants(first: 100) { edges { node { name } } }"),
        ),
        graphql("standard page, first: 50", HOME, {"first": 50}),
    ]


@dataclass
class Timings:
    seconds: list[float] = field(default_factory=list)
    failures: int = 0

    def line(self, name: str) -> str:
        if not self.seconds:
            return f"  {name:<38} no answers ({self.failures} failed)"
        ordered = sorted(self.seconds)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        return (
            f"  {name:<38} n={len(ordered):<5} p50 {statistics.median(ordered) * 1000:8.1f} ms"
            f"   p99 {p99 * 1000:8.1f} ms" + (f"   failed {self.failures}" if self.failures else "")
        )


async def send(http: httpx.AsyncClient, url: str, request: Request) -> httpx.Response:
    return await http.post(
        url, content=request.body, headers={"content-type": request.content_type}
    )


async def normal_latency(http: httpx.AsyncClient, url: str, stop: asyncio.Event) -> Timings:
    """One client asking for the normal page again and again until told to stop."""
    timings = Timings()
    request = graphql("normal", HOME, {"first": 20})
    while not stop.is_set():
        started = time.perf_counter()
        response = await send(http, url, request)
        elapsed = time.perf_counter() - started
        if response.status_code == 200 and not response.json().get("errors"):
            timings.seconds.append(elapsed)
        else:
            timings.failures += 1
    return timings


async def abuser(
    http: httpx.AsyncClient, url: str, requests: list[Request], offset: int, stop: asyncio.Event
) -> dict[str, Timings]:
    """Sends the requests one after another, round and round, until told to stop."""
    timings: dict[str, Timings] = {}
    index = offset
    while not stop.is_set():
        request = requests[index % len(requests)]
        index += 1
        started = time.perf_counter()
        figures = timings.setdefault(request.name, Timings())
        try:
            await send(http, url, request)
        except httpx.TransportError:
            # Refused before the body was read (413): the server closes the connection.
            figures.failures += 1
            continue
        figures.seconds.append(time.perf_counter() - started)
    return timings


async def phase(
    http: httpx.AsyncClient, url: str, seconds: float, abusive: list[Request]
) -> tuple[Timings, dict[str, Timings]]:
    stop = asyncio.Event()
    normal = asyncio.create_task(normal_latency(http, url, stop))
    # The abusers on connections of their own: the server closes those it refuses a body on.
    async with httpx.AsyncClient(timeout=120) as own:
        abusers = [
            asyncio.create_task(abuser(own, url, abusive, offset, stop))
            for offset in range(4 if abusive else 0)
        ]
        await asyncio.sleep(seconds)
        stop.set()
        merged: dict[str, Timings] = {}
        for timings in await asyncio.gather(*abusers):
            for name, figures in timings.items():
                merged_figures = merged.setdefault(name, Timings())
                merged_figures.seconds.extend(figures.seconds)
                merged_figures.failures += figures.failures
    return await normal, merged


async def check(http: httpx.AsyncClient, url: str, requests: list[Request], refused: bool) -> None:
    """Each request once, alone: what the server answers and how fast."""
    for request in requests:
        started = time.perf_counter()
        response = await send(http, url, request)
        elapsed = (time.perf_counter() - started) * 1000
        body = response.json()
        codes = sorted({e["extensions"]["code"] for e in body.get("errors") or []})
        outcome = ",".join(codes) if codes else "data"
        warning = "" if bool(codes) == refused else "   <-- unexpected"
        print(
            f"  {request.name:<38} {response.status_code} {outcome:<26} {elapsed:8.1f} ms{warning}"
        )


async def run(url: str, seconds: float) -> None:
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        first = (await http.post(url, json={"query": FIRST_MERCHANT})).json()
        merchant_id = first["data"]["merchants"]["edges"][0]["node"]["id"]
        refused, expensive = refused_requests(merchant_id), expensive_requests()
        print("Refused, each sent alone (status, codes, time to the answer):")
        await check(http, url, refused, refused=True)
        print("Accepted near the limits, each sent alone:")
        await check(http, url, expensive, refused=False)
        print(f"\nThe normal page (merchants, first: 20), {seconds:.0f} s per phase:")
        alone, _ = await phase(http, url, seconds, [])
        print(alone.line("alone"))
        with_refused, refused_times = await phase(http, url, seconds, refused)
        print(with_refused.line("with 4 refused requests in flight"))
        with_expensive, expensive_times = await phase(http, url, seconds, expensive)
        print(with_expensive.line("with 4 expensive requests in flight"))
        print("\nThe abusive requests meanwhile:")
        for name, timings in {**refused_times, **expensive_times}.items():
            print(timings.line(name))
        base = statistics.median(alone.seconds) if alone.seconds else float("nan")
        for label, timings in (("refused", with_refused), ("expensive", with_expensive)):
            if timings.seconds:
                print(
                    f"  p50 with {label} abuse: {statistics.median(timings.seconds) / base:.1f}× alone"
                )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench abuse", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--url", help="a running server's /graphql; default: start one")
    parser.add_argument("--database", help="a SQLite file with the demo; default: .bench/'s")
    parser.add_argument("--seconds", type=float, default=10, help="per phase")
    args = parser.parse_args(argv)
    if args.url:
        asyncio.run(run(args.url, args.seconds))
        return
    database_url = f"sqlite://{args.database}" if args.database else sqlite_demo()
    with anfu_server(database_url, 1) as served:
        asyncio.run(run(f"{served.base}/graphql", args.seconds))
