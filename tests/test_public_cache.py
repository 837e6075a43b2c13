"""The public-read cache (core/public_cache.py): a write is read back at once, by anonymous
callers of this process and of another one; concurrent misses load once; other roles never get
the anonymous rows; the bound holds; an outage of the shared cache reads through.

The suite runs with the cache off (tests/conftest.py); the `public` fixture turns it on.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from core import public_cache
from core.public_cache import PublicCache
from models import Merchant
from models.enums import MerchantStatus, Role
from schema.ids import encode_id
from settings import get_settings
from tests.live_server import live_server
from tests.support import cache_outage, data_of, gql, make_merchant, make_user, token_for

ANNOUNCEMENTS = "query { announcements(first: 5) { edges { node { title } } } }"
PUBLISH = """
mutation P($title: String!) {
  publishAnnouncement(input: {kind: NOTICE, title: $title, body: "正文", pinned: true}) { id }
}
"""
MERCHANT = """
query M($id: ID!) { merchant(id: $id) {
  status creditRating { grade score }
  stores { totalCount edges { node { name status } } }
  cardProducts { edges { node { id name soldCount } } }
} }
"""
# No search: pages with a search term are never cached.
PAGE = """
query Page($category: ID, $status: MerchantStatus, $district: String) {
  merchants(filter: {categoryCode: $category, status: $status, district: $district}, first: 100) {
    totalCount edges { node { id } }
  }
}
"""
CATEGORIES = "query { categories { code merchantCount } }"
SUSPEND = 'mutation S($id: ID!) { suspendMerchant(merchantId: $id, reason: "暂停售卡") { id } }'
REINSTATE = 'mutation R($id: ID!) { reinstateMerchant(merchantId: $id, reason: "整改完成") { id } }'
CLOSE = (
    'mutation C($id: ID!) { closeMerchant(merchantId: $id, reason: "停业清退") { cardsRefunded } }'
)
APPROVE = "mutation A($id: ID!) { reviewMerchant(merchantId: $id, approve: true) { status } }"
ADD_STORE = """
mutation S($name: String!, $district: String!) {
  addStore(input: {name: $name, address: "健康西路1号", district: $district}) { id }
}
"""
CLOSE_STORE = "mutation C($id: ID!) { closeStore(storeId: $id) { status } }"
PRODUCT_STATUS = """
mutation P($id: ID!) { setCardProductStatus(productId: $id, status: SUSPENDED) { status } }
"""
BUY = """
mutation B($product: ID!, $key: String!) {
  purchaseCard(productId: $product, idempotencyKey: $key) { card { id } }
}
"""
RECOMPUTE = "mutation R($ids: [ID!]) { recomputeCreditScores(merchantIds: $ids) }"


@pytest.fixture
def public() -> Any:
    """The public-read cache on, empty, for this test."""
    fresh = PublicCache(entries=1000, seconds=60)
    public_cache.use_public_cache(fresh)
    yield fresh
    public_cache.use_public_cache(None)


async def until(condition: Callable[[], bool]) -> None:
    """Let other tasks run until `condition` holds (a test that hangs here fails by timeout)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the condition never held")


def gid(kind: str, row_id: int) -> str:
    return encode_id(kind, row_id)


async def anonymous_merchant(client: httpx.AsyncClient, merchant_id: int) -> Any:
    return data_of(await gql(client, MERCHANT, {"id": gid("Merchant", merchant_id)}))["merchant"]


async def page_ids(client: httpx.AsyncClient, token: str | None = None, **filters: Any) -> set[str]:
    page = data_of(await gql(client, PAGE, filters, token))["merchants"]
    return {edge["node"]["id"] for edge in page["edges"]}


async def merchant_count(client: httpx.AsyncClient, category: str) -> int:
    rows = data_of(await gql(client, CATEGORIES))["categories"]
    return next(row["merchantCount"] for row in rows if row["code"] == category)


async def test_a_read_twice_is_answered_from_the_cache(client, public, count_sql):
    world = await make_merchant()
    first = await anonymous_merchant(client, world.merchant.id)
    count_sql.statements.clear()
    again = await anonymous_merchant(client, world.merchant.id)
    assert again == first
    assert count_sql.statements == []


async def test_a_published_announcement_is_read_at_once(client, public):
    regulator = token_for(await make_user(Role.REGULATOR))
    data_of(await gql(client, ANNOUNCEMENTS))
    title = f"停业公告 {uuid.uuid4().hex[:6]}"
    data_of(await gql(client, PUBLISH, {"title": title}, regulator))
    edges = data_of(await gql(client, ANNOUNCEMENTS))["announcements"]["edges"]
    assert edges[0]["node"]["title"] == title


async def test_status_changes_are_read_at_once(client, public):
    regulator = token_for(await make_user(Role.REGULATOR))
    world = await make_merchant(category="RETAIL")
    merchant_gid = gid("Merchant", world.merchant.id)
    count = await merchant_count(client, "RETAIL")
    assert merchant_gid in await page_ids(client, category="RETAIL")
    assert await anonymous_merchant(client, world.merchant.id)

    data_of(await gql(client, SUSPEND, {"id": merchant_gid}, regulator))
    assert await anonymous_merchant(client, world.merchant.id) is None
    assert merchant_gid not in await page_ids(client, category="RETAIL")
    assert await merchant_count(client, "RETAIL") == count - 1

    data_of(await gql(client, REINSTATE, {"id": merchant_gid}, regulator))
    assert (await anonymous_merchant(client, world.merchant.id))["status"] == "ACTIVE"
    assert merchant_gid in await page_ids(client, category="RETAIL")
    assert await merchant_count(client, "RETAIL") == count

    data_of(await gql(client, CLOSE, {"id": merchant_gid}, regulator))
    assert await anonymous_merchant(client, world.merchant.id) is None
    assert await merchant_count(client, "RETAIL") == count - 1


async def test_an_approval_is_read_at_once_and_other_roles_never_get_the_anonymous_rows(
    client, public
):
    regulator = token_for(await make_user(Role.REGULATOR))
    pending = await make_merchant(status=MerchantStatus.PENDING_REVIEW, category="EDUCATION")
    merchant_gid = gid("Merchant", pending.merchant.id)
    count = await merchant_count(client, "EDUCATION")
    # Given anonymous callers warmed the cache with the rows they may see
    assert await anonymous_merchant(client, pending.merchant.id) is None
    assert merchant_gid not in await page_ids(client, status="PENDING_REVIEW")
    # Then the regulator and the merchant itself still see the application
    assert merchant_gid in await page_ids(client, regulator, status="PENDING_REVIEW")
    assert merchant_gid in await page_ids(client, pending.token, status="PENDING_REVIEW")
    as_owner = await gql(client, MERCHANT, {"id": merchant_gid}, pending.token)
    assert data_of(as_owner)["merchant"]["status"] == "PENDING_REVIEW"

    data_of(await gql(client, APPROVE, {"id": merchant_gid}, regulator))
    approved = await anonymous_merchant(client, pending.merchant.id)
    assert approved["status"] == "ACTIVE"
    row = await Merchant.get(id=pending.merchant.id)
    assert approved["creditRating"] == {"grade": row.credit_grade.value, "score": row.credit_score}
    assert await merchant_count(client, "EDUCATION") == count + 1


async def test_stores_products_and_sales_are_read_at_once(client, public):
    world = await make_merchant(stores=1, district="淮阴区")
    consumer = token_for(await make_user(Role.CONSUMER))
    merchant_gid = gid("Merchant", world.merchant.id)
    before = await anonymous_merchant(client, world.merchant.id)
    assert before["stores"]["totalCount"] == 1
    assert [edge["node"]["soldCount"] for edge in before["cardProducts"]["edges"]] == [0]
    assert merchant_gid not in await page_ids(client, district="盱眙县")

    # A store opens in another district: the store list and the district's page show it
    name = f"新店 {uuid.uuid4().hex[:6]}"
    added = await gql(client, ADD_STORE, {"name": name, "district": "盱眙县"}, world.token)
    stores = (await anonymous_merchant(client, world.merchant.id))["stores"]
    assert stores["totalCount"] == 2
    assert merchant_gid in await page_ids(client, district="盱眙县")

    # It closes
    store_gid = data_of(added)["addStore"]["id"]
    data_of(await gql(client, CLOSE_STORE, {"id": store_gid}, world.token))
    stores = (await anonymous_merchant(client, world.merchant.id))["stores"]
    assert {"name": name, "status": "CLOSED"} in [edge["node"] for edge in stores["edges"]]

    # A card is bought: soldCount counts it
    product_gid = gid("CardProduct", world.product.id)
    data_of(await gql(client, BUY, {"product": product_gid, "key": uuid.uuid4().hex}, consumer))
    products = (await anonymous_merchant(client, world.merchant.id))["cardProducts"]["edges"]
    assert [edge["node"]["soldCount"] for edge in products] == [1]

    # The product is taken off sale: anonymous callers no longer see it
    data_of(await gql(client, PRODUCT_STATUS, {"id": product_gid}, world.token))
    assert (await anonymous_merchant(client, world.merchant.id))["cardProducts"]["edges"] == []


async def test_a_rating_change_is_read_at_once(client, public):
    regulator = token_for(await make_user(Role.REGULATOR))
    world = await make_merchant()
    assert (await anonymous_merchant(client, world.merchant.id))["creditRating"] is None
    ids = [gid("Merchant", world.merchant.id)]
    assert data_of(await gql(client, RECOMPUTE, {"ids": ids}, regulator))["recomputeCreditScores"]
    row = await Merchant.get(id=world.merchant.id)
    rating = (await anonymous_merchant(client, world.merchant.id))["creditRating"]
    assert rating == {"grade": row.credit_grade.value, "score": row.credit_score}


async def test_concurrent_anonymous_misses_run_the_sql_once(client, public, count_sql):
    world = await make_merchant(district="金湖县", stores=3)
    variables = {"id": gid("Merchant", world.merchant.id)}
    answers = await asyncio.gather(*(gql(client, MERCHANT, variables) for _ in range(8)))
    assert len({str(answer) for answer in answers}) == 1
    stores = [sql for sql in count_sql.statements if 'FROM "stores"' in sql]
    merchants = [sql for sql in count_sql.statements if 'FROM "merchants"' in sql]
    assert (len(stores), len(merchants)) == (1, 1), count_sql.statements


async def test_concurrent_misses_share_one_load_and_a_write_starts_a_new_one():
    cache = PublicCache(entries=10, seconds=60)
    family = f"test:{uuid.uuid4().hex}"
    release = asyncio.Event()
    calls: list[str] = []
    value = "old"

    async def load() -> str:
        seen = value  # what the database held when the load read it
        calls.append(seen)
        await release.wait()
        return seen

    # Five readers miss together: one load runs, all five wait for it
    waiting = [asyncio.ensure_future(cache.get("thing", 1, family, load)) for _ in range(5)]
    await until(lambda: calls == ["old"])
    await asyncio.sleep(0.01)  # room for a second load, were misses not merged
    assert calls == ["old"]
    # A write commits and returns while that load is in flight: a reader that starts now does
    # not join the old load and never gets what it returns
    value = "new"
    await cache.changed(family)
    after_write = asyncio.ensure_future(cache.get("thing", 1, family, load))
    await until(lambda: calls == ["old", "new"])
    release.set()
    assert await asyncio.gather(*waiting) == ["old"] * 5
    assert await after_write == "new"
    assert await cache.get("thing", 1, family, load) == "new"
    assert len(calls) == 2


async def test_the_memory_bound_holds():
    cache = PublicCache(entries=5, seconds=60)
    family = f"test:{uuid.uuid4().hex}"
    loads: list[int] = []

    async def get(key: int) -> int:
        async def load() -> int:
            loads.append(key)
            return key

        return await cache.get("thing", key, family, load)

    for key in range(50):
        assert await get(key) == key
        assert await get(0) == 0  # kept: used most recently
    assert len(cache) == 5
    assert loads.count(0) == 1
    assert await get(1) == 1
    assert loads.count(1) == 2  # evicted long ago, loaded again


async def test_while_the_shared_cache_is_down_reads_go_to_the_database(client, public):
    regulator = token_for(await make_user(Role.REGULATOR))
    data_of(await gql(client, ANNOUNCEMENTS))
    during, after = f"停电 {uuid.uuid4().hex[:6]}", f"来电 {uuid.uuid4().hex[:6]}"
    async with cache_outage():
        data_of(await gql(client, PUBLISH, {"title": during}, regulator))
        edges = data_of(await gql(client, ANNOUNCEMENTS))["announcements"]["edges"]
        assert edges[0]["node"]["title"] == during
    edges = data_of(await gql(client, ANNOUNCEMENTS))["announcements"]["edges"]
    assert edges[0]["node"]["title"] == during
    data_of(await gql(client, PUBLISH, {"title": after}, regulator))
    edges = data_of(await gql(client, ANNOUNCEMENTS))["announcements"]["edges"]
    assert edges[0]["node"]["title"] == after


async def test_a_new_version_that_waited_for_the_cache_is_stored_when_it_answers():
    cache = PublicCache(entries=10, seconds=60)
    family = f"test:{uuid.uuid4().hex}"
    value = "before"

    async def load() -> str:
        return value

    assert await cache.get("thing", 1, family, load) == "before"
    async with cache_outage():
        value = "during"
        await cache.changed(family)  # the shared cache does not take it
        assert len(cache) == 0  # what this process kept may be stale: dropped
    # Back up: the waiting version is stored before anything is read under the old one
    assert await cache.get("thing", 1, family, load) == "during"


# Two server processes: the version a write gives lives in Redis, so the PostgreSQL + Redis
# pass runs this (on SQLite with memory:// two processes share no cache to invalidate).
@pytest.mark.skipif(
    not (
        os.environ.get("TEST_DATABASE_URL", "").startswith("postgres")
        and os.environ.get("TEST_REDIS_URL")
    ),
    reason="two servers share PostgreSQL and Redis: the PostgreSQL pass runs this",
)
async def test_a_write_through_one_server_is_read_through_the_other_at_once(database):
    world = await make_merchant(stores=1, category="FITNESS")
    regulator = token_for(await make_user(Role.REGULATOR))
    consumer = token_for(await make_user(Role.CONSUMER))
    merchant_gid = gid("Merchant", world.merchant.id)
    product_gid = gid("CardProduct", world.product.id)
    secret = get_settings().jwt_secret
    servers = [
        live_server(
            database, ANFU_ENV="development", ANFU_JWT_SECRET=secret, PUBLIC_CACHE_ENTRIES="1000"
        )
        for _ in range(2)
    ]
    async with (
        servers[0] as writer,
        servers[1] as reader,
        httpx.AsyncClient(timeout=30) as http,
    ):

        async def read(query: str, variables: dict[str, Any] | None = None) -> Any:
            body = {"query": query, "variables": variables or {}}
            return data_of((await http.post(reader.url, json=body)).json())

        async def write(query: str, variables: dict[str, Any], token: str) -> None:
            body = {"query": query, "variables": variables}
            headers = {"Authorization": f"Bearer {token}"}
            data_of((await http.post(writer.url, json=body, headers=headers)).json())

        async def merchant() -> Any:
            return (await read(MERCHANT, {"id": merchant_gid}))["merchant"]

        async def fitness_count() -> int:
            rows = (await read(CATEGORIES))["categories"]
            return next(row["merchantCount"] for row in rows if row["code"] == "FITNESS")

        # The reader has everything cached (each read twice)
        for _ in range(2):
            await read(ANNOUNCEMENTS)
            before = await merchant()
            count = await fitness_count()

        title = f"两台 {uuid.uuid4().hex[:6]}"
        await write(PUBLISH, {"title": title}, regulator)
        assert (await read(ANNOUNCEMENTS))["announcements"]["edges"][0]["node"]["title"] == title

        await write(ADD_STORE, {"name": f"新店 {title}", "district": "淮安区"}, world.token)
        assert (await merchant())["stores"]["totalCount"] == before["stores"]["totalCount"] + 1

        await write(BUY, {"product": product_gid, "key": uuid.uuid4().hex}, consumer)
        [product] = (await merchant())["cardProducts"]["edges"]
        assert product["node"]["soldCount"] == 1

        await write(PRODUCT_STATUS, {"id": product_gid}, world.token)
        assert (await merchant())["cardProducts"]["edges"] == []

        await write(SUSPEND, {"id": merchant_gid}, regulator)
        assert await merchant() is None
        assert await fitness_count() == count - 1


# Compiled plans (plans/): an anonymous caller's whole planned answer is kept under `catalog`.


async def test_planned_anonymous_pages_are_cached_and_fresh_after_writes(client, public, count_sql):
    from services.pagination import encode_cursor
    from services.persisted import PROJECT_MANIFEST, load_manifest

    browse = next(
        trusted
        for trusted in load_manifest(PROJECT_MANIFEST).documents.values()
        if trusted.operation_name == "BrowseMerchants"
    )
    world = await make_merchant(stores=1)
    regulator = token_for(await make_user(Role.REGULATOR))
    before = await Merchant.filter(status=MerchantStatus.ACTIVE, id__lt=world.merchant.id).count()
    variables = {"first": 1, "after": encode_cursor(before - 1) if before else None}
    body = {"documentId": f"sha256:{browse.hash}", "variables": variables}

    async def first_node() -> dict[str, Any] | None:
        answer = (await client.post("/graphql", json=body)).json()
        edges = data_of(answer)["merchants"]["edges"]
        return edges[0]["node"] if edges else None

    node = await first_node()
    assert node is not None and node["id"] == gid("Merchant", world.merchant.id)
    assert node["stores"]["totalCount"] == 1
    # Again: from the cache, no SQL
    count_sql.statements.clear()
    assert await first_node() == node
    assert count_sql.statements == []

    # A store opens: the next anonymous read shows it
    added = {"name": f"新店 {uuid.uuid4().hex[:6]}", "district": "清江浦区"}
    data_of(await gql(client, ADD_STORE, added, world.token))
    node = await first_node()
    assert node is not None and node["stores"]["totalCount"] == 2

    # The merchant is suspended: anonymous callers no longer see it
    data_of(await gql(client, SUSPEND, {"id": gid("Merchant", world.merchant.id)}, regulator))
    node = await first_node()
    assert node is None or node["id"] != gid("Merchant", world.merchant.id)


async def test_a_sale_gives_planned_pages_a_new_version(public):
    loads: list[int] = []

    async def load() -> int:
        loads.append(1)
        return len(loads)

    key = ("document", "HomeMerchants", "{}")
    assert await public.get("plan", key, public_cache.CATALOG, load) == 1
    assert await public.get("plan", key, public_cache.CATALOG, load) == 1
    await public_cache.changed(public_cache.product_family(7))  # a card of product 7 sold
    assert await public.get("plan", key, public_cache.CATALOG, load) == 2
