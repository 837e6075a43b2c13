"""graphql-cop's checks (github.com/dolevf/graphql-cop, lib/tests/), each sent the way it sends
it to a production-mode server, each refused. graphql-cop also reports that queries run over
GET: they do, as GraphQL over HTTP and Apollo's persisted queries want; mutations never do."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from models.enums import Role
from server import create_app
from settings import Settings
from tests.support import codes, make_user, token_for

ALIAS_OVERLOADING = "query { " + "".join(f"alias{i}:__typename \n" for i in range(101)) + " }"
BATCH = [{"query": "query { __typename }"} for _ in range(10)]
DIRECTIVE_OVERLOADING = "query { __typename @aa@aa@aa@aa@aa@aa@aa@aa@aa@aa }"
DIRECTIVE_OVERLOADING_60 = "query { __typename " + "@aa" * 60 + " }"
FIELD_DUPLICATION = "query { " + "__typename \n" * 500 + "}"
CIRCULAR_INTROSPECTION = (
    "query { __schema { types { fields { type { fields { type { fields { type { fields "
    "{ type { name } } } } } } } } } } }"
)
CIRCULAR_FRAGMENT = """
query { __schema { ...A } }
fragment A on __Schema { __typename ...B }
fragment B on __Schema { ...A }
"""
GET_MUTATION = "mutation {__typename}"
CSRF_QUERY = "query {__typename}"
INTROSPECTION = "query { __schema { types { name } } }"
FIELD_SUGGESTION = "query { merchantz { totalCount } }"
UNHANDLED_ERROR = "qwerty cop { abc }"


@pytest.fixture(scope="module")
async def production(database: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    # model_copy keeps the suite's signing key, which a real production start refuses.
    app = create_app(settings.model_copy(update={"anfu_env": "production"}), manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://anfu.test") as http:
        yield http


@pytest.fixture(scope="module")
async def regulator_token(database: str) -> str:
    return token_for(await make_user(Role.REGULATOR))


async def graph_query(
    client: httpx.AsyncClient, query: str, token: str | None = None
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def limits_of(result: dict[str, Any]) -> list[str]:
    return [error["extensions"].get("limit") for error in result.get("errors") or []]


async def test_alias_overloading_is_refused(production):
    result = await graph_query(production, ALIAS_OVERLOADING)

    assert result["data"] is None
    assert codes(result) == ["QUERY_TOO_COMPLEX"]
    assert limits_of(result) == ["max_aliases"]


async def test_batching_is_refused(production):
    response = await production.post("/graphql", json=BATCH)

    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_directive_overloading_is_refused(production):
    overloaded = await graph_query(production, DIRECTIVE_OVERLOADING_60)
    # graphql-cop's own ten: an invalid document, never run (it counts the errors it gets)
    ten = await graph_query(production, DIRECTIVE_OVERLOADING)

    assert codes(overloaded) == ["QUERY_TOO_COMPLEX"]
    assert limits_of(overloaded) == ["max_directives"]
    assert ten["data"] is None
    assert set(codes(ten)) == {"GRAPHQL_VALIDATION_FAILED"}


async def test_field_duplication_is_refused(production):
    result = await graph_query(production, FIELD_DUPLICATION)

    assert result["data"] is None
    assert limits_of(result) == ["max_repeats"]


async def test_a_circular_introspection_query_is_refused_even_to_regulators(
    production, regulator_token
):
    anonymous = await graph_query(production, CIRCULAR_INTROSPECTION)
    regulator = await graph_query(production, CIRCULAR_INTROSPECTION, regulator_token)

    assert codes(anonymous) == ["FORBIDDEN"]
    assert regulator["data"] is None
    assert limits_of(regulator) == ["introspection_lists"]


async def test_a_circular_fragment_is_refused(production, regulator_token):
    result = await graph_query(production, CIRCULAR_FRAGMENT, regulator_token)

    assert result["data"] is None
    assert "GRAPHQL_VALIDATION_FAILED" in codes(result)


async def test_a_mutation_over_get_is_refused(production):
    response = await production.get("/graphql", params={"query": GET_MUTATION})

    assert response.status_code == 405
    assert "data" not in response.json()


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (None, None),  # graphql-cop: the query in the URL of a POST, no body
        (json.dumps({"query": CSRF_QUERY}), "text/plain"),  # a form a page may post anywhere
        (f"query={CSRF_QUERY}", "application/x-www-form-urlencoded"),
        (
            f"--b\r\nContent-Disposition: form-data; name=query\r\n\r\n{CSRF_QUERY}\r\n--b--",
            "multipart/form-data; boundary=b",
        ),
    ],
    ids=["url-params", "text-plain", "urlencoded", "multipart"],
)
async def test_a_post_a_browser_may_send_cross_site_runs_nothing(production, content, content_type):
    headers = {"content-type": content_type} if content_type else {}

    response = await production.post(
        "/graphql", params={"query": CSRF_QUERY}, content=content, headers=headers
    )

    assert response.status_code == 415
    assert "data" not in response.json()


async def test_introspection_is_refused(production):
    result = await graph_query(production, INTROSPECTION)

    assert codes(result) == ["FORBIDDEN"]


async def test_field_suggestions_are_off(production):
    result = await graph_query(production, FIELD_SUGGESTION)

    assert codes(result) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "Did you mean" not in result["errors"][0]["message"]


async def test_no_graphql_ide_is_served(production):
    response = await production.get("/graphql", headers={"accept": "text/html"})

    assert response.status_code == 404
    assert "graphiql" not in response.text.lower()


async def test_no_trace_comes_back(production):
    result = await graph_query(production, "query { __typename }")

    assert result == {"data": {"__typename": "Query"}}


async def test_an_unhandled_error_shows_no_exception(production):
    result = await graph_query(production, UNHANDLED_ERROR)

    [error] = result["errors"]
    assert error["extensions"] == {"code": "GRAPHQL_PARSE_FAILED"}
