"""The permission matrix of the merchant lifecycle.

A merchant cannot touch another merchant's stores, products, complaints or
refunds (NOT_FOUND: existence is not revealed); a consumer cannot resolve
complaints or decide refunds (FORBIDDEN); nobody but a regulator suspends,
reinstates, closes, reviews, publishes or sets custody (FORBIDDEN when signed
in, UNAUTHENTICATED when not). Every refused mutation changes nothing: each
test re-reads the state afterwards.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from core.principal import Principal
from models import (
    Announcement,
    AuditEntry,
    Card,
    CardProduct,
    Complaint,
    LedgerAccount,
    Merchant,
    RefundRequest,
    Store,
    User,
)
from models.enums import (
    CardProductStatus,
    CardStatus,
    ComplaintCategory,
    ComplaintStatus,
    MerchantStatus,
    RefundStatus,
    Role,
    StoreStatus,
)
from schema.ids import encode_id
from services import complaints as complaint_service
from services.ledger import escrow_account
from services.refunds import request_refund
from tests.support import (
    PASSWORD,
    MerchantWorld,
    buy_card,
    codes,
    gql,
    make_merchant,
    make_staff,
    make_user,
    new_phone,
    principal_of,
    redeem_fen,
    token_for,
)

CLOSE_STORE = "mutation M($id: ID!) { closeStore(storeId: $id) { id } }"
SET_PRODUCT_STATUS = """
mutation M($id: ID!) { setCardProductStatus(productId: $id, status: RETIRED) { id } }
"""
CREATE_PRODUCT = """
mutation M($input: CardProductInput!) { createCardProduct(input: $input) { id } }
"""
ADD_STAFF = "mutation M($input: AddStaffInput!) { addStaff(input: $input) { id } }"
RESPOND = """
mutation M($id: ID!) { respondToComplaint(complaintId: $id, message: "不是我们的") { id } }
"""
RESOLVE = """
mutation M($id: ID!) {
  resolveComplaint(complaintId: $id, outcome: UPHELD, resolution: "越权裁决", refundCard: true) { id }
}
"""
DECIDE_REFUND = """
mutation M($id: ID!) { decideRefund(refundId: $id, approve: true, note: "越权") { id } }
"""
SUSPEND = 'mutation M($id: ID!) { suspendMerchant(merchantId: $id, reason: "越权") { id } }'
REINSTATE = 'mutation M($id: ID!) { reinstateMerchant(merchantId: $id, reason: "越权") { id } }'
CLOSE = 'mutation M($id: ID!) { closeMerchant(merchantId: $id, reason: "越权") { cardsRefunded } }'
REVIEW = (
    'mutation M($id: ID!) { reviewMerchant(merchantId: $id, approve: true, reason: "越权") { id } }'
)
SET_CUSTODY = """
mutation M($id: ID!) { setCustodyRatio(merchantId: $id, ratio: 0.5, reason: "越权") { custodyRatio } }
"""
PUBLISH = """
mutation M($title: String!) {
  publishAnnouncement(input: {kind: NOTICE, title: $title, body: "越权发布", pinned: true}) { id }
}
"""


def gid(type_name: str, pk: int) -> str:
    return encode_id(type_name, pk)


@dataclass
class Victim:
    """Merchant B with everything another merchant or a consumer could try to touch."""

    world: MerchantWorld
    pending: MerchantWorld
    suspended: MerchantWorld
    consumer: Any
    card: Card
    complaint: Complaint
    refund: RefundRequest

    async def snapshot(self) -> dict[str, Any]:
        """Everything a refused mutation might have changed."""
        merchants = {
            name: await Merchant.get(id=world.merchant.id)
            for name, world in (
                ("active", self.world),
                ("pending", self.pending),
                ("suspended", self.suspended),
            )
        }
        card = await Card.get(id=self.card.id)
        return {
            "statuses": {name: row.status for name, row in merchants.items()},
            "custody": {name: row.custody_ratio_bp for name, row in merchants.items()},
            "stores": sorted(
                await Store.filter(merchant_id=self.world.merchant.id).values_list("id", "status")
            ),
            "products": sorted(
                await CardProduct.filter(merchant_id=self.world.merchant.id).values_list(
                    "id", "status"
                )
            ),
            "people": await User.filter(merchant_id=self.world.merchant.id).count(),
            "card": (card.status, card.balance_fen, card.cash_value_fen, card.escrow_held_fen),
            "escrow": await LedgerAccount.filter(
                name=escrow_account(self.world.merchant.id)
            ).values_list("debits_fen", "credits_fen"),
            "complaint": (await Complaint.get(id=self.complaint.id)).status,
            "refund": (await RefundRequest.get(id=self.refund.id)).status,
            "audit": await AuditEntry.filter(
                merchant_id__in=[w.merchant.id for w in (self.world, self.pending, self.suspended)]
            ).count(),
        }


async def victim() -> Victim:
    world = await make_merchant(stores=2)
    pending = await make_merchant(status=MerchantStatus.PENDING_REVIEW)
    suspended = await make_merchant(status=MerchantStatus.SUSPENDED)
    consumer = await make_user(Role.CONSUMER)
    card = (await buy_card(consumer, world)).card
    await redeem_fen(world, card.id, consumer, 10_000)
    refund = await request_refund(
        principal=principal_of(consumer), card_id=card.id, reason="想退卡"
    )
    assert refund.status is RefundStatus.PENDING
    complaint = await complaint_service.file_complaint(
        consumer_id=consumer.id,
        merchant_id=world.merchant.id,
        card_id=card.id,
        category=ComplaintCategory.SERVICE_REFUSED,
        description="拒绝服务",
    )
    # Escalated, so that a regulator could resolve it: only the caller's role stands in the way.
    await complaint_service.escalate(
        principal=Principal(user_id=consumer.id, role=Role.CONSUMER),
        complaint_id=complaint.id,
        message=None,
    )
    complaint = await Complaint.get(id=complaint.id)
    assert complaint.status is ComplaintStatus.UNDER_MEDIATION
    return Victim(world, pending, suspended, consumer, card, complaint, refund)


# ---------------------------------------------------------------- merchant against merchant


def cross_merchant_calls(v: Victim) -> list[tuple[str, str, dict[str, Any]]]:
    other_store = gid("Store", v.world.stores[0].id)
    return [
        ("closeStore", CLOSE_STORE, {"id": other_store}),
        (
            "setCardProductStatus",
            SET_PRODUCT_STATUS,
            {"id": gid("CardProduct", v.world.product.id)},
        ),
        (
            "createCardProduct",
            CREATE_PRODUCT,
            {
                "input": {
                    "name": "越权产品",
                    "description": "",
                    "price": "700.00",
                    "faceValue": "1000.00",
                    "validityDays": 365,
                    "storeIds": [other_store],
                }
            },
        ),
        (
            "addStaff",
            ADD_STAFF,
            {
                "input": {
                    "phone": new_phone(),
                    "password": PASSWORD,
                    "displayName": "卧底",
                    "storeId": other_store,
                }
            },
        ),
        ("respondToComplaint", RESPOND, {"id": gid("Complaint", v.complaint.id)}),
        ("decideRefund", DECIDE_REFUND, {"id": gid("RefundRequest", v.refund.id)}),
    ]


async def test_a_merchant_cannot_touch_another_merchants_objects(client):
    # Given merchant B with stores, a product, a complaint and a pending refund, and merchant A
    v = await victim()
    intruder = await make_merchant()
    before = await v.snapshot()

    for name, document, variables in cross_merchant_calls(v):
        # When A's owner acts on B's objects
        result = await gql(client, document, variables, intruder.token)

        # Then they are not found
        assert codes(result) == ["NOT_FOUND"], name
    # And nothing of B changed, and A gained nothing
    assert await v.snapshot() == before
    assert await CardProduct.filter(merchant_id=intruder.merchant.id).count() == 1
    assert await User.filter(merchant_id=intruder.merchant.id).count() == 1


async def test_a_merchants_staff_cannot_touch_another_merchants_complaints_or_refunds(client):
    # Given merchant B's complaint and refund, and a staff member of merchant A (not bound to a
    # store: those decide no refunds anywhere)
    v = await victim()
    intruder = await make_merchant()
    staff = token_for(await make_staff(intruder))
    before = await v.snapshot()

    # When A's staff answer B's complaint or decide B's refund
    respond = await gql(client, RESPOND, {"id": gid("Complaint", v.complaint.id)}, staff)
    decide = await gql(client, DECIDE_REFUND, {"id": gid("RefundRequest", v.refund.id)}, staff)

    # Then neither is found, and nothing changed
    assert codes(respond) == ["NOT_FOUND"]
    assert codes(decide) == ["NOT_FOUND"]
    assert await v.snapshot() == before


# ---------------------------------------------------------------- consumers


@pytest.mark.parametrize("whose", ["own", "another consumer's"])
async def test_a_consumer_cannot_resolve_complaints_or_decide_refunds(client, whose):
    # Given a complaint under mediation and a pending refund
    v = await victim()
    consumer = v.consumer if whose == "own" else await make_user(Role.CONSUMER)
    token = token_for(consumer)
    before = await v.snapshot()

    # When a consumer (even the complainant) resolves the complaint or decides the refund
    resolve = await gql(client, RESOLVE, {"id": gid("Complaint", v.complaint.id)}, token)
    decide = await gql(client, DECIDE_REFUND, {"id": gid("RefundRequest", v.refund.id)}, token)

    # Then both are forbidden, and nothing changed (the card was not refunded)
    assert codes(resolve) == ["FORBIDDEN"]
    assert codes(decide) == ["FORBIDDEN"]
    assert await v.snapshot() == before
    assert (await Card.get(id=v.card.id)).status is CardStatus.FROZEN


async def test_a_merchant_cannot_resolve_its_own_complaint(client):
    # Given a complaint under mediation about merchant B
    v = await victim()
    before = await v.snapshot()

    # When B's owner resolves it
    result = await gql(client, RESOLVE, {"id": gid("Complaint", v.complaint.id)}, v.world.token)

    # Then it is forbidden and nothing changed
    assert codes(result) == ["FORBIDDEN"]
    assert await v.snapshot() == before


# ---------------------------------------------------------------- regulator-only actions


def regulator_calls(v: Victim, title: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("suspendMerchant", SUSPEND, {"id": gid("Merchant", v.world.merchant.id)}),
        ("closeMerchant", CLOSE, {"id": gid("Merchant", v.world.merchant.id)}),
        ("reinstateMerchant", REINSTATE, {"id": gid("Merchant", v.suspended.merchant.id)}),
        ("reviewMerchant", REVIEW, {"id": gid("Merchant", v.pending.merchant.id)}),
        ("setCustodyRatio", SET_CUSTODY, {"id": gid("Merchant", v.world.merchant.id)}),
        ("publishAnnouncement", PUBLISH, {"title": title}),
        ("resolveComplaint", RESOLVE, {"id": gid("Complaint", v.complaint.id)}),
    ]


ACTORS = ["anonymous", "consumer", "card holder", "the merchant", "another merchant", "staff"]


@pytest.mark.parametrize("actor", ACTORS)
async def test_nobody_but_a_regulator_supervises(client, actor):
    # Given merchants in every state and a caller who is not a regulator
    v = await victim()
    tokens: dict[str, str | None] = {
        "anonymous": None,
        "consumer": token_for(await make_user(Role.CONSUMER)),
        "card holder": token_for(v.consumer),
        "the merchant": v.world.token,
        "another merchant": (await make_merchant()).token,
        "staff": token_for(await make_staff(v.world)),
    }
    token = tokens[actor]
    expected = "UNAUTHENTICATED" if token is None else "FORBIDDEN"
    title = f"越权公告 {uuid.uuid4().hex}"
    before = await v.snapshot()

    for name, document, variables in regulator_calls(v, title):
        # When the caller tries each regulator action
        result = await gql(client, document, variables, token)

        # Then it is refused
        assert codes(result) == [expected], name
        assert result["data"] is None
    # And nothing changed: statuses, custody, cards, complaint, refund, trail, announcements
    assert await v.snapshot() == before
    assert not await Announcement.exists(title=title)


async def test_a_regulator_may_do_all_of_it(client):
    # Given the same world and a regulator (the matrix's positive control)
    v = await victim()
    regulator = token_for(await make_user(Role.REGULATOR))
    title = f"公告 {uuid.uuid4().hex}"

    # When the regulator does each action (closing last, after the others)
    calls = regulator_calls(v, title)
    ordered = [call for call in calls if call[0] != "closeMerchant"] + [
        call for call in calls if call[0] == "closeMerchant"
    ]
    ordered = [call for call in ordered if call[0] != "suspendMerchant"]
    for name, document, variables in ordered:
        result = await gql(client, document, variables, regulator)

        # Then each succeeds
        assert not result.get("errors"), (name, result["errors"])

    # And the state moved
    assert (await Merchant.get(id=v.world.merchant.id)).status is MerchantStatus.CLOSED
    assert (await Merchant.get(id=v.pending.merchant.id)).status is MerchantStatus.ACTIVE
    assert (await Merchant.get(id=v.suspended.merchant.id)).status is MerchantStatus.ACTIVE
    assert (await Card.get(id=v.card.id)).status is CardStatus.REFUNDED
    assert (await Complaint.get(id=v.complaint.id)).status is ComplaintStatus.RESOLVED
    assert await Announcement.exists(title=title)
    products = await CardProduct.filter(merchant_id=v.world.merchant.id).values_list(
        "status", flat=True
    )
    assert set(products) == {CardProductStatus.RETIRED}
    # closing the merchant closed its stores too
    assert (await Store.get(id=v.world.stores[0].id)).status is StoreStatus.CLOSED
