"""Bad input inside valid requests is BAD_USER_INPUT (or UNAUTHENTICATED), never a fault.

PostgreSQL refuses NUL characters and unpaired surrogates, Python's calendar ends at years 1
and 9999, and bounded columns refuse longer values: each case is sent through the API, on
SQLite and on PostgreSQL (TEST_DATABASE_URL), and must come back with a code and change nothing.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from models import Announcement, CardProduct, Merchant, User
from models.enums import Role
from schema.ids import encode_id
from tests.support import (
    PASSWORD,
    codes,
    data_of,
    gql,
    make_merchant,
    make_user,
    new_credit_code,
    new_phone,
    token_for,
)

REGISTER_CONSUMER = """
mutation RegisterConsumer($input: RegisterConsumerInput!) {
  registerConsumer(input: $input) { accessToken }
}
"""
REGISTER_MERCHANT = """
mutation RegisterMerchant($input: RegisterMerchantInput!) {
  registerMerchant(input: $input) { merchant { id } }
}
"""
LOGIN = "mutation Login($phone: String!, $password: String!) { login(phone: $phone, password: $password) { accessToken } }"
LOGOUT = "mutation Logout($token: String!) { logout(refreshToken: $token) }"
MERCHANTS = """
query Merchants($filter: MerchantFilter) { merchants(filter: $filter) { totalCount } }
"""
PURCHASE_CARD = """
mutation PurchaseCard($productId: ID!, $key: String!) {
  purchaseCard(productId: $productId, idempotencyKey: $key) { card { id } }
}
"""
CREATE_CARD_PRODUCT = """
mutation CreateCardProduct($input: CardProductInput!) { createCardProduct(input: $input) { id } }
"""
PUBLISH_ANNOUNCEMENT = """
mutation Publish($input: AnnouncementInput!) { publishAnnouncement(input: $input) { id } }
"""
REQUEST_REFUND = """
mutation RequestRefund($cardId: ID!, $reason: String!) {
  requestRefund(cardId: $cardId, reason: $reason) { id }
}
"""
REGISTRY_RECORD = """
query RegistryRecord($code: String!) { registryRecord(creditCode: $code) { name } }
"""
AUDIT_TRAIL = """
query AuditTrail($filter: AuditFilter) { auditTrail(filter: $filter) { totalCount } }
"""
TRANSACTIONS = """
query Transactions($filter: TransactionFilter) { transactions(filter: $filter) { totalCount } }
"""
SUPERVISION_STATS = """
query Stats($from: Date, $to: Date) {
  supervisionStats(from: $from, to: $to) { escrowHeld daily { date sales } }
}
"""
WALLET = "{ wallet { cards { totalCount } } }"

NUL = "\x00"
SURROGATE = "\ud800"


async def post_json(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    """POST with the body as Python's json writes it: an unpaired surrogate goes as \\ud800,
    which is valid JSON that decodes to a string PostgreSQL cannot store."""
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    body = json.dumps({"query": query, "variables": variables})
    response = await client.post("/graphql", content=body, headers=headers)
    assert response.status_code < 500, response.text
    return response.json()


def assert_refused_as_text(result: dict[str, Any]) -> None:
    assert codes(result) == ["BAD_USER_INPUT"], result
    assert "NUL" in result["errors"][0]["message"]


def _store(**fields: str) -> dict[str, Any]:
    return {"name": "一号店", "address": "健康东路1号", "district": "清江浦区", **fields}


def _merchant_input(**fields: Any) -> dict[str, Any]:
    return {
        "input": {
            "name": "淮安测试洗衣",
            "creditCode": new_credit_code(),
            "legalRepresentative": "王五",
            "categoryCode": "LAUNDRY",
            "contactPhone": new_phone(),
            "password": PASSWORD,
            "stores": [_store()],
            **fields,
        }
    }


async def _text_cases(bad: str) -> list[tuple[str, str, dict[str, Any], str | None]]:
    """(what, document, variables, token): one text input of each kind, holding `bad`."""
    world = await make_merchant()
    consumer, regulator = await make_user(), await make_user(Role.REGULATOR)
    product_id = encode_id("CardProduct", world.product.id)
    return [
        (
            "displayName",
            REGISTER_CONSUMER,
            {"input": {"phone": new_phone(), "password": PASSWORD, "displayName": f"张{bad}"}},
            None,
        ),
        ("password", LOGIN, {"phone": consumer.phone, "password": f"x{bad}"}, None),
        ("phone", LOGIN, {"phone": f"{consumer.phone}{bad}", "password": PASSWORD}, None),
        ("refreshToken", LOGOUT, {"token": f"t{bad}"}, None),
        ("search", MERCHANTS, {"filter": {"search": f"洗{bad}衣"}}, None),
        ("district", MERCHANTS, {"filter": {"district": f"清江浦区{bad}"}}, None),
        ("merchant name", REGISTER_MERCHANT, _merchant_input(name=f"洗衣{bad}"), None),
        (
            "store address in a list",
            REGISTER_MERCHANT,
            _merchant_input(stores=[_store(), _store(address=f"路{bad}")]),
            None,
        ),
        (
            "idempotencyKey",
            PURCHASE_CARD,
            {"productId": product_id, "key": f"key-{bad}"},
            token_for(consumer),
        ),
        (
            "description",
            CREATE_CARD_PRODUCT,
            {
                "input": {
                    "name": "充1000送300",
                    "description": f"洗衣卡{bad}",
                    "price": "700.00",
                    "faceValue": "1000.00",
                    "validityDays": 365,
                }
            },
            world.token,
        ),
        (
            "announcement body",
            PUBLISH_ANNOUNCEMENT,
            {"input": {"kind": "NOTICE", "title": "通知", "body": f"正文{bad}"}},
            token_for(regulator),
        ),
        (
            "refund reason",
            REQUEST_REFUND,
            {"cardId": encode_id("Card", 1), "reason": f"不要了{bad}"},
            token_for(consumer),
        ),
        ("creditCode", REGISTRY_RECORD, {"code": f"9132{bad}"}, token_for(regulator)),
        ("audit action", AUDIT_TRAIL, {"filter": {"action": f"a{bad}"}}, token_for(regulator)),
    ]


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
async def test_text_that_is_not_unicode_text_is_bad_user_input_in_every_input(client, bad):
    # Given one request per kind of text input, each holding the bad character
    cases = await _text_cases(bad)
    products_before = await CardProduct.all().count()
    announcements_before = await Announcement.all().count()

    for what, document, variables, token in cases:
        # When it is sent
        result = await post_json(client, document, variables, token)

        # Then it is refused as input, naming the problem, before anything ran
        assert result.get("data") is None, what
        assert_refused_as_text(result)

    assert await CardProduct.all().count() == products_before
    assert await Announcement.all().count() == announcements_before


async def test_a_registration_with_a_nul_creates_no_account(client):
    phone = new_phone()
    variables = {"input": {"phone": phone, "password": PASSWORD, "displayName": f"张{NUL}"}}

    result = await post_json(client, REGISTER_CONSUMER, variables)

    assert_refused_as_text(result)
    assert not await User.filter(phone=phone).exists()


async def test_the_error_says_which_variable(client):
    result = await post_json(client, MERCHANTS, {"filter": {"search": f"a{NUL}"}})

    assert "$filter.search" in result["errors"][0]["message"]


@pytest.mark.parametrize("escape", ["\\u0000", "\\u{0}"])
async def test_a_nul_written_in_the_document_is_bad_user_input(client, escape):
    query = 'query { merchants(filter: {search: "a' + escape + 'b"}) { totalCount } }'

    result = await post_json(client, query, {})

    assert_refused_as_text(result)
    assert result["errors"][0]["locations"]


async def test_a_surrogate_escape_in_the_document_is_refused_with_a_code(client):
    result = await post_json(
        client, 'query { merchants(filter: {search: "\\ud800"}) { totalCount } }', {}
    )

    assert codes(result) in (["BAD_USER_INPUT"], ["GRAPHQL_PARSE_FAILED"])


async def test_ordinary_text_still_works(client):
    # Chinese, emoji (a surrogate pair in JSON), tabs and newlines are text
    name = f"洗衣 😀\t{uuid.uuid4().hex[:6]}\n"
    variables = {"input": {"phone": new_phone(), "password": PASSWORD, "displayName": name}}

    result = await post_json(client, REGISTER_CONSUMER, variables)

    assert data_of(result)["registerConsumer"]["accessToken"]


# Dates and times the calendar or the database cannot hold


@pytest.mark.parametrize(
    ("from_", "to"),
    [
        ("0001-01-01", "0001-01-05"),
        (None, "0001-01-05"),
        ("0001-01-01", None),
        ("9999-12-25", "9999-12-31"),
        ("9999-12-31", None),
        (None, "9999-12-31"),
        ("0000-01-01", None),
        ("10000-01-01", None),
    ],
)
async def test_supervision_stats_at_the_ends_of_the_calendar_are_bad_user_input(client, from_, to):
    regulator = await make_user(Role.REGULATOR)

    result = await gql(client, SUPERVISION_STATS, {"from": from_, "to": to}, token_for(regulator))

    assert result["data"] is None
    assert set(codes(result)) == {"BAD_USER_INPUT"}


async def test_supervision_stats_at_the_last_accepted_dates_answer(client):
    regulator = await make_user(Role.REGULATOR)
    token = token_for(regulator)

    late = await gql(client, SUPERVISION_STATS, {"from": "9998-12-25", "to": "9998-12-31"}, token)
    early = await gql(client, SUPERVISION_STATS, {"from": "0002-01-01", "to": "0002-01-07"}, token)

    assert len(data_of(late)["supervisionStats"]["daily"]) == 7
    assert data_of(early)["supervisionStats"]["daily"][0] == {"date": "0002-01-01", "sales": "0.00"}


async def test_dates_written_in_the_document_are_checked_too(client):
    regulator = await make_user(Role.REGULATOR)
    query = '{ supervisionStats(from: "0001-01-01", to: "0001-01-02") { escrowHeld } }'

    result = await gql(client, query, {}, token_for(regulator))

    assert set(codes(result)) == {"BAD_USER_INPUT"}


OUT_OF_RANGE_TIMES = [
    "0001-01-01T00:00:00+00:00",
    "0001-01-01T00:00:00+08:00",  # before year 1 in UTC
    "0001-12-31T23:59:59+00:00",
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T23:59:59-08:00",  # after year 9999 in UTC
    "9998-12-31T23:00:00-08:00",  # 9999 in UTC
]


@pytest.mark.parametrize("moment", OUT_OF_RANGE_TIMES)
@pytest.mark.parametrize("bound", ["from", "to"])
async def test_transactions_and_audit_filters_at_the_ends_of_the_calendar_are_bad_user_input(
    client, moment, bound
):
    regulator = await make_user(Role.REGULATOR)
    token = token_for(regulator)

    transactions = await gql(client, TRANSACTIONS, {"filter": {bound: moment}}, token)
    audit = await gql(client, AUDIT_TRAIL, {"filter": {bound: moment}}, token)

    assert codes(transactions) == ["BAD_USER_INPUT"]
    assert codes(audit) == ["BAD_USER_INPUT"]


async def test_filters_at_the_last_accepted_times_answer(client):
    regulator = await make_user(Role.REGULATOR)
    token = token_for(regulator)
    whole_range = {"from": "0002-01-01T00:00:00+00:00", "to": "9998-12-31T23:59:59+00:00"}

    transactions = await gql(client, TRANSACTIONS, {"filter": whole_range}, token)
    audit = await gql(client, AUDIT_TRAIL, {"filter": whole_range}, token)

    assert data_of(transactions)["transactions"]["totalCount"] >= 0
    assert data_of(audit)["auditTrail"]["totalCount"] >= 0


# Over-long values compared with bounded columns


async def test_a_credit_code_longer_than_18_characters_is_bad_user_input(client):
    regulator = await make_user(Role.REGULATOR)

    result = await gql(client, REGISTRY_RECORD, {"code": "9" * 40}, token_for(regulator))

    assert codes(result) == ["BAD_USER_INPUT"]
    assert "18" in result["errors"][0]["message"]


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        (MERCHANTS, {"filter": {"district": "区" * 100}}),
        (MERCHANTS, {"filter": {"categoryCode": "C" * 100}}),
        (MERCHANTS, {"filter": {"search": "洗" * 10_000}}),
        (AUDIT_TRAIL, {"filter": {"action": "x" * 100}}),
    ],
)
async def test_over_long_filter_values_never_fault(client, document, variables):
    regulator = await make_user(Role.REGULATOR)

    result = await gql(client, document, variables, token_for(regulator))

    assert not result.get("errors") or codes(result) == ["BAD_USER_INPUT"]


async def test_an_over_long_merchant_name_is_bad_user_input_and_registers_nothing(client):
    name = "洗" * 500
    variables = _merchant_input(name=name)

    result = await gql(client, REGISTER_MERCHANT, variables)

    assert codes(result) == ["BAD_USER_INPUT"]
    assert not await Merchant.filter(credit_code=variables["input"]["creditCode"]).exists()


# A validly signed token for a user that does not exist


async def test_a_token_for_a_user_that_does_not_exist_is_unauthenticated(client):
    user = await make_user()
    token = token_for(user)
    await user.delete()
    world = await make_merchant()
    product_id = encode_id("CardProduct", world.product.id)

    wallet = await gql(client, WALLET, {}, token)
    purchase = await gql(client, PURCHASE_CARD, {"productId": product_id, "key": "k1"}, token)

    assert wallet["data"] is None and codes(wallet) == ["UNAUTHENTICATED"]
    assert purchase["data"] is None and codes(purchase) == ["UNAUTHENTICATED"]
