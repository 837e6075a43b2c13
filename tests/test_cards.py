"""Buying and topping up cards through the API: prices, custody, limits, who sells, payments."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from models import Card, CardProduct, Merchant, User
from models.enums import CardProductStatus, CreditGrade, MerchantStatus, Role
from schema.ids import encode_id
from services import ledger, payments
from tests.support import (
    assert_ledger_clean,
    buy_card,
    call,
    codes,
    data_of,
    gql,
    make_merchant,
    make_user,
    money_of,
    principal_of,
)

PURCHASE_CARD = """
mutation PurchaseCard($productId: ID!, $key: String!) {
  purchaseCard(productId: $productId, idempotencyKey: $key) {
    card { id balance cashValue status merchant { name } }
    transaction { id kind amount cashAmount balanceAfter }
  }
}
"""

TOP_UP_CARD = """
mutation TopUpCard($cardId: ID!, $pay: Money!, $key: String!) {
  topUpCard(cardId: $cardId, payAmount: $pay, idempotencyKey: $key) {
    card { id balance cashValue }
    transaction { id kind amount cashAmount balanceAfter }
  }
}
"""

TOP_UP_CARD_LITERAL = """
mutation TopUpCardLiteral($cardId: ID!, $key: String!) {
  topUpCard(cardId: $cardId, payAmount: 5, idempotencyKey: $key) { card { balance } }
}
"""

MERCHANT_ESCROW = """
query MerchantEscrow($id: ID!) {
  merchant(id: $id) { escrow { custodyRatio held released outstandingLiability coverageRatio } }
}
"""

TRANSACTION_ENTRIES = """
query TransactionEntries($id: ID!) {
  node(id: $id) {
    ... on Transaction { kind amount cashAmount ledgerEntries { account side amount } }
  }
}
"""

WALLET = "{ wallet { totalBalance totalCashValue cards { totalCount } } }"


def product_id(world) -> str:
    return encode_id("CardProduct", world.product.id)


async def purchase(client, consumer: User, world, key: str | None = None) -> dict:
    return await call(
        client,
        PURCHASE_CARD,
        {"productId": product_id(world), "key": key or uuid.uuid4().hex},
        consumer,
    )


async def top_up(client, consumer: User, card_id: int, pay: Any, key: str | None = None) -> dict:
    return await call(
        client,
        TOP_UP_CARD,
        {"cardId": encode_id("Card", card_id), "pay": pay, "key": key or uuid.uuid4().hex},
        consumer,
    )


async def escrow_of(client, world, viewer: User | None = None) -> dict:
    result = await call(
        client,
        MERCHANT_ESCROW,
        {"id": encode_id("Merchant", world.merchant.id)},
        viewer or world.owner,
    )
    return data_of(result)["merchant"]["escrow"]


# ---------------------------------------------------------------- purchase


async def test_purchase_issues_a_card_and_keeps_the_price_in_custody(client):
    # Given a laundry merchant selling 1000.00 of service for 700.00 at full custody
    world = await make_merchant()
    consumer = await make_user()
    regulator = await make_user(Role.REGULATOR)

    # When a consumer buys the card
    payload = data_of(await purchase(client, consumer, world))["purchaseCard"]

    # Then the card holds 1000.00 of balance and 700.00 of cash, all of it in custody
    assert payload["card"]["balance"] == "1000.00"
    assert payload["card"]["cashValue"] == "700.00"
    assert payload["card"]["status"] == "ACTIVE"
    assert payload["card"]["merchant"]["name"] == world.merchant.name
    assert payload["transaction"]["kind"] == "PURCHASE"
    assert payload["transaction"]["amount"] == "1000.00"
    assert payload["transaction"]["cashAmount"] == "700.00"
    assert payload["transaction"]["balanceAfter"] == "1000.00"
    escrow = await escrow_of(client, world)
    assert escrow["held"] == "700.00"
    assert escrow["released"] == "0.00"
    assert escrow["outstandingLiability"] == "700.00"
    assert escrow["coverageRatio"] == 1.0
    entries = data_of(
        await call(client, TRANSACTION_ENTRIES, {"id": payload["transaction"]["id"]}, regulator)
    )["node"]["ledgerEntries"]
    assert sorted((e["account"], e["side"], e["amount"]) for e in entries) == [
        ("consumer_funds", "DEBIT", "700.00"),
        (ledger.escrow_account(world.merchant.id), "CREDIT", "700.00"),
    ]
    wallet = data_of(await call(client, WALLET, {}, consumer))["wallet"]
    assert wallet == {
        "totalBalance": "1000.00",
        "totalCashValue": "700.00",
        "cards": {"totalCount": 1},
    }
    await assert_ledger_clean()


async def test_purchase_at_partial_custody_releases_the_rest_to_the_merchant(client):
    # Given a merchant whose custody ratio is 0.8
    world = await make_merchant(custody_ratio_bp=8_000, price_fen=70_001)
    consumer = await make_user()

    # When a consumer pays 700.01
    data_of(await purchase(client, consumer, world))

    # Then ceil(0.8 * 700.01) = 560.01 stays in custody and 140.00 is released at once
    escrow = await escrow_of(client, world)
    assert escrow["custodyRatio"] == 0.8
    assert escrow["held"] == "560.01"
    assert escrow["released"] == "140.00"
    assert escrow["outstandingLiability"] == "700.01"
    await assert_ledger_clean()


async def test_purchase_needs_a_consumer(client):
    world = await make_merchant()
    anonymous = await gql(
        client, PURCHASE_CARD, {"productId": product_id(world), "key": uuid.uuid4().hex}
    )
    assert codes(anonymous) == ["UNAUTHENTICATED"]
    assert codes(await purchase(client, world.owner, world)) == ["FORBIDDEN"]
    assert codes(await purchase(client, await make_user(Role.REGULATOR), world)) == ["FORBIDDEN"]
    assert (await money_of(world))[1] == 0


async def test_an_unknown_product_is_not_found(client):
    consumer = await make_user()
    result = await call(
        client,
        PURCHASE_CARD,
        {"productId": encode_id("CardProduct", 10**9), "key": uuid.uuid4().hex},
        consumer,
    )
    assert codes(result) == ["NOT_FOUND"]


@pytest.mark.parametrize(
    "status",
    [
        MerchantStatus.PENDING_REVIEW,
        MerchantStatus.SUSPENDED,
        MerchantStatus.CLOSED,
        MerchantStatus.REJECTED,
    ],
)
async def test_a_merchant_that_is_not_active_sells_nothing(client, status):
    # Given a merchant with a card already sold, then moved out of ACTIVE
    world = await make_merchant()
    consumer = await make_user()
    card = (await buy_card(consumer, world)).card
    await Merchant.filter(id=world.merchant.id).update(status=status)
    before = await money_of(world)

    # When the consumer buys another card or tops up the one they have
    bought = await purchase(client, consumer, world)
    topped = await top_up(client, consumer, card.id, "100.00")

    # Then both are MERCHANT_NOT_ACTIVE and nothing moved
    assert codes(bought) == ["MERCHANT_NOT_ACTIVE"]
    assert codes(topped) == ["MERCHANT_NOT_ACTIVE"]
    assert await money_of(world) == before
    await assert_ledger_clean()


async def test_a_merchant_with_credit_grade_d_sells_nothing(client):
    world = await make_merchant()
    consumer = await make_user()
    card = (await buy_card(consumer, world)).card
    await Merchant.filter(id=world.merchant.id).update(credit_grade=CreditGrade.D)
    before = await money_of(world)

    assert codes(await purchase(client, consumer, world)) == ["MERCHANT_NOT_ACTIVE"]
    assert codes(await top_up(client, consumer, card.id, "100.00")) == ["MERCHANT_NOT_ACTIVE"]
    assert await money_of(world) == before

    # Grade C sells again.
    await Merchant.filter(id=world.merchant.id).update(credit_grade=CreditGrade.C)
    data_of(await purchase(client, consumer, world))
    await assert_ledger_clean()


@pytest.mark.parametrize("status", [CardProductStatus.SUSPENDED, CardProductStatus.RETIRED])
async def test_only_active_products_are_sold(client, status):
    world = await make_merchant()
    consumer = await make_user()
    card = (await buy_card(consumer, world)).card
    await CardProduct.filter(id=world.product.id).update(status=status)
    before = await money_of(world)

    assert codes(await purchase(client, consumer, world)) == ["INVALID_STATE"]
    assert codes(await top_up(client, consumer, card.id, "100.00")) == ["INVALID_STATE"]
    assert await money_of(world) == before
    await assert_ledger_clean()


# ---------------------------------------------------------------- top-up


async def test_top_up_adds_value_at_the_face_price_ratio(client):
    # Given a 700/1000 card
    world = await make_merchant()
    consumer = await make_user()
    card = (await buy_card(consumer, world)).card

    # When the consumer pays 350.00 onto it
    payload = data_of(await top_up(client, consumer, card.id, "350.00"))["topUpCard"]

    # Then 500.00 of balance is added and the whole payment goes into custody
    assert payload["card"]["balance"] == "1500.00"
    assert payload["card"]["cashValue"] == "1050.00"
    assert payload["transaction"] == {
        "id": payload["transaction"]["id"],
        "kind": "TOP_UP",
        "amount": "500.00",
        "cashAmount": "350.00",
        "balanceAfter": "1500.00",
    }
    escrow = await escrow_of(client, world)
    assert (escrow["held"], escrow["outstandingLiability"]) == ("1050.00", "1050.00")
    await assert_ledger_clean()


@pytest.mark.parametrize(
    ("pay", "added"),
    [("123.45", "176.35"), ("0.03", "0.04"), ("0.07", "0.10"), ("0.01", "0.01")],
)
async def test_top_up_rounds_the_added_value_down_to_the_fen(client, pay, added):
    # 123.45 * 1000 / 700 = 176.357..., 0.03 * 1000 / 700 = 0.0428...
    world = await make_merchant()
    consumer = await make_user()
    card = (await buy_card(consumer, world)).card

    payload = data_of(await top_up(client, consumer, card.id, pay))["topUpCard"]

    assert payload["transaction"]["amount"] == added
    assert payload["transaction"]["cashAmount"] == pay
    balance_fen = 100_000 + int(added.replace(".", ""))
    assert payload["card"]["balance"] == f"{balance_fen // 100}.{balance_fen % 100:02d}"
    await assert_ledger_clean()


async def test_top_up_at_partial_custody_keeps_the_card_share_rounded_up(client):
    world = await make_merchant(custody_ratio_bp=6_000)
    consumer = await make_user()
    card = (await buy_card(consumer, world)).card  # 700.00 cash, 420.00 in custody

    data_of(await top_up(client, consumer, card.id, "0.05"))

    # ceil(0.6 * 700.05) = 420.03 in custody; 280.02 released
    escrow = await escrow_of(client, world)
    assert (escrow["held"], escrow["released"]) == ("420.03", "280.02")
    assert (await Card.get(id=card.id)).escrow_held_fen == 42_003
    await assert_ledger_clean()


@pytest.mark.parametrize("pay", ["0.00", "5", "5.0", "5.000", "+5.00", "-5.00", "5e2", "abc", 5])
async def test_top_up_refuses_bad_amounts(client, pay):
    world = await make_merchant()
    consumer = await make_user()
    card = (await buy_card(consumer, world)).card
    before = await money_of(world)

    assert codes(await top_up(client, consumer, card.id, pay)) == ["BAD_USER_INPUT"]
    assert await money_of(world) == before


async def test_top_up_refuses_a_number_literal(client):
    world = await make_merchant()
    consumer = await make_user()
    card = (await buy_card(consumer, world)).card
    result = await call(
        client,
        TOP_UP_CARD_LITERAL,
        {"cardId": encode_id("Card", card.id), "key": uuid.uuid4().hex},
        consumer,
    )
    assert codes(result) == ["BAD_USER_INPUT"]


async def test_top_up_of_someone_elses_card_is_not_found(client):
    world = await make_merchant()
    owner, stranger = await make_user(), await make_user()
    card = (await buy_card(owner, world)).card
    before = await money_of(world)

    assert codes(await top_up(client, stranger, card.id, "100.00")) == ["NOT_FOUND"]
    assert await money_of(world) == before


# ---------------------------------------------------------------- limits


async def test_a_card_holds_at_most_5000_of_cash(client):
    # Given a product that costs exactly the per-card cap
    world = await make_merchant(price_fen=500_000, face_fen=600_000)
    consumer = await make_user()

    # When bought, it fits; one more fen of top-up does not
    bought = data_of(await purchase(client, consumer, world))["purchaseCard"]["card"]
    assert bought["cashValue"] == "5000.00"
    before = await money_of(world)
    result = await top_up(client, consumer, (await Card.get(owner_id=consumer.id)).id, "0.01")

    assert codes(result) == ["LIMIT_EXCEEDED"]
    assert await money_of(world) == before
    await assert_ledger_clean()


async def test_a_product_over_the_card_cap_cannot_be_bought(client):
    world = await make_merchant(price_fen=500_001, face_fen=600_000)
    consumer = await make_user()

    assert codes(await purchase(client, consumer, world)) == ["LIMIT_EXCEEDED"]
    assert (await money_of(world))[1:] == (0, [])


async def test_one_consumer_holds_at_most_20000_with_one_merchant(client):
    # Given a consumer holding 4 cards of 4000.00 cash each (16,000.00) with one merchant
    world = await make_merchant(price_fen=400_000, face_fen=450_000)
    other_world = await make_merchant(price_fen=400_000, face_fen=450_000)
    consumer = await make_user()
    cards = [(await buy_card(consumer, world)).card for _ in range(4)]

    # When they buy a fifth card, it fits exactly at 20,000.00
    fifth = data_of(await purchase(client, consumer, world))["purchaseCard"]["card"]
    assert fifth["cashValue"] == "4000.00"
    before = await money_of(world)

    # Then a sixth card, or one more fen on any card, is LIMIT_EXCEEDED and moves nothing
    assert codes(await purchase(client, consumer, world)) == ["LIMIT_EXCEEDED"]
    assert codes(await top_up(client, consumer, cards[0].id, "0.01")) == ["LIMIT_EXCEEDED"]
    assert await money_of(world) == before

    # The cap is per consumer and per merchant: others are not affected.
    data_of(await purchase(client, await make_user(), world))
    data_of(await purchase(client, consumer, other_world))
    await assert_ledger_clean()


async def test_a_refunded_card_no_longer_counts_towards_the_merchant_cap(client):
    world = await make_merchant(price_fen=500_000, face_fen=500_000)
    consumer = await make_user()
    cards = [(await buy_card(consumer, world)).card for _ in range(4)]
    assert codes(await purchase(client, consumer, world)) == ["LIMIT_EXCEEDED"]

    from services.refunds import request_refund

    request = await request_refund(
        principal=principal_of(consumer), card_id=cards[0].id, reason="changed mind"
    )
    assert request.status.value == "APPROVED"

    data_of(await purchase(client, consumer, world))
    await assert_ledger_clean()


# ---------------------------------------------------------------- payments


class DecliningProvider:
    """A payment provider that declines everything and remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []
        self.voided: list[payments.Payment] = []

    async def authorize(self, reference: str, amount_fen: int) -> payments.Payment:
        self.asked.append((reference, amount_fen))
        raise payments.PaymentDeclined("The bank declined the payment")

    async def void(self, payment: payments.Payment) -> None:
        self.voided.append(payment)


class RecordingProvider:
    """Confirms every payment and remembers authorisations and voids."""

    def __init__(self) -> None:
        self.authorized: list[payments.Payment] = []
        self.voided: list[payments.Payment] = []

    async def authorize(self, reference: str, amount_fen: int) -> payments.Payment:
        payment = payments.Payment(payment_id=f"test-{len(self.authorized)}", amount_fen=amount_fen)
        self.authorized.append(payment)
        return payment

    async def void(self, payment: payments.Payment) -> None:
        self.voided.append(payment)


async def test_a_declined_payment_creates_no_card_and_moves_nothing(client):
    # Given a consumer with one card, and a provider that declines every payment
    world = await make_merchant()
    consumer = await make_user()
    card = (await buy_card(consumer, world)).card
    before = await money_of(world)
    declining = DecliningProvider()
    previous = payments.use_provider(declining)
    try:
        # When they buy a card and top up the one they have
        bought = await purchase(client, consumer, world)
        topped = await top_up(client, consumer, card.id, "350.00")
    finally:
        payments.use_provider(previous)

    # Then both fail, the provider was asked for the right amounts, and nothing moved
    assert codes(bought) and bought["data"] is None
    assert codes(topped) and topped["data"] is None
    assert [amount for _reference, amount in declining.asked] == [70_000, 35_000]
    assert await money_of(world) == before
    assert await Card.filter(owner_id=consumer.id).count() == 1
    await assert_ledger_clean()

    # And with the sandbox back, the same key now buys (the failure was not remembered)
    key = uuid.uuid4().hex
    previous = payments.use_provider(declining)
    try:
        assert codes(await purchase(client, consumer, world, key))
    finally:
        payments.use_provider(previous)
    data_of(await purchase(client, consumer, world, key))
    assert await Card.filter(owner_id=consumer.id).count() == 2
    await assert_ledger_clean()


async def test_a_payment_is_authorised_once_per_operation_and_not_on_replay(client):
    world = await make_merchant()
    consumer = await make_user()
    recording = RecordingProvider()
    previous = payments.use_provider(recording)
    try:
        key = uuid.uuid4().hex
        first = data_of(await purchase(client, consumer, world, key))
        again = data_of(await purchase(client, consumer, world, key))
        # A purchase refused by a rule asks for no payment at all.
        await Merchant.filter(id=world.merchant.id).update(status=MerchantStatus.SUSPENDED)
        assert codes(await purchase(client, consumer, world)) == ["MERCHANT_NOT_ACTIVE"]
    finally:
        payments.use_provider(previous)

    assert first == again
    assert [p.amount_fen for p in recording.authorized] == [70_000]
    assert recording.voided == []
    await assert_ledger_clean()
