"""Field values: custody, cards, transactions, categories, products, statistics, registry, node."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from core import clock
from models import (
    Announcement,
    Card,
    CardProductStore,
    Complaint,
    FinancingApplication,
    RegistryRecord,
    RiskAlert,
    Store,
)
from models.enums import (
    AnnouncementKind,
    ComplaintCategory,
    CreditGrade,
    MerchantStatus,
    RiskAlertKind,
    RiskLevel,
    Role,
    StoreStatus,
    TransferKind,
)
from models.ledger import Transfer
from schema.ids import encode_id
from services.refunds import request_refund
from settings import get_settings
from tests.support import (
    buy_card,
    codes,
    data_of,
    error_at,
    gql,
    make_merchant,
    make_user,
    new_credit_code,
    principal_of,
    redeem_fen,
    token_for,
)

ESCROW = """
query Escrow($id: ID!) {
  merchant(id: $id) {
    escrow {
      merchant { id }
      custodyRatio
      held
      released
      outstandingLiability
      coverageRatio
    }
  }
}
"""
CARD = """
query Card($id: ID!) {
  card(id: $id) {
    id
    cardNumber
    balance
    cashValue
    status
    issuedAt
    expiresAt
    coolingOffEndsAt
    owner { id }
    product { id name }
    merchant { id }
    transactions(first: 10) {
      totalCount
      edges {
        node { kind amount cashAmount balanceAfter store { id name } card { id } merchant { id } }
      }
    }
  }
}
"""
WALLET_BY_STATUS = """
query Wallet($status: CardStatus) {
  wallet { cards(status: $status, first: 100) { totalCount edges { node { id status } } } }
}
"""
CATEGORIES = "{ categories { code name merchantCount } }"
PRODUCTS = """
query Products($id: ID!) {
  merchant(id: $id) {
    cardProducts(first: 10) {
      edges { node { id name price faceValue validityDays allStores soldCount stores { id } } }
    }
  }
}
"""
STATS = """
query Stats($from: Date, $to: Date) {
  supervisionStats(from: $from, to: $to) {
    merchantsByStatus { status count }
    activeCards
    escrowHeld
    outstandingLiability
    salesTotal
    redemptionsTotal
    refundsTotal
    openComplaints
    openAlerts
    daily { date sales redemptions refunds }
  }
}
"""
REGISTRY = """
query Registry($code: String!) {
  registryRecord(creditCode: $code) {
    creditCode
    name
    legalRepresentative
    registeredCapital
    establishedOn
    registrationStatus
    administrativePenalties
    onAbnormalOperationsList
  }
}
"""
NODE = "query Node($id: ID!) { node(id: $id) { __typename id } }"
MERCHANT = "query Merchant($id: ID!) { merchant(id: $id) { id } }"


def merchant_id(world) -> str:
    return encode_id("Merchant", world.merchant.id)


def yuan(money: str) -> Decimal:
    return Decimal(money)


async def regulator_token() -> str:
    return token_for(await make_user(Role.REGULATOR))


# ---------------------------------------------------------------- custody


async def test_escrow_at_full_custody_after_a_purchase_and_a_redemption(client):
    # Given a 700/1000 card at 100 % custody, redeemed for 100.00
    world = await make_merchant()
    consumer = await make_user()
    bought = await buy_card(consumer, world)
    await redeem_fen(world, bought.card.id, consumer, 10_000)

    # When the merchant reads its custody account
    result = data_of(await gql(client, ESCROW, {"id": merchant_id(world)}, world.token))

    # Then 630.00 stays in custody and 70.00 was released
    assert result["merchant"]["escrow"] == {
        "merchant": {"id": merchant_id(world)},
        "custodyRatio": 1.0,
        "held": "630.00",
        "released": "70.00",
        "outstandingLiability": "630.00",
        "coverageRatio": 1.0,
    }


async def test_escrow_at_sixty_percent_custody(client):
    # Given a merchant keeping 60 % of each sale in custody
    world = await make_merchant(custody_ratio_bp=6000)
    consumer = await make_user()
    bought = await buy_card(consumer, world)
    variables = {"id": merchant_id(world)}

    # When a 700.00 card is bought
    after_purchase = data_of(await gql(client, ESCROW, variables, world.token))

    # Then ceil(0.6 * 700.00) = 420.00 stays in custody and 280.00 goes to the merchant at once
    assert after_purchase["merchant"]["escrow"] == {
        "merchant": {"id": merchant_id(world)},
        "custodyRatio": 0.6,
        "held": "420.00",
        "released": "280.00",
        "outstandingLiability": "700.00",
        "coverageRatio": 0.6,
    }

    # And after redeeming 100.00 the card keeps 630.00 of cash, 378.00 of it in custody
    await redeem_fen(world, bought.card.id, consumer, 10_000)
    after_redemption = data_of(await gql(client, ESCROW, variables, await regulator_token()))
    escrow = after_redemption["merchant"]["escrow"]
    assert (escrow["held"], escrow["released"], escrow["outstandingLiability"]) == (
        "378.00",
        "322.00",
        "630.00",
    )
    assert escrow["coverageRatio"] == 0.6


async def test_escrow_without_cards_is_empty_and_fully_covered(client):
    world = await make_merchant(custody_ratio_bp=8000)

    escrow = data_of(await gql(client, ESCROW, {"id": merchant_id(world)}, world.token))

    assert escrow["merchant"]["escrow"] == {
        "merchant": {"id": merchant_id(world)},
        "custodyRatio": 0.8,
        "held": "0.00",
        "released": "0.00",
        "outstandingLiability": "0.00",
        "coverageRatio": 1.0,
    }


async def test_a_refunded_card_leaves_no_liability(client):
    # Given a card refunded in its cooling-off period
    world = await make_merchant()
    consumer = await make_user()
    bought = await buy_card(consumer, world)
    await request_refund(principal=principal_of(consumer), card_id=bought.card.id, reason="买错了")

    # When the merchant reads its custody
    escrow = data_of(await gql(client, ESCROW, {"id": merchant_id(world)}, world.token))

    # Then nothing is held or owed
    assert escrow["merchant"]["escrow"]["held"] == "0.00"
    assert escrow["merchant"]["escrow"]["outstandingLiability"] == "0.00"
    assert escrow["merchant"]["escrow"]["coverageRatio"] == 1.0


# ---------------------------------------------------------------- cards and transactions


async def test_card_and_transaction_fields_after_a_redemption(client):
    # Given a 700/1000 card redeemed for 100.00 at the first store
    world = await make_merchant()
    consumer = await make_user()
    bought = await buy_card(consumer, world)
    await redeem_fen(world, bought.card.id, consumer, 10_000)
    card_id = encode_id("Card", bought.card.id)

    # When its owner reads it
    card = data_of(await gql(client, CARD, {"id": card_id}, token_for(consumer)))["card"]

    # Then the card shows what is left and its history, newest first
    assert card["cardNumber"] == bought.card.card_number
    assert (card["balance"], card["cashValue"], card["status"]) == ("900.00", "630.00", "ACTIVE")
    assert card["owner"] == {"id": encode_id("User", consumer.id)}
    assert card["product"]["id"] == encode_id("CardProduct", world.product.id)
    assert card["merchant"] == {"id": merchant_id(world)}
    issued = dt.datetime.fromisoformat(card["issuedAt"])
    assert dt.datetime.fromisoformat(card["expiresAt"]) - issued == dt.timedelta(days=365)
    assert dt.datetime.fromisoformat(card["coolingOffEndsAt"]) - issued == dt.timedelta(
        days=get_settings().cooling_off_days
    )
    redemption, purchase = (edge["node"] for edge in card["transactions"]["edges"])
    store = world.stores[0]
    assert redemption == {
        "kind": "REDEMPTION",
        "amount": "100.00",
        "cashAmount": "70.00",
        "balanceAfter": "900.00",
        "store": {"id": encode_id("Store", store.id), "name": store.name},
        "card": {"id": card_id},
        "merchant": {"id": merchant_id(world)},
    }
    assert purchase == {
        "kind": "PURCHASE",
        "amount": "1000.00",
        "cashAmount": "700.00",
        "balanceAfter": "1000.00",
        "store": None,
        "card": {"id": card_id},
        "merchant": {"id": merchant_id(world)},
    }


async def test_a_refund_transaction_and_a_refunded_card(client):
    world = await make_merchant()
    consumer = await make_user()
    bought = await buy_card(consumer, world)
    await request_refund(principal=principal_of(consumer), card_id=bought.card.id, reason="买错了")

    card = data_of(
        await gql(client, CARD, {"id": encode_id("Card", bought.card.id)}, token_for(consumer))
    )["card"]

    assert (card["balance"], card["cashValue"], card["status"]) == ("0.00", "0.00", "REFUNDED")
    refund = card["transactions"]["edges"][0]["node"]
    assert (refund["kind"], refund["amount"], refund["cashAmount"], refund["balanceAfter"]) == (
        "REFUND",
        "1000.00",
        "700.00",
        "0.00",
    )
    assert refund["store"] is None


async def test_a_card_past_its_expiry_reads_expired(client):
    # Given two cards, one of which passed its expiry date (its row still says ACTIVE)
    world = await make_merchant()
    consumer = await make_user()
    expired = (await buy_card(consumer, world)).card
    live = (await buy_card(consumer, world)).card
    await Card.filter(id=expired.id).update(expires_at=clock.now() - dt.timedelta(minutes=1))
    token = token_for(consumer)

    # When the owner reads them
    card = data_of(await gql(client, CARD, {"id": encode_id("Card", expired.id)}, token))["card"]
    only_expired = data_of(await gql(client, WALLET_BY_STATUS, {"status": "EXPIRED"}, token))
    only_active = data_of(await gql(client, WALLET_BY_STATUS, {"status": "ACTIVE"}, token))

    # Then the expired one is EXPIRED, with its money intact, and the wallet filters by it
    assert (card["status"], card["balance"], card["cashValue"]) == ("EXPIRED", "1000.00", "700.00")
    assert [edge["node"]["id"] for edge in only_expired["wallet"]["cards"]["edges"]] == [
        encode_id("Card", expired.id)
    ]
    assert [edge["node"]["id"] for edge in only_active["wallet"]["cards"]["edges"]] == [
        encode_id("Card", live.id)
    ]


# ---------------------------------------------------------------- categories and products


async def category_counts(client) -> dict[str, int]:
    categories = data_of(await gql(client, CATEGORIES))["categories"]
    return {category["code"]: category["merchantCount"] for category in categories}


async def test_category_merchant_count_counts_active_merchants_only(client):
    # Given the counts now
    before = await category_counts(client)

    # When two ACTIVE merchants and one in each other state join a category
    for status in (
        MerchantStatus.ACTIVE,
        MerchantStatus.ACTIVE,
        MerchantStatus.PENDING_REVIEW,
        MerchantStatus.REJECTED,
        MerchantStatus.SUSPENDED,
        MerchantStatus.CLOSED,
    ):
        await make_merchant(category="AUTO_SERVICE", status=status)
    after = await category_counts(client)

    # Then that category counts two more, and the others are unchanged
    assert after["AUTO_SERVICE"] - before["AUTO_SERVICE"] == 2
    assert {code: count for code, count in after.items() if code != "AUTO_SERVICE"} == {
        code: count for code, count in before.items() if code != "AUTO_SERVICE"
    }


async def test_card_product_stores_and_sold_count(client):
    # Given a merchant with three stores, the last one closed, a product for every store
    # and one for two listed stores
    world = await make_merchant(stores=3)
    await Store.filter(id=world.stores[2].id).update(status=StoreStatus.CLOSED)
    listed = await make_merchant(stores=3, all_stores=False)
    await CardProductStore.create(product_id=listed.product.id, store_id=listed.stores[2].id)
    consumer = await make_user()
    await buy_card(consumer, world)
    await buy_card(consumer, world)

    # When anyone reads the products
    every = data_of(await gql(client, PRODUCTS, {"id": merchant_id(world)}))
    some = data_of(await gql(client, PRODUCTS, {"id": merchant_id(listed)}))

    # Then allStores lists the open stores, an explicit list its own stores, and soldCount counts
    product = every["merchant"]["cardProducts"]["edges"][0]["node"]
    assert product["allStores"] is True
    assert product["stores"] == [{"id": encode_id("Store", store.id)} for store in world.stores[:2]]
    assert product["soldCount"] == 2
    assert (product["price"], product["faceValue"], product["validityDays"]) == (
        "700.00",
        "1000.00",
        365,
    )
    listed_product = some["merchant"]["cardProducts"]["edges"][0]["node"]
    assert listed_product["allStores"] is False
    assert listed_product["stores"] == [
        {"id": encode_id("Store", listed.stores[index].id)} for index in (0, 2)
    ]
    assert listed_product["soldCount"] == 0


# ---------------------------------------------------------------- supervision statistics


async def test_supervision_stats_for_a_regulator(client):
    # Given a 700/1000 card redeemed for 100.00 and a refunded one, today
    world = await make_merchant()
    consumer = await make_user()
    bought = await buy_card(consumer, world)
    await redeem_fen(world, bought.card.id, consumer, 10_000)
    refunded = await buy_card(consumer, world)
    await request_refund(
        principal=principal_of(consumer), card_id=refunded.card.id, reason="买错了"
    )

    # When a regulator asks for the default period
    stats = data_of(await gql(client, STATS, {}, await regulator_token()))["supervisionStats"]

    # Then the platform's figures include these cards
    assert yuan(stats["escrowHeld"]) >= Decimal("630.00")
    assert yuan(stats["outstandingLiability"]) >= Decimal("630.00")
    assert yuan(stats["salesTotal"]) >= Decimal("1400.00")
    assert yuan(stats["redemptionsTotal"]) >= Decimal("70.00")
    assert yuan(stats["refundsTotal"]) >= Decimal("700.00")
    assert stats["activeCards"] >= 1
    assert {entry["status"] for entry in stats["merchantsByStatus"]} == {
        status.value for status in MerchantStatus
    }
    assert next(e for e in stats["merchantsByStatus"] if e["status"] == "ACTIVE")["count"] >= 1

    # And daily covers the last 30 days, today included, oldest first, adding up to the totals
    today = clock.now().astimezone(ZoneInfo(get_settings().timezone)).date()
    dates = [dt.date.fromisoformat(day["date"]) for day in stats["daily"]]
    assert len(dates) == 30
    assert dates == [today - dt.timedelta(days=29 - offset) for offset in range(30)]
    for field, total in (
        ("sales", "salesTotal"),
        ("redemptions", "redemptionsTotal"),
        ("refunds", "refundsTotal"),
    ):
        assert sum(yuan(day[field]) for day in stats["daily"]) == yuan(stats[total])
    assert yuan(stats["daily"][-1]["sales"]) >= Decimal("1400.00")


async def test_supervision_stats_count_open_complaints_and_alerts(client):
    regulator = await regulator_token()
    before = data_of(await gql(client, STATS, {}, regulator))["supervisionStats"]
    world = await make_merchant()
    consumer = await make_user()
    await Complaint.create(
        complainant_id=consumer.id,
        merchant_id=world.merchant.id,
        category=ComplaintCategory.OTHER,
        description="投诉",
        respond_by=clock.now() + dt.timedelta(hours=72),
    )
    await RiskAlert.create(
        merchant_id=world.merchant.id,
        kind=RiskAlertKind.STORE_CLOSURES,
        severity=RiskLevel.MEDIUM,
        summary="关店",
    )

    after = data_of(await gql(client, STATS, {}, regulator))["supervisionStats"]

    assert after["openComplaints"] - before["openComplaints"] == 1
    assert after["openAlerts"] - before["openAlerts"] == 1


async def test_supervision_stats_days_follow_the_platform_time_zone(client, frozen_clock):
    # Given a purchase at 00:30 in Shanghai on 1 March 2024 (16:30 UTC the day before)
    frozen_clock.current = dt.datetime(2024, 2, 29, 16, 30, tzinfo=dt.UTC)
    world = await make_merchant()
    consumer = await make_user()
    await buy_card(consumer, world)
    regulator = await regulator_token()

    # When a regulator asks for those two days
    stats = data_of(
        await gql(client, STATS, {"from": "2024-02-29", "to": "2024-03-01"}, regulator)
    )["supervisionStats"]

    # Then the sale is on 1 March
    assert [day["date"] for day in stats["daily"]] == ["2024-02-29", "2024-03-01"]
    by_date = {day["date"]: yuan(day["sales"]) for day in stats["daily"]}
    assert by_date["2024-03-01"] >= Decimal("700.00")
    assert by_date["2024-02-29"] == Decimal("0.00")


@pytest.mark.parametrize(
    ("variables", "dates"),
    [
        ({"from": "2026-01-01", "to": "2026-01-03"}, ["2026-01-01", "2026-01-02", "2026-01-03"]),
        ({"from": "2026-01-05", "to": "2026-01-05"}, ["2026-01-05"]),
        ({"to": "2026-01-30"}, [f"2026-01-{day:02d}" for day in range(1, 31)]),
    ],
)
async def test_supervision_stats_respect_from_and_to(client, variables, dates):
    stats = data_of(await gql(client, STATS, variables, await regulator_token()))

    assert [day["date"] for day in stats["supervisionStats"]["daily"]] == dates


@pytest.mark.parametrize(
    "variables",
    [
        {"from": "2026-01-03", "to": "2026-01-01"},
        {"from": "2024-01-01", "to": "2026-01-01"},
        {"from": "2026-13-01"},
        {"from": "yesterday"},
    ],
)
async def test_supervision_stats_refuse_a_bad_period(client, variables):
    result = await gql(client, STATS, variables, await regulator_token())

    assert codes(result) == ["BAD_USER_INPUT"]


# ---------------------------------------------------------------- registry


async def test_registry_record_found_and_not_found(client):
    # Given a registry record
    code = new_credit_code()
    await RegistryRecord.create(
        credit_code=code,
        name="淮安某某洗衣有限公司",
        legal_representative="王五",
        registered_capital_fen=50_000_000,
        established_on=dt.date(2019, 5, 20),
        registration_status="存续",
        administrative_penalties=2,
        on_abnormal_list=True,
    )
    regulator = await regulator_token()

    # When a regulator looks it up, in any letter case, and looks up an unknown code
    found = data_of(await gql(client, REGISTRY, {"code": code}, regulator))
    lower = data_of(await gql(client, REGISTRY, {"code": f" {code.lower()} "}, regulator))
    missing = data_of(await gql(client, REGISTRY, {"code": new_credit_code()}, regulator))

    # Then the record comes back with every fact, and an unknown code is null
    assert found["registryRecord"] == {
        "creditCode": code,
        "name": "淮安某某洗衣有限公司",
        "legalRepresentative": "王五",
        "registeredCapital": "500000.00",
        "establishedOn": "2019-05-20",
        "registrationStatus": "存续",
        "administrativePenalties": 2,
        "onAbnormalOperationsList": True,
    }
    assert lower == found
    assert missing == {"registryRecord": None}


# ---------------------------------------------------------------- node(id:)


async def test_node_resolves_every_node_type(client):
    # Given one object of every node type
    world = await make_merchant()
    consumer = await make_user()
    bought = await buy_card(consumer, world)
    await Card.filter(id=bought.card.id).update(
        cooling_off_ends_at=clock.now() - dt.timedelta(days=1)
    )
    refund = await request_refund(
        principal=principal_of(consumer), card_id=bought.card.id, reason="搬家"
    )
    complaint = await Complaint.create(
        complainant_id=consumer.id,
        merchant_id=world.merchant.id,
        category=ComplaintCategory.OTHER,
        description="投诉",
        respond_by=clock.now() + dt.timedelta(hours=72),
    )
    alert = await RiskAlert.create(
        merchant_id=world.merchant.id,
        kind=RiskAlertKind.LARGE_PURCHASE,
        severity=RiskLevel.LOW,
        summary="大额",
    )
    financing = await FinancingApplication.create(
        merchant_id=world.merchant.id,
        amount_fen=1_000_000,
        term_months=12,
        purpose="扩店",
        grade_at_application=CreditGrade.B,
    )
    announcement = await Announcement.create(kind=AnnouncementKind.POLICY, title="t", body="b")
    purchase = await Transfer.get(card_id=bought.card.id, kind=TransferKind.PURCHASE)
    objects = {
        "User": consumer.id,
        "Merchant": world.merchant.id,
        "Store": world.stores[0].id,
        "CardProduct": world.product.id,
        "Card": bought.card.id,
        "Transaction": purchase.id,
        "RefundRequest": refund.id,
        "Complaint": complaint.id,
        "RiskAlert": alert.id,
        "FinancingApplication": financing.id,
        "Announcement": announcement.id,
    }
    regulator = await regulator_token()

    for type_name, pk in objects.items():
        # When a regulator resolves its global ID
        global_id = encode_id(type_name, pk)
        node = data_of(await gql(client, NODE, {"id": global_id}, regulator))["node"]

        # Then it is the object, typed
        assert node == {"__typename": type_name, "id": global_id}


@pytest.mark.parametrize(
    "global_id",
    [
        "not-an-id",
        "!!!",
        "",
        encode_id("Merchant", ""),
        encode_id("", "1"),
        "TWVyY2hhbnQ",  # "Merchant" with no key
        encode_id("Merchant", "abc"),
        encode_id("Merchant", "-1"),
        encode_id("Merchant", "²"),
        encode_id("Merchant", "1.5"),
    ],
)
async def test_node_with_a_malformed_id_is_bad_input(client, global_id):
    result = await gql(client, NODE, {"id": global_id})

    assert error_at(result, "node") == "BAD_USER_INPUT"
    assert result["data"] == {"node": None}


@pytest.mark.parametrize(
    "global_id",
    [
        encode_id("Spaceship", 1),
        encode_id("Category", "LAUNDRY"),
        encode_id("Posting", 1),
        encode_id("Merchant", 2**31),
        encode_id("Merchant", 10**30),
        encode_id("Merchant", 0),
    ],
)
async def test_node_of_an_unknown_type_or_key_is_null(client, global_id):
    result = await gql(client, NODE, {"id": global_id}, await regulator_token())

    assert data_of(result) == {"node": None}


@pytest.mark.parametrize("key", [2**31, 10**30])
async def test_merchant_with_a_key_out_of_range_is_null(client, key):
    result = await gql(client, MERCHANT, {"id": encode_id("Merchant", key)})

    assert data_of(result) == {"merchant": None}


async def test_a_store_bound_staff_member_reads_its_merchants_internals(client):
    # Given staff bound to one store
    world = await make_merchant()
    staff = await make_user(
        Role.MERCHANT, merchant_id=world.merchant.id, store_id=world.stores[0].id
    )

    # When it reads its merchant's custody
    escrow = data_of(await gql(client, ESCROW, {"id": merchant_id(world)}, token_for(staff)))

    # Then it sees it like the owner does
    assert escrow["merchant"]["escrow"]["held"] == "0.00"
