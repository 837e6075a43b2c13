"""Credit scores from real operations: grades, hard negatives, discounts, grade D's effects,
the events that rescore a merchant, recomputeCreditScores, and the cost of gathering features.

Histories are made through the services and the API (cards bought, redeemed and refunded,
complaints filed and resolved, registry imports); no score row is inserted by hand. Registry
records are input data, made here the way the registry import would.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from core import clock
from core.principal import Principal
from models import Card, CreditFactor, CreditScore, Merchant, RegistryRecord, Transfer, User
from models.enums import (
    CardStatus,
    ComplaintCategory,
    ComplaintOutcome,
    CreditGrade,
    MerchantStatus,
    RefundStatus,
    Role,
    TransferKind,
)
from schema.ids import encode_id
from services import (
    background,
    complaints,
    credit_features,
    credit_scores,
    refunds,
    supervision,
)
from services.registry import import_rows
from tests.support import (
    PASSWORD,
    MerchantWorld,
    assert_ledger_clean,
    buy_card,
    call,
    codes,
    data_of,
    gql,
    make_merchant,
    make_user,
    new_credit_code,
    new_phone,
    principal_of,
    redeem_fen,
)

REGISTER_MERCHANT = """
mutation Register($input: RegisterMerchantInput!) {
  registerMerchant(input: $input) { merchant { id status } }
}
"""
REVIEW_MERCHANT = """
mutation Review($id: ID!, $approve: Boolean!, $reason: String) {
  reviewMerchant(merchantId: $id, approve: $approve, reason: $reason) {
    id status creditRating { grade score }
  }
}
"""
CREATE_PRODUCT = """
mutation CreateProduct($input: CardProductInput!) { createCardProduct(input: $input) { id } }
"""
PURCHASE_CARD = """
mutation PurchaseCard($productId: ID!, $key: String!) {
  purchaseCard(productId: $productId, idempotencyKey: $key) { card { id } }
}
"""
TOP_UP_CARD = """
mutation TopUpCard($cardId: ID!, $pay: Money!, $key: String!) {
  topUpCard(cardId: $cardId, payAmount: $pay, idempotencyKey: $key) { card { balance } }
}
"""
REQUEST_REFUND = """
mutation RequestRefund($cardId: ID!, $reason: String!) {
  requestRefund(cardId: $cardId, reason: $reason) { id status amount }
}
"""
FILE_COMPLAINT = """
mutation File($input: ComplaintInput!) { fileComplaint(input: $input) { id status } }
"""
RECOMPUTE = """
mutation Recompute($ids: [ID!]) { recomputeCreditScores(merchantIds: $ids) }
"""
MERCHANT_CREDIT = """
query MerchantCredit($id: ID!) {
  merchant(id: $id) {
    creditRating { grade score }
    creditScore {
      score grade modelVersion
      factors { code name value weight contribution explanation }
    }
    creditHistory(first: 10) { totalCount edges { node { score grade } } }
  }
}
"""
PUBLIC_CREDIT = (
    "query PublicCredit($id: ID!) { merchant(id: $id) { creditRating { grade score } } }"
)
ESCROW = "query Escrow($id: ID!) { merchant(id: $id) { escrow { custodyRatio held } } }"
SET_CUSTODY_RATIO = """
mutation SetRatio($merchantId: ID!, $ratio: Float!, $reason: String!) {
  setCustodyRatio(merchantId: $merchantId, ratio: $ratio, reason: $reason) { custodyRatio }
}
"""


# ---------------------------------------------------------------- helpers


async def registry_for(world: MerchantWorld, **overrides: Any) -> RegistryRecord:
    """The registry's record of the merchant: 存续, no penalties, not listed, unless told."""
    values: dict[str, Any] = {
        "credit_code": world.merchant.credit_code,
        "name": world.merchant.name,
        "legal_representative": world.merchant.legal_representative,
        "registered_capital_fen": 50_000_000,
        "established_on": clock.now().date() - dt.timedelta(days=3 * 365),
        "registration_status": "存续",
        "administrative_penalties": 0,
        "on_abnormal_list": False,
    }
    values.update(overrides)
    return await RegistryRecord.create(**values)


def registry_row(record: RegistryRecord, **overrides: str) -> dict[str, str]:
    """The record as a registry export row (the import's input), with some columns changed."""
    row = {
        "credit_code": record.credit_code,
        "name": record.name,
        "legal_representative": record.legal_representative,
        "registered_capital": f"{record.registered_capital_fen / 100:.2f}",
        "established_on": record.established_on.isoformat(),
        "registration_status": record.registration_status,
        "administrative_penalties": str(record.administrative_penalties),
        "on_abnormal_list": "true" if record.on_abnormal_list else "false",
    }
    row.update(overrides)
    return row


async def reimport(record: RegistryRecord, **overrides: str) -> None:
    report = await import_rows([registry_row(record, **overrides)])
    assert report.problems == [] and report.updated == 1


def regulator_principal(regulator: User) -> Principal:
    return Principal(user_id=regulator.id, role=Role.REGULATOR)


def owner_principal(world: MerchantWorld) -> Principal:
    return Principal(user_id=world.owner.id, role=Role.MERCHANT, merchant_id=world.merchant.id)


@dataclass
class History:
    """What a merchant did, made through the services over five weeks of a moving clock."""

    cards: int = 12
    redeemed: int = 10
    refunded: int = 0
    complaints: int = 0
    unresolved: int = 0
    ruling: ComplaintOutcome = ComplaintOutcome.PARTIALLY_UPHELD


async def live_through(world: MerchantWorld, history: History, frozen_clock: Any) -> list[Card]:
    """Sell the cards, refund some in the cooling-off period, file complaints, then five weeks
    later redeem some and have a regulator resolve the complaints that get resolved."""
    consumers = [await make_user() for _ in range(history.cards)]
    cards = [(await buy_card(consumer, world)).card for consumer in consumers]
    holders = list(zip(consumers, cards, strict=True))
    for consumer, card in holders[len(holders) - history.refunded :]:
        request = await refunds.request_refund(
            principal=principal_of(consumer), card_id=card.id, reason="搬家"
        )
        assert request.status is RefundStatus.APPROVED
    filed = [
        await complaints.file_complaint(
            consumer_id=consumer.id,
            merchant_id=world.merchant.id,
            card_id=card.id,
            category=ComplaintCategory.SERVICE_REFUSED,
            description="门店拒绝用卡消费",
        )
        for consumer, card in holders[: history.complaints]
    ]
    frozen_clock.advance(days=20)
    for consumer, card in holders[: history.redeemed]:
        await redeem_fen(world, card.id, consumer, 10_000)
    regulator = await make_user(Role.REGULATOR)
    for complaint in filed[history.unresolved :]:
        await complaints.respond(
            principal=owner_principal(world), complaint_id=complaint.id, message="已联系顾客"
        )
        await complaints.resolve(
            principal=regulator_principal(regulator),
            complaint_id=complaint.id,
            outcome=history.ruling,
            resolution="已处理",
            refund_card_too=False,
        )
    frozen_clock.advance(days=16)
    await background.drain()
    return cards


def factor(factors: list[Any], code: str) -> Any:
    """The factor with `code` among rows or API answers."""
    for row in factors:
        if (row["code"] if isinstance(row, dict) else row.code) == code:
            return row
    raise AssertionError(f"no factor {code}")


async def grade_now(world: MerchantWorld) -> CreditGrade:
    score = await credit_scores.recompute(world.merchant.id)
    assert score is not None
    return score.grade


async def factors_of(score: CreditScore) -> list[CreditFactor]:
    return await CreditFactor.filter(score_id=score.id).order_by("position")


async def assert_adds_up(score: CreditScore) -> list[CreditFactor]:
    rows = await factors_of(score)
    assert sum(row.contribution for row in rows) == score.score
    merchant = await Merchant.get(id=score.merchant_id)
    assert (merchant.credit_score, merchant.credit_grade) == (score.score, score.grade)
    return rows


# ---------------------------------------------------------------- grade bands


BANDS = {
    # Twelve years, 5,000,000 yuan, a clean record; ten of twelve cards in use.
    "A": (
        {"established_years": 12, "registered_capital_fen": 500_000_000, "penalties": 0},
        History(),
    ),
    # Three years, 500,000 yuan, one penalty; the same good history.
    "B": (
        {"established_years": 3, "registered_capital_fen": 50_000_000, "penalties": 1},
        History(),
    ),
    # One year, 100,000 yuan, one penalty; few cards used, two refunded, two complaints.
    "C": (
        {"established_years": 1, "registered_capital_fen": 10_000_000, "penalties": 1},
        History(redeemed=5, refunded=2, complaints=2),
    ),
    # The same registry record; cards unused, refunds, complaints left unresolved.
    "D": (
        {"established_years": 1, "registered_capital_fen": 10_000_000, "penalties": 1},
        History(redeemed=1, refunded=3, complaints=4, unresolved=4),
    ),
}


@pytest.mark.parametrize("grade", BANDS)
async def test_grade_bands_follow_what_the_merchant_did(client, frozen_clock, grade):
    # Given a merchant with a registry record and five weeks of history
    record, history = BANDS[grade]
    world = await make_merchant()
    await registry_for(
        world,
        established_on=clock.now().date()
        - dt.timedelta(days=int(record["established_years"] * 366)),
        registered_capital_fen=record["registered_capital_fen"],
        administrative_penalties=record["penalties"],
    )
    await live_through(world, history, frozen_clock)

    # When it is scored
    score = await credit_scores.recompute(world.merchant.id)

    # Then its grade is the band's, and its factors add up to its score
    assert score is not None
    assert score.grade == CreditGrade(grade), score.score
    rows = await assert_adds_up(score)
    redemption = factor(rows, "REDEMPTION_RATE")
    assert redemption.value == round(history.redeemed / (history.cards - history.refunded), 4)
    assert not any(row.code == "HARD_NEGATIVE" for row in rows)
    await assert_ledger_clean()


@pytest.mark.parametrize(
    ("ruling", "earned"), [(ComplaintOutcome.UPHELD, 15), (ComplaintOutcome.DISMISSED, 90)]
)
async def test_complaints_a_regulator_dismissed_do_not_count_against_the_merchant(
    client, frozen_clock, ruling, earned
):
    world = await make_merchant()
    await registry_for(world)
    await live_through(world, History(complaints=2, ruling=ruling), frozen_clock)

    score = await credit_scores.recompute(world.merchant.id)

    assert score is not None
    rows = await assert_adds_up(score)
    assert factor(rows, "COMPLAINT_RATE").contribution == earned
    assert factor(rows, "UNRESOLVED_COMPLAINTS").contribution == 80


# ---------------------------------------------------------------- hard negatives


@pytest.mark.parametrize(
    "change",
    [
        {"on_abnormal_list": "true"},
        {"registration_status": "吊销，未注销"},
        {"registration_status": "注销"},
    ],
    ids=["abnormal-list", "revoked", "deregistered"],
)
async def test_a_registry_hard_negative_forces_grade_d(client, frozen_clock, change):
    # Given an established merchant with a good history, grade A
    world = await make_merchant()
    record = await registry_for(
        world,
        established_on=clock.now().date() - dt.timedelta(days=15 * 365),
        registered_capital_fen=1_000_000_000,
    )
    await live_through(world, History(), frozen_clock)
    assert await grade_now(world) is CreditGrade.A

    # When a registry re-import records a hard negative
    await reimport(record, **change)
    score = await credit_scores.recompute(world.merchant.id)

    # Then its next score is grade D, held under 600 by a line that says why
    assert score is not None
    assert score.grade is CreditGrade.D and score.score == 599
    rows = await assert_adds_up(score)
    cap = rows[-1]
    assert cap.code == "HARD_NEGATIVE" and cap.contribution < 0
    assert "grade D" in cap.explanation


# ---------------------------------------------------------------- discount depth


@pytest.mark.parametrize(
    ("price", "earned"), [("700.00", 50), ("600.00", 50), ("550.00", 21), ("300.00", 0)]
)
async def test_a_product_sold_at_more_than_40_percent_off_counts_against_the_merchant(
    client, price, earned
):
    # Given a merchant whose only product is 30 % off
    world = await make_merchant()
    await registry_for(world)

    # When its owner puts a card on sale at `price` for 1000.00 of service
    name = f"充1000 {uuid.uuid4().hex[:6]}"
    product = {
        "name": name,
        "description": "洗衣卡",
        "price": price,
        "faceValue": "1000.00",
        "validityDays": 365,
    }
    data_of(await gql(client, CREATE_PRODUCT, {"input": product}, world.token))
    score = await credit_scores.recompute(world.merchant.id)

    # Then the discount factor earns its points only up to 40 % off
    assert score is not None
    discount = factor(await assert_adds_up(score), "DISCOUNT_DEPTH")
    assert discount.contribution == earned
    if earned < 50:
        assert name in discount.explanation and "more than 40 % off" in discount.explanation


async def test_a_deep_discount_alone_does_not_make_a_clean_newcomer_grade_d(client):
    world = await make_merchant(price_fen=20_000, face_fen=100_000)
    await registry_for(world, established_on=clock.now().date() - dt.timedelta(days=200))

    score = await credit_scores.recompute(world.merchant.id)

    assert score is not None and score.grade is CreditGrade.C
    assert factor(await factors_of(score), "DISCOUNT_DEPTH").contribution == 0


# ---------------------------------------------------------------- grade D


async def test_grade_d_stops_sales_keeps_redemptions_and_refunds_and_forces_full_custody(client):
    # Given a merchant keeping 60 % of prepaid cash in custody, with cards sold
    world = await make_merchant(custody_ratio_bp=6_000)
    record = await registry_for(world)
    holders = [await make_user() for _ in range(3)]
    cards = [(await buy_card(consumer, world)).card for consumer in holders]
    await redeem_fen(world, cards[1].id, holders[1], 10_000)
    assert await grade_now(world) is not CreditGrade.D

    # When the registry lists it as abnormal and it is scored again
    await reimport(record, on_abnormal_list="true")
    score = await credit_scores.recompute(world.merchant.id)
    assert score is not None and score.grade is CreditGrade.D

    # Then all its prepaid cash is in custody, moved through the ledger by the platform
    merchant = await Merchant.get(id=world.merchant.id)
    assert merchant.custody_ratio_bp == 10_000
    for card in await Card.filter(merchant_id=world.merchant.id):
        assert card.escrow_held_fen == card.cash_value_fen and card.custody_ratio_bp == 10_000
    adjustment = await Transfer.get(
        merchant_id=world.merchant.id, kind=TransferKind.CUSTODY_ADJUSTMENT
    ).values("initiated_by_id", "cash_amount_fen")
    assert adjustment["initiated_by_id"] is None and adjustment["cash_amount_fen"] > 0
    await assert_ledger_clean()
    regulator = await make_user(Role.REGULATOR)
    gid = encode_id("Merchant", world.merchant.id)
    escrow = data_of(await call(client, ESCROW, {"id": gid}, regulator))["merchant"]["escrow"]
    assert escrow["custodyRatio"] == 1.0
    # and a regulator cannot lower it while the grade is D
    lowered = await call(
        client, SET_CUSTODY_RATIO, {"merchantId": gid, "ratio": 0.8, "reason": "试"}, regulator
    )
    assert codes(lowered) == ["INVALID_STATE"]

    # And it sells nothing: purchases and top-ups are refused, naming the grade
    buyer = holders[0]
    refused = [
        await call(
            client,
            PURCHASE_CARD,
            {"productId": encode_id("CardProduct", world.product.id), "key": uuid.uuid4().hex},
            buyer,
        ),
        await call(
            client,
            TOP_UP_CARD,
            {"cardId": encode_id("Card", cards[0].id), "pay": "70.00", "key": uuid.uuid4().hex},
            buyer,
        ),
    ]
    for result in refused:
        assert codes(result) == ["MERCHANT_NOT_ACTIVE"]
        assert "credit grade D" in result["errors"][0]["message"]

    # But its cards are still redeemed and refunded
    await redeem_fen(world, cards[1].id, holders[1], 5_000)
    refund = data_of(
        await call(
            client,
            REQUEST_REFUND,
            {"cardId": encode_id("Card", cards[2].id), "reason": "不想用了"},
            holders[2],
        )
    )["requestRefund"]
    assert refund["status"] == "APPROVED" and refund["amount"] == "700.00"
    assert (await Card.get(id=cards[2].id)).status is CardStatus.REFUNDED
    await assert_ledger_clean()


# ---------------------------------------------------------------- through the API, start to end


def application(credit_code: str) -> dict[str, Any]:
    name = f"安心洗衣 {uuid.uuid4().hex[:8]}"
    return {
        "name": name,
        "creditCode": credit_code,
        "legalRepresentative": "王五",
        "categoryCode": "LAUNDRY",
        "contactPhone": new_phone(),
        "password": PASSWORD,
        "stores": [{"name": f"{name} 健康路店", "address": "健康东路1号", "district": "清江浦区"}],
    }


async def test_a_merchant_approved_through_the_api_is_scored_at_once_and_falls_to_d(
    client, frozen_clock
):
    # Given an application that matches a clean registry record of a young business
    values = application(new_credit_code())
    record = await RegistryRecord.create(
        credit_code=values["creditCode"],
        name=values["name"],
        legal_representative="王五",
        registered_capital_fen=30_000_000,
        established_on=clock.now().date() - dt.timedelta(days=400),
        registration_status="存续",
    )
    registered = data_of(await gql(client, REGISTER_MERCHANT, {"input": values}))
    gid = registered["registerMerchant"]["merchant"]["id"]
    regulator = await make_user(Role.REGULATOR)

    # When a regulator approves it
    approved = data_of(
        await call(client, REVIEW_MERCHANT, {"id": gid, "approve": True}, regulator)
    )["reviewMerchant"]

    # Then it has a score at once: grade C or better with no history, every rate neutral
    assert approved["status"] == "ACTIVE"
    rating = approved["creditRating"]
    assert rating is not None and rating["grade"] in ("A", "B", "C")
    owner = await User.get(phone=values["contactPhone"])
    seen = data_of(await call(client, MERCHANT_CREDIT, {"id": gid}, owner))["merchant"]
    assert seen["creditScore"]["score"] == rating["score"]
    assert seen["creditScore"]["modelVersion"] == "anfu-credit-1"
    factors = seen["creditScore"]["factors"]
    assert sum(f["contribution"] for f in factors) == rating["score"]
    assert "neutral" in factor(factors, "REDEMPTION_RATE")["explanation"]
    # and the public sees the grade and the score, not the factors
    public = await call(client, MERCHANT_CREDIT, {"id": gid}, None)
    assert public["data"]["merchant"]["creditRating"] == rating
    assert public["data"]["merchant"]["creditScore"] is None
    assert "FORBIDDEN" in codes(public)

    # When it sells twelve cards, three are refunded, four holders complain and nobody
    # resolves their complaints, and hardly any card is used
    product_id = data_of(
        await call(
            client,
            CREATE_PRODUCT,
            {
                "input": {
                    "name": "充1000送300",
                    "description": "洗衣卡",
                    "price": "700.00",
                    "faceValue": "1000.00",
                    "validityDays": 365,
                }
            },
            owner,
        )
    )["createCardProduct"]["id"]
    holders = [await make_user() for _ in range(12)]
    card_ids = [
        data_of(
            await call(client, PURCHASE_CARD, {"productId": product_id, "key": uuid.uuid4().hex}, c)
        )["purchaseCard"]["card"]["id"]
        for c in holders
    ]
    for consumer, card_id in list(zip(holders, card_ids, strict=True))[:3]:
        data_of(await call(client, REQUEST_REFUND, {"cardId": card_id, "reason": "退卡"}, consumer))
    for consumer, card_id in list(zip(holders, card_ids, strict=True))[3:7]:
        complaint = {
            "merchantId": gid,
            "cardId": card_id,
            "category": "SERVICE_REFUSED",
            "description": "门店拒绝用卡消费",
        }
        data_of(await call(client, FILE_COMPLAINT, {"input": complaint}, consumer))
    await background.drain()
    frozen_clock.advance(days=36)
    data_of(await call(client, RECOMPUTE, {"ids": [gid]}, regulator))

    # Then it is grade D and sells nothing more
    seen = data_of(await call(client, MERCHANT_CREDIT, {"id": gid}, regulator))["merchant"]
    assert seen["creditRating"]["grade"] == "D"
    # (risk alerts raised by the complaints rescored it too, in the background)
    scores_so_far = seen["creditHistory"]["totalCount"]
    assert scores_so_far >= 2
    by_code = {f["code"]: f for f in seen["creditScore"]["factors"]}
    assert by_code["UNRESOLVED_COMPLAINTS"]["contribution"] == 0
    assert by_code["REFUND_RATE"]["contribution"] == 0
    assert "HARD_NEGATIVE" not in by_code
    refused = await call(
        client, PURCHASE_CARD, {"productId": product_id, "key": uuid.uuid4().hex}, holders[8]
    )
    assert codes(refused) == ["MERCHANT_NOT_ACTIVE"]

    # And when the registry then lists it as abnormal, its next score says so too
    await background.drain()
    await reimport(record, on_abnormal_list="true")
    assert data_of(await call(client, RECOMPUTE, {"ids": [gid]}, regulator)) == {
        "recomputeCreditScores": 1
    }
    seen = data_of(await call(client, MERCHANT_CREDIT, {"id": gid}, regulator))["merchant"]
    assert seen["creditScore"]["factors"][-1]["code"] == "HARD_NEGATIVE"
    assert seen["creditHistory"]["totalCount"] == scores_so_far + 1
    await assert_ledger_clean()


# ---------------------------------------------------------------- events that rescore


async def test_a_resolved_complaint_rescores_the_merchant_after_the_request(client):
    # Given a scored merchant with a complaint a regulator can resolve
    world = await make_merchant()
    await registry_for(world)
    consumer = await make_user()
    card = (await buy_card(consumer, world)).card
    complaint = await complaints.file_complaint(
        consumer_id=consumer.id,
        merchant_id=world.merchant.id,
        card_id=card.id,
        category=ComplaintCategory.QUALITY,
        description="洗坏了衣服",
    )
    await complaints.respond(
        principal=owner_principal(world), complaint_id=complaint.id, message="愿意赔偿"
    )
    before = await CreditScore.filter(merchant_id=world.merchant.id).count()

    # When a regulator resolves it
    regulator = await make_user(Role.REGULATOR)
    await complaints.resolve(
        principal=regulator_principal(regulator),
        complaint_id=complaint.id,
        outcome=ComplaintOutcome.UPHELD,
        resolution="商家赔偿",
        refund_card_too=True,
    )

    # Then, once the background work is done, it has a new score
    await background.drain()
    assert await CreditScore.filter(merchant_id=world.merchant.id).count() == before + 1
    await assert_ledger_clean()


async def test_a_closure_rescores_the_merchant(client):
    world = await make_merchant()
    await registry_for(world)
    consumer = await make_user()
    await buy_card(consumer, world)
    regulator = await make_user(Role.REGULATOR)

    await supervision.close_merchant(
        principal=regulator_principal(regulator), merchant_id=world.merchant.id, reason="经营者失联"
    )
    await background.drain()

    score = await CreditScore.filter(merchant_id=world.merchant.id).order_by("-id").first()
    assert score is not None
    rows = await assert_adds_up(score)
    assert factor(rows, "STORE_CLOSURES").contribution == 0
    await assert_ledger_clean()


async def test_scheduled_recomputes_of_one_merchant_are_merged(client):
    world = await make_merchant()
    await registry_for(world)

    for _ in range(5):
        credit_scores.schedule_recompute(world.merchant.id)
    await background.drain()

    assert await CreditScore.filter(merchant_id=world.merchant.id).count() == 1


# ---------------------------------------------------------------- recomputeCreditScores


async def test_recompute_credit_scores_is_for_regulators(client):
    world = await make_merchant()
    variables = {"ids": [encode_id("Merchant", world.merchant.id)]}

    assert codes(await call(client, RECOMPUTE, variables, None)) == ["UNAUTHENTICATED"]
    for role in (Role.CONSUMER,):
        assert codes(await call(client, RECOMPUTE, variables, await make_user(role))) == [
            "FORBIDDEN"
        ]
    assert codes(await call(client, RECOMPUTE, variables, world.owner)) == ["FORBIDDEN"]
    assert await CreditScore.filter(merchant_id=world.merchant.id).count() == 0


async def test_recompute_credit_scores_counts_the_merchants_it_scored(client):
    # Given an active and a suspended merchant, an application waiting for review
    active, suspended = await make_merchant(), await make_merchant()
    await Merchant.filter(id=suspended.merchant.id).update(status=MerchantStatus.SUSPENDED)
    pending = await make_merchant(status=MerchantStatus.PENDING_REVIEW)
    regulator = await make_user(Role.REGULATOR)
    ids = [encode_id("Merchant", w.merchant.id) for w in (active, suspended, pending)]

    # When a regulator recomputes them by id
    scored = data_of(await call(client, RECOMPUTE, {"ids": ids + ids[:1]}, regulator))

    # Then the two approved ones are scored once each
    assert scored == {"recomputeCreditScores": 2}
    assert await CreditScore.filter(merchant_id=active.merchant.id).count() == 1
    assert await CreditScore.filter(merchant_id=pending.merchant.id).count() == 0

    # And without ids every approved merchant that is not closed is scored again
    everyone = data_of(await call(client, RECOMPUTE, {}, regulator))["recomputeCreditScores"]
    assert (
        everyone
        == await Merchant.filter(
            status__in=(MerchantStatus.ACTIVE, MerchantStatus.SUSPENDED)
        ).count()
    )
    assert await CreditScore.filter(merchant_id=suspended.merchant.id).count() == 2
    assert await CreditScore.filter(merchant_id=pending.merchant.id).count() == 0

    # And an unknown merchant is not found, scoring nothing
    unknown = await call(client, RECOMPUTE, {"ids": [encode_id("Merchant", 2**31 - 2)]}, regulator)
    assert codes(unknown) == ["NOT_FOUND"]
    assert data_of(await call(client, RECOMPUTE, {"ids": []}, regulator)) == {
        "recomputeCreditScores": 0
    }


# ---------------------------------------------------------------- cost of gathering


async def test_gathering_features_costs_the_same_statements_for_few_or_many_cards(
    client, count_sql
):
    async def statements_for(cards: int) -> int:
        world = await make_merchant()
        await registry_for(world)
        for _ in range(cards):
            consumer = await make_user()
            card = (await buy_card(consumer, world)).card
            await redeem_fen(world, card.id, consumer, 1_000)
        count_sql.statements.clear()
        await credit_features.gather(world.merchant.id, clock.now())
        return len(count_sql.statements)

    few, many = await statements_for(2), await statements_for(12)

    assert few == many
    assert many <= 10
