"""Refunds through the API: at once in the cooling-off period, else decided; always the cash value."""

from __future__ import annotations

import pytest

from models import Card, Merchant, RefundRequest, User
from models.enums import CardStatus, MerchantStatus, RefundStatus, Role
from schema.ids import decode_id, encode_id
from services import cards, ledger, refunds
from services.ledger import verify_ledger
from tests.support import (
    assert_ledger_clean,
    buy_card,
    call,
    codes,
    data_of,
    gql,
    make_merchant,
    make_staff,
    make_user,
    money_of,
    principal_of,
    redeem_fen,
)

REFUND_FIELDS = """
  id status amount decidedAt decisionNote
  card { id balance cashValue status }
  transaction { id kind amount cashAmount balanceAfter }
"""

REQUEST_REFUND = f"""
mutation RequestRefund($cardId: ID!, $reason: String!) {{
  requestRefund(cardId: $cardId, reason: $reason) {{ {REFUND_FIELDS} }}
}}
"""

DECIDE_REFUND = f"""
mutation DecideRefund($refundId: ID!, $approve: Boolean!, $note: String) {{
  decideRefund(refundId: $refundId, approve: $approve, note: $note) {{ {REFUND_FIELDS} }}
}}
"""

REFUND_REQUESTS = """
query RefundRequests($status: RefundStatus) {
  refundRequests(status: $status) { totalCount edges { node { id status amount } } }
}
"""

CARD = "query Card($id: ID!) { card(id: $id) { id balance cashValue status } }"

MERCHANT_ESCROW = """
query MerchantEscrow($id: ID!) {
  merchant(id: $id) { escrow { held released outstandingLiability } }
}
"""


async def request_refund(client, consumer: User, card_id: int, reason: str = "搬家了") -> dict:
    return await call(
        client, REQUEST_REFUND, {"cardId": encode_id("Card", card_id), "reason": reason}, consumer
    )


async def decide(client, who: User, refund_id: str, approve: bool, note: str | None = None):
    return await call(
        client, DECIDE_REFUND, {"refundId": refund_id, "approve": approve, "note": note}, who
    )


async def card_of(client, consumer: User, card_id: int) -> dict:
    return data_of(await call(client, CARD, {"id": encode_id("Card", card_id)}, consumer))["card"]


async def escrow_of(client, world, viewer: User | None = None) -> dict:
    result = await call(
        client,
        MERCHANT_ESCROW,
        {"id": encode_id("Merchant", world.merchant.id)},
        viewer or world.owner,
    )
    return data_of(result)["merchant"]["escrow"]


async def used_card(world, redeemed_fen: int = 10_000) -> tuple[User, int]:
    """A consumer and a 700/1000 card with `redeemed_fen` already redeemed."""
    consumer = await make_user()
    card_id = (await buy_card(consumer, world)).card.id
    await redeem_fen(world, card_id, consumer, redeemed_fen)
    return consumer, card_id


async def pending_refund(client, world) -> tuple[User, int, str]:
    consumer, card_id = await used_card(world)
    refund = data_of(await request_refund(client, consumer, card_id))["requestRefund"]
    assert refund["status"] == "PENDING"
    return consumer, card_id, refund["id"]


# ---------------------------------------------------------------- at once


async def test_an_unused_card_in_the_cooling_off_period_is_refunded_at_once(client):
    # Given a 700/1000 card bought just now
    world = await make_merchant()
    consumer = await make_user()
    card_id = (await buy_card(consumer, world)).card.id

    # When the consumer asks for a refund
    refund = data_of(await request_refund(client, consumer, card_id))["requestRefund"]

    # Then it is approved at once: 700.00 back, the card REFUNDED with nothing left
    assert refund["status"] == "APPROVED"
    assert refund["amount"] == "700.00"
    assert refund["decidedAt"] is not None
    assert refund["card"] == {
        "id": encode_id("Card", card_id),
        "balance": "0.00",
        "cashValue": "0.00",
        "status": "REFUNDED",
    }
    assert refund["transaction"]["kind"] == "REFUND"
    assert refund["transaction"]["cashAmount"] == "700.00"
    assert refund["transaction"]["amount"] == "1000.00"
    assert refund["transaction"]["balanceAfter"] == "0.00"
    assert await escrow_of(client, world) == {
        "held": "0.00",
        "released": "0.00",
        "outstandingLiability": "0.00",
    }
    row = await RefundRequest.get(id=decode_id(refund["id"], "RefundRequest"))
    assert row.amount_fen == 70_000 and row.transfer_id is not None
    await assert_ledger_clean()

    # And a refunded card cannot be refunded again
    assert codes(await request_refund(client, consumer, card_id)) == ["INVALID_STATE"]


async def test_a_topped_up_card_refunds_its_whole_cash_value(client):
    world = await make_merchant()
    consumer = await make_user()
    card_id = (await buy_card(consumer, world)).card.id
    await cards.top_up(
        principal=principal_of(consumer), card_id=card_id, pay_fen=35_001, idempotency_key="t1"
    )

    refund = data_of(await request_refund(client, consumer, card_id))["requestRefund"]

    assert (refund["status"], refund["amount"]) == ("APPROVED", "1050.01")
    assert refund["transaction"]["cashAmount"] == "1050.01"
    await assert_ledger_clean()


@pytest.mark.parametrize("status", [MerchantStatus.SUSPENDED, MerchantStatus.CLOSED])
async def test_a_suspended_or_closed_merchant_refunds_without_approval(client, status):
    # Given a used card (no cooling-off) of a merchant that is then suspended or closed
    world = await make_merchant()
    consumer, card_id = await used_card(world)
    await Merchant.filter(id=world.merchant.id).update(status=status)

    refund = data_of(await request_refund(client, consumer, card_id))["requestRefund"]

    assert (refund["status"], refund["amount"]) == ("APPROVED", "630.00")
    assert refund["card"]["status"] == "REFUNDED"
    assert (await escrow_of(client, world))["held"] == "0.00"
    await assert_ledger_clean()


async def test_an_expired_card_is_refunded_without_approval(client, frozen_clock):
    # Given a used card valid for 30 days, 31 days later
    world = await make_merchant(validity_days=30)
    consumer, card_id = await used_card(world)
    frozen_clock.advance(days=31)
    assert (await card_of(client, consumer, card_id))["status"] == "EXPIRED"

    # When the consumer asks, expiry forfeits nothing: the whole cash value comes back at once
    refund = data_of(await request_refund(client, consumer, card_id))["requestRefund"]

    assert (refund["status"], refund["amount"]) == ("APPROVED", "630.00")
    assert refund["card"]["status"] == "REFUNDED"
    await assert_ledger_clean()


# ---------------------------------------------------------------- pending and decided


async def test_after_a_redemption_a_refund_waits_for_a_decision(client):
    world = await make_merchant()
    consumer, card_id = await used_card(world)
    before = await money_of(world)

    refund = data_of(await request_refund(client, consumer, card_id))["requestRefund"]

    assert refund["status"] == "PENDING"
    assert refund["amount"] == "630.00"
    assert refund["transaction"] is None and refund["decidedAt"] is None
    assert refund["card"]["status"] == "FROZEN"
    accounts, transfers, _cards = await money_of(world)
    assert (accounts, transfers) == before[:2]
    # The merchant sees it among its pending requests.
    listed = data_of(await call(client, REFUND_REQUESTS, {"status": "PENDING"}, world.owner))
    assert [edge["node"]["id"] for edge in listed["refundRequests"]["edges"]] == [refund["id"]]


async def test_after_the_cooling_off_period_an_unused_card_waits_for_a_decision(
    client, frozen_clock
):
    world = await make_merchant()
    consumer = await make_user()
    card_id = (await buy_card(consumer, world)).card.id
    frozen_clock.advance(days=7, minutes=1)

    refund = data_of(await request_refund(client, consumer, card_id))["requestRefund"]

    assert (refund["status"], refund["amount"]) == ("PENDING", "700.00")
    assert refund["card"]["status"] == "FROZEN"


async def test_just_inside_the_cooling_off_period_the_refund_is_at_once(client, frozen_clock):
    world = await make_merchant()
    consumer = await make_user()
    card_id = (await buy_card(consumer, world)).card.id
    frozen_clock.advance(days=6, hours=23, minutes=59)

    refund = data_of(await request_refund(client, consumer, card_id))["requestRefund"]

    assert refund["status"] == "APPROVED"
    await assert_ledger_clean()


async def test_the_merchant_approves_a_pending_refund(client):
    # Given a pending request on a 700/1000 card with 100.00 redeemed
    world = await make_merchant()
    staff = await make_staff(world)
    consumer, card_id, refund_id = await pending_refund(client, world)

    # When the merchant's staff approve it
    refund = data_of(await decide(client, staff, refund_id, True, "同意"))["decideRefund"]

    # Then the card's 630.00 of cash goes back and the card ends REFUNDED
    assert refund["status"] == "APPROVED"
    assert refund["amount"] == "630.00"
    assert refund["decisionNote"] == "同意"
    assert refund["transaction"]["kind"] == "REFUND"
    assert refund["transaction"]["cashAmount"] == "630.00"
    assert refund["transaction"]["amount"] == "900.00"
    assert (await card_of(client, consumer, card_id)) == {
        "id": encode_id("Card", card_id),
        "balance": "0.00",
        "cashValue": "0.00",
        "status": "REFUNDED",
    }
    assert await escrow_of(client, world) == {
        "held": "0.00",
        "released": "70.00",
        "outstandingLiability": "0.00",
    }
    await assert_ledger_clean()


async def test_a_regulator_approves_a_pending_refund(client):
    world = await make_merchant()
    regulator = await make_user(Role.REGULATOR)
    consumer, card_id, refund_id = await pending_refund(client, world)

    refund = data_of(await decide(client, regulator, refund_id, True, "投诉成立"))["decideRefund"]

    assert (refund["status"], refund["amount"]) == ("APPROVED", "630.00")
    assert (await card_of(client, consumer, card_id))["status"] == "REFUNDED"
    await assert_ledger_clean()


@pytest.mark.parametrize("decider", ["merchant", "regulator"])
async def test_a_rejected_refund_moves_no_money_and_unfreezes_the_card(client, decider):
    world = await make_merchant()
    who = world.owner if decider == "merchant" else await make_user(Role.REGULATOR)
    consumer, card_id, refund_id = await pending_refund(client, world)
    accounts, transfers, _cards = await money_of(world)

    refund = data_of(await decide(client, who, refund_id, False, "已使用"))["decideRefund"]

    assert refund["status"] == "REJECTED"
    assert refund["transaction"] is None
    assert (await money_of(world))[:2] == (accounts, transfers)
    assert refund["card"]["status"] == "ACTIVE"
    assert (await card_of(client, consumer, card_id))["status"] == "ACTIVE"
    # The card is still usable, and a new request may be made.
    await redeem_fen(world, card_id, consumer, 10_000)
    again = data_of(await request_refund(client, consumer, card_id))["requestRefund"]
    assert (again["status"], again["amount"]) == ("PENDING", "560.00")
    await assert_ledger_clean()


async def test_deciding_twice_is_invalid(client):
    world = await make_merchant()
    regulator = await make_user(Role.REGULATOR)
    _consumer, _card_id, refund_id = await pending_refund(client, world)
    data_of(await decide(client, world.owner, refund_id, True))
    before = await money_of(world)

    assert codes(await decide(client, world.owner, refund_id, True)) == ["INVALID_STATE"]
    assert codes(await decide(client, regulator, refund_id, False)) == ["INVALID_STATE"]
    assert await money_of(world) == before
    await assert_ledger_clean()


async def test_only_the_cards_merchant_or_a_regulator_decides(client):
    world, other = await make_merchant(), await make_merchant()
    consumer, card_id, refund_id = await pending_refund(client, world)
    before = await money_of(world)

    assert codes(await decide(client, other.owner, refund_id, True)) == ["NOT_FOUND"]
    assert codes(await decide(client, consumer, refund_id, True)) == ["FORBIDDEN"]
    assert codes(await gql(client, DECIDE_REFUND, {"refundId": refund_id, "approve": True})) == [
        "UNAUTHENTICATED"
    ]
    assert await money_of(world) == before
    assert (await card_of(client, consumer, card_id))["status"] == "FROZEN"


@pytest.mark.parametrize("approve", [True, False])
async def test_staff_bound_to_a_store_do_not_decide_refunds_and_the_owner_still_can(
    client, approve
):
    # Given a pending request and staff bound to one of the merchant's stores
    world = await make_merchant()
    store_staff = await make_staff(world, world.stores[0])
    _consumer, _card_id, refund_id = await pending_refund(client, world)
    before = await money_of(world)

    # When the store's staff try to decide it
    result = await decide(client, store_staff, refund_id, approve)

    # Then they are refused, nothing changes, and the owner's decision is the one that counts
    assert codes(result) == ["FORBIDDEN"]
    assert await money_of(world) == before
    assert (await RefundRequest.get(id=decode_id(refund_id, "RefundRequest"))).status is (
        RefundStatus.PENDING
    )
    refund = data_of(await decide(client, world.owner, refund_id, not approve))["decideRefund"]
    assert refund["status"] == ("REJECTED" if approve else "APPROVED")
    await assert_ledger_clean()


async def test_staff_not_bound_to_a_store_decide_refunds(client):
    world = await make_merchant()
    chain_staff = await make_staff(world)
    _consumer, _card_id, refund_id = await pending_refund(client, world)

    refund = data_of(await decide(client, chain_staff, refund_id, False))["decideRefund"]

    assert refund["status"] == "REJECTED"


async def test_a_second_request_while_one_is_pending_is_invalid(client):
    world = await make_merchant()
    consumer, card_id, _refund_id = await pending_refund(client, world)

    assert codes(await request_refund(client, consumer, card_id)) == ["INVALID_STATE"]
    assert await RefundRequest.filter(card_id=card_id).count() == 1


async def test_a_refund_needs_the_owner_a_reason_and_cash_left(client):
    world = await make_merchant()
    consumer, card_id = await used_card(world)
    stranger = await make_user()
    before = await money_of(world)

    assert codes(await request_refund(client, stranger, card_id)) == ["NOT_FOUND"]
    assert codes(await request_refund(client, world.owner, card_id)) == ["FORBIDDEN"]
    assert codes(await request_refund(client, consumer, card_id, "   ")) == ["BAD_USER_INPUT"]
    assert codes(await request_refund(client, consumer, card_id, "x" * 1001)) == ["BAD_USER_INPUT"]
    assert await money_of(world) == before

    # A card redeemed to nothing has nothing to refund.
    await redeem_fen(world, card_id, consumer, 90_000)
    assert codes(await request_refund(client, consumer, card_id)) == ["INVALID_STATE"]
    await assert_ledger_clean()


# ---------------------------------------------------------------- custody below 100 %


async def test_a_refund_at_partial_custody_claws_back_from_settlement(client):
    # Given a merchant at custody 0.4 with two 700/1000 cards of one consumer, one used for 100.00
    world = await make_merchant(custody_ratio_bp=4_000)
    regulator = await make_user(Role.REGULATOR)
    consumer, used = await used_card(world)
    other = (await buy_card(consumer, world)).card.id
    # custody: 252.00 (used: ceil(0.4 * 630)) + 280.00 (other); released 448.00 + 420.00
    assert await escrow_of(client, world, regulator) == {
        "held": "532.00",
        "released": "868.00",
        "outstandingLiability": "1330.00",
    }

    # When the used card is refunded (its 630.00: 252.00 from custody, 378.00 from settlement)
    refund = data_of(await request_refund(client, consumer, used))["requestRefund"]
    refund = data_of(await decide(client, regulator, refund["id"], True))["decideRefund"]
    assert refund["amount"] == "630.00"

    # Then settlement went down by the clawback and custody equals the other card's share
    assert await escrow_of(client, world, regulator) == {
        "held": "280.00",
        "released": "490.00",
        "outstandingLiability": "700.00",
    }
    accounts = await ledger.account_balances([ledger.escrow_account(world.merchant.id)])
    assert (
        accounts[ledger.escrow_account(world.merchant.id)]
        == (await Card.get(id=other)).escrow_held_fen
    )
    await assert_ledger_clean()


async def test_a_request_left_pending_when_the_merchant_is_suspended_is_settled_by_asking_again(
    client,
):
    # Given a used card whose refund request waits for the merchant's decision
    world = await make_merchant()
    consumer = await make_user()
    bought = await buy_card(consumer, world)
    await redeem_fen(world, bought.card.id, consumer, 10_000)
    first = await refunds.request_refund(
        principal=principal_of(consumer), card_id=bought.card.id, reason="搬家"
    )
    assert first.status is RefundStatus.PENDING

    # When the merchant is suspended and the consumer asks again
    await Merchant.filter(id=world.merchant.id).update(status=MerchantStatus.SUSPENDED)
    again = await refunds.request_refund(
        principal=principal_of(consumer), card_id=bought.card.id, reason="商户已被暂停"
    )

    # Then the waiting request itself is approved and pays the cash value
    assert again.id == first.id
    assert again.status is RefundStatus.APPROVED
    assert again.amount_fen == 63_000
    card = await Card.get(id=bought.card.id)
    assert card.status is CardStatus.REFUNDED
    assert await RefundRequest.filter(card_id=card.id).count() == 1
    assert (await verify_ledger()).problems == []


# ---------------------------------------------------------------- the card waits with its refund

ISSUE_REDEMPTION_CODE = """
mutation IssueRedemptionCode($cardId: ID!) { issueRedemptionCode(cardId: $cardId) { code } }
"""

REDEEM = """
mutation Redeem($code: String!, $storeId: ID!, $amount: Money!, $key: String!) {
  redeem(code: $code, storeId: $storeId, amount: $amount, idempotencyKey: $key) { card { id } }
}
"""

TOP_UP_CARD = """
mutation TopUpCard($cardId: ID!, $pay: Money!, $key: String!) {
  topUpCard(cardId: $cardId, payAmount: $pay, idempotencyKey: $key) { card { id } }
}
"""


async def test_a_waiting_refund_freezes_the_card_so_the_amount_paid_is_the_amount_asked(client):
    # Given a used 700/1000 card, a code the consumer showed, and then a refund request for 630.00
    world = await make_merchant()
    consumer, card_id = await used_card(world)
    card_gid = encode_id("Card", card_id)
    shown = data_of(await call(client, ISSUE_REDEMPTION_CODE, {"cardId": card_gid}, consumer))
    refund = data_of(await request_refund(client, consumer, card_id))["requestRefund"]
    assert (refund["status"], refund["amount"]) == ("PENDING", "630.00")
    before = await money_of(world)

    # When the merchant redeems the code shown before, the consumer tops up or asks for a new code
    redeemed = await call(
        client,
        REDEEM,
        {
            "code": shown["issueRedemptionCode"]["code"],
            "storeId": encode_id("Store", world.stores[0].id),
            "amount": "300.00",
            "key": "redeem-while-frozen",
        },
        world.owner,
    )
    topped_up = await call(
        client, TOP_UP_CARD, {"cardId": card_gid, "pay": "70.00", "key": "top-up"}, consumer
    )
    new_code = await call(client, ISSUE_REDEMPTION_CODE, {"cardId": card_gid}, consumer)

    # Then each is refused, the card is unchanged and frozen, and approval pays the 630.00 asked
    assert codes(redeemed) == codes(topped_up) == codes(new_code) == ["CARD_NOT_ACTIVE"]
    assert "refund" in new_code["errors"][0]["message"]
    assert await money_of(world) == before
    assert await card_of(client, consumer, card_id) == {
        "id": card_gid,
        "balance": "900.00",
        "cashValue": "630.00",
        "status": "FROZEN",
    }
    paid = data_of(await decide(client, world.owner, refund["id"], True))["decideRefund"]
    assert paid["amount"] == paid["transaction"]["cashAmount"] == refund["amount"]
    await assert_ledger_clean()
