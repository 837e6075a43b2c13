"""Regulators suspend, reinstate and close merchants; closing refunds every live card.

Each test makes its own merchant, consumers and cards; the ledger check runs
over the whole (shared) database and must be clean whatever else is in it.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from models import Card, CardProduct, Merchant, RefundRequest, Store
from models.enums import (
    CardProductStatus,
    CardStatus,
    MerchantStatus,
    RefundStatus,
    Role,
    StoreStatus,
    TransferKind,
)
from models.ledger import Transfer
from schema.ids import encode_id
from services import cards, redemption
from services.custody import custody_share
from services.money import format_money
from services.refunds import request_refund
from tests.support import (
    MerchantWorld,
    assert_ledger_clean,
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

SUSPEND = """
mutation Suspend($id: ID!, $reason: String!) {
  suspendMerchant(merchantId: $id, reason: $reason) { id status }
}
"""
REINSTATE = """
mutation Reinstate($id: ID!, $reason: String!) {
  reinstateMerchant(merchantId: $id, reason: $reason) { id status }
}
"""
CLOSE = """
mutation Close($id: ID!, $reason: String!) {
  closeMerchant(merchantId: $id, reason: $reason) {
    merchant { id status }
    cardsRefunded
    cashRefunded
    shortfall
  }
}
"""
PURCHASE = """
mutation Purchase($product: ID!, $key: String!) {
  purchaseCard(productId: $product, idempotencyKey: $key) { card { id } }
}
"""
TOP_UP = """
mutation TopUp($card: ID!, $pay: Money!, $key: String!) {
  topUpCard(cardId: $card, payAmount: $pay, idempotencyKey: $key) { card { balance } }
}
"""
ISSUE_CODE = "mutation Code($card: ID!) { issueRedemptionCode(cardId: $card) { code } }"
REDEEM = """
mutation Redeem($code: String!, $store: ID!, $amount: Money!, $key: String!) {
  redeem(code: $code, storeId: $store, amount: $amount, idempotencyKey: $key) {
    card { balance cashValue }
  }
}
"""
REQUEST_REFUND = """
mutation Refund($card: ID!, $reason: String!) {
  requestRefund(cardId: $card, reason: $reason) {
    id status amount decisionNote transaction { kind cashAmount }
  }
}
"""
REFUND_REQUEST = """
query Refund($id: ID!) {
  node(id: $id) {
    ... on RefundRequest { status amount decidedAt transaction { kind cashAmount } }
  }
}
"""
CARD = "query Card($id: ID!) { card(id: $id) { status balance cashValue } }"
ESCROW = """
query Escrow($id: ID!) {
  merchant(id: $id) { status escrow { held released outstandingLiability } }
}
"""
PRODUCTS = """
query Products($id: ID!) {
  merchant(id: $id) { cardProducts(first: 50) { edges { node { status } } } }
}
"""
ADD_STORE = """
mutation AddStore($input: StoreInput!) { addStore(input: $input) { id } }
"""


def merchant_gid(world: MerchantWorld) -> str:
    return encode_id("Merchant", world.merchant.id)


def card_gid(card_id: int) -> str:
    return encode_id("Card", card_id)


async def regulator_token() -> str:
    return token_for(await make_user(Role.REGULATOR))


async def status_of(world: MerchantWorld) -> MerchantStatus:
    return (await Merchant.get(id=world.merchant.id)).status


async def purchase(client, world: MerchantWorld, consumer_token: str) -> dict[str, Any]:
    return await gql(
        client,
        PURCHASE,
        {"product": encode_id("CardProduct", world.product.id), "key": uuid.uuid4().hex},
        consumer_token,
    )


async def redeem_via_api(client, world: MerchantWorld, consumer, card_id: int, amount: str):
    issued = data_of(
        await gql(client, ISSUE_CODE, {"card": card_gid(card_id)}, token_for(consumer))
    )
    return await gql(
        client,
        REDEEM,
        {
            "code": issued["issueRedemptionCode"]["code"],
            "store": encode_id("Store", world.stores[0].id),
            "amount": amount,
            "key": uuid.uuid4().hex,
        },
        world.token,
    )


# ---------------------------------------------------------------- suspend and reinstate


async def test_suspension_stops_sales_but_not_redemption_or_refunds(client):
    # Given an active merchant, and consumers holding used cards
    world = await make_merchant()
    regulator = await regulator_token()
    alice, bob = await make_user(Role.CONSUMER), await make_user(Role.CONSUMER)
    alice_card = (await buy_card(alice, world)).card
    bob_card = (await buy_card(bob, world)).card
    await redeem_fen(world, alice_card.id, alice, 10_000)
    await redeem_fen(world, bob_card.id, bob, 10_000)

    # When a regulator suspends it
    result = await gql(
        client, SUSPEND, {"id": merchant_gid(world), "reason": "投诉激增，暂停售卡"}, regulator
    )

    # Then it is SUSPENDED
    assert data_of(result)["suspendMerchant"] == {"id": merchant_gid(world), "status": "SUSPENDED"}
    # And it sells nothing: no new card, no top-up
    assert codes(await purchase(client, world, token_for(alice))) == ["MERCHANT_NOT_ACTIVE"]
    top_up = await gql(
        client,
        TOP_UP,
        {"card": card_gid(alice_card.id), "pay": "70.00", "key": uuid.uuid4().hex},
        token_for(alice),
    )
    assert codes(top_up) == ["MERCHANT_NOT_ACTIVE"]
    # But existing cards are still redeemed
    redeemed = data_of(await redeem_via_api(client, world, alice, alice_card.id, "100.00"))
    assert redeemed["redeem"]["card"]["balance"] == "800.00"
    # And a refund request is approved at once, though the card was used after cooling-off rules
    refund = data_of(
        await gql(
            client,
            REQUEST_REFUND,
            {"card": card_gid(bob_card.id), "reason": "商家被暂停"},
            token_for(bob),
        )
    )["requestRefund"]
    assert refund["status"] == "APPROVED"
    assert refund["amount"] == "630.00"
    assert refund["transaction"] == {"kind": "REFUND", "cashAmount": "630.00"}
    assert (await Card.get(id=bob_card.id)).status is CardStatus.REFUNDED
    await assert_ledger_clean()


async def test_a_used_card_of_an_active_merchant_waits_for_a_decision(client):
    # Given an active merchant and a used card (the control for the suspension test)
    world = await make_merchant()
    consumer = await make_user(Role.CONSUMER)
    card = (await buy_card(consumer, world)).card
    await redeem_fen(world, card.id, consumer, 10_000)

    # When its holder asks for a refund
    refund = data_of(
        await gql(
            client,
            REQUEST_REFUND,
            {"card": card_gid(card.id), "reason": "不想用了"},
            token_for(consumer),
        )
    )["requestRefund"]

    # Then the request waits for the merchant
    assert refund["status"] == "PENDING"
    assert refund["transaction"] is None


async def test_reinstated_merchant_sells_again(client):
    # Given a suspended merchant
    world = await make_merchant()
    regulator = await regulator_token()
    consumer = token_for(await make_user(Role.CONSUMER))
    data_of(await gql(client, SUSPEND, {"id": merchant_gid(world), "reason": "整改"}, regulator))
    assert codes(await purchase(client, world, consumer)) == ["MERCHANT_NOT_ACTIVE"]

    # When a regulator reinstates it
    result = await gql(
        client, REINSTATE, {"id": merchant_gid(world), "reason": "整改完成"}, regulator
    )

    # Then it is ACTIVE and sells again
    assert data_of(result)["reinstateMerchant"]["status"] == "ACTIVE"
    assert data_of(await purchase(client, world, consumer))["purchaseCard"]["card"]["id"]


@pytest.mark.parametrize(
    ("status", "document"),
    [
        pytest.param(MerchantStatus.SUSPENDED, SUSPEND, id="suspend a suspended merchant"),
        pytest.param(MerchantStatus.PENDING_REVIEW, SUSPEND, id="suspend a pending merchant"),
        pytest.param(MerchantStatus.REJECTED, SUSPEND, id="suspend a rejected merchant"),
        pytest.param(MerchantStatus.CLOSED, SUSPEND, id="suspend a closed merchant"),
        pytest.param(MerchantStatus.ACTIVE, REINSTATE, id="reinstate an active merchant"),
        pytest.param(MerchantStatus.CLOSED, REINSTATE, id="reinstate a closed merchant"),
        pytest.param(MerchantStatus.PENDING_REVIEW, REINSTATE, id="reinstate a pending merchant"),
        pytest.param(MerchantStatus.CLOSED, CLOSE, id="close a closed merchant"),
        pytest.param(MerchantStatus.PENDING_REVIEW, CLOSE, id="close a pending merchant"),
        pytest.param(MerchantStatus.REJECTED, CLOSE, id="close a rejected merchant"),
    ],
)
async def test_invalid_status_changes(client, status, document):
    # Given a merchant in a status the change does not start from
    world = await make_merchant(status=status)

    # When a regulator attempts the change
    result = await gql(
        client, document, {"id": merchant_gid(world), "reason": "试试"}, await regulator_token()
    )

    # Then it is an invalid state and the status stays
    assert codes(result) == ["INVALID_STATE"]
    assert await status_of(world) is status


@pytest.mark.parametrize("document", [SUSPEND, REINSTATE, CLOSE])
@pytest.mark.parametrize("reason", ["", "   ", "理" * 1001])
async def test_status_changes_need_a_reason(client, document, reason):
    # Given a merchant that could change (active, or suspended for reinstatement)
    status = MerchantStatus.SUSPENDED if document is REINSTATE else MerchantStatus.ACTIVE
    world = await make_merchant(status=status)

    # When a regulator gives no usable reason
    result = await gql(
        client, document, {"id": merchant_gid(world), "reason": reason}, await regulator_token()
    )

    # Then it is bad input and nothing changed
    assert codes(result) == ["BAD_USER_INPUT"]
    assert await status_of(world) is status


@pytest.mark.parametrize("document", [SUSPEND, REINSTATE, CLOSE])
async def test_only_regulators_change_a_merchants_status(client, document):
    # Given a merchant with a live card, and callers of every other role
    status = MerchantStatus.SUSPENDED if document is REINSTATE else MerchantStatus.ACTIVE
    world = await make_merchant()
    consumer = await make_user(Role.CONSUMER)
    card = (await buy_card(consumer, world)).card
    await Merchant.filter(id=world.merchant.id).update(status=status)
    other = await make_merchant()
    callers = [
        (None, "UNAUTHENTICATED"),
        (token_for(consumer), "FORBIDDEN"),
        (world.token, "FORBIDDEN"),
        (other.token, "FORBIDDEN"),
    ]

    for token, code in callers:
        # When they try to change the merchant's status
        result = await gql(client, document, {"id": merchant_gid(world), "reason": "越权"}, token)

        # Then they are refused and nothing changed
        assert codes(result) == [code]
        assert await status_of(world) is status
        refreshed = await Card.get(id=card.id)
        assert refreshed.status is CardStatus.ACTIVE
        assert refreshed.cash_value_fen == card.cash_value_fen


async def test_unknown_merchant_is_not_found(client):
    # Given an ID of no merchant
    missing = encode_id("Merchant", 2_000_000_000)
    regulator = await regulator_token()

    for document in (SUSPEND, REINSTATE, CLOSE):
        # When a regulator acts on it
        result = await gql(client, document, {"id": missing, "reason": "无"}, regulator)

        # Then it is not found
        assert codes(result) == ["NOT_FOUND"]


# ---------------------------------------------------------------- closure


@pytest.mark.parametrize("custody_ratio_bp", [10_000, 6_000], ids=["custody 100%", "custody 60%"])
async def test_closure_refunds_every_live_card(client, custody_ratio_bp):
    # Given a merchant with several consumers' cards, some partly used, one refund pending
    world = await make_merchant(custody_ratio_bp=custody_ratio_bp)
    regulator = await regulator_token()
    alice, bob, carol = [await make_user(Role.CONSUMER) for _ in range(3)]
    holders = [alice, alice, bob, carol, carol]
    card_ids = [(await buy_card(holder, world)).card.id for holder in holders]
    await redeem_fen(world, card_ids[0], alice, 10_000)  # 1000.00 -> 900.00 left
    await redeem_fen(world, card_ids[2], bob, 33_333)  # an awkward amount
    await redeem_fen(world, card_ids[3], carol, 99_999)  # one fen of face value left
    pending = await request_refund(
        principal=principal_of(bob), card_id=card_ids[2], reason="不想用了"
    )
    assert pending.status is RefundStatus.PENDING

    before = [await Card.get(id=card_id) for card_id in card_ids]
    cash = sum(card.cash_value_fen for card in before)
    custody = sum(card.escrow_held_fen for card in before)
    assert custody == sum(custody_share(custody_ratio_bp, card.cash_value_fen) for card in before)
    escrow_before = data_of(await gql(client, ESCROW, {"id": merchant_gid(world)}, regulator))
    assert escrow_before["merchant"]["escrow"]["held"] == format_money(custody)
    released_before = escrow_before["merchant"]["escrow"]["released"]

    # When a regulator closes it
    result = await gql(
        client, CLOSE, {"id": merchant_gid(world), "reason": "经营者失联，门店关闭"}, regulator
    )

    # Then the report counts every card and all their cash
    report = data_of(result)["closeMerchant"]
    assert report["merchant"] == {"id": merchant_gid(world), "status": "CLOSED"}
    assert report["cardsRefunded"] == len(card_ids)
    assert report["cashRefunded"] == format_money(cash)
    # And the shortfall is what custody did not hold
    expected_shortfall = cash - custody
    if custody_ratio_bp == 10_000:
        assert report["shortfall"] == "0.00"
    else:
        assert expected_shortfall > 0
    assert report["shortfall"] == format_money(expected_shortfall)

    # And every card is REFUNDED with nothing left, its whole cash value paid back
    for card in before:
        shown = data_of(await gql(client, CARD, {"id": card_gid(card.id)}, regulator))["card"]
        assert shown == {"status": "REFUNDED", "balance": "0.00", "cashValue": "0.00"}
        refund = await Transfer.get(card_id=card.id, kind=TransferKind.REFUND)
        assert refund.cash_amount_fen == card.cash_value_fen

    # And custody is empty; the shortfall came out of what had been released
    escrow = data_of(await gql(client, ESCROW, {"id": merchant_gid(world)}, regulator))["merchant"]
    assert escrow["status"] == "CLOSED"
    assert escrow["escrow"]["held"] == "0.00"
    assert escrow["escrow"]["outstandingLiability"] == "0.00"
    assert escrow["escrow"]["released"] == format_money(
        int(released_before.replace(".", "")) - expected_shortfall
    )

    # And the pending refund request is approved by the closure's refund
    settled = data_of(
        await gql(client, REFUND_REQUEST, {"id": encode_id("RefundRequest", pending.id)}, regulator)
    )["node"]
    assert settled["status"] == "APPROVED"
    assert settled["decidedAt"] is not None
    assert settled["transaction"] == {
        "kind": "REFUND",
        "cashAmount": format_money(before[2].cash_value_fen),
    }
    assert settled["amount"] == format_money(before[2].cash_value_fen)
    assert await RefundRequest.exists(id=pending.id, decided_by_id__isnull=False)

    # And every product is retired
    products = data_of(await gql(client, PRODUCTS, {"id": merchant_gid(world)}, regulator))
    assert {edge["node"]["status"] for edge in products["merchant"]["cardProducts"]["edges"]} == {
        "RETIRED"
    }

    # And the ledger is clean
    await assert_ledger_clean()


async def test_a_pending_request_is_settled_by_the_closure_for_the_amount_asked(client):
    # Given a refund request that waits (its card frozen meanwhile)
    world = await make_merchant()
    regulator = await regulator_token()
    consumer = await make_user(Role.CONSUMER)
    card = (await buy_card(consumer, world)).card
    await redeem_fen(world, card.id, consumer, 10_000)
    pending = await request_refund(
        principal=principal_of(consumer), card_id=card.id, reason="不想用了"
    )
    assert (pending.status, pending.amount_fen) == (RefundStatus.PENDING, 63_000)

    # When a regulator closes the merchant
    report = data_of(
        await gql(client, CLOSE, {"id": merchant_gid(world), "reason": "关闭"}, regulator)
    )["closeMerchant"]

    # Then the closure refunded the card, and the request, settled by it, shows what was paid
    assert (report["cardsRefunded"], report["cashRefunded"]) == (1, "630.00")
    settled = data_of(
        await gql(client, REFUND_REQUEST, {"id": encode_id("RefundRequest", pending.id)}, regulator)
    )["node"]
    assert settled["status"] == "APPROVED"
    assert settled["amount"] == "630.00"
    assert settled["transaction"]["cashAmount"] == "630.00"
    assert await RefundRequest.exists(id=pending.id, decided_by_id__isnull=False)
    await assert_ledger_clean()


async def test_a_closed_merchant_never_sells_or_redeems_again(client):
    # Given a merchant with a live card and a redemption code issued before it closes
    world = await make_merchant()
    regulator = await regulator_token()
    consumer = await make_user(Role.CONSUMER)
    card = (await buy_card(consumer, world)).card
    code = (
        await redemption.issue_redemption_code(principal=principal_of(consumer), card_id=card.id)
    ).code
    data_of(await gql(client, CLOSE, {"id": merchant_gid(world), "reason": "吊销执照"}, regulator))

    # When the consumer tries to buy, top up or get a code, and the merchant to redeem
    bought = await purchase(client, world, token_for(consumer))
    topped = await gql(
        client,
        TOP_UP,
        {"card": card_gid(card.id), "pay": "70.00", "key": uuid.uuid4().hex},
        token_for(consumer),
    )
    new_code = await gql(client, ISSUE_CODE, {"card": card_gid(card.id)}, token_for(consumer))
    redeemed = await gql(
        client,
        REDEEM,
        {
            "code": code,
            "store": encode_id("Store", world.stores[0].id),
            "amount": "1.00",
            "key": uuid.uuid4().hex,
        },
        world.token,
    )

    # Then every attempt fails and the card stays refunded
    assert codes(bought) == ["MERCHANT_NOT_ACTIVE"]
    assert codes(topped) == ["MERCHANT_NOT_ACTIVE"]
    assert codes(new_code) == ["CARD_NOT_ACTIVE"]
    assert codes(redeemed) == ["MERCHANT_NOT_ACTIVE"]
    refreshed = await Card.get(id=card.id)
    assert (refreshed.status, refreshed.balance_fen, refreshed.cash_value_fen) == (
        CardStatus.REFUNDED,
        0,
        0,
    )
    # And it cannot be reinstated, suspended or closed again
    for document in (REINSTATE, SUSPEND, CLOSE):
        result = await gql(
            client, document, {"id": merchant_gid(world), "reason": "再试"}, regulator
        )
        assert codes(result) == ["INVALID_STATE"]
    # And its owner can change nothing
    store = await gql(
        client,
        ADD_STORE,
        {"input": {"name": "新店", "address": "某路1号", "district": "清江浦区"}},
        world.token,
    )
    assert codes(store) == ["INVALID_STATE"]
    assert await status_of(world) is MerchantStatus.CLOSED
    await assert_ledger_clean()


async def test_a_suspended_merchant_can_be_closed(client):
    # Given a suspended merchant with a live card
    world = await make_merchant()
    regulator = await regulator_token()
    consumer = await make_user(Role.CONSUMER)
    card = (await buy_card(consumer, world)).card
    data_of(await gql(client, SUSPEND, {"id": merchant_gid(world), "reason": "暂停"}, regulator))

    # When a regulator closes it
    report = data_of(
        await gql(client, CLOSE, {"id": merchant_gid(world), "reason": "整改无果"}, regulator)
    )["closeMerchant"]

    # Then its card is refunded
    assert (report["cardsRefunded"], report["cashRefunded"]) == (1, "700.00")
    assert (await Card.get(id=card.id)).status is CardStatus.REFUNDED


async def test_a_merchant_without_cards_closes_with_an_empty_report(client):
    # Given a merchant that sold nothing
    world = await make_merchant()

    # When a regulator closes it
    report = data_of(
        await gql(
            client,
            CLOSE,
            {"id": merchant_gid(world), "reason": "自愿注销"},
            await regulator_token(),
        )
    )["closeMerchant"]

    # Then nothing was refunded
    assert report == {
        "merchant": {"id": merchant_gid(world), "status": "CLOSED"},
        "cardsRefunded": 0,
        "cashRefunded": "0.00",
        "shortfall": "0.00",
    }
    assert (await CardProduct.get(id=world.product.id)).status is CardProductStatus.RETIRED
    statuses = await Store.filter(merchant_id=world.merchant.id).values_list("status", flat=True)
    assert set(statuses) == {StoreStatus.CLOSED}


async def test_cards_already_refunded_are_not_refunded_twice(client):
    # Given a merchant with one refunded card and one live card
    world = await make_merchant()
    consumer = await make_user(Role.CONSUMER)
    refunded = (await buy_card(consumer, world)).card
    live = (await buy_card(consumer, world)).card
    done = await request_refund(
        principal=principal_of(consumer), card_id=refunded.id, reason="冷静期退款"
    )
    assert done.status is RefundStatus.APPROVED

    # When a regulator closes the merchant
    report = data_of(
        await gql(
            client, CLOSE, {"id": merchant_gid(world), "reason": "关闭"}, await regulator_token()
        )
    )["closeMerchant"]

    # Then only the live card is in the report
    assert (report["cardsRefunded"], report["cashRefunded"]) == (1, "700.00")
    assert (await Card.get(id=live.id)).status is CardStatus.REFUNDED
    assert await RefundRequest.filter(card_id=refunded.id).count() == 1
    await assert_ledger_clean()


async def test_closing_three_hundred_cards_in_one_call(client):
    # Given a merchant with 300 cards held by 10 consumers, at 80 % custody
    world = await make_merchant(price_fen=10_000, face_fen=12_000, custody_ratio_bp=8_000)
    consumers = [await make_user(Role.CONSUMER) for _ in range(10)]
    for index in range(300):
        await cards.purchase(
            principal=principal_of(consumers[index % len(consumers)]),
            product_id=world.product.id,
            idempotency_key=uuid.uuid4().hex,
        )
    assert await Card.filter(merchant_id=world.merchant.id).count() == 300

    # When a regulator closes it
    report = data_of(
        await gql(
            client,
            CLOSE,
            {"id": merchant_gid(world), "reason": "跑路"},
            await regulator_token(),
        )
    )["closeMerchant"]

    # Then every card is refunded in that one call
    assert report["cardsRefunded"] == 300
    assert report["cashRefunded"] == "30000.00"
    assert report["shortfall"] == "6000.00"
    statuses = await Card.filter(merchant_id=world.merchant.id).values_list("status", flat=True)
    assert set(statuses) == {CardStatus.REFUNDED}
    # And the ledger is clean
    await assert_ledger_clean()
