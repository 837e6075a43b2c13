"""Cost before execution: depth, aliases, tokens, directives, repeats, length and an estimated
cost per operation are refused with QUERY_TOO_COMPLEX before anything runs; request bodies
have a size limit and operations a time budget (schema/limits.py, transport/)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry
from graphql import Lexer, Source, Token, TokenKind, get_introspection_query, parse
from hypothesis import given
from hypothesis import strategies as st

from schema import schema
from schema.cost import measure
from schema.limits import HeavyLane, Limits, OperationLimits, count_tokens
from server import create_app
from services.persisted import PROJECT_CLIENTS
from settings import Settings
from tests.support import codes, data_of, gql, make_merchant


def cyclic(levels: int) -> str:
    """The issue's query: products, their stores, the stores' merchant, its products..."""
    inner = "name"
    for _ in range(levels):
        inner = f"cardProducts(first: 100) {{ edges {{ node {{ stores {{ merchant {{ {inner} }} }} }} }} }}"
    return f"query Cyclic($id: ID!) {{ merchant(id: $id) {{ {inner} }} }}"


CYCLIC_FOUR_DEEP = cyclic(4)
THOUSAND_ALIASES = (
    "{ "
    + " ".join(
        f"m{i}: merchants(first: 100) {{ edges {{ node {{ stores {{ totalCount }} "
        f"cardProducts {{ totalCount }} }} }} }}"
        for i in range(1000)
    )
    + " }"
)
SIXTEEN_ALIASES = "{ " + " ".join(f"t{i}: __typename" for i in range(16)) + " }"
FIFTEEN_ALIASES = "{ " + " ".join(f"t{i}: __typename" for i in range(15)) + " }"
ALIASES_IN_A_FRAGMENT_SPREAD_TWICE = """
{ categories { ...Eight } again: categories { ...Eight } }
fragment Eight on Category { n0: name n1: name n2: name n3: name n4: name n5: name n6: name n7: name }
"""
DEPTH_12 = """
{ merchants(first: 1) { edges { node { cardProducts(first: 1) { edges { node {
  stores { merchant { cardProducts(first: 1) { edges { node { name } } } } } } } } } } } }
"""
DEPTH_13 = DEPTH_12.replace("node { name }", "node { merchant { name } }")
DEPTH_13_IN_FRAGMENTS = """
{ merchants(first: 1) { edges { node { ...Products } } } }
fragment Products on Merchant { cardProducts(first: 1) { edges { node { ... on CardProduct {
  stores { merchant { ...Deeper } } } } } } }
fragment Deeper on Merchant { cardProducts(first: 1) { edges { node { merchant { name } } } } }
"""
# 20 × 2 on __typename, 2 on categories, 2 on each of its 3 fields, 1 and 1 on merchants' page
DIRECTIVES_50 = (
    "{ "
    + "__typename @include(if: true) @skip(if: false) " * 20
    + "categories @include(if: true) @skip(if: false) { "
    + " ".join(
        f"{field} @include(if: true) @skip(if: false)"
        for field in ("code", "name", "merchantCount")
    )
    + " } merchants(first: 1) @include(if: true) { totalCount @include(if: true) } }"
)
DIRECTIVES_51 = DIRECTIVES_50.replace(
    "totalCount @include(if: true)", "totalCount @include(if: true) @skip(if: false)"
)
EXPENSIVE_PAGE = """
query Page($first: Int) { merchants(first: $first) { edges { node {
  name cardProducts(first: 100) { edges { node { name price stores { name } } } } } } } }
"""
CHEAP_PAGE = """
{ merchants(first: 2) { edges { node { name cardProducts(first: 2) { edges { node { name } } } } } } }
"""
DEFAULT_PAGE = """
query Page($first: Int = 100) { merchants(first: $first) { edges { node {
  cardProducts(first: 100) { edges { node { name } } } } } } }
"""
THOUSAND_TYPENAMES = "{ " + "__typename " * 1000 + "}"
TWENTY_TYPENAMES = "{ " + "__typename " * 20 + "}"
REPEATED_THROUGH_FRAGMENTS = "{ categories { ...A ...B ...C } }" + "".join(
    f" fragment {name} on Category {{ {'code ' * 8}}}" for name in "ABC"
)
TOO_MANY_TOKENS = "{ " + "__typename " * 2000 + "}"
COMMENT_PADDED = "{ __typename\n" + "#\n" * 2000 + "}"
TOO_LONG = "{ __typename }" + " " * 40_000
# Thirty fragments, each spreading the next twice: 2^30 copies of `categories` once expanded.
DOUBLING = (
    "{ ...F0 }"
    + "".join(f" fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(30))
    + " fragment F30 on Query { categories { code } }"
)
INTROSPECTION = get_introspection_query(descriptions=True)
INTROSPECTION_CYCLE = (
    "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
)
SLOW = "{ merchants(first: 1) { totalCount } }"
LANE_QUERY = "{ slow }"
LANE_MUTATION = "mutation { slow }"


class Overlap:
    """How many resolvers ran at once, at most."""

    def __init__(self) -> None:
        self.running = self.most = 0

    async def visit(self) -> int:
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0.01)
        self.running -= 1
        return 1


def lane_schema(overlap: Overlap, heavy_cost: int) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @strawberry.field
        async def slow(self) -> int:
            return await overlap.visit()

    @strawberry.type
    class Mutation:
        @strawberry.mutation
        async def slow(self) -> int:
            return await overlap.visit()

    limits = Limits(heavy_cost=heavy_cost, heavy_at_once=1)
    lane = HeavyLane(limits.heavy_at_once)
    return strawberry.Schema(
        query=Query, mutation=Mutation, extensions=[lambda: OperationLimits(limits, lane)]
    )


def limit_of(result: dict[str, Any]) -> list[str]:
    return [error["extensions"].get("limit") for error in result.get("errors") or []]


def messages(result: dict[str, Any]) -> str:
    return " ".join(error["message"] for error in result.get("errors") or [])


@pytest.fixture(scope="module")
async def merchant_id(database: str) -> str:
    from schema.ids import encode_id

    world = await make_merchant(stores=2)
    return encode_id("Merchant", world.merchant.id)


async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(settings, manage_database=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://anfu.test") as http:
        yield http


@pytest.fixture
async def impatient(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose operations have a microsecond to run: any database read outlasts it."""
    async for http in app_client(settings.model_copy(update={"request_timeout_seconds": 1e-6})):
        yield http


@pytest.fixture
async def small_bodies(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in app_client(settings.model_copy(update={"max_body_bytes": 4096})):
        yield http


# The attacks


async def test_the_four_deep_cyclic_query_is_refused_before_anything_runs(
    client, merchant_id, count_sql
):
    result = await gql(client, CYCLIC_FOUR_DEEP, {"id": merchant_id})

    assert result["data"] is None
    assert set(codes(result)) == {"QUERY_TOO_COMPLEX"}
    assert {"max_depth", "max_cost"} <= set(limit_of(result))
    assert "over the limit of 5,000 (setting max_cost)" in messages(result)
    assert count_sql.statements == []


async def test_a_thousand_aliases_are_refused(client, count_sql):
    result = await gql(client, THOUSAND_ALIASES)

    assert codes(result) == ["QUERY_TOO_COMPLEX"]
    # So long a document is stopped while its text is read: 32,768 characters at most.
    assert limit_of(result) == ["max_query_length"]
    assert count_sql.statements == []


# Each limit, its figure, and the same figure reached through fragments


async def test_sixteen_aliases_are_one_too_many(client):
    refused = await gql(client, SIXTEEN_ALIASES)
    accepted = await gql(client, FIFTEEN_ALIASES)

    assert codes(refused) == ["QUERY_TOO_COMPLEX"]
    assert refused["errors"][0]["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": "max_aliases",
        "maximum": 15,
        "found": 16,
    }
    assert "number of aliases is 16, over the limit of 15" in messages(refused)
    assert len(data_of(accepted)) == 15


async def test_aliases_count_once_per_spread_of_their_fragment(client):
    result = await gql(client, ALIASES_IN_A_FRAGMENT_SPREAD_TWICE)

    assert limit_of(result) == ["max_aliases"]
    assert result["errors"][0]["extensions"]["found"] == 17


async def test_depth_twelve_runs_and_thirteen_is_refused(client, merchant_id):
    accepted = await gql(client, DEPTH_12)
    refused = await gql(client, DEPTH_13)
    through_fragments = await gql(client, DEPTH_13_IN_FRAGMENTS)

    assert "merchants" in data_of(accepted)
    for result in (refused, through_fragments):
        assert limit_of(result) == ["max_depth"]
        assert "depth is 13, over the limit of 12" in messages(result)


async def test_fifty_directives_run_and_fifty_one_are_refused(client):
    accepted = await gql(client, DIRECTIVES_50)
    refused = await gql(client, DIRECTIVES_51)

    assert data_of(accepted)["__typename"] == "Query"
    assert limit_of(refused) == ["max_directives"]
    assert refused["errors"][0]["extensions"]["found"] == 51


async def test_the_cost_weighs_each_list_by_its_page(client):
    expensive = await gql(client, EXPENSIVE_PAGE, {"first": 100})
    cheap_by_variable = await gql(client, EXPENSIVE_PAGE, {"first": 1})
    cheap = await gql(client, CHEAP_PAGE)
    by_default_value = await gql(client, DEFAULT_PAGE)

    # 100 merchants × 100 products × 20 stores, and so on
    assert limit_of(expensive) == ["max_cost"]
    assert expensive["errors"][0]["extensions"]["found"] > 100 * 100 * 20
    assert limit_of(by_default_value) == ["max_cost"]
    assert "merchants" in data_of(cheap_by_variable)
    assert "merchants" in data_of(cheap)


def test_a_page_counts_what_the_connection_would_return():
    # Given the default page (20) and a `first` over the maximum (100, the connection refuses more)
    unsized = measure(schema._schema, parse("{ merchants { edges { node { name } } } }"))
    oversized = measure(
        schema._schema, parse("{ merchants(first: 5000) { edges { node { name } } } }")
    )
    counted = measure(schema._schema, parse("{ merchants(first: 3) { totalCount } }"))

    assert unsized.cost == 1 + 1 + 20 * (1 + 1)
    assert oversized.cost == 1 + 1 + 100 * (1 + 1)
    assert counted.cost == 2  # totalCount is one figure, not one per row


async def test_a_field_repeated_a_thousand_times_is_refused(client):
    refused = await gql(client, THOUSAND_TYPENAMES)
    accepted = await gql(client, TWENTY_TYPENAMES)
    through_fragments = await gql(client, REPEATED_THROUGH_FRAGMENTS)

    assert limit_of(refused) == ["max_repeats"]
    assert refused["errors"][0]["extensions"]["found"] == 1000
    assert data_of(accepted) == {"__typename": "Query"}
    assert limit_of(through_fragments) == ["max_repeats"]
    assert through_fragments["errors"][0]["extensions"]["found"] == 24


async def test_tokens_comments_and_length_are_limited(client):
    tokens = await gql(client, TOO_MANY_TOKENS)
    comments = await gql(client, COMMENT_PADDED)
    length = await gql(client, TOO_LONG)

    assert limit_of(tokens) == ["max_tokens"]
    assert "more than 2,000 tokens" in messages(tokens)
    assert limit_of(comments) == ["max_tokens"]
    assert limit_of(length) == ["max_query_length"]
    assert length["errors"][0]["extensions"]["found"] == len(TOO_LONG)


def _lexer_tokens(text: str) -> int:
    """graphql-core's own count: every token its lexer reads, comments included (advance()
    skips them, but they stay in the chain of tokens, between <SOF> and <EOF>)."""
    lexer = Lexer(Source(text))
    while lexer.advance().kind is not TokenKind.EOF:
        pass
    token: Token | None = lexer.token.prev
    count = 0
    while token is not None and token.kind is not TokenKind.SOF:
        count += 1
        token = token.prev
    return count


_TOKENS = st.sampled_from(
    [
        "a", "_x9", "merchant", "first", "...", "!", "$", "&", "(", ")", ":", "=", "@", "[",
        "]", "{", "}", "|", "0", "-12", "3.5", "1e10", "-2.5E-3", '"s"', '"a \\" b"',
        '"中文"', '""', '"""block"""', '"""a \\""" "" " b"""', "# note",
    ]
)  # fmt: skip
_BETWEEN = st.sampled_from([" ", ",", "\n", "\t", "\r\n", " , "])


@given(st.lists(st.tuples(_TOKENS, _BETWEEN), max_size=40))
def test_tokens_are_counted_as_the_lexer_counts_them(pieces: list[tuple[str, str]]) -> None:
    # A comment runs to the end of its line: each piece ends with a line break after one.
    text = "".join(
        f"{token}\n" if token.startswith("#") else token + between for token, between in pieces
    )
    assert count_tokens(text, 10_000) == _lexer_tokens(text)


def test_tokens_are_counted_no_further_than_one_over_the_limit():
    assert count_tokens("{ a b }", 100) == 4
    assert count_tokens("{ a # note\n b }", 100) == 5  # the comment is a token to graphql-core
    assert count_tokens("{ " + "a " * 50 + "}", 10) == 11


async def test_fragments_spread_exponentially_are_measured_once_each_and_refused(client):
    result = await gql(client, DOUBLING)

    assert set(limit_of(result)) == {"max_repeats", "max_cost"}
    assert result["errors"][-1]["extensions"]["found"] >= 2**30


async def test_the_standard_introspection_query_fits_and_a_cycle_through_types_does_not(client):
    standard = await gql(client, INTROSPECTION)
    cycle = await gql(client, INTROSPECTION_CYCLE)

    assert data_of(standard)["__schema"]["queryType"]["name"] == "Query"
    assert limit_of(cycle) == ["introspection_lists"]


def test_every_document_of_the_real_clients_fits_the_default_limits():
    limits = Limits()
    documents = sorted(Path(PROJECT_CLIENTS).glob("*/*.graphql"))

    assert documents
    for path in documents:
        found = measure(schema._schema, parse(path.read_text()))
        assert found.depth <= limits.max_depth, path
        assert found.aliases <= limits.max_aliases, path
        assert found.directives <= limits.max_directives, path
        assert found.repeats <= limits.max_repeats, path
        assert found.cost <= limits.max_cost, (path, found.cost)


def test_the_limits_are_the_settings_with_designs_defaults():
    settings = Settings()

    assert (settings.max_depth, settings.max_aliases, settings.max_tokens) == (12, 15, 2000)
    assert (settings.max_directives, settings.max_cost) == (50, 5000)
    assert settings.max_body_bytes == 128 * 1024
    assert Settings(MAX_COST=10).max_cost == 10  # type: ignore[call-arg]


# The request body and the time budget


async def test_a_body_over_the_limit_is_refused_with_413_and_a_graphql_error(small_bodies):
    padded = {"query": "{ __typename }", "variables": {"pad": "x" * 5000}}

    declared = await small_bodies.post("/graphql", json=padded)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ __typename }", "variables": {"pad": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}}'

    streamed = await small_bodies.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )

    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.headers["content-type"].startswith("application/json")
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "BAD_REQUEST"
        assert "4,096 bytes" in error["message"]


async def test_a_query_string_over_the_limit_is_refused_with_414(small_bodies):
    response = await small_bodies.get(
        "/graphql", params={"query": "{ __typename }", "variables": '{"pad": "' + "x" * 5000 + '"}'}
    )

    assert response.status_code == 414
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_an_operation_past_its_time_budget_is_stopped(impatient, client):
    stopped = await impatient.post("/graphql", json={"query": SLOW})
    stopped_strict = await impatient.post(
        "/graphql",
        json={"query": SLOW},
        headers={"accept": "application/graphql-response+json"},
    )
    afterwards = await gql(client, SLOW)

    assert stopped.status_code == 200
    body = stopped.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert body["errors"][0]["extensions"]["limit"] == "request_timeout_seconds"
    assert "time budget" in body["errors"][0]["message"]
    assert stopped_strict.status_code == 400
    assert "data" not in stopped_strict.json()
    assert data_of(afterwards)["merchants"]["totalCount"] >= 0


@pytest.mark.parametrize(
    ("heavy_cost", "document", "most_at_once"),
    [(0, LANE_QUERY, 1), (10, LANE_QUERY, 3), (0, LANE_MUTATION, 3)],
    ids=["heavy-queries-take-turns", "light-queries-run-together", "mutations-are-not-held"],
)
async def test_heavy_queries_take_turns(heavy_cost, document, most_at_once):
    overlap = Overlap()
    served = lane_schema(overlap, heavy_cost)

    results = await asyncio.gather(*(served.execute(document) for _ in range(3)))

    assert [result.errors for result in results] == [None, None, None]
    assert overlap.most == most_at_once
