"""Filters of the root connections: merchants, transactions, complaints, risk alerts, announcements.

Every test names its merchants with a unique prefix (or filters by its own
merchant) so that rows made by other tests never count.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from core import clock
from models import Announcement, Complaint, Merchant, RiskAlert, Store
from models.enums import (
    AlertStatus,
    AnnouncementKind,
    ComplaintCategory,
    ComplaintStatus,
    CreditGrade,
    MerchantStatus,
    RiskAlertKind,
    RiskLevel,
    Role,
)
from schema.ids import encode_id
from services import redemption
from tests.support import (
    MerchantWorld,
    buy_card,
    codes,
    data_of,
    gql,
    make_merchant,
    make_user,
    principal_of,
    token_for,
)

MERCHANTS = """
query Merchants($filter: MerchantFilter) {
  merchants(filter: $filter, first: 100) {
    totalCount
    edges { node { id name status category { code } creditRating { grade } } }
  }
}
"""
TRANSACTIONS = """
query Transactions($filter: TransactionFilter) {
  transactions(filter: $filter, first: 100) {
    totalCount
    edges { node { id kind card { id } store { id } createdAt } }
  }
}
"""
COMPLAINTS = """
query Complaints($filter: ComplaintFilter) {
  complaints(filter: $filter, first: 100) {
    totalCount
    edges { node { id status category } }
  }
}
"""
RISK_ALERTS = """
query Alerts($filter: RiskAlertFilter) {
  riskAlerts(filter: $filter, first: 100) {
    totalCount
    edges { node { id kind severity status } }
  }
}
"""
ANNOUNCEMENTS = """
query Announcements($kind: AnnouncementKind, $after: String) {
  announcements(kind: $kind, first: 100, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id kind title pinned publishedAt } }
  }
}
"""


def unique(label: str) -> str:
    return f"{label}{uuid.uuid4().hex[:8]}"


async def merchant_names(client, filter_: dict[str, Any], token: str | None = None) -> set[str]:
    result = data_of(await gql(client, MERCHANTS, {"filter": filter_}, token))["merchants"]
    assert result["totalCount"] == len(result["edges"])
    return {edge["node"]["name"] for edge in result["edges"]}


async def regulator_token() -> str:
    return token_for(await make_user(Role.REGULATOR))


# ---------------------------------------------------------------- MerchantFilter


async def test_category_code_keeps_the_merchants_of_that_category(client):
    # Given merchants of two categories under one prefix
    prefix = unique("类别")
    await make_merchant(name=f"{prefix} 洗衣", category="LAUNDRY")
    await make_merchant(name=f"{prefix} 超市", category="RETAIL")
    await make_merchant(name=f"{prefix} 便利店", category="RETAIL")

    # When filtering by category
    retail = await merchant_names(client, {"search": prefix, "categoryCode": "RETAIL"})
    laundry = await merchant_names(client, {"search": prefix, "categoryCode": "LAUNDRY"})
    fitness = await merchant_names(client, {"search": prefix, "categoryCode": "FITNESS"})

    # Then only those of the category come back
    assert retail == {f"{prefix} 超市", f"{prefix} 便利店"}
    assert laundry == {f"{prefix} 洗衣"}
    assert fitness == set()


async def test_status_filter_for_regulators_and_the_public(client):
    # Given merchants in three states under one prefix
    prefix = unique("状态")
    await make_merchant(name=f"{prefix} 营业")
    await make_merchant(name=f"{prefix} 待审", status=MerchantStatus.PENDING_REVIEW)
    await make_merchant(name=f"{prefix} 暂停", status=MerchantStatus.SUSPENDED)
    regulator = await regulator_token()

    # When a regulator filters by status
    pending = await merchant_names(
        client, {"search": prefix, "status": "PENDING_REVIEW"}, regulator
    )
    suspended = await merchant_names(client, {"search": prefix, "status": "SUSPENDED"}, regulator)
    everything = await merchant_names(client, {"search": prefix}, regulator)

    # Then each state shows its own merchants
    assert pending == {f"{prefix} 待审"}
    assert suspended == {f"{prefix} 暂停"}
    assert len(everything) == 3

    # And anonymous callers asking for pending merchants get nothing
    assert await merchant_names(client, {"search": prefix, "status": "PENDING_REVIEW"}) == set()
    assert await merchant_names(client, {"search": prefix, "status": "ACTIVE"}) == {
        f"{prefix} 营业"
    }


async def test_search_matches_merchant_names_and_store_names(client):
    # Given one merchant whose name matches and another whose store's name matches
    prefix = unique("Search")
    by_name = await make_merchant(name=f"{prefix} 洗衣")
    by_store = await make_merchant(name=unique("别的名字"))
    await Store.create(
        merchant_id=by_store.merchant.id,
        name=f"{prefix} 万达店",
        address="万达广场",
        district="清江浦区",
    )
    await make_merchant(name=unique("无关"))

    # When searching for the prefix, in any letter case, with spaces around it
    found = await merchant_names(client, {"search": prefix})
    lower = await merchant_names(client, {"search": f"  {prefix.lower()} "})

    # Then both merchants match, once each
    assert found == {by_name.merchant.name, by_store.merchant.name}
    assert lower == found
    result = data_of(await gql(client, MERCHANTS, {"filter": {"search": prefix}}))
    assert result["merchants"]["totalCount"] == 2


@pytest.mark.parametrize("wildcard", ["%", "_"])
async def test_search_treats_like_wildcards_literally(client, wildcard):
    # Given merchants under a prefix, none of whose names holds the wildcard
    prefix = unique("通配")
    await make_merchant(name=f"{prefix}甲 洗衣")
    await make_merchant(name=f"{prefix}乙 洗衣")

    # When the search term holds a LIKE wildcard
    found = await merchant_names(client, {"search": f"{prefix}{wildcard}"})

    # Then it matches the character, not anything
    assert found == set()


async def test_district_keeps_merchants_with_a_store_in_it(client):
    # Given merchants with stores in different districts, one with a store in both
    prefix = unique("地区")
    district = "金湖县"
    inside = await make_merchant(name=f"{prefix} 区内", district=district)
    await make_merchant(name=f"{prefix} 区外", district="淮阴区")
    both = await make_merchant(name=f"{prefix} 两边", district="淮安区")
    await Store.create(merchant_id=both.merchant.id, name="分店", address="某路", district=district)

    # When filtering by the district
    found = await merchant_names(client, {"search": prefix, "district": district})

    # Then the merchants with a store there come back
    assert found == {inside.merchant.name, both.merchant.name}
    assert await merchant_names(client, {"search": prefix, "district": unique("无此区")}) == set()


async def test_min_grade_keeps_that_grade_and_better(client):
    # Given merchants graded A, B, C and D and one never scored
    prefix = unique("等级")
    for grade, score in (("A", 900), ("B", 750), ("C", 650), ("D", 500)):
        world = await make_merchant(name=f"{prefix} {grade}")
        await Merchant.filter(id=world.merchant.id).update(
            credit_grade=CreditGrade(grade), credit_score=score
        )
    await make_merchant(name=f"{prefix} 无评分")

    # When filtering by the lowest acceptable grade
    found = {
        grade: await merchant_names(client, {"search": prefix, "minGrade": grade})
        for grade in "ABCD"
    }

    # Then that grade and the better ones come back, unscored merchants never
    assert found["A"] == {f"{prefix} A"}
    assert found["B"] == {f"{prefix} A", f"{prefix} B"}
    assert found["C"] == {f"{prefix} A", f"{prefix} B", f"{prefix} C"}
    assert found["D"] == {f"{prefix} A", f"{prefix} B", f"{prefix} C", f"{prefix} D"}


async def test_filters_combine(client):
    # Given merchants that each miss one condition
    prefix = unique("组合")
    district = "盱眙县"
    match = await make_merchant(name=f"{prefix} 命中", category="RETAIL", district=district)
    await Merchant.filter(id=match.merchant.id).update(credit_grade=CreditGrade.A, credit_score=900)
    wrong_category = await make_merchant(name=f"{prefix} 类别不对", district=district)
    await Merchant.filter(id=wrong_category.merchant.id).update(
        credit_grade=CreditGrade.A, credit_score=900
    )
    await make_merchant(name=f"{prefix} 无评分", category="RETAIL", district=district)
    await make_merchant(name=f"{prefix} 区不对", category="RETAIL")

    # When every filter is given at once
    found = await merchant_names(
        client,
        {"search": prefix, "categoryCode": "RETAIL", "district": district, "minGrade": "B"},
    )

    # Then only the merchant meeting all of them comes back
    assert found == {match.merchant.name}


async def test_a_bad_category_or_id_filter_is_bad_input(client):
    world = await make_merchant()
    consumer = await make_user()

    result = await gql(
        client,
        TRANSACTIONS,
        {"filter": {"cardId": encode_id("Merchant", world.merchant.id)}},
        token_for(consumer),
    )

    assert codes(result) == ["BAD_USER_INPUT"]


# ---------------------------------------------------------------- TransactionFilter


async def redeem_at(world: MerchantWorld, card_id: int, consumer, store_index: int, fen: int):
    issued = await redemption.issue_redemption_code(
        principal=principal_of(consumer), card_id=card_id
    )
    return await redemption.redeem(
        principal=principal_of(world.owner),
        code=issued.code,
        store_id=world.stores[store_index].id,
        amount_fen=fen,
        idempotency_key=uuid.uuid4().hex,
    )


async def test_transaction_filters(client, frozen_clock):
    # Given two cards bought on day 0 and redeemed at two stores on day 2
    world = await make_merchant(stores=2)
    consumer = await make_user()
    day0 = frozen_clock.current
    first = (await buy_card(consumer, world)).card
    second = (await buy_card(consumer, world)).card
    frozen_clock.advance(days=2)
    await redeem_at(world, first.id, consumer, 0, 10_000)
    await redeem_at(world, second.id, consumer, 1, 20_000)
    token = token_for(consumer)

    async def kinds(filter_: dict[str, Any], as_token: str = token) -> list[str]:
        result = data_of(await gql(client, TRANSACTIONS, {"filter": filter_}, as_token))
        connection = result["transactions"]
        assert connection["totalCount"] == len(connection["edges"])
        return sorted(edge["node"]["kind"] for edge in connection["edges"])

    card_id = encode_id("Card", first.id)
    store_1 = encode_id("Store", world.stores[1].id)
    merchant_id = encode_id("Merchant", world.merchant.id)
    middle = (day0 + dt.timedelta(days=1)).isoformat()

    # When filtering by kind, card, store and time, as the consumer and as the merchant
    # Then each filter narrows the list
    assert await kinds({}) == ["PURCHASE", "PURCHASE", "REDEMPTION", "REDEMPTION"]
    assert await kinds({"kind": "REDEMPTION"}) == ["REDEMPTION", "REDEMPTION"]
    assert await kinds({"kind": "REFUND"}) == []
    assert await kinds({"cardId": card_id}) == ["PURCHASE", "REDEMPTION"]
    assert await kinds({"storeId": store_1}) == ["REDEMPTION"]
    assert await kinds({"from": middle}) == ["REDEMPTION", "REDEMPTION"]
    assert await kinds({"to": middle}) == ["PURCHASE", "PURCHASE"]
    assert await kinds({"from": day0.isoformat(), "to": middle}) == ["PURCHASE", "PURCHASE"]
    assert await kinds({"cardId": card_id, "kind": "PURCHASE", "merchantId": merchant_id}) == [
        "PURCHASE"
    ]
    assert await kinds({"storeId": store_1}, world.token) == ["REDEMPTION"]
    assert await kinds({"merchantId": merchant_id, "to": middle}, world.token) == [
        "PURCHASE",
        "PURCHASE",
    ]

    # And a redemption names its store, a purchase none
    result = data_of(await gql(client, TRANSACTIONS, {"filter": {"storeId": store_1}}, token))[
        "transactions"
    ]
    assert result["edges"][0]["node"]["store"] == {"id": store_1}


async def test_transactions_come_newest_first(client, frozen_clock):
    world = await make_merchant()
    consumer = await make_user()
    bought = (await buy_card(consumer, world)).card
    frozen_clock.advance(minutes=5)
    await redeem_at(world, bought.id, consumer, 0, 1_000)
    frozen_clock.advance(minutes=5)
    await redeem_at(world, bought.id, consumer, 0, 2_000)

    result = data_of(await gql(client, TRANSACTIONS, {}, token_for(consumer)))["transactions"]

    times = [edge["node"]["createdAt"] for edge in result["edges"]]
    assert [edge["node"]["kind"] for edge in result["edges"]] == [
        "REDEMPTION",
        "REDEMPTION",
        "PURCHASE",
    ]
    assert times == sorted(times, reverse=True)


# ---------------------------------------------------------------- ComplaintFilter


async def test_complaint_filters(client):
    # Given three complaints about one merchant in different states and categories
    world = await make_merchant()
    consumer = await make_user()
    respond_by = clock.now() + dt.timedelta(hours=72)
    for status, category in (
        (ComplaintStatus.SUBMITTED, ComplaintCategory.QUALITY),
        (ComplaintStatus.RESOLVED, ComplaintCategory.QUALITY),
        (ComplaintStatus.UNDER_MEDIATION, ComplaintCategory.STORE_CLOSED),
    ):
        await Complaint.create(
            complainant_id=consumer.id,
            merchant_id=world.merchant.id,
            category=category,
            status=status,
            description="投诉",
            respond_by=respond_by,
        )
    regulator = await regulator_token()
    merchant_id = encode_id("Merchant", world.merchant.id)

    async def statuses(filter_: dict[str, Any], token: str) -> list[str]:
        result = data_of(await gql(client, COMPLAINTS, {"filter": filter_}, token))["complaints"]
        assert result["totalCount"] == len(result["edges"])
        return sorted(edge["node"]["status"] for edge in result["edges"])

    # When a regulator and the merchant filter them
    # Then merchantId, status and category narrow the list
    assert await statuses({"merchantId": merchant_id}, regulator) == [
        "RESOLVED",
        "SUBMITTED",
        "UNDER_MEDIATION",
    ]
    assert await statuses({"merchantId": merchant_id, "status": "RESOLVED"}, regulator) == [
        "RESOLVED"
    ]
    assert await statuses({"merchantId": merchant_id, "category": "QUALITY"}, regulator) == [
        "RESOLVED",
        "SUBMITTED",
    ]
    assert await statuses({"category": "STORE_CLOSED"}, world.token) == ["UNDER_MEDIATION"]
    assert await statuses({"status": "WITHDRAWN"}, token_for(consumer)) == []


# ---------------------------------------------------------------- RiskAlertFilter


async def test_risk_alert_filters(client):
    # Given alerts of every severity on one merchant, one of them resolved
    world = await make_merchant()
    for kind, severity, status in (
        (RiskAlertKind.SALES_SPIKE, RiskLevel.LOW, AlertStatus.OPEN),
        (RiskAlertKind.LARGE_PURCHASE, RiskLevel.MEDIUM, AlertStatus.ACKNOWLEDGED),
        (RiskAlertKind.ESCROW_SHORTFALL, RiskLevel.HIGH, AlertStatus.OPEN),
        (RiskAlertKind.COMPLAINT_SURGE, RiskLevel.HIGH, AlertStatus.RESOLVED),
    ):
        await RiskAlert.create(
            merchant_id=world.merchant.id, kind=kind, severity=severity, status=status, summary="s"
        )
    regulator = await regulator_token()
    merchant_id = encode_id("Merchant", world.merchant.id)

    async def severities(filter_: dict[str, Any], token: str) -> list[str]:
        result = data_of(await gql(client, RISK_ALERTS, {"filter": filter_}, token))["riskAlerts"]
        assert result["totalCount"] == len(result["edges"])
        return sorted(edge["node"]["severity"] for edge in result["edges"])

    # When filtering by the lowest severity, kind and status
    # Then each narrows the list
    assert await severities({"minSeverity": "LOW"}, world.token) == [
        "HIGH",
        "HIGH",
        "LOW",
        "MEDIUM",
    ]
    assert await severities({"minSeverity": "MEDIUM"}, world.token) == ["HIGH", "HIGH", "MEDIUM"]
    assert await severities({"minSeverity": "HIGH"}, world.token) == ["HIGH", "HIGH"]
    assert await severities({"merchantId": merchant_id, "minSeverity": "HIGH"}, regulator) == [
        "HIGH",
        "HIGH",
    ]
    assert await severities(
        {"merchantId": merchant_id, "minSeverity": "HIGH", "status": "OPEN"}, regulator
    ) == ["HIGH"]
    assert await severities({"kind": "LARGE_PURCHASE"}, world.token) == ["MEDIUM"]
    assert await severities({"status": "DISMISSED"}, world.token) == []


# ---------------------------------------------------------------- announcements


async def all_announcements(client, kind: str | None = None) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = data_of(await gql(client, ANNOUNCEMENTS, {"kind": kind, "after": after}))
        connection = page["announcements"]
        nodes += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return nodes
        after = connection["pageInfo"]["endCursor"]


async def test_announcements_pinned_first_then_newest(client):
    # Given pinned and unpinned announcements published at different times
    tag = unique("公告")
    now = clock.now()
    for title, pinned, days_ago, kind in (
        ("old pinned", True, 10, AnnouncementKind.POLICY),
        ("new pinned", True, 1, AnnouncementKind.RISK_WARNING),
        ("newest", False, 0, AnnouncementKind.NOTICE),
        ("older", False, 5, AnnouncementKind.RISK_WARNING),
        ("oldest", False, 20, AnnouncementKind.NOTICE),
    ):
        await Announcement.create(
            kind=kind,
            title=f"{tag} {title}",
            body="正文",
            pinned=pinned,
            published_at=now - dt.timedelta(days=days_ago),
        )

    # When anyone reads them
    everything = await all_announcements(client)
    risk_warnings = await all_announcements(client, "RISK_WARNING")

    # Then pinned ones come first, each group newest first
    ours = [node["title"].removeprefix(f"{tag} ") for node in everything if tag in node["title"]]
    assert ours == ["new pinned", "old pinned", "newest", "older", "oldest"]
    pinned_flags = [node["pinned"] for node in everything]
    assert pinned_flags == sorted(pinned_flags, reverse=True)

    # And the kind filter keeps that kind only, in the same order
    assert {node["kind"] for node in risk_warnings} == {"RISK_WARNING"}
    assert [
        node["title"].removeprefix(f"{tag} ") for node in risk_warnings if tag in node["title"]
    ] == ["new pinned", "older"]
