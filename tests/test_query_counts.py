"""No N+1: a page costs a fixed number of SQL statements whatever its size (DataLoaders)."""

from __future__ import annotations

import uuid

import pytest

from models import CardProduct, Merchant, RiskAlert
from models.enums import CardProductStatus, CreditGrade, RiskAlertKind, RiskLevel, Role
from tests.support import (
    buy_card,
    data_of,
    gql,
    make_merchant,
    make_user,
    redeem_fen,
    token_for,
)

MERCHANT_PAGE = """
query MerchantPage($search: String!, $first: Int!) {
  merchants(filter: {search: $search}, first: $first) {
    totalCount
    edges {
      node {
        name
        creditRating { grade score }
        category { name merchantCount }
        stores(first: 10) { totalCount edges { node { name district } } }
        cardProducts(first: 10) {
          totalCount
          edges { node { name price faceValue soldCount stores { name } } }
        }
      }
    }
  }
}
"""
REGULATOR_MERCHANT_PAGE = """
query RegulatorPage($search: String!, $first: Int!) {
  merchants(filter: {search: $search}, first: $first) {
    edges {
      node {
        name
        riskLevel
        escrow { held released outstandingLiability coverageRatio }
        creditScore { score factors { code } }
        creditHistory(first: 3) { totalCount }
        cardProducts(first: 10) { edges { node { soldCount stores { name merchant { name } } } } }
      }
    }
  }
}
"""
WALLET = """
{
  wallet {
    totalBalance
    totalCashValue
    cards(first: 100) {
      totalCount
      edges {
        node {
          balance
          cashValue
          status
          product { name price }
          merchant { name category { name } creditRating { grade } }
          transactions(first: 10) {
            totalCount
            edges { node { kind amount cashAmount store { name } merchant { name } } }
          }
        }
      }
    }
  }
}
"""

PAGE_LIMIT = 15
MERCHANTS = 55


@pytest.fixture
def client(roomy_client):
    """Pages of merchants and wallets of 100 cards with the lists inside them: over the default
    cost limit, raised here."""
    return roomy_client


@pytest.fixture(scope="module")
async def page_term(database: str) -> str:
    """55 ACTIVE merchants found by one search term, each with two stores and two products."""
    term = f"计数{uuid.uuid4().hex[:8]}"
    for index in range(MERCHANTS):
        world = await make_merchant(name=f"{term} {index}", all_stores=index % 2 == 0)
        await CardProduct.create(
            merchant_id=world.merchant.id,
            name="充500送50",
            description="小卡",
            price_fen=50_000,
            face_value_fen=55_000,
            validity_days=180,
            status=CardProductStatus.ACTIVE,
        )
        await Merchant.filter(id=world.merchant.id).update(
            credit_grade=CreditGrade.B, credit_score=720
        )
        if index % 5 == 0:
            consumer = await make_user()
            await buy_card(consumer, world)
            await RiskAlert.create(
                merchant_id=world.merchant.id,
                kind=RiskAlertKind.SALES_SPIKE,
                severity=RiskLevel.MEDIUM,
                summary="s",
            )
    return term


async def statements_for(client, count_sql, query: str, variables: dict, token=None):
    if token:
        # A process looks at a token's user and session the first time it sees them
        # (auth/sessions.py); that is not what is measured here.
        await gql(client, "{ __typename }", {}, token)
    before = len(count_sql.statements)
    result = data_of(await gql(client, query, variables, token))
    return len(count_sql.statements) - before, result


async def test_a_page_of_merchants_costs_the_same_at_any_size(client, page_term, count_sql):
    # Given pages of 5 and of 50 merchants with stores, products and ratings
    small, small_result = await statements_for(
        client, count_sql, MERCHANT_PAGE, {"search": page_term, "first": 5}
    )
    large, large_result = await statements_for(
        client, count_sql, MERCHANT_PAGE, {"search": page_term, "first": 50}
    )

    # Then both pages are full and cost the same few statements
    assert len(small_result["merchants"]["edges"]) == 5
    assert len(large_result["merchants"]["edges"]) == 50
    node = large_result["merchants"]["edges"][0]["node"]
    assert node["stores"]["totalCount"] == 2
    assert node["cardProducts"]["totalCount"] == 2
    assert node["creditRating"] == {"grade": "B", "score": 720}
    assert small == large, count_sql.statements[-large:]
    assert large < PAGE_LIMIT, count_sql.statements[-large:]


async def test_a_regulators_page_of_merchant_internals_costs_the_same_at_any_size(
    client, page_term, count_sql
):
    regulator = token_for(await make_user(Role.REGULATOR))

    small, _ = await statements_for(
        client, count_sql, REGULATOR_MERCHANT_PAGE, {"search": page_term, "first": 5}, regulator
    )
    large, result = await statements_for(
        client, count_sql, REGULATOR_MERCHANT_PAGE, {"search": page_term, "first": 50}, regulator
    )

    assert len(result["merchants"]["edges"]) == 50
    assert result["merchants"]["edges"][0]["node"]["riskLevel"] == "MEDIUM"
    assert small == large, count_sql.statements[-large:]
    assert large < PAGE_LIMIT, count_sql.statements[-large:]


async def wallet_with(cards: int) -> str:
    """A consumer with `cards` cards over several merchants, each card used once."""
    consumer = await make_user()
    worlds = [await make_merchant() for _ in range(min(cards, 4))]
    for index in range(cards):
        world = worlds[index % len(worlds)]
        bought = await buy_card(consumer, world)
        await redeem_fen(world, bought.card.id, consumer, 1_000)
    return token_for(consumer)


async def test_a_wallet_costs_the_same_with_3_or_12_cards(client, count_sql):
    # Given consumers with 3 and with 12 cards, each with transactions
    few = await wallet_with(3)
    many = await wallet_with(12)

    # When each opens its wallet with cards, products, merchants and transactions
    small, small_result = await statements_for(client, count_sql, WALLET, {}, few)
    large, large_result = await statements_for(client, count_sql, WALLET, {}, many)

    # Then the cost is the same
    assert small_result["wallet"]["cards"]["totalCount"] == 3
    assert large_result["wallet"]["cards"]["totalCount"] == 12
    card = large_result["wallet"]["cards"]["edges"][0]["node"]
    assert card["transactions"]["totalCount"] == 2
    assert small == large, count_sql.statements[-large:]
    assert large < PAGE_LIMIT, count_sql.statements[-large:]
