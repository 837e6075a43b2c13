"""Introspection and suggestions (schema/introspection.py): open in development; in production
introspection only for regulators (FORBIDDEN otherwise) and no "Did you mean" of any kind."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query

from models.enums import Role
from server import create_app
from settings import Settings
from tests.support import codes, data_of, gql, make_merchant, make_user, token_for

INTROSPECTION = get_introspection_query(descriptions=True)
ONE_TYPE = '{ __type(name: "Merchant") { name fields { name } } }'
IN_A_FRAGMENT = "{ ...Schema } fragment Schema on Query { __schema { queryType { name } } }"
TYPENAME = "{ __typename merchants(first: 1) { __typename } }"

# One document (and variables) for each way graphql-core suggests a name.
SUGGESTING: dict[str, tuple[str, dict[str, Any] | None]] = {
    "field": ("{ merchantz(first: 1) { totalCount } }", None),
    "argument": ("{ merchants(frist: 1) { totalCount } }", None),
    "directive argument": ("{ __typename @include(iff: true) }", None),
    "variable type": (
        "query Q($filter: MerchantFiltr) { merchants(filter: $filter) { totalCount } }",
        None,
    ),
    "fragment type": ("{ ...F } fragment F on Querry { __typename }", None),
    "enum value": ("{ merchants(filter: {status: ACTIV}) { totalCount } }", None),
    "enum value in variables": (
        "query Q($status: MerchantStatus) { merchants(filter: {status: $status}) { totalCount } }",
        {"status": "ACTIV"},
    ),
    "input field": ('{ merchants(filter: {serch: "x"}) { totalCount } }', None),
    "input field in variables": (
        "query Q($filter: MerchantFilter) { merchants(filter: $filter) { totalCount } }",
        {"filter": {"serch": "x"}},
    ),
}


@pytest.fixture(scope="module")
async def production(database: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    # model_copy keeps the suite's signing key, which a real production start refuses.
    app = create_app(settings.model_copy(update={"anfu_env": "production"}), manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://anfu.test") as http:
        yield http


@pytest.fixture(scope="module")
async def tokens(database: str) -> dict[str, str | None]:
    merchant = await make_merchant(stores=1)
    return {
        "anonymous": None,
        "consumer": token_for(await make_user(Role.CONSUMER)),
        "merchant": merchant.token,
        "regulator": token_for(await make_user(Role.REGULATOR)),
    }


def suggestions(result: dict[str, Any]) -> list[str]:
    return [e["message"] for e in result.get("errors") or [] if "Did you mean" in e["message"]]


# Introspection


async def test_introspection_is_open_in_development(client):
    result = await gql(client, INTROSPECTION)

    assert data_of(result)["__schema"]["queryType"]["name"] == "Query"


@pytest.mark.parametrize("role", ["anonymous", "consumer", "merchant"])
@pytest.mark.parametrize(
    "query", [INTROSPECTION, ONE_TYPE, IN_A_FRAGMENT], ids=["schema", "one-type", "fragment"]
)
async def test_introspection_in_production_is_forbidden_to_all_but_regulators(
    production, tokens, role, query
):
    result = await gql(production, query, token=tokens[role])

    assert result["data"] is None
    assert codes(result) == ["FORBIDDEN"]
    assert result["errors"][0]["message"] == "Introspection is open to regulators only"


async def test_regulators_introspect_in_production(production, tokens):
    schema = await gql(production, INTROSPECTION, token=tokens["regulator"])
    one_type = await gql(production, ONE_TYPE, token=tokens["regulator"])

    type_names = {t["name"] for t in data_of(schema)["__schema"]["types"]}
    assert {"Merchant", "Card", "ErrorCode"} <= type_names
    assert {"name": "creditRating"} in data_of(one_type)["__type"]["fields"]


async def test_typename_is_not_introspection(production):
    result = await gql(production, TYPENAME)

    assert data_of(result)["__typename"] == "Query"


async def test_refused_introspection_is_403_in_graphql_response_json(production):
    response = await production.post(
        "/graphql",
        json={"query": ONE_TYPE},
        headers={"accept": "application/graphql-response+json"},
    )

    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# Suggestions


@pytest.mark.parametrize("kind", list(SUGGESTING))
async def test_development_suggests_names(client, kind):
    query, variables = SUGGESTING[kind]

    result = await gql(client, query, variables)

    assert result["data"] is None
    assert suggestions(result), result["errors"]


@pytest.mark.parametrize("kind", list(SUGGESTING))
@pytest.mark.parametrize("role", ["anonymous", "regulator"])
async def test_production_suggests_nothing_to_anyone(production, tokens, kind, role):
    query, variables = SUGGESTING[kind]

    result = await gql(production, query, variables, token=tokens[role])

    assert result["data"] is None
    assert result["errors"], kind
    assert set(codes(result)) <= {"GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"}
    assert suggestions(result) == []
