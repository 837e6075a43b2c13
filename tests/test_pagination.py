"""Relay connections: `first` (default 20, at most 100), `after`, pageInfo and totalCount.

The same rules hold for a nested connection (a merchant's stores, sliced from a
DataLoader's rows) and a root one (`merchants`, paged in SQL).
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from schema.ids import encode_id
from tests.support import codes, data_of, gql, make_merchant

STORES_PAGE = """
query Stores($id: ID!, $first: Int, $after: String) {
  merchant(id: $id) {
    stores(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id name } }
    }
  }
}
"""
STORES_DEFAULT_PAGE = """
query Stores($id: ID!) {
  merchant(id: $id) {
    stores {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id name } }
    }
  }
}
"""
MERCHANTS_PAGE = """
query Merchants($search: String!, $first: Int, $after: String) {
  merchants(filter: {search: $search}, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name } }
  }
}
"""
MERCHANTS_DEFAULT_PAGE = """
query Merchants($search: String!) {
  merchants(filter: {search: $search}) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name } }
  }
}
"""

SIZE = 25


@dataclass
class Listing:
    """One connection to page through: how to ask for a page and how to find it in the answer."""

    page_query: str
    default_query: str
    variables: dict[str, Any]
    ids: list[str]
    nested: bool

    def connection(self, data: dict[str, Any]) -> dict[str, Any]:
        return data["merchant"]["stores"] if self.nested else data["merchants"]

    async def page(self, client, first: int | None = None, after: str | None = None) -> dict:
        return await gql(
            client, self.page_query, {**self.variables, "first": first, "after": after}
        )


@pytest.fixture(scope="module")
async def listings(database: str) -> dict[str, Listing]:
    """A merchant with 25 stores, and 25 merchants found by one search term."""
    chain = await make_merchant(stores=SIZE)
    term = f"分页{uuid.uuid4().hex[:8]}"
    merchants = [await make_merchant(name=f"{term} {index}", stores=1) for index in range(SIZE)]
    return {
        "stores": Listing(
            STORES_PAGE,
            STORES_DEFAULT_PAGE,
            {"id": encode_id("Merchant", chain.merchant.id)},
            [encode_id("Store", store.id) for store in chain.stores],
            nested=True,
        ),
        "merchants": Listing(
            MERCHANTS_PAGE,
            MERCHANTS_DEFAULT_PAGE,
            {"search": term},
            [encode_id("Merchant", world.merchant.id) for world in merchants],
            nested=False,
        ),
    }


KINDS = ["stores", "merchants"]


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize("kind", KINDS)
async def test_the_default_page_has_twenty_nodes(client, listings, kind):
    listing = listings[kind]

    # When a page is asked for without `first`
    result = await gql(client, listing.default_query, listing.variables)

    # Then it holds the first 20 of 25, in order
    connection = listing.connection(data_of(result))
    assert [edge["node"]["id"] for edge in connection["edges"]] == listing.ids[:20]
    assert connection["totalCount"] == SIZE
    assert connection["pageInfo"]["hasNextPage"] is True
    assert connection["pageInfo"]["hasPreviousPage"] is False
    assert connection["pageInfo"]["startCursor"] == connection["edges"][0]["cursor"]
    assert connection["pageInfo"]["endCursor"] == connection["edges"][-1]["cursor"]


@pytest.mark.parametrize("kind", KINDS)
async def test_first_zero_gives_no_edges_but_the_total(client, listings, kind):
    listing = listings[kind]

    # When `first` is 0
    connection = listing.connection(data_of(await listing.page(client, first=0)))

    # Then there are no edges, no cursors, and the total is still right
    assert connection["edges"] == []
    assert connection["totalCount"] == SIZE
    assert connection["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": None,
        "endCursor": None,
    }


@pytest.mark.parametrize("kind", KINDS)
async def test_first_one_hundred_is_allowed(client, listings, kind):
    listing = listings[kind]

    connection = listing.connection(data_of(await listing.page(client, first=100)))

    assert [edge["node"]["id"] for edge in connection["edges"]] == listing.ids
    assert connection["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("first", [101, -1, 1000])
@pytest.mark.parametrize("kind", KINDS)
async def test_first_outside_zero_to_one_hundred_is_bad_input(client, listings, kind, first):
    listing = listings[kind]

    # When `first` is out of range
    result = await listing.page(client, first=first)

    # Then the field fails with BAD_USER_INPUT
    assert codes(result) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("size", [1, 7, 20, 25])
@pytest.mark.parametrize("kind", KINDS)
async def test_walking_the_pages_visits_every_node_once(client, listings, kind, size):
    listing = listings[kind]
    seen: list[str] = []
    after = None
    pages = 0

    # When the pages are walked with `after: endCursor` until hasNextPage is false
    while True:
        connection = listing.connection(data_of(await listing.page(client, size, after)))
        pages += 1
        # Then every page after the first knows it has a previous one
        assert connection["pageInfo"]["hasPreviousPage"] is (pages > 1)
        assert connection["totalCount"] == SIZE
        assert len(connection["edges"]) <= size
        seen += [edge["node"]["id"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
        assert after == connection["edges"][-1]["cursor"]

    # And each node shows up exactly once, in order
    assert seen == listing.ids
    assert pages == -(-SIZE // size)


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        "",
        "é",
        cursor_of("hello"),
        cursor_of("offset:"),
        cursor_of("offset:-1"),
        cursor_of("offset:1.5"),
        cursor_of("offset:²"),
        cursor_of("offset:٣"),
        encode_id("Merchant", 1),
    ],
)
@pytest.mark.parametrize("kind", KINDS)
async def test_a_cursor_the_api_did_not_give_out_is_bad_input(client, listings, kind, cursor):
    listing = listings[kind]

    # When `after` is not a cursor of this API
    result = await listing.page(client, first=5, after=cursor)

    # Then it is BAD_USER_INPUT, not an internal error
    assert codes(result) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("offset", [SIZE - 1, SIZE, 10**6, 10**30])
@pytest.mark.parametrize("kind", KINDS)
async def test_a_cursor_past_the_end_gives_an_empty_page(client, listings, kind, offset):
    listing = listings[kind]

    # When `after` points at the last node or beyond
    connection = listing.connection(
        data_of(await listing.page(client, first=5, after=cursor_of(f"offset:{offset}")))
    )

    # Then the page is empty, without cursors, and the total stands
    assert connection["edges"] == []
    assert connection["totalCount"] == SIZE
    assert connection["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": None,
        "endCursor": None,
    }


@pytest.mark.parametrize("kind", KINDS)
async def test_a_cursor_from_a_page_continues_right_after_it(client, listings, kind):
    listing = listings[kind]
    first = listing.connection(data_of(await listing.page(client, first=10)))

    # When the cursor of the 4th edge is used as `after`
    following = listing.connection(
        data_of(await listing.page(client, first=3, after=first["edges"][3]["cursor"]))
    )

    # Then the page starts with the 5th node
    assert [edge["node"]["id"] for edge in following["edges"]] == listing.ids[4:7]
    assert following["pageInfo"]["startCursor"] == first["edges"][4]["cursor"]
