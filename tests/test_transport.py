"""GraphQL over HTTP (transport/): media types and status codes, and every failure of the HTTP
request itself answered with a GraphQL error body and a code, never plain text or a 500."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest

from models import User
from server import create_app
from settings import Settings
from tests.live_server import live_server
from tests.support import PASSWORD, new_phone
from transport.access_log import RedactQueryStrings, redact
from transport.responses import response_media_type

GRAPHQL_RESPONSE = "application/graphql-response+json"
TYPENAME = "{ __typename }"
UNFINISHED = "{ categories { code "
UNKNOWN_FIELD = "{ noSuchField }"
UNUSED_VARIABLE = "query Unused($id: ID!) { __typename }"
MERCHANTS_FIRST = "query Merchants($first: Int) { merchants(first: $first) { totalCount } }"
FAILED_LOGIN = """
mutation Login($phone: String!, $password: String!) {
  login(phone: $phone, password: $password) { accessToken }
}
"""
REGISTER = """
mutation Register($phone: String!, $password: String!) {
  registerConsumer(input: {phone: $phone, password: $password, displayName: "CSRF"}) {
    accessToken
  }
}
"""
TOOLS = "https://tools.example.gov.cn"
LOGIN_LITERAL = """
mutation { login(phone: "%s", password: "%s") { accessToken } }
"""


async def post(
    client: httpx.AsyncClient, body: bytes | str, content_type: str | None, accept: str = "*/*"
) -> httpx.Response:
    headers = {"accept": accept}
    if content_type is not None:
        headers["content-type"] = content_type
    return await client.post("/graphql", content=body, headers=headers)


def the_error(response: httpx.Response) -> dict[str, Any]:
    """The one error of a GraphQL error body with no data entry."""
    body = response.json()
    assert set(body) == {"errors"}, body
    [error] = body["errors"]
    return error


async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(settings, manage_database=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://anfu.test") as http:
        yield http


@pytest.fixture
async def production(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    # model_copy keeps the suite's signing key, which a real production start refuses.
    async for http in app_client(settings.model_copy(update={"anfu_env": "production"})):
        yield http


@pytest.fixture
async def with_tools_origin(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in app_client(settings.model_copy(update={"cors_origins": (TOOLS,)})):
        yield http


# Media types and status codes


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),  # Apollo Client 4
        (f"application/json, {GRAPHQL_RESPONSE};q=0.5", "application/json"),
        (f"{GRAPHQL_RESPONSE};q=0, */*", "application/json"),
        ("text/html", "application/json"),
    ],
)
def test_the_response_is_graphql_response_json_when_the_client_prefers_it(accept, expected):
    assert response_media_type(accept) == expected


async def test_a_query_answers_in_the_media_type_asked_for(client):
    as_json = await post(client, json.dumps({"query": TYPENAME}), "application/json")
    as_graphql = await post(
        client, json.dumps({"query": TYPENAME}), "application/json", GRAPHQL_RESPONSE
    )

    for response, media_type in ((as_json, "application/json"), (as_graphql, GRAPHQL_RESPONSE)):
        assert response.status_code == 200
        assert response.headers["content-type"] == f"{media_type}; charset=utf-8"
        assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        (UNFINISHED, None, "GRAPHQL_PARSE_FAILED"),
        (UNKNOWN_FIELD, None, "GRAPHQL_VALIDATION_FAILED"),
        (UNUSED_VARIABLE, {"id": None}, "GRAPHQL_VALIDATION_FAILED"),
        (MERCHANTS_FIRST, {"first": "ten"}, "BAD_USER_INPUT"),
        ("{ " + "__typename " * 100 + "}", None, "QUERY_TOO_COMPLEX"),
    ],
    ids=["parse", "validation", "unused-variable", "variable-coercion", "limit"],
)
async def test_a_request_refused_before_execution_is_400_without_data_in_graphql_response_json(
    client, query, variables, code
):
    body = json.dumps({"query": query, "variables": variables})

    strict = await post(client, body, "application/json", GRAPHQL_RESPONSE)
    legacy = await post(client, body, "application/json", "application/json")

    assert strict.status_code == 400
    assert strict.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert "data" not in strict.json()
    assert [e["extensions"]["code"] for e in strict.json()["errors"]] == [code]
    # application/json keeps 200 for every well-formed request (and data: null, as before)
    assert legacy.status_code == 200
    assert legacy.json()["data"] is None
    assert [e["extensions"]["code"] for e in legacy.json()["errors"]] == [code]


async def test_a_bad_token_is_401_and_a_field_error_keeps_its_data_and_200(client):
    bad_token = await client.post(
        "/graphql",
        json={"query": TYPENAME},
        headers={"accept": GRAPHQL_RESPONSE, "authorization": "Bearer not-a-token"},
    )
    field_error = await client.post(
        "/graphql",
        json={"query": "{ wallet { totalBalance } }"},
        headers={"accept": GRAPHQL_RESPONSE},
    )

    assert bad_token.status_code == 401
    assert the_error(bad_token)["extensions"]["code"] == "UNAUTHENTICATED"
    # A field refused at its path is an execution error: the operation ran
    assert field_error.status_code == 200
    assert field_error.json()["data"] is None
    assert field_error.json()["errors"][0]["path"] == ["wallet"]


# Transport failures: a GraphQL error body with a code, never plain text, never 500


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        (b"", "application/json", 400, "empty"),
        (b"   ", "application/json", 400, "empty"),
        (b'{"query": ', "application/json", 400, "not valid JSON"),
        (b"\xff\xfe{\x00}", "application/json", 400, "not UTF-8"),
        (b'{"query": "{ __typename }", "x": "\xe9"}', "application/json", 400, "not UTF-8"),
        (b"[" * 10_000 + b"]" * 10_000, "application/json", 400, "nested too deeply"),
        (b'"{ __typename }"', "application/json", 400, "JSON object"),
        (b"42", "application/json", 400, "JSON object"),
        (b"null", "application/json", 400, "JSON object"),
        (b'[{"query": "{ __typename }"}]', "application/json", 400, "Batching is off"),
        (b'{"notquery": "{ __typename }"}', "application/json", 400, "No GraphQL query"),
        (b'{"query": 5}', "application/json", 400, "`query` must be a string"),
        (b'{"query": "{ __typename }", "variables": [1]}', "application/json", 400, "object"),
        (b'{"query": "{ __typename }", "operationName": 5}', "application/json", 400, "string"),
        (b'{"query": "{ __typename }"}', "text/plain", 415, "Content-Type: application/json"),
        (b'{"query": "{ __typename }"}', None, 415, "Content-Type: application/json"),
        (b"query=%7B__typename%7D", "application/x-www-form-urlencoded", 415, "application/json"),
    ],
    ids=[
        "empty",
        "blank",
        "malformed",
        "utf-16",
        "latin-1",
        "nested-10000",
        "bare-string",
        "bare-number",
        "null",
        "batch",
        "no-query",
        "query-number",
        "variables-array",
        "operation-name-number",
        "text-plain",
        "no-content-type",
        "form",
    ],
)
@pytest.mark.parametrize("accept", ["*/*", GRAPHQL_RESPONSE])
async def test_a_request_that_is_not_one_graphql_operation_gets_a_graphql_error_body(
    client, body, content_type, status, says, accept
):
    response = await post(client, body, content_type, accept)

    assert response.status_code == status
    expected = GRAPHQL_RESPONSE if accept == GRAPHQL_RESPONSE else "application/json"
    assert response.headers["content-type"] == f"{expected}; charset=utf-8"
    error = the_error(response)
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert says in error["message"]


async def test_get_runs_queries(client):
    response = await client.get(
        "/graphql",
        params={"query": MERCHANTS_FIRST, "variables": json.dumps({"first": 1})},
        headers={"accept": "application/json"},
    )

    assert response.status_code == 200
    assert response.json()["data"]["merchants"]["totalCount"] >= 0


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
async def test_get_never_runs_a_mutation_405_with_allow(client, accept):
    phone = new_phone()

    response = await client.get(
        "/graphql",
        params={"query": REGISTER, "variables": json.dumps({"phone": phone, "password": PASSWORD})},
        headers={"accept": accept},
    )

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.headers["content-type"].startswith(accept)
    error = the_error(response)
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "mutation" in error["message"] and "POST" in error["message"]
    assert not await User.filter(phone=phone).exists()


async def test_get_with_variables_that_are_not_json_is_a_graphql_error(client):
    response = await client.get(
        "/graphql", params={"query": MERCHANTS_FIRST, "variables": "{first: 1"}
    )

    assert response.status_code == 400
    assert the_error(response)["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_other_methods_are_405_with_allow(client, method):
    response = await client.request(method, "/graphql", json={"query": TYPENAME})

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert the_error(response)["extensions"]["code"] == "BAD_REQUEST"


async def test_graphiql_is_not_served_in_production_and_says_so_as_graphql(production):
    response = await production.get("/graphql", headers={"accept": "text/html"})

    assert response.status_code == 404
    assert the_error(response)["extensions"]["code"] == "BAD_REQUEST"


# Operations hygiene: metrics, CORS, the access log


async def test_metrics_are_off_in_production_and_on_in_development(client, production, settings):
    development = await client.get("/metrics")
    in_production = await production.get("/metrics")
    async for switched_on in app_client(
        settings.model_copy(update={"anfu_env": "production", "metrics_enabled": True})
    ):
        on_demand = await switched_on.get("/metrics")

    assert development.status_code == 200
    assert "anfu_http_requests_total" in development.text
    assert in_production.status_code == 404
    assert on_demand.status_code == 200
    assert Settings(ANFU_METRICS=False).serves_metrics is False


async def test_cors_answers_only_configured_origins(client, with_tools_origin):
    preflight = {
        "origin": TOOLS,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
    }

    allowed = await with_tools_origin.options("/graphql", headers=preflight)
    simple = await with_tools_origin.post(
        "/graphql", json={"query": TYPENAME}, headers={"origin": TOOLS}
    )
    stranger = await with_tools_origin.post(
        "/graphql", json={"query": TYPENAME}, headers={"origin": "https://evil.example"}
    )
    by_default = await client.post("/graphql", json={"query": TYPENAME}, headers={"origin": TOOLS})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == TOOLS
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert simple.headers["access-control-allow-origin"] == TOOLS
    assert "access-control-allow-origin" not in stranger.headers
    assert "access-control-allow-origin" not in by_default.headers


def test_cors_origins_are_a_json_list_of_origins(monkeypatch):
    monkeypatch.setenv("ANFU_CORS_ORIGINS", f'["{TOOLS}", "http://127.0.0.1:8080"]')
    assert Settings().cors_origins == (TOOLS, "http://127.0.0.1:8080")

    monkeypatch.setenv("ANFU_CORS_ORIGINS", '["tools.example.gov.cn/path"]')
    with pytest.raises(ValueError, match="scheme://host"):
        Settings()

    monkeypatch.delenv("ANFU_CORS_ORIGINS")
    assert Settings().cors_origins == ()


def test_the_access_log_keeps_parameter_names_and_drops_their_values():
    phone, password = "13912345678", "hunter2-secret"
    query = (
        "/graphql?query=mutation%7Blogin(phone%3A%22"
        f"{phone}%22%2Cpassword%3A%22{password}%22)%7BaccessToken%7D%7D&operationName=Login"
    )
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", query, "1.1", 405),
        None,
    )

    RedactQueryStrings().filter(record)

    line = record.getMessage()
    assert phone not in line and password not in line
    assert line == '127.0.0.1:5000 - "GET /graphql?query=…&operationName=… HTTP/1.1" 405'
    assert redact("/healthz?") == "/healthz?"


@pytest.mark.once
async def test_a_login_sent_as_get_leaves_no_phone_or_password_in_a_real_access_log(database):
    phone, password = new_phone(), "sesame-Open-42"
    async with (
        live_server(database, access_log=True) as server,
        httpx.AsyncClient(timeout=10) as http,
    ):
        refused = await http.get(server.url, params={"query": LOGIN_LITERAL % (phone, password)})
        readable = await http.get(server.url, params={"query": TYPENAME})
    log = server.log()

    assert refused.status_code == 405
    assert readable.status_code == 200
    assert '"GET /graphql?query=… HTTP/1.1" 405' in log
    assert '"GET /graphql?query=… HTTP/1.1" 200' in log
    assert phone not in log and password not in log


async def test_a_client_that_leaves_before_its_body_is_no_fault(database, settings, caplog):
    """wrk and browsers drop connections mid-request: nothing is answered, nothing is logged
    as an error, no 500 is counted."""
    from prometheus_client import REGISTRY

    app = create_app(settings, manage_database=False)
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"40")],
        "client": ("127.0.0.1", 50000),
        "server": ("anfu.test", 80),
        "scheme": "http",
    }
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    labels = {"operation": "anonymous", "outcome": "INTERNAL_SERVER_ERROR"}
    before = REGISTRY.get_sample_value("anfu_graphql_requests_total", labels) or 0
    with caplog.at_level(logging.INFO):
        await app(scope, receive, send)
    assert sent == []
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert (REGISTRY.get_sample_value("anfu_graphql_requests_total", labels) or 0) == before
