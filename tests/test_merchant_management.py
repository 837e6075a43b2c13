"""A merchant's owner manages its stores, staff and card products; nobody else does.

Each test makes its own merchants (tests/support.make_merchant) and reads back
only their rows.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from models import CardProduct, Store, User
from models.enums import CardProductStatus, MerchantStatus, Role, StoreStatus
from schema.ids import decode_id, encode_id
from services import cards, redemption
from settings import HUAIAN_DISTRICTS
from tests.support import (
    PASSWORD,
    MerchantWorld,
    buy_card,
    codes,
    data_of,
    gql,
    make_merchant,
    make_staff,
    make_user,
    new_phone,
    principal_of,
    token_for,
)

ADD_STORE = """
mutation AddStore($input: StoreInput!) {
  addStore(input: $input) { id name address district phone status merchant { id } }
}
"""
CLOSE_STORE = "mutation CloseStore($id: ID!) { closeStore(storeId: $id) { id status } }"
ADD_STAFF = """
mutation AddStaff($input: AddStaffInput!) {
  addStaff(input: $input) { id role displayName merchant { id } store { id name } }
}
"""
CREATE_PRODUCT = """
mutation CreateProduct($input: CardProductInput!) {
  createCardProduct(input: $input) {
    id
    name
    description
    price
    faceValue
    validityDays
    allStores
    status
    stores { id name }
    merchant { id }
  }
}
"""
SET_PRODUCT_STATUS = """
mutation SetStatus($id: ID!, $status: CardProductStatus!) {
  setCardProductStatus(productId: $id, status: $status) { id status }
}
"""
LOGIN = """
mutation Login($phone: String!, $password: String!) {
  login(phone: $phone, password: $password) {
    accessToken
    user { id role merchant { id } store { id name } }
  }
}
"""
ME = "{ me { id role merchant { id } store { id name } } }"
REDEEM = """
mutation Redeem($code: String!, $store: ID!, $amount: Money!, $key: String!) {
  redeem(code: $code, storeId: $store, amount: $amount, idempotencyKey: $key) {
    card { balance }
    transaction { kind store { id } }
  }
}
"""
PURCHASE = """
mutation Purchase($product: ID!, $key: String!) {
  purchaseCard(productId: $product, idempotencyKey: $key) { card { id } }
}
"""


def gid(type_name: str, pk: int) -> str:
    return encode_id(type_name, pk)


def product_input(world: MerchantWorld | None = None, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": f"充1000送300 {uuid.uuid4().hex[:6]}",
        "description": "洗衣卡，全部门店通用",
        "price": "700.00",
        "faceValue": "1000.00",
        "validityDays": 365,
    }
    values.update(overrides)
    return values


def store_input(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": f"新店 {uuid.uuid4().hex[:6]}",
        "address": "翔宇大道99号",
        "district": "清江浦区",
        "phone": "0517-1234567",
    }
    values.update(overrides)
    return values


async def product_count(world: MerchantWorld) -> int:
    return await CardProduct.filter(merchant_id=world.merchant.id).count()


# ---------------------------------------------------------------- stores


async def test_owner_adds_and_closes_a_store(client):
    # Given a merchant's owner
    world = await make_merchant()

    # When the owner adds a store
    values = store_input()
    store = data_of(await gql(client, ADD_STORE, {"input": values}, world.token))["addStore"]

    # Then it is an OPEN store of the merchant
    assert store["name"] == values["name"]
    assert store["address"] == values["address"]
    assert store["district"] == values["district"]
    assert store["phone"] == values["phone"]
    assert store["status"] == "OPEN"
    assert store["merchant"] == {"id": gid("Merchant", world.merchant.id)}

    # When the owner closes it
    closed = data_of(await gql(client, CLOSE_STORE, {"id": store["id"]}, world.token))

    # Then it is CLOSED
    assert closed["closeStore"] == {"id": store["id"], "status": "CLOSED"}
    row = await Store.get(id=decode_id(store["id"], "Store"))
    assert row.status is StoreStatus.CLOSED
    assert row.closed_at is not None


async def test_closing_a_closed_store_is_invalid_state(client):
    # Given a closed store
    world = await make_merchant()
    store_id = gid("Store", world.stores[0].id)
    data_of(await gql(client, CLOSE_STORE, {"id": store_id}, world.token))

    # When the owner closes it again
    result = await gql(client, CLOSE_STORE, {"id": store_id}, world.token)

    # Then that is an invalid state
    assert codes(result) == ["INVALID_STATE"]


@pytest.mark.parametrize(
    "overrides",
    [{"name": " "}, {"address": ""}, {"district": ""}, {"phone": "12"}, {"name": "店" * 129}],
)
async def test_bad_store_is_bad_input(client, overrides):
    # Given an owner
    world = await make_merchant()

    # When a store with one bad field is added
    values = store_input(**overrides)
    result = await gql(client, ADD_STORE, {"input": values}, world.token)

    # Then it is bad input and no store is added
    assert codes(result) == ["BAD_USER_INPUT"]
    assert await Store.filter(merchant_id=world.merchant.id).count() == len(world.stores)


async def test_a_store_outside_the_city_is_bad_input_naming_the_districts(client):
    # Given an owner
    world = await make_merchant()

    # When a store in another city's district is added
    result = await gql(client, ADD_STORE, {"input": store_input(district="朝阳区")}, world.token)

    # Then it is bad input whose message lists the city's districts, and no store is added
    assert codes(result) == ["BAD_USER_INPUT"]
    message = result["errors"][0]["message"]
    assert all(district in message for district in HUAIAN_DISTRICTS), message
    assert await Store.filter(merchant_id=world.merchant.id).count() == len(world.stores)


async def test_every_district_of_the_city_takes_a_store(client):
    # Given an owner
    world = await make_merchant()

    # When a store is added in each of the city's districts, one written with spaces around it
    added = [
        data_of(
            await gql(
                client, ADD_STORE, {"input": store_input(district=f" {district} ")}, world.token
            )
        )["addStore"]["district"]
        for district in HUAIAN_DISTRICTS
    ]

    # Then each is added in its district
    assert added == list(HUAIAN_DISTRICTS)


async def test_the_districts_are_the_platform_citys_setting(client, settings, monkeypatch):
    # Given a platform configured for another city
    monkeypatch.setattr(settings, "districts", ("东城区", "西城区", "朝阳区"))
    world = await make_merchant()

    # When stores are added in one of its districts and in one of Huai'an's
    there = await gql(client, ADD_STORE, {"input": store_input(district="朝阳区")}, world.token)
    huaian = await gql(client, ADD_STORE, {"input": store_input(district="清江浦区")}, world.token)

    # Then the city's district is taken and Huai'an's is not
    assert data_of(there)["addStore"]["district"] == "朝阳区"
    assert codes(huaian) == ["BAD_USER_INPUT"]
    assert "东城区, 西城区, 朝阳区" in huaian["errors"][0]["message"]


# ---------------------------------------------------------------- staff


async def test_staff_bound_to_a_store_logs_in_with_the_store_in_its_token(client):
    # Given an owner with two stores
    world = await make_merchant(stores=2)
    bound, other = world.stores
    phone = new_phone()

    # When the owner adds a staff member bound to the first store
    staff = data_of(
        await gql(
            client,
            ADD_STAFF,
            {
                "input": {
                    "phone": phone,
                    "password": PASSWORD,
                    "displayName": "店员小李",
                    "storeId": gid("Store", bound.id),
                }
            },
            world.token,
        )
    )["addStaff"]

    # Then the staff member is a MERCHANT of that merchant, bound to that store
    assert staff["role"] == "MERCHANT"
    assert staff["displayName"] == "店员小李"
    assert staff["merchant"] == {"id": gid("Merchant", world.merchant.id)}
    assert staff["store"] == {"id": gid("Store", bound.id), "name": bound.name}
    row = await User.get(phone=phone)
    assert not row.is_merchant_owner

    # And can log in with the phone and password
    login = data_of(await gql(client, LOGIN, {"phone": phone, "password": PASSWORD}))["login"]
    token = login["accessToken"]
    assert login["user"]["store"] == {"id": gid("Store", bound.id), "name": bound.name}
    me = data_of(await gql(client, ME, token=token))["me"]
    assert me["role"] == "MERCHANT"
    assert me["store"]["name"] == bound.name

    # And its token carries the store: it redeems at that store only
    consumer = await make_user(Role.CONSUMER)
    card = (await buy_card(consumer, world)).card
    issued = await redemption.issue_redemption_code(
        principal=principal_of(consumer), card_id=card.id
    )
    elsewhere = await gql(
        client,
        REDEEM,
        {
            "code": issued.code,
            "store": gid("Store", other.id),
            "amount": "10.00",
            "key": uuid.uuid4().hex,
        },
        token,
    )
    assert codes(elsewhere) == ["FORBIDDEN"]
    here = await gql(
        client,
        REDEEM,
        {
            "code": issued.code,
            "store": gid("Store", bound.id),
            "amount": "10.00",
            "key": uuid.uuid4().hex,
        },
        token,
    )
    assert data_of(here)["redeem"]["transaction"] == {
        "kind": "REDEMPTION",
        "store": {"id": gid("Store", bound.id)},
    }


async def test_staff_without_a_store_works_at_every_store(client):
    # Given an owner
    world = await make_merchant()
    phone = new_phone()

    # When the owner adds a staff member without a store
    staff = data_of(
        await gql(
            client,
            ADD_STAFF,
            {"input": {"phone": phone, "password": PASSWORD, "displayName": "店长"}},
            world.token,
        )
    )["addStaff"]

    # Then the staff member has no store, and logs in
    assert staff["store"] is None
    login = data_of(await gql(client, LOGIN, {"phone": phone, "password": PASSWORD}))["login"]
    assert login["user"]["store"] is None
    assert login["user"]["merchant"] == {"id": gid("Merchant", world.merchant.id)}


async def test_staff_cannot_be_bound_to_a_closed_store_or_reuse_a_phone(client):
    # Given an owner with a closed store and an existing account
    world = await make_merchant()
    closed = world.stores[0]
    data_of(await gql(client, CLOSE_STORE, {"id": gid("Store", closed.id)}, world.token))
    taken = (await make_user(Role.CONSUMER)).phone

    # When staff are added bound to the closed store, or with the taken phone
    phone = new_phone()
    to_closed = await gql(
        client,
        ADD_STAFF,
        {
            "input": {
                "phone": phone,
                "password": PASSWORD,
                "displayName": "店员",
                "storeId": gid("Store", closed.id),
            }
        },
        world.token,
    )
    reused = await gql(
        client,
        ADD_STAFF,
        {"input": {"phone": taken, "password": PASSWORD, "displayName": "店员"}},
        world.token,
    )

    # Then both are refused and no account is made
    assert codes(to_closed) == ["INVALID_STATE"]
    assert codes(reused) == ["BAD_USER_INPUT"]
    assert not await User.exists(phone=phone)
    assert await User.filter(phone=taken).count() == 1


# ---------------------------------------------------------------- card products


async def test_owner_creates_a_product_for_every_store(client):
    # Given an owner with two stores
    world = await make_merchant(stores=2)

    # When the owner creates a product naming no store
    values = product_input()
    product = data_of(await gql(client, CREATE_PRODUCT, {"input": values}, world.token))[
        "createCardProduct"
    ]

    # Then it is on sale at every store
    assert product["name"] == values["name"]
    assert product["description"] == values["description"]
    assert product["price"] == "700.00"
    assert product["faceValue"] == "1000.00"
    assert product["validityDays"] == 365
    assert product["status"] == "ACTIVE"
    assert product["allStores"] is True
    assert product["merchant"] == {"id": gid("Merchant", world.merchant.id)}
    assert sorted(store["id"] for store in product["stores"]) == sorted(
        gid("Store", store.id) for store in world.stores
    )

    # And an empty list of stores means every store too
    empty = data_of(
        await gql(client, CREATE_PRODUCT, {"input": product_input(storeIds=[])}, world.token)
    )["createCardProduct"]
    assert empty["allStores"] is True


async def test_owner_limits_a_product_to_named_stores(client):
    # Given an owner with three stores
    world = await make_merchant(stores=3)
    named = [world.stores[0], world.stores[2]]

    # When the owner creates a product naming two of them
    values = product_input(storeIds=[gid("Store", store.id) for store in named])
    product = data_of(await gql(client, CREATE_PRODUCT, {"input": values}, world.token))[
        "createCardProduct"
    ]

    # Then it is valid at those stores only
    assert product["allStores"] is False
    assert sorted(store["id"] for store in product["stores"]) == sorted(
        gid("Store", store.id) for store in named
    )

    # And a card of it cannot be redeemed at the store left out
    consumer = await make_user(Role.CONSUMER)
    card = (
        await cards.purchase(
            principal=principal_of(consumer),
            product_id=decode_id(product["id"], "CardProduct"),
            idempotency_key=uuid.uuid4().hex,
        )
    ).card
    issued = await redemption.issue_redemption_code(
        principal=principal_of(consumer), card_id=card.id
    )
    result = await gql(
        client,
        REDEEM,
        {
            "code": issued.code,
            "store": gid("Store", world.stores[1].id),
            "amount": "10.00",
            "key": uuid.uuid4().hex,
        },
        world.token,
    )
    assert codes(result) == ["INVALID_STATE"]


PRODUCT_RULES = [
    pytest.param({"price": "0.00"}, id="price zero"),
    pytest.param({"price": "-1.00"}, id="price negative"),
    pytest.param({"price": "1000.01", "faceValue": "1000.00"}, id="price above face value"),
    pytest.param({"price": "700.00", "faceValue": "5000.01"}, id="face value above the cap"),
    pytest.param({"price": "6000.00", "faceValue": "6000.00"}, id="both above the cap"),
    pytest.param({"validityDays": 0}, id="validity zero"),
    pytest.param({"validityDays": -30}, id="validity negative"),
    pytest.param({"validityDays": 3 * 365 + 1}, id="validity over three years"),
    pytest.param({"name": "  "}, id="blank name"),
    pytest.param({"price": "700"}, id="price without decimals"),
    pytest.param({"faceValue": "1e3"}, id="face value with an exponent"),
]


@pytest.mark.parametrize("overrides", PRODUCT_RULES)
async def test_product_rules_are_bad_input(client, overrides):
    # Given an owner
    world = await make_merchant()
    before = await product_count(world)

    # When a product breaking one rule is created
    result = await gql(client, CREATE_PRODUCT, {"input": product_input(**overrides)}, world.token)

    # Then it is bad input and no product is made
    assert codes(result) == ["BAD_USER_INPUT"]
    assert await product_count(world) == before


@pytest.mark.parametrize(
    ("price", "face"),
    [
        pytest.param("5000.00", "5000.00", id="at the cap, no discount"),
        pytest.param("500.00", "1000.00", id="50 % discount"),
        pytest.param("0.01", "0.01", id="smallest"),
    ],
)
async def test_products_within_the_rules_are_created(client, price, face):
    # Given an owner
    world = await make_merchant()

    # When a product at the edge of the rules (or with a discount over 40 %) is created
    result = await gql(
        client,
        CREATE_PRODUCT,
        {"input": product_input(price=price, faceValue=face, validityDays=1)},
        world.token,
    )

    # Then it is on sale
    product = data_of(result)["createCardProduct"]
    assert (product["price"], product["faceValue"], product["status"]) == (price, face, "ACTIVE")


async def test_product_limited_to_another_merchants_store_is_not_found(client):
    # Given two merchants
    world, other = await make_merchant(), await make_merchant()

    # When the first names the other's store (alone, or beside its own)
    for store_ids in (
        [gid("Store", other.stores[0].id)],
        [gid("Store", world.stores[0].id), gid("Store", other.stores[0].id)],
    ):
        result = await gql(
            client, CREATE_PRODUCT, {"input": product_input(storeIds=store_ids)}, world.token
        )

        # Then it is not found and no product is made
        assert codes(result) == ["NOT_FOUND"]
    assert await product_count(world) == 1


async def test_product_limited_to_a_closed_store_is_invalid_state(client):
    # Given an owner with a closed store
    world = await make_merchant()
    closed = world.stores[0]
    data_of(await gql(client, CLOSE_STORE, {"id": gid("Store", closed.id)}, world.token))

    # When a product names it
    result = await gql(
        client,
        CREATE_PRODUCT,
        {"input": product_input(storeIds=[gid("Store", closed.id)])},
        world.token,
    )

    # Then that is an invalid state
    assert codes(result) == ["INVALID_STATE"]
    assert await product_count(world) == 1


async def test_product_status_switches_and_retired_is_final(client):
    # Given an owner's product on sale
    world = await make_merchant()
    product_id = gid("CardProduct", world.product.id)
    consumer = token_for(await make_user(Role.CONSUMER))

    async def set_status(status: str) -> dict[str, Any]:
        return await gql(
            client, SET_PRODUCT_STATUS, {"id": product_id, "status": status}, world.token
        )

    async def buy() -> dict[str, Any]:
        return await gql(
            client, PURCHASE, {"product": product_id, "key": uuid.uuid4().hex}, consumer
        )

    # When it is suspended, it cannot be bought
    assert data_of(await set_status("SUSPENDED"))["setCardProductStatus"]["status"] == "SUSPENDED"
    assert codes(await buy()) == ["INVALID_STATE"]

    # When it is active again, it sells
    assert data_of(await set_status("ACTIVE"))["setCardProductStatus"]["status"] == "ACTIVE"
    assert data_of(await buy())["purchaseCard"]["card"]["id"]

    # A status it already has is an invalid change
    assert codes(await set_status("ACTIVE")) == ["INVALID_STATE"]

    # When it is retired, it cannot come back
    assert data_of(await set_status("RETIRED"))["setCardProductStatus"]["status"] == "RETIRED"
    for status in ("ACTIVE", "SUSPENDED", "RETIRED"):
        assert codes(await set_status(status)) == ["INVALID_STATE"]
    assert (await CardProduct.get(id=world.product.id)).status is CardProductStatus.RETIRED
    assert codes(await buy()) == ["INVALID_STATE"]


async def test_suspended_product_can_be_retired(client):
    # Given a suspended product
    world = await make_merchant()
    product_id = gid("CardProduct", world.product.id)
    data_of(
        await gql(
            client, SET_PRODUCT_STATUS, {"id": product_id, "status": "SUSPENDED"}, world.token
        )
    )

    # When it is retired
    result = await gql(
        client, SET_PRODUCT_STATUS, {"id": product_id, "status": "RETIRED"}, world.token
    )

    # Then it is RETIRED
    assert data_of(result)["setCardProductStatus"]["status"] == "RETIRED"


# ---------------------------------------------------------------- who may manage


async def test_another_merchants_store_or_product_is_not_found(client):
    # Given two merchants
    world, other = await make_merchant(), await make_merchant()
    other_store = gid("Store", other.stores[0].id)
    other_product = gid("CardProduct", other.product.id)

    # When the first closes the other's store, changes its product or binds staff to its store
    closing = await gql(client, CLOSE_STORE, {"id": other_store}, world.token)
    retiring = await gql(
        client, SET_PRODUCT_STATUS, {"id": other_product, "status": "RETIRED"}, world.token
    )
    phone = new_phone()
    staffing = await gql(
        client,
        ADD_STAFF,
        {
            "input": {
                "phone": phone,
                "password": PASSWORD,
                "displayName": "卧底",
                "storeId": other_store,
            }
        },
        world.token,
    )

    # Then each is not found and nothing changed
    assert codes(closing) == ["NOT_FOUND"]
    assert codes(retiring) == ["NOT_FOUND"]
    assert codes(staffing) == ["NOT_FOUND"]
    assert (await Store.get(id=other.stores[0].id)).status is StoreStatus.OPEN
    assert (await CardProduct.get(id=other.product.id)).status is CardProductStatus.ACTIVE
    assert not await User.exists(phone=phone)


async def management_calls(world: MerchantWorld) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("addStore", ADD_STORE, {"input": store_input()}),
        ("closeStore", CLOSE_STORE, {"id": gid("Store", world.stores[0].id)}),
        (
            "addStaff",
            ADD_STAFF,
            {"input": {"phone": new_phone(), "password": PASSWORD, "displayName": "店员"}},
        ),
        ("createCardProduct", CREATE_PRODUCT, {"input": product_input()}),
        (
            "setCardProductStatus",
            SET_PRODUCT_STATUS,
            {"id": gid("CardProduct", world.product.id), "status": "RETIRED"},
        ),
    ]


async def assert_unchanged(world: MerchantWorld, staff_count: int) -> None:
    assert await Store.filter(merchant_id=world.merchant.id).count() == len(world.stores)
    assert (await Store.get(id=world.stores[0].id)).status is StoreStatus.OPEN
    assert await User.filter(merchant_id=world.merchant.id).count() == staff_count
    assert await product_count(world) == 1
    assert (await CardProduct.get(id=world.product.id)).status is CardProductStatus.ACTIVE


@pytest.mark.parametrize("bound_to_store", [False, True])
async def test_staff_cannot_manage(client, bound_to_store):
    # Given a staff member (not the owner) of a merchant
    world = await make_merchant()
    staff = await make_staff(world, world.stores[0] if bound_to_store else None)
    token = token_for(staff)

    for name, document, variables in await management_calls(world):
        # When the staff member tries each management mutation
        result = await gql(client, document, variables, token)

        # Then it is forbidden
        assert codes(result) == ["FORBIDDEN"], name
    # And nothing changed
    await assert_unchanged(world, staff_count=2)


async def test_consumers_and_anonymous_users_cannot_manage(client):
    # Given a merchant, a consumer and a regulator
    world = await make_merchant()
    consumer = token_for(await make_user(Role.CONSUMER))
    regulator = token_for(await make_user(Role.REGULATOR))

    for name, document, variables in await management_calls(world):
        # When they try each management mutation
        # Then anonymous users must sign in, the others are forbidden
        assert codes(await gql(client, document, variables)) == ["UNAUTHENTICATED"], name
        assert codes(await gql(client, document, variables, consumer)) == ["FORBIDDEN"], name
        assert codes(await gql(client, document, variables, regulator)) == ["FORBIDDEN"], name
    # And nothing changed
    await assert_unchanged(world, staff_count=1)


@pytest.mark.parametrize("status", [MerchantStatus.REJECTED, MerchantStatus.CLOSED])
async def test_a_rejected_or_closed_merchant_changes_nothing(client, status):
    # Given a merchant that was rejected or closed
    world = await make_merchant(status=status)

    for name, document, variables in await management_calls(world):
        # When its owner tries each management mutation
        result = await gql(client, document, variables, world.token)

        # Then that is an invalid state
        assert codes(result) == ["INVALID_STATE"], name
    await assert_unchanged(world, staff_count=1)


async def test_pending_merchant_prepares_its_products(client):
    # Given a merchant waiting for review
    world = await make_merchant(status=MerchantStatus.PENDING_REVIEW)

    # When its owner adds a store and a product
    store = await gql(client, ADD_STORE, {"input": store_input()}, world.token)
    product = await gql(client, CREATE_PRODUCT, {"input": product_input()}, world.token)

    # Then both are made (it sells only once approved)
    assert data_of(store)["addStore"]["status"] == "OPEN"
    assert data_of(product)["createCardProduct"]["status"] == "ACTIVE"
