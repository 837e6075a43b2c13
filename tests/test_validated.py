"""A document found valid is not validated again (schema/validated.py); one found invalid is,
and says so each time."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import strawberry.schema.schema as strawberry_schema

from tests.support import codes, data_of, gql


@pytest.fixture
def validations(monkeypatch) -> Iterator[list[str]]:
    """The document texts graphql-core validates while the test runs (the real validation
    runs; this only notes each call)."""
    seen: list[str] = []
    real = strawberry_schema.validate_document

    def noting(schema: Any, document: Any, rules: Any) -> Any:
        seen.append(document.loc.source.body)
        return real(schema, document, rules)

    monkeypatch.setattr(strawberry_schema, "validate_document", noting)
    yield seen


async def test_a_valid_document_is_validated_once(client, validations):
    query = f"{{ categories {{ code }} }} # {uuid.uuid4().hex}"
    first = data_of(await gql(client, query))
    second = data_of(await gql(client, query))
    assert first == second
    assert validations.count(query) == 1


async def test_an_invalid_document_is_validated_and_refused_every_time(client, validations):
    query = f"{{ categories {{ nope }} }} # {uuid.uuid4().hex}"
    answers = [await gql(client, query) for _ in range(2)]
    assert [codes(answer) for answer in answers] == [["GRAPHQL_VALIDATION_FAILED"]] * 2
    assert answers[0] == answers[1]
    assert validations.count(query) == 2


async def test_variables_are_still_checked_on_a_remembered_document(client):
    query = f"query Q($first: Int) {{ merchants(first: $first) {{ totalCount }} }} # {uuid.uuid4()}"
    data_of(await gql(client, query, {"first": 1}))
    refused = await gql(client, query, {"first": "many"})
    assert codes(refused) == ["BAD_USER_INPUT"]
    too_many = await gql(client, query, {"first": 1000})
    assert codes(too_many) == ["BAD_USER_INPUT"]
