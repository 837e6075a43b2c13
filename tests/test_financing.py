"""Financing through the API: a merchant's owner applies when the merchant qualifies (grade A
or B, no open HIGH alert, no complaint unresolved after 15 days), a regulator decides, both in
the audit trail. Grades come from the credit model over the merchant's registry record and
what it did; alerts and complaints from real operations.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest

from core import clock
from core.principal import Principal
from models import AuditEntry, FinancingApplication, Merchant, RegistryRecord, RiskAlert, User
from models.enums import (
    AlertStatus,
    ComplaintCategory,
    ComplaintOutcome,
    CreditGrade,
    RiskLevel,
    Role,
)
from schema.ids import decode_id, encode_id
from services import background, complaints, credit_scores, risk, supervision
from tests.support import (
    MerchantWorld,
    buy_card,
    call,
    codes,
    data_of,
    make_merchant,
    make_user,
)

APPLY = """
mutation Apply($input: FinancingInput!) {
  applyForFinancing(input: $input) {
    id status amount termMonths purpose gradeAtApplication createdAt decidedAt decisionNote
    merchant { id }
  }
}
"""
DECIDE = """
mutation Decide($id: ID!, $approve: Boolean!, $note: String) {
  decideFinancing(applicationId: $id, approve: $approve, note: $note) {
    id status decidedAt decisionNote
  }
}
"""
APPLICATIONS = """
query Applications($status: FinancingStatus) {
  financingApplications(status: $status, first: 50) {
    totalCount edges { node { id status merchant { id } } }
  }
}
"""
CLOSE_STORE = "mutation CloseStore($id: ID!) { closeStore(storeId: $id) { status } }"
FILE_COMPLAINT = "mutation File($input: ComplaintInput!) { fileComplaint(input: $input) { id } }"

QUALIFYING = (CreditGrade.A, CreditGrade.B)
REQUEST = {"amount": "300000.00", "termMonths": 12, "purpose": "新开两家门店的装修和设备"}


# ---------------------------------------------------------------- helpers


async def graded(world: MerchantWorld, *, strong: bool = True) -> CreditGrade:
    """Give the merchant a registry record and score it: a long-established, well-capitalised
    business with a clean record scores A with no history yet; a young, small one with a
    penalty scores C."""
    years, capital_fen, penalties = (12, 500_000_000, 0) if strong else (1, 10_000_000, 1)
    await RegistryRecord.create(
        credit_code=world.merchant.credit_code,
        name=world.merchant.name,
        legal_representative=world.merchant.legal_representative,
        registered_capital_fen=capital_fen,
        established_on=clock.now().date() - dt.timedelta(days=years * 366),
        registration_status="存续",
        administrative_penalties=penalties,
        on_abnormal_list=False,
    )
    score = await credit_scores.recompute(world.merchant.id)
    assert score is not None
    return score.grade


async def qualifying_merchant() -> MerchantWorld:
    world = await make_merchant()
    assert await graded(world) in QUALIFYING
    return world


async def apply(client: httpx.AsyncClient, user: User | None, **changes: Any) -> dict[str, Any]:
    return await call(client, APPLY, {"input": {**REQUEST, **changes}}, user)


def refusal(result: dict[str, Any]) -> str:
    assert codes(result) == ["INVALID_STATE"], result
    assert result["data"] is None
    return str(result["errors"][0]["message"])


async def applications_of(world: MerchantWorld) -> list[FinancingApplication]:
    return await FinancingApplication.filter(merchant_id=world.merchant.id).order_by("id")


# ---------------------------------------------------------------- applying


async def test_a_qualifying_merchant_applies_and_a_regulator_approves(client):
    # Given a merchant graded A by the credit model
    world = await qualifying_merchant()

    # When its owner applies and a regulator approves
    applied = data_of(await apply(client, world.owner))["applyForFinancing"]
    regulator = await make_user(Role.REGULATOR)
    decided = data_of(
        await call(
            client, DECIDE, {"id": applied["id"], "approve": True, "note": "信用良好"}, regulator
        )
    )["decideFinancing"]

    # Then the application kept the grade and the decision, and both are in the audit trail
    assert applied["status"] == "SUBMITTED"
    assert applied["amount"] == "300000.00" and applied["termMonths"] == 12
    assert applied["purpose"] == REQUEST["purpose"]
    assert applied["gradeAtApplication"] == "A"
    assert applied["merchant"] == {"id": encode_id("Merchant", world.merchant.id)}
    assert (applied["decidedAt"], applied["decisionNote"]) == (None, None)
    assert decided["status"] == "APPROVED" and decided["decisionNote"] == "信用良好"
    assert decided["decidedAt"] is not None
    (row,) = await applications_of(world)
    entries = await AuditEntry.filter(subject_type="FinancingApplication", subject_id=row.id)
    assert sorted((e.action, e.actor_id) for e in entries) == [
        ("FINANCING_APPLIED", world.owner.id),
        ("FINANCING_APPROVED", regulator.id),
    ]
    assert {e.merchant_id for e in entries} == {world.merchant.id}
    # And the merchant and regulators see it listed
    for user in (world.owner, regulator):
        listed = data_of(await call(client, APPLICATIONS, {"status": "APPROVED"}, user))
        assert applied["id"] in [e["node"]["id"] for e in listed["financingApplications"]["edges"]]


async def test_a_grade_c_merchant_cannot_apply(client):
    world = await make_merchant()
    assert await graded(world, strong=False) is CreditGrade.C

    result = await apply(client, world.owner)

    assert (
        refusal(result) == f"Financing needs credit grade A or B; {world.merchant.name} has grade C"
    )
    assert await applications_of(world) == []


async def test_a_merchant_not_scored_yet_cannot_apply(client):
    world = await make_merchant()

    result = await apply(client, world.owner)

    assert refusal(result) == (
        f"Financing needs credit grade A or B; {world.merchant.name} has no credit grade yet"
    )


async def test_an_open_high_alert_stops_an_application_until_it_is_resolved(client):
    # Given an A merchant whose only store closed while a card still holds service
    world = await make_merchant(stores=1)
    assert await graded(world) is CreditGrade.A
    await buy_card(await make_user(), world)
    closed = await call(
        client, CLOSE_STORE, {"id": encode_id("Store", world.stores[0].id)}, world.owner
    )
    data_of(closed)
    await background.drain()
    (alert,) = await RiskAlert.filter(merchant_id=world.merchant.id)
    assert alert.severity is RiskLevel.HIGH
    # (rescored after the alert, it still has a grade that qualifies)
    assert (await Merchant.get(id=world.merchant.id)).credit_grade in QUALIFYING

    # When its owner applies, it is refused naming the alert
    refused = refusal(await apply(client, world.owner))
    assert refused == (
        f"Financing needs no open HIGH risk alert; {world.merchant.name} has 1 (STORE_CLOSURES)"
    )

    # And an acknowledged alert is still open; once resolved, the owner may apply
    regulator = Principal(user_id=(await make_user(Role.REGULATOR)).id, role=Role.REGULATOR)
    await risk.update_alert(regulator, alert.id, AlertStatus.ACKNOWLEDGED, None)
    assert refusal(await apply(client, world.owner)).startswith("Financing needs no open HIGH")
    await risk.update_alert(regulator, alert.id, AlertStatus.RESOLVED, "新店已开业")
    await background.drain()
    assert data_of(await apply(client, world.owner))["applyForFinancing"]["status"] == "SUBMITTED"


async def complaint_against(client: httpx.AsyncClient, world: MerchantWorld) -> int:
    consumer = await make_user()
    card = (await buy_card(consumer, world)).card
    complaint = {
        "merchantId": encode_id("Merchant", world.merchant.id),
        "cardId": encode_id("Card", card.id),
        "category": ComplaintCategory.SERVICE_REFUSED.value,
        "description": "门店拒绝用卡",
    }
    filed = data_of(await call(client, FILE_COMPLAINT, {"input": complaint}, consumer))
    return decode_id(filed["fileComplaint"]["id"], "Complaint")


async def test_a_complaint_open_for_15_days_stops_an_application(client, frozen_clock):
    # Given a qualifying merchant with a complaint filed 15 days ago, still open
    world = await qualifying_merchant()
    complaint_id = await complaint_against(client, world)
    frozen_clock.advance(days=15, seconds=1)
    await background.drain()
    assert await credit_scores.recompute(world.merchant.id) is not None

    # When its owner applies, it is refused naming the complaint
    refused = refusal(await apply(client, world.owner))
    assert refused == (
        f"Financing needs every complaint resolved within 15 days; {world.merchant.name} has "
        "1 complaint(s) unresolved for longer"
    )

    # And once a regulator resolves it, the owner may apply
    regulator = Principal(user_id=(await make_user(Role.REGULATOR)).id, role=Role.REGULATOR)
    owner = Principal(user_id=world.owner.id, role=Role.MERCHANT, merchant_id=world.merchant.id)
    await complaints.respond(principal=owner, complaint_id=complaint_id, message="已联系顾客")
    await complaints.resolve(
        principal=regulator,
        complaint_id=complaint_id,
        outcome=ComplaintOutcome.PARTIALLY_UPHELD,
        resolution="已协商解决",
        refund_card_too=False,
    )
    await background.drain()
    assert data_of(await apply(client, world.owner))["applyForFinancing"]["status"] == "SUBMITTED"


async def test_a_complaint_open_for_just_under_15_days_does_not_stop_an_application(
    client, frozen_clock
):
    world = await qualifying_merchant()
    await complaint_against(client, world)
    frozen_clock.advance(days=14, hours=23, minutes=59)
    await background.drain()

    applied = data_of(await apply(client, world.owner))["applyForFinancing"]

    assert applied["status"] == "SUBMITTED"


async def test_a_suspended_merchant_cannot_apply(client):
    world = await qualifying_merchant()
    regulator = await make_user(Role.REGULATOR)
    await supervision.suspend_merchant(
        principal=Principal(user_id=regulator.id, role=Role.REGULATOR),
        merchant_id=world.merchant.id,
        reason="整改",
    )

    assert refusal(await apply(client, world.owner)) == (
        f"Financing needs an active merchant; {world.merchant.name} is suspended"
    )


async def test_one_application_waits_for_a_decision_at_a_time(client):
    world = await qualifying_merchant()
    first = data_of(await apply(client, world.owner))["applyForFinancing"]

    again = await apply(client, world.owner, amount="100000.00")
    regulator = await make_user(Role.REGULATOR)
    data_of(
        await call(
            client, DECIDE, {"id": first["id"], "approve": False, "note": "额度过高"}, regulator
        )
    )
    after_decision = await apply(client, world.owner, amount="100000.00")

    assert (
        refusal(again) == f"{world.merchant.name} already has an application waiting for a decision"
    )
    assert data_of(after_decision)["applyForFinancing"]["status"] == "SUBMITTED"
    assert [a.status.value for a in await applications_of(world)] == ["REJECTED", "SUBMITTED"]


async def test_two_applications_sent_at_once_make_one(client):
    world = await qualifying_merchant()

    results = await asyncio.gather(*(apply(client, world.owner) for _ in range(3)))

    assert sorted(tuple(codes(result)) for result in results) == [
        (),
        ("INVALID_STATE",),
        ("INVALID_STATE",),
    ]
    assert len(await applications_of(world)) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": "0.00"},
        {"amount": "5"},
        {"amount": "5.000"},
        {"amount": "-100.00"},
        {"amount": 300000},
        {"termMonths": 0},
        {"termMonths": 121},
        {"purpose": "   "},
        {"purpose": "长" * 2001},
    ],
)
async def test_a_bad_request_is_bad_user_input_and_changes_nothing(client, changes):
    world = await qualifying_merchant()

    result = await apply(client, world.owner, **changes)

    assert codes(result) == ["BAD_USER_INPUT"]
    assert await applications_of(world) == []


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("anonymous", "UNAUTHENTICATED"),
        ("consumer", "FORBIDDEN"),
        ("staff", "FORBIDDEN"),
        ("regulator", "FORBIDDEN"),
    ],
)
async def test_only_the_merchants_owner_applies(client, who, code):
    world = await qualifying_merchant()
    user = {
        "anonymous": None,
        "consumer": await make_user(),
        "staff": await make_user(Role.MERCHANT, merchant_id=world.merchant.id),
        "regulator": await make_user(Role.REGULATOR),
    }[who]

    result = await apply(client, user)

    assert codes(result) == [code]
    assert await applications_of(world) == []
    assert not await AuditEntry.filter(
        action="FINANCING_APPLIED", merchant_id=world.merchant.id
    ).exists()


# ---------------------------------------------------------------- deciding


async def submitted(client: httpx.AsyncClient) -> tuple[MerchantWorld, str]:
    world = await qualifying_merchant()
    applied = data_of(await apply(client, world.owner))["applyForFinancing"]
    return world, applied["id"]


async def test_a_decided_application_cannot_be_decided_again(client):
    _world, application_id = await submitted(client)
    regulator = await make_user(Role.REGULATOR)
    data_of(await call(client, DECIDE, {"id": application_id, "approve": True}, regulator))

    again = await call(
        client, DECIDE, {"id": application_id, "approve": False, "note": "改判"}, regulator
    )

    assert refusal(again) == "The application was already approved; it cannot be decided again"


async def test_a_rejection_needs_a_note(client):
    world, application_id = await submitted(client)
    regulator = await make_user(Role.REGULATOR)

    result = await call(client, DECIDE, {"id": application_id, "approve": False}, regulator)

    assert codes(result) == ["BAD_USER_INPUT"]
    (row,) = await applications_of(world)
    assert row.status.value == "SUBMITTED"


async def test_two_regulators_deciding_at_once_decide_once(client):
    world, application_id = await submitted(client)
    first, second = await make_user(Role.REGULATOR), await make_user(Role.REGULATOR)

    results = await asyncio.gather(
        call(client, DECIDE, {"id": application_id, "approve": True}, first),
        call(client, DECIDE, {"id": application_id, "approve": False, "note": "不批"}, second),
    )

    assert sorted(tuple(codes(result)) for result in results) == [(), ("INVALID_STATE",)]
    (row,) = await applications_of(world)
    decisions = await AuditEntry.filter(
        subject_type="FinancingApplication", subject_id=row.id, action__startswith="FINANCING_"
    ).exclude(action="FINANCING_APPLIED")
    assert [entry.action for entry in decisions] == [f"FINANCING_{row.status.value}"]


@pytest.mark.parametrize(
    ("who", "code"),
    [("anonymous", "UNAUTHENTICATED"), ("consumer", "FORBIDDEN"), ("owner", "FORBIDDEN")],
)
async def test_only_regulators_decide(client, who, code):
    world, application_id = await submitted(client)
    user = {"anonymous": None, "consumer": await make_user(), "owner": world.owner}[who]

    result = await call(client, DECIDE, {"id": application_id, "approve": True}, user)

    assert codes(result) == [code]
    (row,) = await applications_of(world)
    assert row.status.value == "SUBMITTED"


async def test_an_unknown_application_is_not_found(client):
    regulator = await make_user(Role.REGULATOR)
    unknown = encode_id("FinancingApplication", 2_000_000_000)

    result = await call(client, DECIDE, {"id": unknown, "approve": True}, regulator)

    assert codes(result) == ["NOT_FOUND"]
