"""Operations: /metrics after real GraphQL requests, JSON request logs without secrets, and a
graceful shutdown that lets a request in flight finish (issue 11, item 8)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from cli import app as cli_app
from services.persisted import document_hash
from tests.live_server import live_server
from tests.support import PASSWORD, codes, data_of, gql, new_phone
from transport import logs, metrics

REGISTER = """
mutation Register($input: RegisterConsumerInput!) {
  registerConsumer(input: $input) { accessToken }
}"""
LOGIN = """
mutation Login($phone: String!, $password: String!) {
  login(phone: $phone, password: $password) { accessToken }
}"""
ME = "query Me { me { displayName } }"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of a Prometheus exposition."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: dict[Any, float], name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


def total(scraped: dict[Any, float], name: str) -> float:
    return sum(v for (sample, _labels), v in scraped.items() if sample == name)


async def scrape(client: httpx.AsyncClient) -> dict[Any, float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return samples(response.text)


async def test_metrics_count_operations_outcomes_error_codes_sql_and_cache_reads(client):
    before = await scrape(client)

    ok = await gql(client, "query CategoryCodes { categories { code } }")
    refused = await gql(client, LOGIN, {"phone": new_phone(), "password": "wrong-password-1"})
    invalid = await gql(client, "query Broken { noSuchField }")
    # An APQ document registered, then asked for by its hash alone: one miss-free hit.
    document = "query PersistedCodes { categories { code } }"
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": document_hash(document)}}
    await client.post("/graphql", json={"query": document, "extensions": extensions})
    by_hash = await client.post("/graphql", json={"extensions": extensions})
    unknown = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    await client.post("/graphql", json={"extensions": unknown})

    after = await scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    data_of(ok)
    assert codes(refused) == ["UNAUTHENTICATED"]
    assert codes(invalid) == ["GRAPHQL_VALIDATION_FAILED"]
    assert by_hash.json()["data"]["categories"]
    requests = "anfu_graphql_requests_total"
    assert moved(requests, operation="CategoryCodes", outcome="ok") == 1
    assert moved(requests, operation="Login", outcome="UNAUTHENTICATED") == 1
    assert moved(requests, operation="Broken", outcome="GRAPHQL_VALIDATION_FAILED") == 1
    # The name of a hash-only request comes from the stored document.
    assert moved(requests, operation="PersistedCodes", outcome="ok") == 2
    assert moved("anfu_graphql_errors_total", code="UNAUTHENTICATED") >= 1
    assert moved("anfu_graphql_errors_total", code="GRAPHQL_VALIDATION_FAILED") >= 1
    assert moved("anfu_graphql_request_seconds_count", operation="CategoryCodes") == 1
    # The login looked the phone up: at least one SELECT went to the database.
    assert moved("anfu_sql_statements_total", statement="select") >= 1
    assert moved("anfu_cache_reads_total", kind="apq", result="hit") >= 1
    assert moved("anfu_cache_reads_total", kind="apq", result="miss") >= 1
    assert value(after, "anfu_db_pool_max_connections") >= 1
    assert ("anfu_db_pool_connections", (("state", "in_use"),)) in after
    assert moved("anfu_http_requests_total", path="/graphql", status="200") >= 6


def test_operation_names_are_bounded_labels():
    names = metrics.OperationNames(limit=2)
    assert [names.label(n) for n in ("A", "B", "C", "A", None, "x y", "é")] == [
        "A",
        "B",
        "other",
        "A",
        "anonymous",
        "invalid",
        "invalid",
    ]


def test_a_disabled_request_logger_costs_no_formatting(caplog):
    with caplog.at_level("WARNING", logger="anfu.requests"):
        logs.log_request(
            request_id="r", operation="Op", role="ANONYMOUS", seconds=0.1, outcome="ok", status=200
        )
    assert caplog.records == []


def served(database_url: str, *args: str, **environment: str) -> Any:
    """`anfu serve` (not bare uvicorn: its log format, workers and shutdown timeout are what is
    tested) in a subprocess on the session's database, in production mode."""
    settings = {"ANFU_JWT_SECRET": "operations-test-secret-" + "x" * 32, **environment}
    return live_server(database_url, anfu_serve=args, settings=settings)


@pytest.mark.once
async def test_request_logs_are_json_lines_with_who_what_and_how_long_and_no_secrets(database):
    phone, password = new_phone(), "Sesame-Open-4242"
    async with served(database) as server, httpx.AsyncClient(timeout=10) as http:
        registered = await http.post(
            server.url,
            json={
                "query": REGISTER,
                "variables": {
                    "input": {"phone": phone, "password": password, "displayName": "日志"}
                },
            },
        )
        token = registered.json()["data"]["registerConsumer"]["accessToken"]
        me = await http.post(
            server.url, json={"query": ME}, headers={"Authorization": f"Bearer {token}"}
        )
        await http.post(
            server.url,
            json={"query": LOGIN, "variables": {"phone": phone, "password": "nope-nope-1"}},
        )
        await http.get(
            server.url,
            params={
                "query": "query Unused($p: String!) { __typename }",
                "variables": json.dumps({"p": password}),
            },
        )
    log = server.log()

    assert me.json()["data"]["me"]["displayName"] == "日志"
    lines = [line for line in log.splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    requests = {e["operation"]: e for e in entries if e["logger"] == "anfu.requests"}
    assert requests["Register"]["role"] == "ANONYMOUS"
    assert requests["Register"]["outcome"] == "ok"
    assert requests["Me"]["role"] == "CONSUMER"
    assert requests["Login"]["outcome"] == "UNAUTHENTICATED"
    assert requests["Unused"]["outcome"] == "GRAPHQL_VALIDATION_FAILED"
    for entry in requests.values():
        assert len(entry["request_id"]) == 32
        assert isinstance(entry["duration_ms"], int | float) and entry["duration_ms"] >= 0
        assert entry["status"] == 200
    assert any(e["logger"] == "uvicorn.access" for e in entries)
    for secret in (phone, password, token, token.split(".")[-1], "nope-nope-1"):
        assert secret not in log


def test_text_logs_in_development_json_in_production(settings):
    assert not settings.model_copy(update={"anfu_env": "development"}).log_json
    production = settings.model_copy(update={"anfu_env": "production"})
    assert production.log_json
    assert not production.model_copy(update={"log_format": "text"}).log_json
    config = logs.log_config(production)
    assert config["formatters"]["anfu"]["()"] == "transport.logs.JsonFormatter"


@contextlib.asynccontextmanager
async def users_table_locked(database_url: str) -> AsyncIterator[None]:
    """Another client holds the write lock, so a registration waits in the server."""
    if database_url.startswith("sqlite"):
        connection = sqlite3.connect(database_url.removeprefix("sqlite://"), isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    import asyncpg

    url = database_url.replace("asyncpg://", "postgres://", 1).split("?")[0]
    connection = await asyncpg.connect(url)
    transaction = connection.transaction()
    await transaction.start()
    await connection.execute("LOCK TABLE users IN EXCLUSIVE MODE")
    try:
        yield
    finally:
        await transaction.rollback()
        await connection.close()


@pytest.mark.once
async def test_sigterm_lets_a_request_in_flight_finish_and_closes_websockets(database):
    import websockets
    from websockets.typing import Subprotocol

    protocols = [Subprotocol("graphql-transport-ws")]
    async with served(database) as server, httpx.AsyncClient(timeout=20) as http:
        ws_url = server.url.replace("http://", "ws://")
        async with websockets.connect(ws_url, subprotocols=protocols) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            variables = {"input": {"phone": new_phone(), "password": PASSWORD, "displayName": "停"}}
            async with users_table_locked(database):
                pending = asyncio.create_task(
                    http.post(server.url, json={"query": REGISTER, "variables": variables})
                )
                await asyncio.sleep(1.0)
                assert not pending.done()  # waiting for the lock, inside the server
                server.process.send_signal(signal.SIGTERM)
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 5)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
                await asyncio.sleep(1.0)
                assert server.process.returncode is None  # still finishing the request
            response = await asyncio.wait_for(pending, 10)
        assert response.status_code == 200
        assert response.json()["data"]["registerConsumer"]["accessToken"]
        # uvicorn ends by raising the signal again once it has shut down, as signal handlers do.
        assert await asyncio.wait_for(server.process.wait(), 10) in (0, -signal.SIGTERM)
    log = server.log()
    assert '"Shutting down"' in log and '"Application shutdown complete."' in log
    assert "Cancel" not in log  # no request was cut off


def test_several_workers_need_a_shared_cache(monkeypatch, settings):
    on_memory = settings.model_copy(
        update={"database_url": "postgres://db/anfu", "cache_url": "memory://"}
    )
    monkeypatch.setattr("cli.load_settings", lambda: on_memory)
    result = CliRunner().invoke(cli_app, ["serve", "--workers", "2"])
    assert result.exit_code == 2
    assert "shared cache" in result.output


@pytest.mark.skipif(
    not (os.environ.get("TEST_DATABASE_URL") and os.environ.get("TEST_REDIS_URL")),
    reason="two workers need PostgreSQL and Redis (the services pass runs it)",
)
async def test_two_workers_report_one_sum_of_their_requests(database, tmp_path):
    async with (
        served(
            database,
            "--workers",
            "2",
            ANFU_METRICS="1",
            PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
        ) as server,
        httpx.AsyncClient(timeout=10) as http,
    ):
        for _ in range(12):  # new connections: the kernel spreads them over the workers
            async with httpx.AsyncClient(timeout=10) as fresh:
                response = await fresh.post(server.url, json={"query": "query Ping { __typename }"})
                assert response.status_code == 200
        text = (await http.get(server.url.replace("/graphql", "/metrics"))).text
        live_gauges = list(tmp_path.glob("gauge_livesum_*.db"))
    scraped = samples(text)
    assert value(scraped, "anfu_graphql_requests_total", operation="Ping", outcome="ok") == 12
    # Two processes wrote their values there (the sum above is over both); each took its live
    # gauges away when it shut down.
    assert len(live_gauges) == 2
    assert list(tmp_path.glob("gauge_livesum_*.db")) == []
