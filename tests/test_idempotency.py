"""Idempotency keys on the money mutations: replay returns the first result, per caller."""

from __future__ import annotations

import uuid

import pytest

from models import Card, IdempotencyRecord, Merchant, User
from models.enums import MerchantStatus
from schema.ids import encode_id
from tests.support import (
    assert_ledger_clean,
    buy_card,
    call,
    codes,
    data_of,
    make_merchant,
    make_user,
    money_of,
    principal_of,
    redeem_fen,
)

OPERATION_FIELDS = """
  card { id balance cashValue }
  transaction { id kind amount cashAmount balanceAfter }
"""

PURCHASE_CARD = f"""
mutation PurchaseCard($productId: ID!, $key: String!) {{
  purchaseCard(productId: $productId, idempotencyKey: $key) {{ {OPERATION_FIELDS} }}
}}
"""

TOP_UP_CARD = f"""
mutation TopUpCard($cardId: ID!, $pay: Money!, $key: String!) {{
  topUpCard(cardId: $cardId, payAmount: $pay, idempotencyKey: $key) {{ {OPERATION_FIELDS} }}
}}
"""

ISSUE_REDEMPTION_CODE = """
mutation IssueRedemptionCode($cardId: ID!) { issueRedemptionCode(cardId: $cardId) { code } }
"""

REDEEM = f"""
mutation Redeem($code: String!, $storeId: ID!, $amount: Money!, $key: String!) {{
  redeem(code: $code, storeId: $storeId, amount: $amount, idempotencyKey: $key) {{
    {OPERATION_FIELDS}
  }}
}}
"""


async def purchase(client, consumer: User, world, key: str) -> dict:
    variables = {"productId": encode_id("CardProduct", world.product.id), "key": key}
    return await call(client, PURCHASE_CARD, variables, consumer)


async def top_up(client, consumer: User, card_id: int, pay: str, key: str) -> dict:
    variables = {"cardId": encode_id("Card", card_id), "pay": pay, "key": key}
    return await call(client, TOP_UP_CARD, variables, consumer)


async def issue_code(client, consumer: User, card_id: int) -> str:
    result = await call(
        client, ISSUE_REDEMPTION_CODE, {"cardId": encode_id("Card", card_id)}, consumer
    )
    return data_of(result)["issueRedemptionCode"]["code"]


async def redeem(client, world, code: str, amount: str, key: str, store_index: int = 0) -> dict:
    variables = {
        "code": code,
        "storeId": encode_id("Store", world.stores[store_index].id),
        "amount": amount,
        "key": key,
    }
    return await call(client, REDEEM, variables, world.owner)


def new_key() -> str:
    return uuid.uuid4().hex


# ---------------------------------------------------------------- same key, same arguments


async def test_a_replayed_purchase_returns_the_first_card_and_moves_nothing(client):
    world = await make_merchant()
    consumer = await make_user()
    key = new_key()

    first = data_of(await purchase(client, consumer, world, key))["purchaseCard"]
    after_first = await money_of(world)
    again = data_of(await purchase(client, consumer, world, key))["purchaseCard"]

    assert again == first
    assert await money_of(world) == after_first
    assert await Card.filter(owner_id=consumer.id).count() == 1
    assert after_first[1] == 1
    await assert_ledger_clean()


async def test_a_replayed_top_up_moves_nothing(client):
    world = await make_merchant()
    consumer = await make_user()
    card_id = (await buy_card(consumer, world)).card.id
    key = new_key()

    first = data_of(await top_up(client, consumer, card_id, "350.00", key))["topUpCard"]
    after_first = await money_of(world)
    again = data_of(await top_up(client, consumer, card_id, "350.00", key))["topUpCard"]

    assert again == first
    assert first["card"]["balance"] == "1500.00"
    assert await money_of(world) == after_first
    await assert_ledger_clean()


async def test_a_replayed_redemption_moves_nothing(client):
    world = await make_merchant()
    consumer = await make_user()
    card_id = (await buy_card(consumer, world)).card.id
    code = await issue_code(client, consumer, card_id)
    key = new_key()

    first = data_of(await redeem(client, world, code, "100.00", key))["redeem"]
    after_first = await money_of(world)
    # The code is used by now; the replay still answers with the first result.
    again = data_of(await redeem(client, world, code, "100.00", key))["redeem"]

    assert again == first
    assert first["card"]["balance"] == "900.00"
    assert await money_of(world) == after_first
    await assert_ledger_clean()


async def test_a_replay_returns_the_first_result_after_the_card_changed(client):
    # Given a card bought under key K, then redeemed and its merchant suspended
    world = await make_merchant()
    consumer = await make_user()
    key = new_key()
    first = data_of(await purchase(client, consumer, world, key))["purchaseCard"]
    card_id = (await Card.get(owner_id=consumer.id)).id
    await redeem_fen(world, card_id, consumer, 10_000)
    await Merchant.filter(id=world.merchant.id).update(status=MerchantStatus.SUSPENDED)
    before = await money_of(world)

    # When the purchase is replayed under K
    again = data_of(await purchase(client, consumer, world, key))["purchaseCard"]

    # Then it answers with the first transaction (not MERCHANT_NOT_ACTIVE, no new card)
    assert again["transaction"] == first["transaction"]
    assert again["transaction"]["balanceAfter"] == "1000.00"
    assert again["card"]["id"] == first["card"]["id"]
    assert await money_of(world) == before
    await assert_ledger_clean()


async def test_a_replayed_top_up_after_a_refund_returns_the_first_result(client):
    world = await make_merchant()
    consumer = await make_user()
    card_id = (await buy_card(consumer, world)).card.id
    key = new_key()
    first = data_of(await top_up(client, consumer, card_id, "70.00", key))["topUpCard"]
    from services.refunds import request_refund

    await request_refund(principal=principal_of(consumer), card_id=card_id, reason="不需要了")
    before = await money_of(world)

    again = data_of(await top_up(client, consumer, card_id, "70.00", key))["topUpCard"]

    assert again["transaction"] == first["transaction"]
    assert await money_of(world) == before
    await assert_ledger_clean()


# ---------------------------------------------------------------- same key, other arguments


async def test_the_same_key_with_other_arguments_is_a_conflict(client):
    world, other_world = await make_merchant(), await make_merchant()
    consumer = await make_user()
    card_id = (await buy_card(consumer, world)).card.id
    purchase_key, top_up_key = new_key(), new_key()
    data_of(await purchase(client, consumer, world, purchase_key))
    data_of(await top_up(client, consumer, card_id, "10.00", top_up_key))
    second_card = (await buy_card(consumer, world)).card.id
    before = await money_of(world), await money_of(other_world)

    # Another product, another amount, another card, another operation: all conflicts
    assert codes(await purchase(client, consumer, other_world, purchase_key)) == [
        "IDEMPOTENCY_CONFLICT"
    ]
    assert codes(await top_up(client, consumer, card_id, "10.01", top_up_key)) == [
        "IDEMPOTENCY_CONFLICT"
    ]
    assert codes(await top_up(client, consumer, second_card, "10.00", top_up_key)) == [
        "IDEMPOTENCY_CONFLICT"
    ]
    assert codes(await top_up(client, consumer, card_id, "10.00", purchase_key)) == [
        "IDEMPOTENCY_CONFLICT"
    ]
    assert codes(await purchase(client, consumer, world, top_up_key)) == ["IDEMPOTENCY_CONFLICT"]
    assert (await money_of(world), await money_of(other_world)) == before
    await assert_ledger_clean()


async def test_a_redemption_key_reused_for_another_amount_or_code_is_a_conflict(client):
    world = await make_merchant()
    consumer = await make_user()
    card_id = (await buy_card(consumer, world)).card.id
    key = new_key()
    code = await issue_code(client, consumer, card_id)
    data_of(await redeem(client, world, code, "100.00", key))
    fresh_code = await issue_code(client, consumer, card_id)
    before = await money_of(world)

    assert codes(await redeem(client, world, code, "100.01", key)) == ["IDEMPOTENCY_CONFLICT"]
    assert codes(await redeem(client, world, code, "100.00", key, store_index=1)) == [
        "IDEMPOTENCY_CONFLICT"
    ]
    assert codes(await redeem(client, world, fresh_code, "100.00", key)) == ["IDEMPOTENCY_CONFLICT"]
    assert await money_of(world) == before
    # The fresh code was not spent by the conflicting call.
    data_of(await redeem(client, world, fresh_code, "100.00", new_key()))
    await assert_ledger_clean()


# ---------------------------------------------------------------- per caller, shape, failures


async def test_keys_belong_to_their_caller(client):
    world = await make_merchant()
    alice, bob = await make_user(), await make_user()
    key = new_key()

    first = data_of(await purchase(client, alice, world, key))["purchaseCard"]
    second = data_of(await purchase(client, bob, world, key))["purchaseCard"]

    assert second["transaction"]["id"] != first["transaction"]["id"]
    assert second["card"]["id"] != first["card"]["id"]
    assert await Card.filter(owner_id=alice.id).count() == 1
    assert await Card.filter(owner_id=bob.id).count() == 1
    # And each replays their own.
    assert data_of(await purchase(client, bob, world, key))["purchaseCard"] == second
    await assert_ledger_clean()


@pytest.mark.parametrize("key", ["", "   ", "k" * 256])
async def test_a_key_has_1_to_255_characters(client, key):
    world = await make_merchant()
    consumer = await make_user()
    card_id = (await buy_card(consumer, world)).card.id
    code = await issue_code(client, consumer, card_id)
    before = await money_of(world)

    assert codes(await purchase(client, consumer, world, key)) == ["BAD_USER_INPUT"]
    assert codes(await top_up(client, consumer, card_id, "10.00", key)) == ["BAD_USER_INPUT"]
    assert codes(await redeem(client, world, code, "10.00", key)) == ["BAD_USER_INPUT"]
    assert await money_of(world) == before


async def test_a_key_of_255_characters_is_fine(client):
    world = await make_merchant()
    consumer = await make_user()
    key = "k" * 254 + "\u6d17"  # 255 characters, one of them outside ASCII

    first = data_of(await purchase(client, consumer, world, key))["purchaseCard"]
    again = data_of(await purchase(client, consumer, world, key))["purchaseCard"]

    assert again == first
    assert await IdempotencyRecord.filter(user_id=consumer.id, key=key).count() == 1
    await assert_ledger_clean()


async def test_a_failed_operation_does_not_keep_its_key(client):
    # Given a purchase refused while the merchant is suspended
    world = await make_merchant()
    consumer = await make_user()
    key = new_key()
    await Merchant.filter(id=world.merchant.id).update(status=MerchantStatus.SUSPENDED)
    assert codes(await purchase(client, consumer, world, key)) == ["MERCHANT_NOT_ACTIVE"]

    # When the merchant is reinstated, the same key buys the card
    await Merchant.filter(id=world.merchant.id).update(status=MerchantStatus.ACTIVE)
    payload = data_of(await purchase(client, consumer, world, key))["purchaseCard"]

    assert payload["card"]["balance"] == "1000.00"
    assert await IdempotencyRecord.filter(user_id=consumer.id).count() == 1
    await assert_ledger_clean()


async def test_a_key_is_remembered_for_a_day(client, frozen_clock):
    world = await make_merchant()
    consumer = await make_user()
    key = new_key()
    first = data_of(await purchase(client, consumer, world, key))["purchaseCard"]

    frozen_clock.advance(hours=23, minutes=59)

    assert data_of(await purchase(client, consumer, world, key))["purchaseCard"] == first
    assert await Card.filter(owner_id=consumer.id).count() == 1
