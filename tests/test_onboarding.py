"""Merchant onboarding: registerMerchant, the registry check and a regulator's review.

Every test registers its own applications (fresh phone and credit code) and
reads back only its own rows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import pytest

from core import clock
from models import Merchant, RefreshToken, RegistryRecord, Store, User
from models.enums import MerchantStatus, Role
from schema.ids import decode_id, encode_id
from services.credit_code import with_check_character
from services.onboarding import registry_findings
from settings import HUAIAN_DISTRICTS
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

REGISTER_MERCHANT = """
mutation Register($input: RegisterMerchantInput!) {
  registerMerchant(input: $input) {
    auth {
      accessToken
      refreshToken
      user { id role phone merchant { id } }
    }
    merchant {
      id
      name
      creditCode
      legalRepresentative
      status
      registryVerified
      registryFindings
      category { code }
      stores(first: 50) { totalCount edges { node { name address district phone status } } }
    }
  }
}
"""
REVIEW_MERCHANT = """
mutation Review($id: ID!, $approve: Boolean!, $reason: String) {
  reviewMerchant(merchantId: $id, approve: $approve, reason: $reason) { id status }
}
"""
ME = "{ me { id role merchant { id status } } }"
REFRESH = """
mutation Refresh($token: String!) { refreshSession(refreshToken: $token) { accessToken } }
"""
LOGIN = """
mutation Login($phone: String!, $password: String!) {
  login(phone: $phone, password: $password) { user { id role merchant { id } } }
}
"""
MERCHANT = "query Merchant($id: ID!) { merchant(id: $id) { id status } }"
MERCHANTS = """
query Merchants($search: String!) {
  merchants(filter: {search: $search}, first: 100) { totalCount edges { node { id status } } }
}
"""
REVIEW_QUEUE = """
query Queue($search: String!) {
  merchants(filter: {status: PENDING_REVIEW, search: $search}, first: 100) {
    edges { node { id name } }
  }
}
"""
AUDIT_TRAIL = """
query Audit($merchant: ID!) {
  auditTrail(filter: {merchantId: $merchant}) { edges { node { action reason } } }
}
"""
APPLICATION = """
query Application($id: ID!) {
  merchant(id: $id) { id status creditCode registryVerified registryFindings }
}
"""


MARCH_15_NOON_SHANGHAI = dt.datetime(2026, 3, 15, 4, 0, tzinfo=dt.UTC)


def application(**overrides: Any) -> dict[str, Any]:
    """A well-formed application with a fresh name, phone and credit code."""
    name = f"安心洗衣 {uuid.uuid4().hex[:8]}"
    values: dict[str, Any] = {
        "name": name,
        "creditCode": new_credit_code(),
        "legalRepresentative": "王五",
        "categoryCode": "LAUNDRY",
        "contactPhone": new_phone(),
        "password": PASSWORD,
        "stores": [
            {"name": f"{name} 健康路店", "address": "健康东路1号", "district": "清江浦区"},
            {
                "name": f"{name} 淮海路店",
                "address": "淮海南路8号",
                "district": "淮安区",
                "phone": "0517-8888888",
            },
        ],
    }
    values.update(overrides)
    return values


async def register(client, **overrides: Any) -> dict[str, Any]:
    return await gql(client, REGISTER_MERCHANT, {"input": application(**overrides)})


async def registry_record(credit_code: str, **overrides: Any) -> RegistryRecord:
    """A registry entry that matches `application()`'s defaults unless told otherwise."""
    values: dict[str, Any] = {
        "credit_code": credit_code,
        "name": "",
        "legal_representative": "王五",
        "registered_capital_fen": 50_000_000,
        "established_on": clock.now().date() - dt.timedelta(days=3 * 365),
        "registration_status": "存续",
        "administrative_penalties": 0,
        "on_abnormal_list": False,
    }
    values.update(overrides)
    return await RegistryRecord.create(**values)


async def regulator_token() -> str:
    return token_for(await make_user(Role.REGULATOR))


async def nothing_created(phone: str, credit_code: str, store_name: str) -> bool:
    """No owner account, no merchant (a code of another length cannot even be stored), no store."""
    code = credit_code.strip().upper()
    merchant_exists = len(code) == 18 and await Merchant.exists(credit_code=code)
    return not (
        await User.exists(phone=phone) or merchant_exists or await Store.exists(name=store_name)
    )


# ---------------------------------------------------------------- registerMerchant


async def test_register_merchant_creates_owner_pending_merchant_and_stores(client):
    # Given a well-formed application
    values = application()

    # When it is sent
    payload = data_of(await gql(client, REGISTER_MERCHANT, {"input": values}))["registerMerchant"]

    # Then the merchant waits for review with its stores
    merchant = payload["merchant"]
    assert merchant["status"] == "PENDING_REVIEW"
    assert merchant["name"] == values["name"]
    assert merchant["creditCode"] == values["creditCode"]
    assert merchant["category"] == {"code": "LAUNDRY"}
    stores = merchant["stores"]
    assert stores["totalCount"] == 2
    assert sorted(edge["node"]["name"] for edge in stores["edges"]) == sorted(
        store["name"] for store in values["stores"]
    )
    assert {edge["node"]["status"] for edge in stores["edges"]} == {"OPEN"}
    # And the owner is a MERCHANT of that merchant, with the contact phone
    user = payload["auth"]["user"]
    assert user["role"] == "MERCHANT"
    assert user["phone"] == values["contactPhone"]
    assert user["merchant"] == {"id": merchant["id"]}
    owner = await User.get(phone=values["contactPhone"])
    assert owner.is_merchant_owner

    # And its access token works
    me = data_of(await gql(client, ME, token=payload["auth"]["accessToken"]))["me"]
    assert me == {
        "id": user["id"],
        "role": "MERCHANT",
        "merchant": {"id": merchant["id"], "status": "PENDING_REVIEW"},
    }
    # And so do its refresh token and its password
    refreshed = data_of(await gql(client, REFRESH, {"token": payload["auth"]["refreshToken"]}))
    assert refreshed["refreshSession"]["accessToken"]
    login = data_of(
        await gql(client, LOGIN, {"phone": values["contactPhone"], "password": PASSWORD})
    )["login"]
    assert login["user"] == {
        "id": user["id"],
        "role": "MERCHANT",
        "merchant": {"id": merchant["id"]},
    }


async def test_lower_case_credit_code_is_stored_in_capitals(client):
    # Given a valid credit code written in lower case
    code = with_check_character("91320800MA1XYW12K")
    assert code.upper() == code

    # When an application uses it
    result = await register(client, creditCode=code.lower())

    # Then it is accepted and kept in capitals
    assert data_of(result)["registerMerchant"]["merchant"]["creditCode"] == code


def _bad_check_character(code: str) -> str:
    other = "1" if code[-1] != "1" else "2"
    return code[:-1] + other


@pytest.mark.parametrize(
    "make_code",
    [
        pytest.param(lambda: new_credit_code()[:17], id="17 characters"),
        pytest.param(lambda: new_credit_code() + "0", id="19 characters"),
        pytest.param(lambda: "", id="empty"),
        pytest.param(lambda: _bad_check_character(new_credit_code()), id="wrong check character"),
        pytest.param(lambda: "91320800ABCDEFGIO1", id="forbidden letters I and O"),
        pytest.param(lambda: "91320800MA1SZV1230", id="forbidden letters S, Z and V"),
        pytest.param(lambda: "9132080-MA1XYZ12K1", id="punctuation"),
    ],
)
async def test_bad_credit_code_is_bad_input_and_creates_nothing(client, make_code):
    # Given an application whose credit code is malformed
    values = application(creditCode=make_code())

    # When it is sent
    result = await gql(client, REGISTER_MERCHANT, {"input": values})

    # Then it is refused as bad input, naming the credit code
    assert codes(result) == ["BAD_USER_INPUT"]
    assert "credit code" in result["errors"][0]["message"]
    assert result["data"] is None
    # And neither the owner account nor the merchant exists
    assert await nothing_created(
        values["contactPhone"], values["creditCode"], values["stores"][0]["name"]
    )


async def test_duplicate_credit_code_is_bad_input(client):
    # Given a registered merchant
    first = application()
    data_of(await gql(client, REGISTER_MERCHANT, {"input": first}))

    # When a second application uses the same credit code
    second = application(creditCode=first["creditCode"])
    result = await gql(client, REGISTER_MERCHANT, {"input": second})

    # Then it is bad input and the second owner account is not created
    assert codes(result) == ["BAD_USER_INPUT"]
    assert not await User.exists(phone=second["contactPhone"])
    assert await Merchant.filter(credit_code=first["creditCode"]).count() == 1


async def test_taken_phone_is_bad_input_and_rolls_back_the_merchant(client):
    # Given an account with a phone number
    taken = (await make_user(Role.CONSUMER)).phone

    # When an application uses that phone for its owner
    values = application(contactPhone=taken)
    result = await gql(client, REGISTER_MERCHANT, {"input": values})

    # Then it is bad input and neither the merchant nor its stores remain
    assert codes(result) == ["BAD_USER_INPUT"]
    assert not await Merchant.exists(credit_code=values["creditCode"])
    assert not await Store.exists(name=values["stores"][0]["name"])
    assert await User.filter(phone=taken).count() == 1


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"stores": []}, id="no store"),
        pytest.param({"name": "   "}, id="blank name"),
        pytest.param({"categoryCode": "NO_SUCH_CATEGORY"}, id="unknown category"),
        pytest.param({"contactPhone": "12345"}, id="bad phone"),
        pytest.param({"password": "short"}, id="weak password"),
    ],
)
async def test_other_bad_input_creates_nothing(client, overrides):
    # Given an application with one bad field
    values = application(**overrides)

    # When it is sent
    result = await gql(client, REGISTER_MERCHANT, {"input": values})

    # Then it is bad input and nothing is created
    assert codes(result) == ["BAD_USER_INPUT"]
    assert not await Merchant.exists(credit_code=values["creditCode"])
    assert not await User.exists(phone=values["contactPhone"])


async def test_a_store_outside_the_city_is_bad_input_naming_the_districts(client):
    # Given an application whose second store is in a district of another city
    values = application()
    values["stores"][1]["district"] = "朝阳区"

    # When it is sent
    result = await gql(client, REGISTER_MERCHANT, {"input": values})

    # Then it is bad input that names the city's districts, and nothing is created
    assert codes(result) == ["BAD_USER_INPUT"]
    message = result["errors"][0]["message"]
    assert all(district in message for district in HUAIAN_DISTRICTS), message
    assert await nothing_created(
        values["contactPhone"], values["creditCode"], values["stores"][0]["name"]
    )


# ---------------------------------------------------------------- registry check


async def test_registry_match_verifies_the_application(client):
    # Given a registry entry that matches the application in every respect
    values = application()
    await registry_record(values["creditCode"], name=values["name"])

    # When the merchant registers
    merchant = data_of(await gql(client, REGISTER_MERCHANT, {"input": values}))["registerMerchant"][
        "merchant"
    ]

    # Then it is verified with no findings
    assert merchant["registryVerified"] is True
    assert merchant["registryFindings"] == []


MISMATCHES = [
    pytest.param(None, "has no business with this credit code", id="no record"),
    pytest.param({"name": "别家洗衣有限公司"}, "Name differs", id="other name"),
    pytest.param(
        {"legal_representative": "赵六"}, "Legal representative differs", id="other legal rep"
    ),
    pytest.param({"registration_status": "注销"}, "注销", id="deregistered"),
    pytest.param({"registration_status": "吊销"}, "吊销", id="revoked"),
    pytest.param(
        {"established_on": "two months ago"}, "less than 6 months ago", id="established recently"
    ),
    pytest.param({"on_abnormal_list": True}, "abnormal-operations list", id="abnormal list"),
]


@pytest.mark.parametrize(("mismatch", "words"), MISMATCHES)
async def test_each_registry_mismatch_is_a_finding(client, mismatch, words):
    # Given a registry that differs from the application in one respect (or knows nothing)
    values = application()
    if mismatch is not None:
        overrides = dict(mismatch)
        if overrides.get("established_on") == "two months ago":
            overrides["established_on"] = clock.now().date() - dt.timedelta(days=61)
        overrides.setdefault("name", values["name"])
        await registry_record(values["creditCode"], **overrides)

    # When the merchant registers
    merchant = data_of(await gql(client, REGISTER_MERCHANT, {"input": values}))["registerMerchant"][
        "merchant"
    ]

    # Then the application is still taken, unverified, with one finding naming the difference
    assert merchant["status"] == "PENDING_REVIEW"
    assert merchant["registryVerified"] is False
    assert len(merchant["registryFindings"]) == 1, merchant["registryFindings"]
    assert words in merchant["registryFindings"][0]


async def test_several_mismatches_give_several_findings(client):
    # Given a registry entry wrong in three respects
    values = application()
    await registry_record(
        values["creditCode"], name="别家洗衣", legal_representative="赵六", on_abnormal_list=True
    )

    # When the merchant registers
    merchant = data_of(await gql(client, REGISTER_MERCHANT, {"input": values}))["registerMerchant"][
        "merchant"
    ]

    # Then each is named
    findings = merchant["registryFindings"]
    assert len(findings) == 3
    assert any("别家洗衣" in finding for finding in findings)
    assert any("赵六" in finding for finding in findings)
    assert any("abnormal" in finding for finding in findings)


@pytest.mark.parametrize(
    ("now", "established_on", "verified"),
    [
        pytest.param(MARCH_15_NOON_SHANGHAI, dt.date(2025, 9, 15), True, id="exactly six months"),
        pytest.param(
            MARCH_15_NOON_SHANGHAI, dt.date(2025, 9, 16), False, id="a day short of six months"
        ),
        pytest.param(MARCH_15_NOON_SHANGHAI, dt.date(2025, 8, 31), True, id="more than six months"),
        # 20:00 UTC on 14 March is already 15 March in Shanghai, the registry's calendar.
        pytest.param(
            dt.datetime(2026, 3, 14, 20, 0, tzinfo=dt.UTC),
            dt.date(2025, 9, 15),
            True,
            id="six months in Shanghai, not yet in UTC",
        ),
        pytest.param(
            dt.datetime(2026, 3, 14, 15, 0, tzinfo=dt.UTC),
            dt.date(2025, 9, 15),
            False,
            id="23:00 in Shanghai the day before",
        ),
    ],
)
async def test_six_months_are_counted_in_calendar_months_of_the_platform(
    client, frozen_clock, now, established_on, verified
):
    # Given a registry entry established around six months before now (Asia/Shanghai)
    frozen_clock.current = now
    values = application()
    await registry_record(values["creditCode"], name=values["name"], established_on=established_on)

    # When the merchant registers
    merchant = data_of(await gql(client, REGISTER_MERCHANT, {"input": values}))["registerMerchant"][
        "merchant"
    ]

    # Then six calendar months or more is old enough
    assert merchant["registryVerified"] is verified


# ---------------------------------------------------------------- visibility before review


async def test_pending_merchant_is_invisible_to_the_public_but_visible_to_itself(client):
    # Given a pending application
    values = application()
    payload = data_of(await gql(client, REGISTER_MERCHANT, {"input": values}))["registerMerchant"]
    merchant_id = payload["merchant"]["id"]
    owner_token = payload["auth"]["accessToken"]
    consumer_token = token_for(await make_user(Role.CONSUMER))

    # When anonymous users and consumers look for it
    for token in (None, consumer_token):
        listed = data_of(await gql(client, MERCHANTS, {"search": values["name"]}, token))
        one = data_of(await gql(client, MERCHANT, {"id": merchant_id}, token))

        # Then it is not there
        assert listed["merchants"]["totalCount"] == 0
        assert one["merchant"] is None

    # And another merchant does not see it either
    other_token = (await make_merchant()).token
    assert (
        data_of(await gql(client, MERCHANT, {"id": merchant_id}, other_token))["merchant"] is None
    )

    # But the merchant itself sees itself
    assert data_of(await gql(client, MERCHANT, {"id": merchant_id}, owner_token))["merchant"] == {
        "id": merchant_id,
        "status": "PENDING_REVIEW",
    }
    listed = data_of(await gql(client, MERCHANTS, {"search": values["name"]}, owner_token))
    assert listed["merchants"]["totalCount"] == 1


# ---------------------------------------------------------------- reviewMerchant


async def pending_merchant(client, *, verified: bool = True) -> dict[str, Any]:
    values = application()
    if verified:
        await registry_record(values["creditCode"], name=values["name"])
    payload = data_of(await gql(client, REGISTER_MERCHANT, {"input": values}))["registerMerchant"]
    assert payload["merchant"]["registryVerified"] is verified
    return {"id": payload["merchant"]["id"], "name": values["name"], **payload["auth"]}


async def status_of(merchant_id: str) -> MerchantStatus:
    return (await Merchant.get(id=decode_id(merchant_id, "Merchant"))).status


async def test_only_regulators_review(client):
    # Given a pending application and callers of every other role
    pending = await pending_merchant(client)
    consumer = token_for(await make_user(Role.CONSUMER))
    other_merchant = (await make_merchant()).token
    callers = [
        (None, "UNAUTHENTICATED"),
        (consumer, "FORBIDDEN"),
        (other_merchant, "FORBIDDEN"),
        (pending["accessToken"], "FORBIDDEN"),
    ]

    for token, code in callers:
        # When they try to approve it
        result = await gql(client, REVIEW_MERCHANT, {"id": pending["id"], "approve": True}, token)

        # Then they are refused and the application still waits
        assert codes(result) == [code]
        assert await status_of(pending["id"]) is MerchantStatus.PENDING_REVIEW


async def test_approval_makes_the_merchant_active_and_public(client):
    # Given a verified pending application
    pending = await pending_merchant(client)
    regulator = await regulator_token()

    # When a regulator approves it without a reason
    result = await gql(client, REVIEW_MERCHANT, {"id": pending["id"], "approve": True}, regulator)

    # Then it is ACTIVE
    assert data_of(result)["reviewMerchant"] == {"id": pending["id"], "status": "ACTIVE"}
    # And anonymous users see it
    one = data_of(await gql(client, MERCHANT, {"id": pending["id"]}))["merchant"]
    assert one == {"id": pending["id"], "status": "ACTIVE"}
    listed = data_of(await gql(client, MERCHANTS, {"search": pending["name"]}))["merchants"]
    assert [edge["node"]["id"] for edge in listed["edges"]] == [pending["id"]]


@pytest.mark.parametrize("reason", [None, "", "   "])
async def test_rejection_needs_a_reason(client, reason):
    # Given a pending application
    pending = await pending_merchant(client)
    regulator = await regulator_token()

    # When a regulator rejects it without a reason
    result = await gql(
        client,
        REVIEW_MERCHANT,
        {"id": pending["id"], "approve": False, "reason": reason},
        regulator,
    )

    # Then it is bad input and the application still waits
    assert codes(result) == ["BAD_USER_INPUT"]
    assert await status_of(pending["id"]) is MerchantStatus.PENDING_REVIEW


async def test_rejection_with_a_reason_rejects_and_keeps_it_private(client):
    # Given a pending application
    pending = await pending_merchant(client)
    regulator = await regulator_token()

    # When a regulator rejects it with a reason
    result = await gql(
        client,
        REVIEW_MERCHANT,
        {"id": pending["id"], "approve": False, "reason": "营业执照信息不符"},
        regulator,
    )

    # Then it is REJECTED, keeps the reason, and stays invisible to the public
    assert data_of(result)["reviewMerchant"]["status"] == "REJECTED"
    row = await Merchant.get(id=decode_id(pending["id"], "Merchant"))
    assert row.status_reason == "营业执照信息不符"
    assert row.reviewed_at is not None
    assert data_of(await gql(client, MERCHANT, {"id": pending["id"]}))["merchant"] is None


async def test_approving_an_unverified_application_needs_a_reason(client):
    # Given an application the registry did not verify
    pending = await pending_merchant(client, verified=False)
    regulator = await regulator_token()

    # When a regulator approves it without a reason
    result = await gql(client, REVIEW_MERCHANT, {"id": pending["id"], "approve": True}, regulator)

    # Then it is bad input and the application still waits
    assert codes(result) == ["BAD_USER_INPUT"]
    assert await status_of(pending["id"]) is MerchantStatus.PENDING_REVIEW

    # But with a reason the approval goes through
    result = await gql(
        client,
        REVIEW_MERCHANT,
        {"id": pending["id"], "approve": True, "reason": "现场核查：登记信息已更新"},
        regulator,
    )
    assert data_of(result)["reviewMerchant"]["status"] == "ACTIVE"


@pytest.mark.parametrize("first_approve", [True, False])
@pytest.mark.parametrize("second_approve", [True, False])
async def test_reviewing_twice_is_invalid_state(client, first_approve, second_approve):
    # Given an application already reviewed
    pending = await pending_merchant(client)
    regulator = await regulator_token()
    data_of(
        await gql(
            client,
            REVIEW_MERCHANT,
            {"id": pending["id"], "approve": first_approve, "reason": "first review"},
            regulator,
        )
    )
    after_first = await status_of(pending["id"])

    # When it is reviewed again
    result = await gql(
        client,
        REVIEW_MERCHANT,
        {"id": pending["id"], "approve": second_approve, "reason": "second review"},
        regulator,
    )

    # Then that is an invalid state and the first decision stands
    assert codes(result) == ["INVALID_STATE"]
    assert await status_of(pending["id"]) is after_first


async def test_reviewing_an_unknown_merchant_is_not_found(client):
    # Given an ID of no merchant
    missing = encode_id("Merchant", 2_000_000_000)

    # When a regulator reviews it
    result = await gql(
        client, REVIEW_MERCHANT, {"id": missing, "approve": True}, await regulator_token()
    )

    # Then it is not found
    assert codes(result) == ["NOT_FOUND"]


async def test_the_review_queue_lists_the_oldest_application_first(client):
    # Given three applications whose ids are not in the order they were made (loaded late)
    prefix = f"排队 {uuid.uuid4().hex[:8]}"
    made = {"newest": 1, "oldest": 30, "middle": 7}
    ids = {}
    for label, days_ago in made.items():
        values = application(name=f"{prefix} {label}")
        payload = data_of(await gql(client, REGISTER_MERCHANT, {"input": values}))
        ids[label] = payload["registerMerchant"]["merchant"]["id"]
        await Merchant.filter(id=decode_id(ids[label], "Merchant")).update(
            created_at=clock.now() - dt.timedelta(days=days_ago)
        )

    # When a regulator lists the applications waiting for review
    queue = data_of(await gql(client, REVIEW_QUEUE, {"search": prefix}, await regulator_token()))

    # Then the oldest application comes first
    listed = [edge["node"]["id"] for edge in queue["merchants"]["edges"]]
    assert listed == [ids["oldest"], ids["middle"], ids["newest"]]


# ---------------------------------------------------------------- applying again


async def rejected_application(client, regulator: str) -> dict[str, Any]:
    """An application the registry did not verify, rejected by `regulator`."""
    values = application()
    payload = data_of(await gql(client, REGISTER_MERCHANT, {"input": values}))["registerMerchant"]
    merchant_id = payload["merchant"]["id"]
    rejected = await gql(
        client,
        REVIEW_MERCHANT,
        {"id": merchant_id, "approve": False, "reason": "登记信息不符"},
        regulator,
    )
    assert data_of(rejected)["reviewMerchant"]["status"] == "REJECTED"
    return {"id": merchant_id, "owner_id": payload["auth"]["user"]["id"], "values": values}


async def test_a_rejected_applicant_applies_again_with_the_same_credit_code_and_phone(client):
    # Given a rejected application whose registry findings have since been fixed
    regulator = await regulator_token()
    old = await rejected_application(client, regulator)
    values = application(
        creditCode=old["values"]["creditCode"], contactPhone=old["values"]["contactPhone"]
    )
    await registry_record(values["creditCode"], name=values["name"])

    # When the applicant applies again with the same credit code, phone and password
    result = await gql(client, REGISTER_MERCHANT, {"input": values})

    # Then a new application waits for review, verified this time
    payload = data_of(result)["registerMerchant"]
    new_id = payload["merchant"]["id"]
    assert new_id != old["id"]
    assert payload["merchant"]["status"] == "PENDING_REVIEW"
    assert payload["merchant"]["creditCode"] == values["creditCode"]
    assert payload["merchant"]["registryVerified"] is True
    # And the owner keeps its account, which now belongs to the new application
    assert payload["auth"]["user"] == {
        "id": old["owner_id"],
        "role": "MERCHANT",
        "phone": values["contactPhone"],
        "merchant": {"id": new_id},
    }
    me = data_of(await gql(client, ME, token=payload["auth"]["accessToken"]))["me"]
    assert me["merchant"] == {"id": new_id, "status": "PENDING_REVIEW"}
    login = await gql(client, LOGIN, {"phone": values["contactPhone"], "password": PASSWORD})
    assert data_of(login)["login"]["user"]["merchant"] == {"id": new_id}
    # And the old application stays as it was, its rejection in the audit trail
    old_application = data_of(await gql(client, APPLICATION, {"id": old["id"]}, regulator))
    assert old_application["merchant"] == {
        "id": old["id"],
        "status": "REJECTED",
        "creditCode": values["creditCode"],
        "registryVerified": False,
        "registryFindings": ["The registry has no business with this credit code"],
    }
    trail = data_of(await gql(client, AUDIT_TRAIL, {"merchant": old["id"]}, regulator))
    assert [edge["node"] for edge in trail["auditTrail"]["edges"]] == [
        {"action": "MERCHANT_REJECTED", "reason": "登记信息不符"}
    ]
    # And the regulator can approve the new application
    approved = await gql(client, REVIEW_MERCHANT, {"id": new_id, "approve": True}, regulator)
    assert data_of(approved)["reviewMerchant"] == {"id": new_id, "status": "ACTIVE"}


async def test_applying_again_needs_the_accounts_password(client):
    # Given a rejected application
    old = await rejected_application(client, await regulator_token())
    values = application(
        creditCode=old["values"]["creditCode"],
        contactPhone=old["values"]["contactPhone"],
        password="another-pass-2",
    )

    # When someone applies again with its phone but another password
    result = await gql(client, REGISTER_MERCHANT, {"input": values})

    # Then it is refused like a wrong login and nothing changes
    assert codes(result) == ["UNAUTHENTICATED"]
    assert await Merchant.filter(credit_code=values["creditCode"]).count() == 1
    assert not await Store.exists(name=values["stores"][0]["name"])
    owner = await User.get(phone=values["contactPhone"])
    assert encode_id("Merchant", owner.merchant_id or 0) == old["id"]


async def test_a_rejected_applicant_may_apply_again_under_a_new_phone(client):
    # Given a rejected application
    old = await rejected_application(client, await regulator_token())

    # When the business applies again with another owner phone
    values = application(creditCode=old["values"]["creditCode"])
    payload = data_of(await gql(client, REGISTER_MERCHANT, {"input": values}))["registerMerchant"]

    # Then the new application has a new owner account, and the old one keeps its own
    assert payload["merchant"]["status"] == "PENDING_REVIEW"
    assert payload["auth"]["user"]["phone"] == values["contactPhone"]
    assert payload["auth"]["user"]["id"] != old["owner_id"]
    old_owner = await User.get(phone=old["values"]["contactPhone"])
    assert encode_id("Merchant", old_owner.merchant_id or 0) == old["id"]


@pytest.mark.parametrize("approve_first", [True, False], ids=["approved", "pending"])
async def test_an_approved_or_pending_application_still_holds_its_code_and_phone(
    client, approve_first
):
    # Given an application that was approved, or still waits for review
    first = await pending_merchant(client)
    first_values = await Merchant.get(id=decode_id(first["id"], "Merchant"))
    if approve_first:
        data_of(
            await gql(
                client,
                REVIEW_MERCHANT,
                {"id": first["id"], "approve": True},
                await regulator_token(),
            )
        )

    # When another application uses its credit code, or its owner's phone
    same_code = await register(client, creditCode=first_values.credit_code)
    same_phone = await register(client, contactPhone=first_values.contact_phone)

    # Then both are bad input and nothing is created
    assert codes(same_code) == ["BAD_USER_INPUT"]
    assert codes(same_phone) == ["BAD_USER_INPUT"]
    assert await Merchant.filter(credit_code=first_values.credit_code).count() == 1
    assert await User.filter(merchant_id=first_values.id).count() == 1


async def test_two_applications_racing_with_one_rejected_account_make_one(client):
    # Given a rejected application
    old = await rejected_application(client, await regulator_token())
    phone = old["values"]["contactPhone"]

    # When its owner sends two new applications at once, for two businesses
    results = await asyncio.gather(
        register(client, contactPhone=phone), register(client, contactPhone=phone)
    )

    # Then one is taken and the other is bad input, leaving no merchant without an owner
    assert sorted(codes(result) for result in results) == [[], ["BAD_USER_INPUT"]]
    (taken,) = [r["data"]["registerMerchant"] for r in results if not r.get("errors")]
    owner = await User.get(phone=phone)
    assert encode_id("Merchant", owner.merchant_id or 0) == taken["merchant"]["id"]
    owned_by_nobody = await Merchant.filter(
        contact_phone=phone, status=MerchantStatus.PENDING_REVIEW
    ).exclude(id=owner.merchant_id)
    assert owned_by_nobody == []
    # And the losing sign-in leaves no session behind: the first application's and the new one's
    live = RefreshToken.filter(user_id=owner.id, used_at__isnull=True, revoked_at__isnull=True)
    assert await live.count() == 2


@pytest.mark.parametrize("status", ["存续", "存续（在营、开业、在册）", "在业", "开业"])
def test_registry_statuses_that_mean_in_operation_give_no_finding(status):
    record = RegistryRecord(
        credit_code="91110000802100433B",
        name="淮安洁净（清江浦）洗衣店",
        legal_representative="陈洁",
        registered_capital_fen=100,
        established_on=dt.date(2020, 1, 1),
        registration_status=status,
        administrative_penalties=0,
        on_abnormal_list=False,
    )

    findings = registry_findings(record, "淮安洁净(清江浦)洗衣店", "陈洁", dt.date(2026, 1, 1))

    assert findings == []


@pytest.mark.parametrize("status", ["注销", "吊销", "迁出", "吊销，未注销"])
def test_registry_statuses_out_of_operation_are_findings(status):
    record = RegistryRecord(
        credit_code="91110000802100433B",
        name="淮安洁净洗衣店",
        legal_representative="陈洁",
        registered_capital_fen=100,
        established_on=dt.date(2020, 1, 1),
        registration_status=status,
        administrative_penalties=0,
        on_abnormal_list=False,
    )

    findings = registry_findings(record, "淮安洁净洗衣店", "陈洁", dt.date(2026, 1, 1))

    assert len(findings) == 1 and status in findings[0]
