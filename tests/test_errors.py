"""Every error carries an ErrorCode; unexpected faults leave nothing but a request id."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig

from core.errors import ErrorCode, NotFound
from models import User
from schema.context import Context
from schema.errors import ErrorCodes
from schema.scalars import SCALARS
from tests.support import (
    PASSWORD,
    codes,
    data_of,
    error_at,
    gql,
    make_merchant,
    make_user,
    new_phone,
    token_for,
)

CATEGORIES = "{ categories { code } }"
UNKNOWN_FIELD = "{ categories { code } noSuchField }"
UNFINISHED = "{ categories { code "
MERCHANTS_FIRST = "query Merchants($first: Int) { merchants(first: $first) { totalCount } }"
UNUSED_VARIABLE = "query Unused($first: Int) { categories { code } }"
UNDEFINED_VARIABLE = "query Undefined { merchants(first: $first) { totalCount } }"
WRONG_VARIABLE_POSITION = (
    "query Position($first: String) { merchants(first: $first) { totalCount } }"
)
LOGIN = """
mutation Login($phone: String!, $password: String!) {
  login(phone: $phone, password: $password) { accessToken }
}
"""
LOGOUT_LITERAL = 'mutation { logout(refreshToken: "no-such-token") }'
REGISTER_CONSUMER_LITERAL = """
mutation {
  registerConsumer(input: {phone: "%s", password: "%s", displayName: "GET"}) { accessToken }
}
"""
WALLET = "{ wallet { totalBalance } }"
ME = "{ me { id } }"
BOOM = "{ boom }"
NULL_IN_NON_NULL = "{ nothing }"
ODD_CODE = "{ oddCode }"
DOMAIN_ERROR = "{ missing }"
PARTIAL = "{ fine boom }"


@strawberry.type
class FaultyQuery:
    @strawberry.field
    def fine(self) -> str:
        return "fine"

    @strawberry.field
    def boom(self) -> str:
        raise RuntimeError("secret SQL select * from users where password_hash = 'x'")

    @strawberry.field
    def nothing(self) -> str:
        return None  # type: ignore[return-value]

    @strawberry.field
    def odd_code(self) -> str:
        raise GraphQLError("from a library", extensions={"code": "SOMETHING_ELSE"})

    @strawberry.field
    def missing(self) -> str:
        raise NotFound("No such card")


faulty_schema = strawberry.Schema(
    query=FaultyQuery,
    config=StrawberryConfig(scalar_map=SCALARS),  # type: ignore[arg-type]
    extensions=[ErrorCodes],
)


async def _faulty(query: str) -> tuple[Any, Context]:
    context = Context()
    result = await faulty_schema.execute(query, context_value=context)
    return result, context


def _response_json(result: Any) -> str:
    return json.dumps(
        {"data": result.data, "errors": [error.formatted for error in result.errors or []]}
    )


# Parse, validation and variables on the real endpoint


async def test_a_parse_error_is_graphql_parse_failed(client):
    result = await gql(client, UNFINISHED)

    assert result["data"] is None
    assert codes(result) == ["GRAPHQL_PARSE_FAILED"]


async def test_an_unknown_field_is_graphql_validation_failed(client):
    result = await gql(client, UNKNOWN_FIELD)

    assert result.get("data") is None
    assert codes(result) == ["GRAPHQL_VALIDATION_FAILED"]


@pytest.mark.parametrize(
    "query", [UNUSED_VARIABLE, UNDEFINED_VARIABLE, WRONG_VARIABLE_POSITION], ids=str
)
async def test_a_document_with_misused_variables_is_graphql_validation_failed(client, query):
    result = await gql(client, query, {"first": 1})

    assert codes(result) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_a_variable_of_the_wrong_type_is_bad_user_input(client):
    result = await gql(client, MERCHANTS_FIRST, {"first": "ten"})

    assert result["data"] is None
    assert codes(result) == ["BAD_USER_INPUT"]
    assert "$first" in result["errors"][0]["message"]


@pytest.mark.parametrize(
    "variables",
    [{"phone": None, "password": PASSWORD}, {"password": PASSWORD}, {"phone": 13912345678}],
    ids=["null", "missing", "number"],
)
async def test_a_missing_or_null_required_variable_is_bad_user_input(client, variables):
    result = await gql(client, LOGIN, variables)

    assert result["data"] is None
    assert "BAD_USER_INPUT" in codes(result)
    assert set(codes(result)) == {"BAD_USER_INPUT"}


async def test_every_error_of_the_endpoint_has_a_known_code(client):
    merchant = await make_merchant(stores=1)
    requests: list[tuple[str, dict[str, Any] | None, str | None]] = [
        (UNFINISHED, None, None),
        (UNKNOWN_FIELD, None, None),
        (UNUSED_VARIABLE, {"first": 1}, None),
        (MERCHANTS_FIRST, {"first": "ten"}, None),
        (MERCHANTS_FIRST, {"first": 1000}, None),
        (LOGIN, {"phone": None}, None),
        (LOGIN, {"phone": new_phone(), "password": "wrong-pass-1"}, None),
        (WALLET, None, None),
        (WALLET, None, merchant.token),
        (ME, None, "not-a-token"),
        ('{ merchant(id: "not-a-global-id") { id } }', None, None),
        ("{ __typename @skip }", None, None),
        ("query A { me { id } } query A { me { id } }", None, None),
    ]
    seen: list[str] = []

    for query, variables, token in requests:
        result = await gql(client, query, variables, token)
        seen.extend(codes(result))
        assert result.get("errors"), query

    assert set(seen) <= {code.value for code in ErrorCode}
    assert {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"} <= set(seen)
    assert {"UNAUTHENTICATED", "FORBIDDEN"} <= set(seen)


# Unexpected faults


async def test_an_unexpected_exception_is_an_internal_error_with_a_request_id(caplog):
    caplog.set_level(logging.ERROR, logger="anfu.errors")

    result, context = await _faulty(BOOM)

    assert result.data is None
    [error] = result.errors
    assert error.message == "Internal server error"
    assert error.extensions == {"code": "INTERNAL_SERVER_ERROR", "requestId": context.request_id}
    assert error.path == ["boom"]
    body = _response_json(result).lower()
    for leak in ("secret", "select", "password_hash", "runtimeerror", "traceback", "users"):
        assert leak not in body


async def test_an_unexpected_exception_is_logged_with_the_request_id(caplog):
    caplog.set_level(logging.ERROR, logger="anfu.errors")

    _result, context = await _faulty(BOOM)

    [record] = [r for r in caplog.records if r.name == "anfu.errors"]
    assert context.request_id in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)
    assert "secret SQL" in str(record.exc_info[1])


async def test_the_rest_of_a_partly_failing_query_still_answers(caplog):
    caplog.set_level(logging.ERROR, logger="anfu.errors")

    result, _context = await _faulty(PARTIAL)

    assert result.data is None  # boom is non-null, so the whole Query is null
    assert [error.extensions["code"] for error in result.errors] == ["INTERNAL_SERVER_ERROR"]


async def test_a_null_in_a_non_null_field_is_an_internal_error(caplog):
    caplog.set_level(logging.ERROR, logger="anfu.errors")

    result, context = await _faulty(NULL_IN_NON_NULL)

    [error] = result.errors
    assert error.extensions == {"code": "INTERNAL_SERVER_ERROR", "requestId": context.request_id}
    assert any(context.request_id in r.getMessage() for r in caplog.records)


async def test_a_code_outside_the_enum_is_not_passed_on(caplog):
    caplog.set_level(logging.ERROR, logger="anfu.errors")

    result, _context = await _faulty(ODD_CODE)

    assert [error.extensions["code"] for error in result.errors] == ["INTERNAL_SERVER_ERROR"]


async def test_a_domain_error_keeps_its_message_and_code():
    result, _context = await _faulty(DOMAIN_ERROR)

    [error] = result.errors
    assert error.message == "No such card"
    assert error.extensions == {"code": "NOT_FOUND"}
    assert error.path == ["missing"]


# GraphQL over HTTP


async def test_a_query_over_get_works(client):
    response = await client.get("/graphql", params={"query": CATEGORIES})

    assert response.status_code == 200
    assert {"code": "LAUNDRY"} in response.json()["data"]["categories"]


async def test_a_mutation_over_get_is_refused_and_not_run(client):
    phone = new_phone()

    response = await client.get(
        "/graphql", params={"query": REGISTER_CONSUMER_LITERAL % (phone, PASSWORD)}
    )

    assert response.status_code in {400, 405}
    assert not await User.filter(phone=phone).exists()


async def test_the_same_mutation_over_post_runs(client):
    phone = new_phone()

    result = await gql(client, REGISTER_CONSUMER_LITERAL % (phone, PASSWORD))

    assert data_of(result)["registerConsumer"]["accessToken"]
    assert await User.filter(phone=phone).exists()


# Roles


async def test_an_anonymous_wallet_is_unauthenticated(client):
    result = await gql(client, WALLET)

    assert result["data"] is None
    assert error_at(result, "wallet") == "UNAUTHENTICATED"


async def test_a_merchant_asking_for_a_wallet_is_forbidden(client):
    world = await make_merchant(stores=1)

    result = await gql(client, WALLET, token=world.token)

    assert result["data"] is None
    assert error_at(result, "wallet") == "FORBIDDEN"


async def test_a_consumer_gets_a_wallet(client):
    consumer = await make_user()

    result = await gql(client, WALLET, token=token_for(consumer))

    assert data_of(result)["wallet"]["totalBalance"] == "0.00"
