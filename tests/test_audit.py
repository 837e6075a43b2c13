"""The audit trail: every regulator action is recorded with who, when, what and why.

Entries from other tests share the database: each test filters the trail by
its own merchant, or looks for its own subject.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from core import clock
from models import AuditEntry
from models.enums import MerchantStatus, RefundStatus, Role
from schema.ids import encode_id
from services.refunds import request_refund
from tests.support import (
    MerchantWorld,
    buy_card,
    codes,
    data_of,
    gql,
    make_merchant,
    make_user,
    principal_of,
    redeem_fen,
    token_for,
)

AUDIT_TRAIL = """
query Audit($filter: AuditFilter, $first: Int, $after: String) {
  auditTrail(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        id
        actor { id role }
        action
        subjectType
        subjectId
        merchant { id }
        reason
        details { key value }
        at
      }
    }
  }
}
"""
REVIEW = """
mutation Review($id: ID!, $approve: Boolean!, $reason: String) {
  reviewMerchant(merchantId: $id, approve: $approve, reason: $reason) { status }
}
"""
SUSPEND = """
mutation Suspend($id: ID!, $reason: String!) {
  suspendMerchant(merchantId: $id, reason: $reason) { status }
}
"""
REINSTATE = """
mutation Reinstate($id: ID!, $reason: String!) {
  reinstateMerchant(merchantId: $id, reason: $reason) { status }
}
"""
CLOSE = """
mutation Close($id: ID!, $reason: String!) {
  closeMerchant(merchantId: $id, reason: $reason) { cardsRefunded }
}
"""
SET_CUSTODY = """
mutation Custody($id: ID!, $ratio: Float!, $reason: String!) {
  setCustodyRatio(merchantId: $id, ratio: $ratio, reason: $reason) { custodyRatio }
}
"""
FILE_COMPLAINT = """
mutation File($input: ComplaintInput!) { fileComplaint(input: $input) { id } }
"""
ESCALATE = "mutation Escalate($id: ID!) { escalateComplaint(complaintId: $id) { status } }"
RESOLVE = """
mutation Resolve($id: ID!, $outcome: ComplaintOutcome!, $resolution: String!, $refund: Boolean) {
  resolveComplaint(
    complaintId: $id, outcome: $outcome, resolution: $resolution, refundCard: $refund
  ) { status }
}
"""
DECIDE_REFUND = """
mutation Decide($id: ID!, $approve: Boolean!, $note: String) {
  decideRefund(refundId: $id, approve: $approve, note: $note) { status }
}
"""
PUBLISH = """
mutation Publish($input: AnnouncementInput!) { publishAnnouncement(input: $input) { id } }
"""


class Regulator:
    def __init__(self, user) -> None:
        self.user = user

    @property
    def id(self) -> str:
        return encode_id("User", self.user.id)

    @property
    def token(self) -> str:
        return token_for(self.user)


@pytest.fixture
def client(roomy_client):
    """Trails of 100 entries with their details: over the default cost limit, raised here."""
    return roomy_client


async def regulator() -> Regulator:
    return Regulator(await make_user(Role.REGULATOR, display_name="市场监管局 张科长"))


def merchant_gid(world: MerchantWorld) -> str:
    return encode_id("Merchant", world.merchant.id)


async def trail(client, token: str, **filter_: Any) -> list[dict[str, Any]]:
    result = await gql(client, AUDIT_TRAIL, {"filter": filter_ or None, "first": 100}, token)
    return [edge["node"] for edge in data_of(result)["auditTrail"]["edges"]]


def details(entry: dict[str, Any]) -> dict[str, str]:
    return {item["key"]: item["value"] for item in entry["details"]}


def recent(entry: dict[str, Any]) -> bool:
    at = dt.datetime.fromisoformat(entry["at"])
    return abs((clock.now() - at).total_seconds()) < 120


# ---------------------------------------------------------------- each action is recorded


async def test_approval_and_rejection_are_recorded(client):
    # Given two applications waiting for review
    approved = await make_merchant(status=MerchantStatus.PENDING_REVIEW)
    rejected = await make_merchant(status=MerchantStatus.PENDING_REVIEW)
    reg = await regulator()

    # When a regulator approves one and rejects the other
    data_of(await gql(client, REVIEW, {"id": merchant_gid(approved), "approve": True}, reg.token))
    data_of(
        await gql(
            client,
            REVIEW,
            {"id": merchant_gid(rejected), "approve": False, "reason": "法定代表人不符"},
            reg.token,
        )
    )

    # Then each is one entry naming the regulator, the merchant and the reason
    [approval] = await trail(client, reg.token, merchantId=merchant_gid(approved))
    assert approval["action"] == "MERCHANT_APPROVED"
    assert approval["actor"] == {"id": reg.id, "role": "REGULATOR"}
    assert approval["subjectType"] == "Merchant"
    assert approval["subjectId"] == merchant_gid(approved)
    assert approval["merchant"] == {"id": merchant_gid(approved)}
    assert approval["reason"] is None
    assert details(approval)["registryVerified"] == "true"
    assert recent(approval)

    [rejection] = await trail(client, reg.token, merchantId=merchant_gid(rejected))
    assert rejection["action"] == "MERCHANT_REJECTED"
    assert rejection["reason"] == "法定代表人不符"
    assert rejection["actor"]["id"] == reg.id


async def test_suspension_reinstatement_and_closure_are_recorded(client):
    # Given an active merchant with one card
    world = await make_merchant()
    consumer = await make_user(Role.CONSUMER)
    await buy_card(consumer, world)
    reg = await regulator()

    # When a regulator suspends, reinstates and closes it
    for document, reason in (
        (SUSPEND, "投诉激增"),
        (REINSTATE, "整改完成"),
        (CLOSE, "经营者失联"),
    ):
        data_of(
            await gql(client, document, {"id": merchant_gid(world), "reason": reason}, reg.token)
        )

    # Then the trail shows the three actions, newest first, with reasons and details
    entries = await trail(client, reg.token, merchantId=merchant_gid(world))
    assert [entry["action"] for entry in entries] == [
        "MERCHANT_CLOSED",
        "MERCHANT_REINSTATED",
        "MERCHANT_SUSPENDED",
    ]
    closed, reinstated, suspended = entries
    assert [entry["reason"] for entry in entries] == ["经营者失联", "整改完成", "投诉激增"]
    assert {entry["actor"]["id"] for entry in entries} == {reg.id}
    assert {entry["subjectId"] for entry in entries} == {merchant_gid(world)}
    assert details(suspended) == {"from": "ACTIVE", "to": "SUSPENDED"}
    assert details(reinstated) == {"from": "SUSPENDED", "to": "ACTIVE"}
    assert details(closed) == {
        "from": "ACTIVE",
        "cardsRefunded": "1",
        "cashRefunded": "700.00",
        "shortfall": "0.00",
    }
    assert all(recent(entry) for entry in entries)


async def test_custody_ratio_change_is_recorded(client):
    # Given an active merchant at full custody
    world = await make_merchant()
    reg = await regulator()

    # When a regulator sets its custody ratio to 0.8
    result = await gql(
        client,
        SET_CUSTODY,
        {"id": merchant_gid(world), "ratio": 0.8, "reason": "信用良好，降低存管比例"},
        reg.token,
    )
    assert data_of(result)["setCustodyRatio"]["custodyRatio"] == 0.8

    # Then the change is recorded from 1.0 to 0.8 with its reason
    [entry] = await trail(client, reg.token, merchantId=merchant_gid(world))
    assert entry["action"] == "CUSTODY_RATIO_SET"
    assert entry["reason"] == "信用良好，降低存管比例"
    assert entry["subjectId"] == merchant_gid(world)
    assert details(entry) == {"from": "1.0", "to": "0.8"}


async def test_complaint_resolution_is_recorded(client):
    # Given a complaint under mediation about a card
    world = await make_merchant()
    consumer = await make_user(Role.CONSUMER)
    card = (await buy_card(consumer, world)).card
    complaint_id = data_of(
        await gql(
            client,
            FILE_COMPLAINT,
            {
                "input": {
                    "merchantId": merchant_gid(world),
                    "cardId": encode_id("Card", card.id),
                    "category": "STORE_CLOSED",
                    "description": "门店已关",
                }
            },
            token_for(consumer),
        )
    )["fileComplaint"]["id"]
    data_of(await gql(client, ESCALATE, {"id": complaint_id}, token_for(consumer)))
    reg = await regulator()

    # When a regulator upholds it with a refund
    data_of(
        await gql(
            client,
            RESOLVE,
            {"id": complaint_id, "outcome": "UPHELD", "resolution": "门店关闭属实", "refund": True},
            reg.token,
        )
    )

    # Then the ruling is recorded against the complaint and the merchant
    [entry] = await trail(client, reg.token, merchantId=merchant_gid(world))
    assert entry["action"] == "COMPLAINT_RESOLVED"
    assert entry["subjectType"] == "Complaint"
    assert entry["subjectId"] == complaint_id
    assert entry["reason"] == "门店关闭属实"
    assert details(entry)["outcome"] == "UPHELD"
    assert details(entry)["refund"] == "true"


@pytest.mark.parametrize("approve", [True, False])
async def test_a_regulators_refund_decision_is_recorded(client, approve):
    # Given a pending refund request for a used card
    world = await make_merchant()
    consumer = await make_user(Role.CONSUMER)
    card = (await buy_card(consumer, world)).card
    await redeem_fen(world, card.id, consumer, 10_000)
    request = await request_refund(
        principal=principal_of(consumer), card_id=card.id, reason="搬家了"
    )
    assert request.status is RefundStatus.PENDING
    reg = await regulator()

    # When a regulator decides it
    result = await gql(
        client,
        DECIDE_REFUND,
        {"id": encode_id("RefundRequest", request.id), "approve": approve, "note": "依规处理"},
        reg.token,
    )
    assert data_of(result)["decideRefund"]["status"] == ("APPROVED" if approve else "REJECTED")

    # Then the decision is recorded
    [entry] = await trail(client, reg.token, merchantId=merchant_gid(world))
    assert entry["action"] == ("REFUND_APPROVED" if approve else "REFUND_REJECTED")
    assert entry["subjectType"] == "RefundRequest"
    assert entry["subjectId"] == encode_id("RefundRequest", request.id)
    assert entry["reason"] == "依规处理"
    assert entry["actor"]["id"] == reg.id


async def test_a_merchants_own_refund_decision_is_not_a_regulator_action(client):
    # Given a pending refund request
    world = await make_merchant()
    consumer = await make_user(Role.CONSUMER)
    card = (await buy_card(consumer, world)).card
    await redeem_fen(world, card.id, consumer, 10_000)
    request = await request_refund(
        principal=principal_of(consumer), card_id=card.id, reason="搬家了"
    )

    # When the merchant approves it
    result = await gql(
        client,
        DECIDE_REFUND,
        {"id": encode_id("RefundRequest", request.id), "approve": True},
        world.token,
    )
    assert data_of(result)["decideRefund"]["status"] == "APPROVED"

    # Then the audit trail of regulators has nothing for the merchant
    reg = await regulator()
    assert await trail(client, reg.token, merchantId=merchant_gid(world)) == []


async def test_announcement_is_recorded(client):
    # Given a regulator
    reg = await regulator()

    # When the regulator publishes an announcement
    announcement_id = data_of(
        await gql(
            client,
            PUBLISH,
            {
                "input": {
                    "kind": "RISK_WARNING",
                    "title": "风险提示",
                    "body": "谨慎购卡",
                    "pinned": True,
                }
            },
            reg.token,
        )
    )["publishAnnouncement"]["id"]

    # Then it is recorded with no merchant
    entries = await trail(client, reg.token, action="ANNOUNCEMENT_PUBLISHED", actorId=reg.id)
    assert [entry["subjectId"] for entry in entries] == [announcement_id]
    [entry] = entries
    assert entry["subjectType"] == "Announcement"
    assert entry["merchant"] is None
    assert details(entry)["title"] == "风险提示"
    assert details(entry)["kind"] == "RISK_WARNING"


# ---------------------------------------------------------------- reading the trail


async def test_only_regulators_read_the_trail(client):
    # Given a consumer, a merchant owner and a merchant's trail
    world = await make_merchant()
    consumer = token_for(await make_user(Role.CONSUMER))

    # When they read the trail
    anonymous = await gql(client, AUDIT_TRAIL, {"first": 5})
    by_consumer = await gql(client, AUDIT_TRAIL, {"first": 5}, consumer)
    by_merchant = await gql(
        client,
        AUDIT_TRAIL,
        {"first": 5, "filter": {"merchantId": merchant_gid(world)}},
        world.token,
    )

    # Then they are refused
    assert codes(anonymous) == ["UNAUTHENTICATED"]
    assert codes(by_consumer) == ["FORBIDDEN"]
    assert codes(by_merchant) == ["FORBIDDEN"]
    for result in (anonymous, by_consumer, by_merchant):
        assert result["data"] is None


async def test_filters_by_merchant_action_and_actor(client):
    # Given two merchants acted on by two regulators
    first, second = await make_merchant(), await make_merchant()
    alice, bob = await regulator(), await regulator()
    data_of(await gql(client, SUSPEND, {"id": merchant_gid(first), "reason": "甲"}, alice.token))
    data_of(await gql(client, SUSPEND, {"id": merchant_gid(second), "reason": "乙"}, bob.token))
    data_of(await gql(client, REINSTATE, {"id": merchant_gid(first), "reason": "丙"}, bob.token))

    # When the trail is filtered
    by_merchant = await trail(client, alice.token, merchantId=merchant_gid(first))
    by_action = await trail(
        client, alice.token, merchantId=merchant_gid(first), action="MERCHANT_SUSPENDED"
    )
    by_actor = await trail(client, alice.token, actorId=bob.id)
    lower_case = await trail(
        client, alice.token, merchantId=merchant_gid(second), action="merchant_suspended"
    )

    # Then each filter keeps its own entries only
    assert [entry["reason"] for entry in by_merchant] == ["丙", "甲"]
    assert {entry["merchant"]["id"] for entry in by_merchant} == {merchant_gid(first)}
    assert [entry["reason"] for entry in by_action] == ["甲"]
    assert [entry["reason"] for entry in by_actor] == ["丙", "乙"]
    assert {entry["actor"]["id"] for entry in by_actor} == {bob.id}
    assert [entry["reason"] for entry in lower_case] == ["乙"]

    # And a time window keeps what happened inside it
    now = clock.now()
    inside = await trail(
        client,
        alice.token,
        merchantId=merchant_gid(first),
        **{
            "from": (now - dt.timedelta(minutes=5)).isoformat(),
            "to": (now + dt.timedelta(minutes=5)).isoformat(),
        },
    )
    before = await trail(
        client,
        alice.token,
        merchantId=merchant_gid(first),
        to=(now - dt.timedelta(minutes=5)).isoformat(),
    )
    assert len(inside) == 2
    assert before == []


async def test_refused_actions_leave_no_entry(client):
    # Given a pending application and an active merchant
    pending = await make_merchant(status=MerchantStatus.PENDING_REVIEW)
    active = await make_merchant()
    reg = await regulator()
    consumer = token_for(await make_user(Role.CONSUMER))
    before = await AuditEntry.filter(
        merchant_id__in=[pending.merchant.id, active.merchant.id]
    ).count()

    # When actions fail: a rejection without reason, a reinstatement of an active merchant,
    # a custody ratio out of range, and a consumer's suspension
    failures = [
        await gql(client, REVIEW, {"id": merchant_gid(pending), "approve": False}, reg.token),
        await gql(client, REINSTATE, {"id": merchant_gid(active), "reason": "无"}, reg.token),
        await gql(
            client,
            SET_CUSTODY,
            {"id": merchant_gid(active), "ratio": 0.2, "reason": "太低"},
            reg.token,
        ),
        await gql(client, SUSPEND, {"id": merchant_gid(active), "reason": "越权"}, consumer),
    ]

    # Then each failed and none is in the trail
    assert [codes(result) for result in failures] == [
        ["BAD_USER_INPUT"],
        ["INVALID_STATE"],
        ["BAD_USER_INPUT"],
        ["FORBIDDEN"],
    ]
    after = await AuditEntry.filter(
        merchant_id__in=[pending.merchant.id, active.merchant.id]
    ).count()
    assert after == before == 0
    assert await trail(client, reg.token, merchantId=merchant_gid(active)) == []
