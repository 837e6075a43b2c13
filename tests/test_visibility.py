"""Who may read what: a role matrix over every Query field (auditTrail's is in test_audit.py).

Actors: anonymous, consumers A and B, the owner of merchant M1, a staff member
of merchant M2 and a regulator, plus the owner of a merchant still waiting for
review. The world is built once for the module; every assertion is scoped to
its own rows (ids, merchantId filters, a unique search term).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from core import clock
from models import (
    Announcement,
    Card,
    CardProduct,
    Complaint,
    ComplaintEvent,
    CreditFactor,
    CreditScore,
    FinancingApplication,
    Merchant,
    RegistryRecord,
    RiskAlert,
)
from models.enums import (
    AnnouncementKind,
    CardProductStatus,
    ComplaintCategory,
    CreditGrade,
    MerchantStatus,
    RefundStatus,
    RiskAlertKind,
    RiskLevel,
    Role,
    TransferKind,
)
from models.ledger import Transfer
from schema.ids import encode_id
from services import background
from services.refunds import request_refund
from tests.support import (
    MerchantWorld,
    buy_card,
    codes,
    data_of,
    error_at,
    gql,
    make_merchant,
    make_staff,
    make_user,
    new_credit_code,
    principal_of,
    redeem_fen,
    token_for,
)

NODE = "query Node($id: ID!) { node(id: $id) { __typename id } }"
ME = "{ me { id role phone displayName } }"
CATEGORIES = "{ categories { code name merchantCount } }"
ANNOUNCEMENTS = "{ announcements(first: 5) { totalCount edges { node { id title pinned } } } }"
MERCHANTS = """
query Merchants($search: String!) {
  merchants(filter: {search: $search}, first: 100) {
    totalCount
    edges { node { id name status } }
  }
}
"""
MERCHANT = "query Merchant($id: ID!) { merchant(id: $id) { id name status } }"
MERCHANT_INTERNALS = """
query Internals($id: ID!) {
  merchant(id: $id) {
    id
    name
    creditRating { grade score }
    escrow { held released outstandingLiability coverageRatio custodyRatio }
    creditScore { score grade modelVersion factors { code contribution } }
    creditHistory(first: 5) { totalCount edges { node { score } } }
    riskLevel
  }
}
"""
# Each field of Merchant that only the merchant itself and regulators see, with a selection.
HIDDEN_MERCHANT_FIELDS = {
    "escrow": "escrow { held released outstandingLiability coverageRatio custodyRatio }",
    "creditScore": "creditScore { score grade factors { code contribution } }",
    "creditHistory": "creditHistory(first: 5) { totalCount edges { node { score } } }",
    "riskLevel": "riskLevel",
}
# Where a Merchant shows up -> (document with %s for the selection, path to each merchant).
MERCHANT_SHAPES = {
    "merchant": "query One($id: ID!) { merchant(id: $id) { id name %s } }",
    "node": "query Node($id: ID!) { node(id: $id) { ... on Merchant { id name %s } } }",
    "merchants": """
query List($search: String!) {
  merchants(filter: {search: $search}, first: 100) { edges { node { id name %s } } }
}
""",
}
CARD_PRODUCTS = """
query Products($id: ID!) {
  merchant(id: $id) { cardProducts(first: 100) { totalCount edges { node { id status } } } }
}
"""
WALLET = """
{
  wallet {
    owner { id }
    totalBalance
    cards(first: 100) { totalCount edges { node { id merchant { id } } } }
  }
}
"""
CARD = """
query Card($id: ID!) {
  card(id: $id) { id balance owner { id phone } merchant { id } }
}
"""
TRANSACTIONS = """
query Transactions($filter: TransactionFilter) {
  transactions(filter: $filter, first: 100) {
    totalCount
    edges { node { id kind card { id } merchant { id } } }
  }
}
"""
TRANSACTION_LEDGER = """
query Ledger($filter: TransactionFilter) {
  transactions(filter: $filter, first: 100) {
    edges { node { id kind ledgerEntries { account side amount } } }
  }
}
"""
COMPLAINTS = """
query Complaints($filter: ComplaintFilter, $after: String) {
  complaints(filter: $filter, first: 100, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id merchant { id } complainant { id phone } } }
  }
}
"""
REFUND_REQUESTS = """
query Refunds($after: String) {
  refundRequests(first: 100, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id status card { id } } }
  }
}
"""
RISK_ALERTS = """
query Alerts($filter: RiskAlertFilter, $after: String) {
  riskAlerts(filter: $filter, first: 100, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id merchant { id } severity } }
  }
}
"""
FINANCING = """
query Financing($after: String) {
  financingApplications(first: 100, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id merchant { id } } }
  }
}
"""
SUPERVISION_STATS = "{ supervisionStats { activeCards escrowHeld outstandingLiability } }"
REGISTRY_RECORD = """
query Registry($code: String!) { registryRecord(creditCode: $code) { creditCode name } }
"""

ACTORS = ["anonymous", "consumer_a", "consumer_b", "merchant_m1", "staff_m2", "regulator"]
EVERYONE = {*ACTORS, "pending_owner"}


@pytest.fixture
def client(roomy_client):
    """Pages of 100 rows with lists inside (ledger entries, merchant internals): over the default
    cost limit, raised here."""
    return roomy_client


@dataclass
class World:
    prefix: str
    m1: MerchantWorld
    m2: MerchantWorld
    pending: MerchantWorld
    suspended: MerchantWorld
    tokens: dict[str, str | None]
    ids: dict[str, str] = field(default_factory=dict)
    consumer_a_phone: str = ""
    consumer_b_phone: str = ""
    registry_code: str = ""

    def id(self, name: str) -> str:
        return self.ids[name]


@pytest.fixture(scope="module")
async def world(database: str) -> World:
    """Two ACTIVE merchants, one pending, one suspended; cards, complaints, refunds, alerts."""
    prefix = f"可见性{uuid.uuid4().hex[:8]}"
    m1 = await make_merchant(name=f"{prefix} 一号洗衣")
    m2 = await make_merchant(name=f"{prefix} 二号洗衣")
    pending = await make_merchant(name=f"{prefix} 待审洗衣", status=MerchantStatus.PENDING_REVIEW)
    suspended = await make_merchant(name=f"{prefix} 暂停洗衣", status=MerchantStatus.SUSPENDED)
    off_sale = await CardProduct.create(
        merchant_id=m1.merchant.id,
        name="停售卡",
        description="暂停销售",
        price_fen=50_000,
        face_value_fen=60_000,
        validity_days=365,
        status=CardProductStatus.SUSPENDED,
    )
    staff_m2 = await make_staff(m2)
    consumer_a = await make_user()
    consumer_b = await make_user()
    regulator = await make_user(Role.REGULATOR)

    # The world's alerts and scores are the ones written below: what its operations would have
    # the risk rules and the credit model do afterwards (a night redemption raises an alert when
    # the suite runs between 00:00 and 06:00 in Shanghai) is dropped.
    background.queue_instead()
    try:
        # A: one card at M1 (partly redeemed) and one at M2 refunded in its cooling-off period.
        card_a1 = (await buy_card(consumer_a, m1)).card
        await redeem_fen(m1, card_a1.id, consumer_a, 10_000)
        card_a2 = (await buy_card(consumer_a, m2)).card
        refund_a2 = await request_refund(
            principal=principal_of(consumer_a), card_id=card_a2.id, reason="不想要了"
        )
        assert refund_a2.status is RefundStatus.APPROVED
        # B: a card at M1 whose cooling-off period is over (its refund waits), one at M2.
        card_b1 = (await buy_card(consumer_b, m1)).card
        await Card.filter(id=card_b1.id).update(
            cooling_off_ends_at=clock.now() - dt.timedelta(days=1)
        )
        refund_b1 = await request_refund(
            principal=principal_of(consumer_b), card_id=card_b1.id, reason="搬家"
        )
        assert refund_b1.status is RefundStatus.PENDING
        card_b2 = (await buy_card(consumer_b, m2)).card
    finally:
        background.queue_instead(False)

    now = clock.now()
    complaint_a = await Complaint.create(
        complainant_id=consumer_a.id,
        merchant_id=m1.merchant.id,
        card_id=card_a1.id,
        category=ComplaintCategory.QUALITY,
        description="没洗干净",
        respond_by=now + dt.timedelta(hours=72),
    )
    await ComplaintEvent.create(
        complaint_id=complaint_a.id, actor_role=Role.CONSUMER, actor_id=consumer_a.id,
        action="SUBMITTED", message="没洗干净",
    )  # fmt: skip
    complaint_b = await Complaint.create(
        complainant_id=consumer_b.id,
        merchant_id=m2.merchant.id,
        card_id=card_b2.id,
        category=ComplaintCategory.SERVICE_REFUSED,
        description="拒绝服务",
        respond_by=now + dt.timedelta(hours=72),
    )
    await ComplaintEvent.create(
        complaint_id=complaint_b.id, actor_role=Role.CONSUMER, actor_id=consumer_b.id,
        action="SUBMITTED",
    )  # fmt: skip

    alert_m1 = await RiskAlert.create(
        merchant_id=m1.merchant.id,
        kind=RiskAlertKind.SALES_SPIKE,
        severity=RiskLevel.HIGH,
        summary="销售激增",
        metrics=[{"name": "sales_7d", "value": 9000.0, "threshold": 5000.0}],
    )
    alert_m2 = await RiskAlert.create(
        merchant_id=m2.merchant.id,
        kind=RiskAlertKind.COMPLAINT_SURGE,
        severity=RiskLevel.LOW,
        summary="投诉增多",
    )
    financing_m1 = await FinancingApplication.create(
        merchant_id=m1.merchant.id,
        amount_fen=10_000_000,
        term_months=12,
        purpose="开新店",
        grade_at_application=CreditGrade.A,
    )
    financing_m2 = await FinancingApplication.create(
        merchant_id=m2.merchant.id,
        amount_fen=5_000_000,
        term_months=6,
        purpose="设备",
        grade_at_application=CreditGrade.B,
    )
    score = await CreditScore.create(
        merchant_id=m1.merchant.id, score=880, grade=CreditGrade.A, model_version="test-1"
    )
    await CreditFactor.create(
        score_id=score.id, position=0, code="YEARS_IN_OPERATION", name="经营年限",
        value=6.0, weight=0.1, contribution=80.0, explanation="经营六年",
    )  # fmt: skip
    await Merchant.filter(id=m1.merchant.id).update(credit_score=880, credit_grade=CreditGrade.A)
    announcement = await Announcement.create(
        kind=AnnouncementKind.NOTICE, title=f"{prefix} 公告", body="正文"
    )
    registry_code = new_credit_code()
    await RegistryRecord.create(
        credit_code=registry_code,
        name=f"{prefix} 登记",
        legal_representative="王五",
        registered_capital_fen=100_000_000,
        established_on=dt.date(2015, 3, 1),
        registration_status="存续",
    )
    a1_purchase = await Transfer.get(card_id=card_a1.id, kind=TransferKind.PURCHASE)

    pending_store = pending.stores[0]
    world = World(
        prefix=prefix,
        m1=m1,
        m2=m2,
        pending=pending,
        suspended=suspended,
        tokens={
            "anonymous": None,
            "consumer_a": token_for(consumer_a),
            "consumer_b": token_for(consumer_b),
            "merchant_m1": m1.token,
            "staff_m2": token_for(staff_m2),
            "regulator": token_for(regulator),
            "pending_owner": pending.token,
        },
        consumer_a_phone=consumer_a.phone,
        consumer_b_phone=consumer_b.phone,
        registry_code=registry_code,
    )
    world.ids = {
        "m1": encode_id("Merchant", m1.merchant.id),
        "m2": encode_id("Merchant", m2.merchant.id),
        "pending": encode_id("Merchant", pending.merchant.id),
        "suspended": encode_id("Merchant", suspended.merchant.id),
        "pending_store": encode_id("Store", pending_store.id),
        "m1_store": encode_id("Store", m1.stores[0].id),
        "m1_product": encode_id("CardProduct", m1.product.id),
        "m1_off_sale": encode_id("CardProduct", off_sale.id),
        "consumer_a": encode_id("User", consumer_a.id),
        "consumer_b": encode_id("User", consumer_b.id),
        "card_a1": encode_id("Card", card_a1.id),
        "card_a2": encode_id("Card", card_a2.id),
        "card_b1": encode_id("Card", card_b1.id),
        "card_b2": encode_id("Card", card_b2.id),
        "a1_purchase": encode_id("Transaction", a1_purchase.id),
        "refund_a2": encode_id("RefundRequest", refund_a2.id),
        "refund_b1": encode_id("RefundRequest", refund_b1.id),
        "complaint_a": encode_id("Complaint", complaint_a.id),
        "complaint_b": encode_id("Complaint", complaint_b.id),
        "alert_m1": encode_id("RiskAlert", alert_m1.id),
        "alert_m2": encode_id("RiskAlert", alert_m2.id),
        "financing_m1": encode_id("FinancingApplication", financing_m1.id),
        "financing_m2": encode_id("FinancingApplication", financing_m2.id),
        "announcement": encode_id("Announcement", announcement.id),
    }
    return world


async def ask(client, world: World, actor: str, query: str, **variables: Any) -> dict[str, Any]:
    return await gql(client, query, variables, world.tokens[actor])


async def every_node(client, world: World, actor: str, query: str, root: str, **variables):
    """The nodes of every page of a root connection (the session's lists are shared)."""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        connection = data_of(await ask(client, world, actor, query, after=after, **variables))[root]
        nodes += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return nodes
        after = connection["pageInfo"]["endCursor"]


def masked(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}"


# ---------------------------------------------------------------- node(id:)

# Object -> the actors that may read it through node(id:).
NODE_READERS = {
    "m1": EVERYONE,
    "pending": {"regulator", "pending_owner"},
    "suspended": {"regulator"},
    "pending_store": {"regulator", "pending_owner"},
    "m1_store": EVERYONE,
    "m1_product": EVERYONE,
    "m1_off_sale": {"merchant_m1", "regulator"},
    "consumer_a": {"consumer_a", "regulator"},
    "card_a1": {"consumer_a", "merchant_m1", "regulator"},
    "card_b1": {"consumer_b", "merchant_m1", "regulator"},
    "card_b2": {"consumer_b", "staff_m2", "regulator"},
    "a1_purchase": {"consumer_a", "merchant_m1", "regulator"},
    "refund_a2": {"consumer_a", "staff_m2", "regulator"},
    "refund_b1": {"consumer_b", "merchant_m1", "regulator"},
    "complaint_a": {"consumer_a", "merchant_m1", "regulator"},
    "complaint_b": {"consumer_b", "staff_m2", "regulator"},
    "alert_m1": {"merchant_m1", "regulator"},
    "alert_m2": {"staff_m2", "regulator"},
    "financing_m1": {"merchant_m1", "regulator"},
    "financing_m2": {"staff_m2", "regulator"},
    "announcement": EVERYONE,
}


@pytest.mark.parametrize("target", sorted(NODE_READERS))
async def test_node_returns_an_object_only_to_those_who_may_read_it(client, world, target):
    # Given an object of the world and every actor
    for actor in sorted(EVERYONE):
        # When the actor asks for it by global ID
        result = await ask(client, world, actor, NODE, id=world.id(target))

        # Then it comes back to its readers, and is null without an error for the rest
        node = data_of(result)["node"]
        if actor in NODE_READERS[target]:
            assert node is not None and node["id"] == world.id(target), (actor, target)
        else:
            assert node is None, (actor, target)


# ---------------------------------------------------------------- me, categories, announcements


async def test_me_is_null_for_anonymous_and_the_caller_otherwise(client, world):
    # When anonymous asks
    assert data_of(await ask(client, world, "anonymous", ME))["me"] is None

    # Then a consumer gets itself with its whole phone number
    me = data_of(await ask(client, world, "consumer_a", ME))["me"]
    assert me["id"] == world.id("consumer_a")
    assert me["role"] == "CONSUMER"
    assert me["phone"] == world.consumer_a_phone


@pytest.mark.parametrize("actor", ACTORS)
async def test_everyone_reads_categories_and_announcements(client, world, actor):
    # When any actor reads the reference data
    categories = data_of(await ask(client, world, actor, CATEGORIES))["categories"]
    announcements = data_of(await ask(client, world, actor, ANNOUNCEMENTS))["announcements"]

    # Then it gets it
    assert "LAUNDRY" in {category["code"] for category in categories}
    assert announcements["totalCount"] >= 1


# ---------------------------------------------------------------- merchants


@pytest.mark.parametrize(
    ("actor", "visible"),
    [
        ("anonymous", {"m1", "m2"}),
        ("consumer_a", {"m1", "m2"}),
        ("merchant_m1", {"m1", "m2"}),
        ("staff_m2", {"m1", "m2"}),
        ("pending_owner", {"m1", "m2", "pending"}),
        ("regulator", {"m1", "m2", "pending", "suspended"}),
    ],
)
async def test_merchants_list_shows_active_merchants_and_oneself(client, world, actor, visible):
    # When the actor lists the world's merchants
    result = await ask(client, world, actor, MERCHANTS, search=world.prefix)

    # Then it sees the ACTIVE ones, its own, and everything when a regulator
    merchants = data_of(result)["merchants"]
    assert {edge["node"]["id"] for edge in merchants["edges"]} == {
        world.id(name) for name in visible
    }
    assert merchants["totalCount"] == len(visible)


@pytest.mark.parametrize("hidden", ["pending", "suspended"])
@pytest.mark.parametrize("actor", ["anonymous", "consumer_a", "merchant_m1", "staff_m2"])
async def test_merchant_by_id_hides_merchants_that_are_not_active(client, world, actor, hidden):
    # When the actor asks for a merchant that is not ACTIVE
    result = await ask(client, world, actor, MERCHANT, id=world.id(hidden))

    # Then there is no such merchant for it
    assert data_of(result)["merchant"] is None


async def test_a_pending_merchant_sees_itself_and_regulators_see_it(client, world):
    # When the pending merchant's owner and a regulator ask for it
    own = data_of(await ask(client, world, "pending_owner", MERCHANT, id=world.id("pending")))
    regulator = data_of(await ask(client, world, "regulator", MERCHANT, id=world.id("pending")))

    # Then both get it
    assert own["merchant"]["status"] == "PENDING_REVIEW"
    assert regulator["merchant"]["status"] == "PENDING_REVIEW"


@pytest.mark.parametrize("actor", ["anonymous", "consumer_a", "consumer_b", "staff_m2"])
async def test_merchant_internals_are_forbidden_to_others(client, world, actor):
    # When someone other than M1 and regulators reads M1's internals
    result = await ask(client, world, actor, MERCHANT_INTERNALS, id=world.id("m1"))

    # Then the public part is there and each internal field is null with FORBIDDEN at its path
    merchant = result["data"]["merchant"]
    assert merchant["name"] == world.m1.merchant.name
    assert merchant["creditRating"] == {"grade": "A", "score": 880}
    for internal in ("escrow", "creditScore", "creditHistory", "riskLevel"):
        assert merchant[internal] is None, internal
        assert error_at(result, "merchant", internal) == "FORBIDDEN", internal
    assert len(result["errors"]) == 4


def merchants_in(result: dict[str, Any], shape: str) -> list[tuple[tuple[str | int, ...], dict]]:
    """Each merchant of the answer with its path."""
    data = result["data"]
    if shape != "merchants":
        return [((shape,), data[shape])]
    edges = data["merchants"]["edges"]
    return [
        (("merchants", "edges", index, "node"), edge["node"]) for index, edge in enumerate(edges)
    ]


@pytest.mark.parametrize("together", [False, True], ids=["alone", "together"])
@pytest.mark.parametrize("shape", sorted(MERCHANT_SHAPES))
@pytest.mark.parametrize(
    "actor", ["anonymous", "consumer_a", "consumer_b", "staff_m2", "pending_owner"]
)
async def test_every_hidden_merchant_field_is_forbidden_at_its_path_in_every_shape(
    client, world, actor, shape, together
):
    # Given the hidden fields of Merchant, asked one at a time or all in one document
    asked = [list(HIDDEN_MERCHANT_FIELDS)] if together else [[f] for f in HIDDEN_MERCHANT_FIELDS]
    own = {"staff_m2": world.id("m2"), "pending_owner": world.id("pending")}.get(actor)
    for fields in asked:
        selection = " ".join(HIDDEN_MERCHANT_FIELDS[name] for name in fields)

        # When someone who is neither the merchant nor a regulator asks for them
        result = await ask(
            client,
            world,
            actor,
            MERCHANT_SHAPES[shape] % selection,
            id=world.id("m1"),
            search=world.prefix,
        )

        # Then each one is null with FORBIDDEN at its own path, for every merchant but its own
        others = [(path, node) for path, node in merchants_in(result, shape) if node["id"] != own]
        assert world.id("m1") in {node["id"] for _path, node in others}
        for path, node in others:
            for name in fields:
                assert node[name] is None, (path, name)
                assert error_at(result, *path, name) == "FORBIDDEN", (path, name)
        assert codes(result) == ["FORBIDDEN"] * (len(others) * len(fields))


@pytest.mark.parametrize("actor", ["merchant_m1", "regulator"])
async def test_merchant_internals_show_to_the_merchant_and_regulators(client, world, actor):
    # When M1 itself or a regulator reads M1's internals
    result = await ask(client, world, actor, MERCHANT_INTERNALS, id=world.id("m1"))

    # Then every field is there
    merchant = data_of(result)["merchant"]
    assert merchant["escrow"]["held"] == "1330.00"  # 630.00 on A's card and 700.00 on B's
    assert merchant["escrow"]["outstandingLiability"] == "1330.00"
    assert merchant["creditScore"]["score"] == 880
    assert merchant["creditScore"]["factors"] == [
        {"code": "YEARS_IN_OPERATION", "contribution": 80.0}
    ]
    assert merchant["creditHistory"]["totalCount"] == 1
    assert merchant["riskLevel"] == "HIGH"  # its open SALES_SPIKE alert


async def test_staff_of_another_merchant_gets_none_of_its_custody(client, world):
    # When M2's staff reads its own merchant and then M1
    own = await ask(client, world, "staff_m2", MERCHANT_INTERNALS, id=world.id("m2"))
    other = await ask(client, world, "staff_m2", MERCHANT_INTERNALS, id=world.id("m1"))

    # Then its own custody shows, M1's is forbidden
    assert data_of(own)["merchant"]["escrow"]["held"] == "700.00"  # B's card; A's was refunded
    assert data_of(own)["merchant"]["riskLevel"] == "LOW"  # only a LOW alert is open
    assert error_at(other, "merchant", "escrow") == "FORBIDDEN"


@pytest.mark.parametrize(
    ("actor", "statuses"),
    [
        ("anonymous", ["ACTIVE"]),
        ("consumer_a", ["ACTIVE"]),
        ("staff_m2", ["ACTIVE"]),
        ("merchant_m1", ["ACTIVE", "SUSPENDED"]),
        ("regulator", ["ACTIVE", "SUSPENDED"]),
    ],
)
async def test_card_products_off_sale_show_only_to_the_merchant_and_regulators(
    client, world, actor, statuses
):
    # When the actor lists M1's card products
    result = await ask(client, world, actor, CARD_PRODUCTS, id=world.id("m1"))

    # Then the public sees what is on sale, the merchant and regulators everything
    products = data_of(result)["merchant"]["cardProducts"]
    assert sorted(edge["node"]["status"] for edge in products["edges"]) == statuses
    assert products["totalCount"] == len(statuses)


# ---------------------------------------------------------------- wallet and cards


async def test_wallet_needs_a_consumer(client, world):
    # When anonymous, a merchant and a regulator ask for a wallet
    anonymous = await ask(client, world, "anonymous", WALLET)
    merchant = await ask(client, world, "merchant_m1", WALLET)
    regulator = await ask(client, world, "regulator", WALLET)

    # Then nobody but a consumer has one
    assert codes(anonymous) == ["UNAUTHENTICATED"]
    assert codes(merchant) == ["FORBIDDEN"]
    assert codes(regulator) == ["FORBIDDEN"]


@pytest.mark.parametrize(
    ("actor", "own"),
    [("consumer_a", {"card_a1", "card_a2"}), ("consumer_b", {"card_b1", "card_b2"})],
)
async def test_wallet_holds_only_ones_own_cards(client, world, actor, own):
    # When a consumer opens its wallet
    wallet = data_of(await ask(client, world, actor, WALLET))["wallet"]

    # Then it holds exactly its own cards
    assert wallet["owner"]["id"] == world.id(actor)
    assert {edge["node"]["id"] for edge in wallet["cards"]["edges"]} == {
        world.id(name) for name in own
    }


CARD_READERS = {
    "card_a1": {"consumer_a", "merchant_m1", "regulator"},
    "card_b1": {"consumer_b", "merchant_m1", "regulator"},
    "card_b2": {"consumer_b", "staff_m2", "regulator"},
}


@pytest.mark.parametrize("card", sorted(CARD_READERS))
@pytest.mark.parametrize("actor", ACTORS)
async def test_card_by_id_only_for_its_owner_its_merchant_and_regulators(
    client, world, actor, card
):
    # When the actor asks for a card by ID
    result = await ask(client, world, actor, CARD, id=world.id(card))

    # Then only the owner, the merchant that sold it and regulators get it
    found = data_of(result)["card"]
    if actor in CARD_READERS[card]:
        assert found["id"] == world.id(card)
    else:
        assert found is None


@pytest.mark.parametrize(
    ("actor", "phone"),
    [("consumer_a", "whole"), ("merchant_m1", "masked"), ("regulator", "whole")],
)
async def test_a_card_owners_phone_is_masked_for_the_merchant(client, world, actor, phone):
    # When the owner, the merchant and a regulator look at the owner of A's card
    card = data_of(await ask(client, world, actor, CARD, id=world.id("card_a1")))["card"]

    # Then only the merchant sees the phone masked, e.g. 139****1234
    expected = world.consumer_a_phone if phone == "whole" else masked(world.consumer_a_phone)
    assert card["owner"]["phone"] == expected
    assert re.fullmatch(r"139\*{4}\d{4}", masked(world.consumer_a_phone))


# ---------------------------------------------------------------- transactions


async def test_transactions_need_a_user(client, world):
    assert codes(await ask(client, world, "anonymous", TRANSACTIONS)) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    ("actor", "cards"),
    [
        ("consumer_a", {"card_a1": 2, "card_a2": 2}),  # purchase + redemption; purchase + refund
        ("consumer_b", {"card_b1": 1, "card_b2": 1}),
        ("merchant_m1", {"card_a1": 2, "card_b1": 1}),
        ("staff_m2", {"card_a2": 2, "card_b2": 1}),
    ],
)
async def test_transactions_are_ones_own_cards_or_sales(client, world, actor, cards):
    # When a consumer or a merchant lists transactions without a filter
    result = data_of(await ask(client, world, actor, TRANSACTIONS))["transactions"]

    # Then they are those of its own cards, or its own sales, and nothing else
    seen: dict[str, int] = {}
    for edge in result["edges"]:
        card_id = edge["node"]["card"]["id"]
        seen[card_id] = seen.get(card_id, 0) + 1
    assert seen == {world.id(name): count for name, count in cards.items()}
    assert result["totalCount"] == sum(cards.values())


@pytest.mark.parametrize(
    ("actor", "filter_"),
    [
        ("consumer_a", {"cardId": "card_b1"}),
        ("consumer_b", {"cardId": "card_a1"}),
        ("staff_m2", {"cardId": "card_a1"}),
        ("staff_m2", {"merchantId": "m1"}),
        ("merchant_m1", {"merchantId": "m2"}),
        ("consumer_a", {"merchantId": "pending"}),
    ],
)
async def test_filters_do_not_reach_past_the_callers_scope(client, world, actor, filter_):
    # When the actor filters on someone else's card or merchant
    variables = {key: world.id(value) for key, value in filter_.items()}
    result = data_of(await ask(client, world, actor, TRANSACTIONS, filter=variables))

    # Then nothing comes back
    assert result["transactions"] == {"totalCount": 0, "edges": []}


async def test_a_regulator_sees_every_merchants_transactions(client, world):
    # When a regulator filters by each world merchant
    for merchant, expected in (("m1", 3), ("m2", 3)):
        result = await ask(
            client, world, "regulator", TRANSACTIONS, filter={"merchantId": world.id(merchant)}
        )

        # Then it gets all of them
        assert data_of(result)["transactions"]["totalCount"] == expected


@pytest.mark.parametrize("actor", ["consumer_a", "merchant_m1"])
async def test_ledger_entries_are_forbidden_to_all_but_regulators(client, world, actor):
    # When the card's owner or its merchant asks for the postings behind a transaction
    result = await ask(
        client, world, actor, TRANSACTION_LEDGER, filter={"cardId": world.id("card_a1")}
    )

    # Then each transaction is there but its ledgerEntries are FORBIDDEN at their path
    edges = result["data"]["transactions"]["edges"]
    assert len(edges) == 2
    for index, edge in enumerate(edges):
        assert edge["node"]["ledgerEntries"] is None
        assert error_at(result, "transactions", "edges", index, "node", "ledgerEntries") == (
            "FORBIDDEN"
        )


async def test_regulators_see_ledger_entries(client, world):
    # When a regulator asks for the postings behind A's M1 card
    result = await ask(
        client, world, "regulator", TRANSACTION_LEDGER, filter={"cardId": world.id("card_a1")}
    )

    # Then each transaction shows balanced postings
    edges = data_of(result)["transactions"]["edges"]
    by_kind = {edge["node"]["kind"]: edge["node"]["ledgerEntries"] for edge in edges}
    merchant_id = world.m1.merchant.id
    assert sorted(by_kind["PURCHASE"], key=lambda entry: entry["account"]) == [
        {"account": "consumer_funds", "side": "DEBIT", "amount": "700.00"},
        {"account": f"escrow:merchant:{merchant_id}", "side": "CREDIT", "amount": "700.00"},
    ]
    assert sorted(by_kind["REDEMPTION"], key=lambda entry: entry["account"]) == [
        {"account": f"escrow:merchant:{merchant_id}", "side": "DEBIT", "amount": "70.00"},
        {"account": f"merchant_settlement:{merchant_id}", "side": "CREDIT", "amount": "70.00"},
    ]


# ---------------------------------------------------------------- complaints and refunds


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        ("consumer_a", {"complaint_a"}),
        ("consumer_b", {"complaint_b"}),
        ("merchant_m1", {"complaint_a"}),
        ("staff_m2", {"complaint_b"}),
    ],
)
async def test_complaints_are_ones_own(client, world, actor, expected):
    # When a consumer or a merchant lists complaints
    nodes = await every_node(client, world, actor, COMPLAINTS, "complaints")

    # Then it sees those it filed or those against it
    assert {node["id"] for node in nodes} == {world.id(name) for name in expected}


async def test_complaints_need_a_user_and_regulators_see_all(client, world):
    # When anonymous and a regulator list complaints
    anonymous = await ask(client, world, "anonymous", COMPLAINTS)
    nodes = await every_node(client, world, "regulator", COMPLAINTS, "complaints")

    # Then anonymous is turned away and the regulator sees both of the world's complaints
    assert codes(anonymous) == ["UNAUTHENTICATED"]
    assert {world.id("complaint_a"), world.id("complaint_b")} <= {node["id"] for node in nodes}


async def test_a_merchant_sees_its_complainants_phone_masked(client, world):
    # When M1 reads the complaint against it, and a regulator reads it too
    merchant = await every_node(client, world, "merchant_m1", COMPLAINTS, "complaints")
    regulator = await every_node(
        client, world, "regulator", COMPLAINTS, "complaints", filter={"merchantId": world.id("m1")}
    )

    # Then the merchant sees the phone masked and the regulator whole
    assert merchant[0]["complainant"]["phone"] == masked(world.consumer_a_phone)
    assert regulator[0]["complainant"]["phone"] == world.consumer_a_phone


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        ("consumer_a", {"refund_a2"}),
        ("consumer_b", {"refund_b1"}),
        ("merchant_m1", {"refund_b1"}),
        ("staff_m2", {"refund_a2"}),
    ],
)
async def test_refund_requests_are_ones_own(client, world, actor, expected):
    # When a consumer or a merchant lists refund requests
    nodes = await every_node(client, world, actor, REFUND_REQUESTS, "refundRequests")

    # Then it sees its own requests, or those about its cards
    assert {node["id"] for node in nodes} == {world.id(name) for name in expected}


async def test_refund_requests_need_a_user_and_regulators_see_all(client, world):
    anonymous = await ask(client, world, "anonymous", REFUND_REQUESTS)
    nodes = await every_node(client, world, "regulator", REFUND_REQUESTS, "refundRequests")

    assert codes(anonymous) == ["UNAUTHENTICATED"]
    assert {world.id("refund_a2"), world.id("refund_b1")} <= {node["id"] for node in nodes}


# ---------------------------------------------------------------- alerts and financing


@pytest.mark.parametrize(
    ("query", "root", "own"),
    [
        (RISK_ALERTS, "riskAlerts", {"merchant_m1": "alert_m1", "staff_m2": "alert_m2"}),
        (
            FINANCING,
            "financingApplications",
            {"merchant_m1": "financing_m1", "staff_m2": "financing_m2"},
        ),
    ],
)
async def test_alerts_and_financing_are_for_merchants_own_and_regulators(
    client, world, query, root, own
):
    # When anonymous and consumers ask
    assert codes(await ask(client, world, "anonymous", query)) == ["UNAUTHENTICATED"]
    assert codes(await ask(client, world, "consumer_a", query)) == ["FORBIDDEN"]
    assert codes(await ask(client, world, "consumer_b", query)) == ["FORBIDDEN"]

    # Then merchants see their own only and regulators see them all
    for actor, name in own.items():
        nodes = await every_node(client, world, actor, query, root)
        assert {node["id"] for node in nodes} == {world.id(name)}, actor
    everything = {node["id"] for node in await every_node(client, world, "regulator", query, root)}
    assert set(world.id(name) for name in own.values()) <= everything


async def test_a_merchant_filtering_alerts_by_another_merchant_gets_nothing(client, world):
    result = await ask(
        client, world, "merchant_m1", RISK_ALERTS, filter={"merchantId": world.id("m2")}
    )

    assert data_of(result)["riskAlerts"]["totalCount"] == 0


# ---------------------------------------------------------------- regulators only


@pytest.mark.parametrize(
    ("actor", "code"),
    [
        ("anonymous", "UNAUTHENTICATED"),
        ("consumer_a", "FORBIDDEN"),
        ("merchant_m1", "FORBIDDEN"),
        ("staff_m2", "FORBIDDEN"),
    ],
)
async def test_supervision_and_registry_are_for_regulators_only(client, world, actor, code):
    # When someone other than a regulator asks for statistics or the registry
    stats = await ask(client, world, actor, SUPERVISION_STATS)
    registry = await ask(client, world, actor, REGISTRY_RECORD, code=world.registry_code)

    # Then it is refused with the same code at the field
    assert error_at(stats, "supervisionStats") == code
    assert stats["data"] is None
    assert error_at(registry, "registryRecord") == code
    assert registry["data"] == {"registryRecord": None}


async def test_regulators_read_statistics_and_the_registry(client, world):
    stats = data_of(await ask(client, world, "regulator", SUPERVISION_STATS))
    registry = data_of(
        await ask(client, world, "regulator", REGISTRY_RECORD, code=world.registry_code)
    )

    assert stats["supervisionStats"]["activeCards"] >= 3
    assert registry["registryRecord"] == {
        "creditCode": world.registry_code,
        "name": f"{world.prefix} 登记",
    }
