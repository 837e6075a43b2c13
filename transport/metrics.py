"""Prometheus metrics for /metrics: HTTP requests by path, GraphQL requests by operation name
and outcome, their latency, error codes, SQL statements, the database pool and WebSocket
connections. The shared cache counts its own hits and misses (core/cache_reads.py).

With several server processes (`anfu serve --workers N`) each process writes its values to
files under PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode, set before this
module is imported) and /metrics sums them, whichever process answers the scrape.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tortoise import connections

from core.errors import ErrorCode

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
MEASURED_PATHS = {"/graphql", "/healthz", "/readyz", "/metrics"}
# Operation names are chosen by clients: past this many distinct names a process counts the
# rest as "other", so a client cannot make a series per request.
MAX_OPERATION_NAMES = 200
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
_CODES = frozenset(code.value for code in ErrorCode)

HTTP_REQUESTS = Counter("anfu_http_requests_total", "HTTP requests", ["path", "status"])
HTTP_LATENCY = Histogram("anfu_http_request_seconds", "HTTP request latency", ["path"])
GRAPHQL_REQUESTS = Counter(
    "anfu_graphql_requests_total",
    "GraphQL requests over HTTP by operation name and outcome (ok, or the first error's code)",
    ["operation", "outcome"],
)
GRAPHQL_LATENCY = Histogram(
    "anfu_graphql_request_seconds",
    "GraphQL request latency over HTTP by operation name",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
GRAPHQL_ERRORS = Counter("anfu_graphql_errors_total", "GraphQL errors by code", ["code"])
SQL_STATEMENTS = Counter(
    "anfu_sql_statements_total", "SQL statements sent to the database", ["statement"]
)
POOL_CONNECTIONS = Gauge(
    "anfu_db_pool_connections",
    "Database connections by state (SQLite: one connection, in use while its lock is held)",
    ["state"],
    multiprocess_mode="livesum",
)
POOL_MAX = Gauge(
    "anfu_db_pool_max_connections", "Most connections the pool opens", multiprocess_mode="livesum"
)
WEBSOCKETS = Gauge(
    "anfu_websocket_connections", "Open WebSocket connections", multiprocess_mode="livesum"
)


class OperationNames:
    """The label of an operation name: the name while fewer than `limit` were seen, else
    "other"; "anonymous" without a name, "invalid" for what is not a GraphQL name."""

    def __init__(self, limit: int = MAX_OPERATION_NAMES) -> None:
        self.limit = limit
        self.seen: set[str] = set()

    def label(self, name: str | None) -> str:
        if not name:
            return "anonymous"
        if not _NAME.fullmatch(name):
            return "invalid"
        if name in self.seen:
            return name
        if len(self.seen) < self.limit:
            self.seen.add(name)
            return name
        return "other"


operation_names = OperationNames()


def observe_graphql(operation: str | None, codes: Iterable[str], seconds: float) -> str:
    """Count one GraphQL request; returns its outcome (ok, or the first error's code)."""
    known = [code if code in _CODES else "UNKNOWN" for code in codes]
    label = operation_names.label(operation)
    outcome = known[0] if known else "ok"
    GRAPHQL_REQUESTS.labels(label, outcome).inc()
    GRAPHQL_LATENCY.labels(label).observe(seconds)
    for code in known:
        GRAPHQL_ERRORS.labels(code).inc()
    return outcome


# Every method through which Tortoise sends SQL, on each client class and transaction wrapper.
EXECUTE_METHODS = (
    "execute_insert",
    "execute_many",
    "execute_query",
    "execute_query_dict",
    "execute_script",
)
_STATEMENTS = ("select", "insert", "update", "delete")
_counted_classes: set[type] = set()


def count_sql_statements() -> None:
    """Wrap the execute methods of Tortoise's SQLite and asyncpg clients once per process, so
    every statement moves anfu_sql_statements_total (about a microsecond each)."""
    from tortoise.backends.asyncpg.client import AsyncpgDBClient
    from tortoise.backends.sqlite.client import SqliteClient

    for base in (SqliteClient, AsyncpgDBClient):
        for cls in _with_subclasses(base):
            if cls in _counted_classes:
                continue
            for name in EXECUTE_METHODS:
                method = cls.__dict__.get(name)
                if method is not None:
                    setattr(cls, name, _counting(method))
            _counted_classes.add(cls)


def _with_subclasses(cls: type) -> list[type]:
    found = [cls]
    subclasses: list[type] = type.__subclasses__(cls)
    for sub in subclasses:
        found.extend(_with_subclasses(sub))
    return found


def _counting(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    children = {kind: SQL_STATEMENTS.labels(kind) for kind in (*_STATEMENTS, "other")}

    @functools.wraps(method)
    async def counted(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        first = query.lstrip()[:6].lower()
        children[first if first in _STATEMENTS else "other"].inc()
        return await method(self, query, *args, **kwargs)

    return counted


def sample_pool() -> None:
    """Set the pool gauges from the default connection, if one is open."""
    try:
        client = connections.get("default")
    except Exception:
        return
    pool = getattr(client, "_pool", None)
    if pool is not None and hasattr(pool, "get_idle_size"):  # asyncpg
        size, idle = pool.get_size(), pool.get_idle_size()
        POOL_CONNECTIONS.labels("in_use").set(size - idle)
        POOL_CONNECTIONS.labels("idle").set(idle)
        POOL_MAX.set(pool.get_max_size())
        return
    lock = getattr(client, "_lock", None)
    if isinstance(lock, asyncio.Lock):  # SQLite: one connection behind a lock
        in_use = 1 if lock.locked() else 0
        POOL_CONNECTIONS.labels("in_use").set(in_use)
        POOL_CONNECTIONS.labels("idle").set(1 - in_use)
        POOL_MAX.set(1)


async def sample_pool_forever(interval_seconds: float = 5.0) -> None:
    """With several processes the one answering a scrape cannot see the others' pools: each
    writes its own now and then."""
    while True:
        sample_pool()
        await asyncio.sleep(interval_seconds)


def process_exits() -> None:
    """This process's live gauges leave the sum (multiprocess mode)."""
    if MULTIPROCESS:
        with contextlib.suppress(Exception):
            multiprocess.mark_process_dead(os.getpid())


def exposition() -> bytes:
    sample_pool()
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()


async def metrics(_request: Request) -> Response:
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts HTTP requests and their latency per path, and open WebSocket connections."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope["path"] if scope["path"] in MEASURED_PATHS else "other"
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            HTTP_LATENCY.labels(path).observe(time.perf_counter() - started)
            HTTP_REQUESTS.labels(path, str(status)).inc()

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        WEBSOCKETS.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            WEBSOCKETS.dec()
