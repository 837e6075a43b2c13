"""Redemption through the API: the rounding rule, where and by whom, and one-time codes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from core import clock
from models import Card, Merchant, Store, User
from models.enums import CardStatus, MerchantStatus, Role, StoreStatus
from schema.ids import encode_id
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
)

ISSUE_REDEMPTION_CODE = """
mutation IssueRedemptionCode($cardId: ID!) {
  issueRedemptionCode(cardId: $cardId) { code expiresAt card { id balance } }
}
"""

REDEEM = """
mutation Redeem($code: String!, $storeId: ID!, $amount: Money!, $key: String!) {
  redeem(code: $code, storeId: $storeId, amount: $amount, idempotencyKey: $key) {
    card { id balance cashValue status }
    transaction { id kind amount cashAmount balanceAfter store { id } card { id } }
  }
}
"""

CARD = "query Card($id: ID!) { card(id: $id) { id balance cashValue status } }"

MERCHANT_ESCROW = """
query MerchantEscrow($id: ID!) {
  merchant(id: $id) { escrow { held released outstandingLiability } }
}
"""


async def issue_code(client, consumer: User, card_id: int) -> str:
    result = await call(
        client, ISSUE_REDEMPTION_CODE, {"cardId": encode_id("Card", card_id)}, consumer
    )
    return data_of(result)["issueRedemptionCode"]["code"]


async def redeem(client, staff: User, code: str, store: Store, amount: Any) -> dict:
    variables = {
        "code": code,
        "storeId": encode_id("Store", store.id),
        "amount": amount,
        "key": uuid.uuid4().hex,
    }
    return await call(client, REDEEM, variables, staff)


async def card_of(client, consumer: User, card_id: int) -> dict:
    return data_of(await call(client, CARD, {"id": encode_id("Card", card_id)}, consumer))["card"]


async def escrow_of(client, world) -> dict:
    result = await call(
        client, MERCHANT_ESCROW, {"id": encode_id("Merchant", world.merchant.id)}, world.owner
    )
    return data_of(result)["merchant"]["escrow"]


async def bought(world) -> tuple[User, int]:
    consumer = await make_user()
    return consumer, (await buy_card(consumer, world)).card.id


# ---------------------------------------------------------------- the rounding rule


async def test_redeeming_100_of_a_700_1000_card_releases_70(client):
    # Given a 700/1000 card in full custody
    world = await make_merchant()
    consumer, card_id = await bought(world)

    # When the merchant redeems 100.00 with the consumer's code at its second store
    code = await issue_code(client, consumer, card_id)
    payload = data_of(await redeem(client, world.owner, code, world.stores[1], "100.00"))["redeem"]

    # Then the card keeps 900.00 of balance and 630.00 of cash; 70.00 reaches the merchant
    assert payload["card"] == {
        "id": encode_id("Card", card_id),
        "balance": "900.00",
        "cashValue": "630.00",
        "status": "ACTIVE",
    }
    assert payload["transaction"]["kind"] == "REDEMPTION"
    assert payload["transaction"]["amount"] == "100.00"
    assert payload["transaction"]["cashAmount"] == "70.00"
    assert payload["transaction"]["balanceAfter"] == "900.00"
    assert payload["transaction"]["store"]["id"] == encode_id("Store", world.stores[1].id)
    assert await escrow_of(client, world) == {
        "held": "630.00",
        "released": "70.00",
        "outstandingLiability": "630.00",
    }
    await assert_ledger_clean()

    # And redeeming the whole balance releases everything left
    code = await issue_code(client, consumer, card_id)
    payload = data_of(await redeem(client, world.owner, code, world.stores[0], "900.00"))["redeem"]
    assert (payload["card"]["balance"], payload["card"]["cashValue"]) == ("0.00", "0.00")
    assert payload["transaction"]["cashAmount"] == "630.00"
    assert await escrow_of(client, world) == {
        "held": "0.00",
        "released": "700.00",
        "outstandingLiability": "0.00",
    }
    # An empty card gets no more codes.
    result = await call(
        client, ISSUE_REDEMPTION_CODE, {"cardId": encode_id("Card", card_id)}, consumer
    )
    assert codes(result) == ["INSUFFICIENT_BALANCE"]
    await assert_ledger_clean()


async def test_redemption_rounds_the_cash_left_up(client):
    # Given a 700/1000 card, when 333.33 is redeemed:
    # ceil(700.00 * 666.67 / 1000.00) = ceil(466.669) = 466.67 stays on the card
    world = await make_merchant()
    consumer, card_id = await bought(world)
    code = await issue_code(client, consumer, card_id)

    payload = data_of(await redeem(client, world.owner, code, world.stores[0], "333.33"))["redeem"]

    assert (payload["card"]["balance"], payload["card"]["cashValue"]) == ("666.67", "466.67")
    assert payload["transaction"]["cashAmount"] == "233.33"
    await assert_ledger_clean()


@pytest.mark.parametrize(
    ("ratio_bp", "amount", "balance", "cash", "cash_amount", "held"),
    [
        # ceil(700.00 * 999.99 / 1000) = 700.00: the cash value does not move at all
        (10_000, "0.01", "999.99", "700.00", "0.00", "700.00"),
        # ceil(700.00 * 999.98 / 1000) = 699.99, but ceil(0.4 * 699.99) = 280.00 = ceil(0.4 * 700)
        (4_000, "0.02", "999.98", "699.99", "0.01", "280.00"),
    ],
)
async def test_a_redemption_too_small_to_release_a_fen_is_still_recorded(
    client, ratio_bp, amount, balance, cash, cash_amount, held
):
    # Given a 700/1000 card, when so little is redeemed that no fen leaves custody,
    # then the balance still goes down and the transaction is on the card.
    world = await make_merchant(custody_ratio_bp=ratio_bp)
    consumer, card_id = await bought(world)
    code = await issue_code(client, consumer, card_id)

    payload = data_of(await redeem(client, world.owner, code, world.stores[0], amount))["redeem"]

    assert (payload["card"]["balance"], payload["card"]["cashValue"]) == (balance, cash)
    assert payload["transaction"]["cashAmount"] == cash_amount
    assert payload["transaction"]["balanceAfter"] == balance
    assert (await escrow_of(client, world))["held"] == held
    assert (await card_of(client, consumer, card_id))["balance"] == balance
    await assert_ledger_clean()


async def test_redemption_at_partial_custody_releases_the_card_share(client):
    # Given a 700/1000 card sold at custody 0.4: 280.00 held, 420.00 released at once
    world = await make_merchant(custody_ratio_bp=4_000)
    consumer, card_id = await bought(world)
    assert await escrow_of(client, world) == {
        "held": "280.00",
        "released": "420.00",
        "outstandingLiability": "700.00",
    }

    # When 100.00 is redeemed, the card keeps 630.00, of which ceil(0.4 * 630) = 252.00 held
    code = await issue_code(client, consumer, card_id)
    payload = data_of(await redeem(client, world.owner, code, world.stores[0], "100.00"))["redeem"]

    assert payload["card"]["cashValue"] == "630.00"
    assert payload["transaction"]["cashAmount"] == "70.00"
    assert await escrow_of(client, world) == {
        "held": "252.00",
        "released": "448.00",
        "outstandingLiability": "630.00",
    }
    assert (await Card.get(id=card_id)).escrow_held_fen == 25_200
    await assert_ledger_clean()


# ---------------------------------------------------------------- amounts and card state


async def test_redemption_needs_an_amount_above_zero_and_within_the_balance(client):
    world = await make_merchant()
    consumer, card_id = await bought(world)
    code = await issue_code(client, consumer, card_id)
    before = await money_of(world)

    assert codes(await redeem(client, world.owner, code, world.stores[0], "0.00")) == [
        "BAD_USER_INPUT"
    ]
    assert codes(await redeem(client, world.owner, code, world.stores[0], "1000.01")) == [
        "INSUFFICIENT_BALANCE"
    ]
    for bad in ["100", "100.0", "-1.00", "+1.00", "1e2", 100]:
        assert codes(await redeem(client, world.owner, code, world.stores[0], bad)) == [
            "BAD_USER_INPUT"
        ], bad
    assert await money_of(world) == before

    # The exact balance is fine.
    code = await issue_code(client, consumer, card_id)
    payload = data_of(await redeem(client, world.owner, code, world.stores[0], "1000.00"))
    assert payload["redeem"]["card"]["cashValue"] == "0.00"
    await assert_ledger_clean()


@pytest.mark.parametrize("status", [CardStatus.FROZEN, CardStatus.EXPIRED])
async def test_a_card_that_is_not_active_cannot_be_redeemed(client, status):
    # Given a code issued while the card was active, and the card then frozen or expired
    world = await make_merchant()
    consumer, card_id = await bought(world)
    code = await issue_code(client, consumer, card_id)
    await Card.filter(id=card_id).update(status=status)
    before = await money_of(world)

    # When the merchant redeems with it, it is CARD_NOT_ACTIVE and nothing moves
    assert codes(await redeem(client, world.owner, code, world.stores[0], "10.00")) == [
        "CARD_NOT_ACTIVE"
    ]
    assert await money_of(world) == before
    # And no new code is issued for it
    result = await call(
        client, ISSUE_REDEMPTION_CODE, {"cardId": encode_id("Card", card_id)}, consumer
    )
    assert codes(result) == ["CARD_NOT_ACTIVE"]
    await Card.filter(id=card_id).update(status=CardStatus.ACTIVE)
    await assert_ledger_clean()


async def test_a_new_code_voids_the_cards_earlier_unused_codes(client):
    # Given two codes shown one after the other for the same card
    world = await make_merchant()
    consumer, card_id = await bought(world)
    older = await issue_code(client, consumer, card_id)
    newer = await issue_code(client, consumer, card_id)
    before = await money_of(world)

    # When the merchant redeems with the older one, it no longer works and nothing moves
    assert codes(await redeem(client, world.owner, older, world.stores[0], "10.00")) == [
        "REDEMPTION_CODE_INVALID"
    ]
    assert await money_of(world) == before
    # Then the newer one is the card's one live code
    payload = data_of(await redeem(client, world.owner, newer, world.stores[0], "10.00"))
    assert payload["redeem"]["card"]["balance"] == "990.00"
    await assert_ledger_clean()


async def test_a_refunded_card_cannot_be_redeemed(client):
    world = await make_merchant()
    consumer, card_id = await bought(world)
    code = await issue_code(client, consumer, card_id)
    from services.refunds import request_refund

    await request_refund(principal=principal_of(consumer), card_id=card_id, reason="not needed")
    before = await money_of(world)

    assert codes(await redeem(client, world.owner, code, world.stores[0], "10.00")) == [
        "CARD_NOT_ACTIVE"
    ]
    result = await call(
        client, ISSUE_REDEMPTION_CODE, {"cardId": encode_id("Card", card_id)}, consumer
    )
    assert codes(result) == ["CARD_NOT_ACTIVE"]
    assert await money_of(world) == before
    await assert_ledger_clean()


async def test_a_card_past_its_validity_cannot_be_redeemed(client, frozen_clock):
    # Given a card that expires two minutes from now and a code issued for it
    world = await make_merchant()
    consumer, card_id = await bought(world)
    await Card.filter(id=card_id).update(expires_at=clock.now() + dt.timedelta(minutes=2))
    code = await issue_code(client, consumer, card_id)
    before = await money_of(world)

    # When three minutes pass (the code is still valid, the card is not)
    frozen_clock.advance(minutes=3)

    # Then redemption is CARD_NOT_ACTIVE, the card reads EXPIRED, and nothing moved
    assert codes(await redeem(client, world.owner, code, world.stores[0], "10.00")) == [
        "CARD_NOT_ACTIVE"
    ]
    assert (await card_of(client, consumer, card_id))["status"] == "EXPIRED"
    result = await call(
        client, ISSUE_REDEMPTION_CODE, {"cardId": encode_id("Card", card_id)}, consumer
    )
    assert codes(result) == ["CARD_NOT_ACTIVE"]
    assert await money_of(world) == before
    await assert_ledger_clean()


async def test_a_suspended_merchant_still_redeems(client):
    world = await make_merchant()
    consumer, card_id = await bought(world)
    await Merchant.filter(id=world.merchant.id).update(status=MerchantStatus.SUSPENDED)

    code = await issue_code(client, consumer, card_id)
    payload = data_of(await redeem(client, world.owner, code, world.stores[0], "100.00"))

    assert payload["redeem"]["card"]["balance"] == "900.00"
    await assert_ledger_clean()


# ---------------------------------------------------------------- stores and staff


async def test_the_store_must_be_the_merchants_own(client):
    world, other = await make_merchant(), await make_merchant()
    consumer, card_id = await bought(world)
    code = await issue_code(client, consumer, card_id)
    before = await money_of(world)

    assert codes(await redeem(client, world.owner, code, other.stores[0], "10.00")) == ["NOT_FOUND"]
    result = await redeem(client, world.owner, code, Store(id=10**9, name="x"), "10.00")
    assert codes(result) == ["NOT_FOUND"]
    assert await money_of(world) == before
    # The code is still good at the merchant's own store.
    data_of(await redeem(client, world.owner, code, world.stores[0], "10.00"))
    await assert_ledger_clean()


async def test_the_store_must_be_open(client):
    world = await make_merchant()
    consumer, card_id = await bought(world)
    await Store.filter(id=world.stores[1].id).update(status=StoreStatus.CLOSED)
    code = await issue_code(client, consumer, card_id)
    before = await money_of(world)

    assert codes(await redeem(client, world.owner, code, world.stores[1], "10.00")) == [
        "INVALID_STATE"
    ]
    assert await money_of(world) == before
    data_of(await redeem(client, world.owner, code, world.stores[0], "10.00"))
    await assert_ledger_clean()


async def test_the_product_must_allow_the_store(client):
    # Given a product valid only at the first store
    world = await make_merchant(all_stores=False)
    consumer, card_id = await bought(world)
    code = await issue_code(client, consumer, card_id)
    before = await money_of(world)

    assert codes(await redeem(client, world.owner, code, world.stores[1], "10.00")) == [
        "INVALID_STATE"
    ]
    assert await money_of(world) == before
    data_of(await redeem(client, world.owner, code, world.stores[0], "10.00"))
    await assert_ledger_clean()


async def test_staff_bound_to_a_store_redeem_only_there(client):
    world = await make_merchant()
    bound = await make_staff(world, world.stores[0])
    roaming = await make_staff(world)
    consumer, card_id = await bought(world)
    code = await issue_code(client, consumer, card_id)
    before = await money_of(world)

    # Bound staff elsewhere: FORBIDDEN, nothing moved
    assert codes(await redeem(client, bound, code, world.stores[1], "10.00")) == ["FORBIDDEN"]
    assert await money_of(world) == before

    # Bound staff at their store, unbound staff at any store
    data_of(await redeem(client, bound, code, world.stores[0], "10.00"))
    code = await issue_code(client, consumer, card_id)
    data_of(await redeem(client, roaming, code, world.stores[1], "10.00"))
    assert (await card_of(client, consumer, card_id))["balance"] == "980.00"
    await assert_ledger_clean()


async def test_consumers_regulators_and_anonymous_callers_cannot_redeem(client):
    world = await make_merchant()
    consumer, card_id = await bought(world)
    code = await issue_code(client, consumer, card_id)
    before = await money_of(world)

    assert codes(await redeem(client, consumer, code, world.stores[0], "10.00")) == ["FORBIDDEN"]
    regulator = await make_user(Role.REGULATOR)
    assert codes(await redeem(client, regulator, code, world.stores[0], "10.00")) == ["FORBIDDEN"]
    anonymous = await gql(
        client,
        REDEEM,
        {
            "code": code,
            "storeId": encode_id("Store", world.stores[0].id),
            "amount": "10.00",
            "key": uuid.uuid4().hex,
        },
    )
    assert codes(anonymous) == ["UNAUTHENTICATED"]
    assert await money_of(world) == before


# ---------------------------------------------------------------- redemption codes


async def test_a_code_is_18_random_digits_valid_for_5_minutes(client, frozen_clock):
    world = await make_merchant()
    consumer, card_id = await bought(world)

    first = data_of(
        await call(client, ISSUE_REDEMPTION_CODE, {"cardId": encode_id("Card", card_id)}, consumer)
    )["issueRedemptionCode"]
    second = await issue_code(client, consumer, card_id)

    assert len(first["code"]) == 18 and first["code"].isdigit()
    assert len(second) == 18 and second.isdigit()
    assert first["code"] != second
    assert first["card"] == {"id": encode_id("Card", card_id), "balance": "1000.00"}
    expires = dt.datetime.fromisoformat(first["expiresAt"])
    assert expires == clock.now() + dt.timedelta(minutes=5)


async def test_a_code_works_once(client):
    world = await make_merchant()
    consumer, card_id = await bought(world)
    code = await issue_code(client, consumer, card_id)
    data_of(await redeem(client, world.owner, code, world.stores[0], "10.00"))
    before = await money_of(world)

    # The same code again, under a new idempotency key: used
    assert codes(await redeem(client, world.owner, code, world.stores[0], "10.00")) == [
        "REDEMPTION_CODE_INVALID"
    ]
    assert await money_of(world) == before
    await assert_ledger_clean()


async def test_a_code_redeems_only_its_own_card(client):
    # Given one consumer with two cards and a code for the second
    world = await make_merchant()
    consumer = await make_user()
    first_card = (await buy_card(consumer, world)).card.id
    second_card = (await buy_card(consumer, world)).card.id
    code = await issue_code(client, consumer, second_card)

    # When the merchant redeems with it
    payload = data_of(await redeem(client, world.owner, code, world.stores[0], "10.00"))["redeem"]

    # Then the second card paid, the first did not
    assert payload["card"]["id"] == encode_id("Card", second_card)
    assert payload["transaction"]["card"]["id"] == encode_id("Card", second_card)
    assert (await card_of(client, consumer, first_card))["balance"] == "1000.00"
    assert (await card_of(client, consumer, second_card))["balance"] == "990.00"
    await assert_ledger_clean()


async def test_a_code_expires_after_5_minutes(client, frozen_clock):
    world = await make_merchant()
    consumer, card_id = await bought(world)
    code = await issue_code(client, consumer, card_id)
    before = await money_of(world)

    frozen_clock.advance(minutes=6)

    assert codes(await redeem(client, world.owner, code, world.stores[0], "10.00")) == [
        "REDEMPTION_CODE_INVALID"
    ]
    assert await money_of(world) == before
    # A fresh code works.
    code = await issue_code(client, consumer, card_id)
    data_of(await redeem(client, world.owner, code, world.stores[0], "10.00"))
    await assert_ledger_clean()


async def test_a_code_still_works_just_before_it_expires(client, frozen_clock):
    world = await make_merchant()
    consumer, card_id = await bought(world)
    code = await issue_code(client, consumer, card_id)

    frozen_clock.advance(minutes=4, seconds=59)

    data_of(await redeem(client, world.owner, code, world.stores[0], "10.00"))
    await assert_ledger_clean()


async def test_another_merchant_cannot_use_a_code(client):
    # Given a code for a card of merchant A, in the hands of merchant B's staff
    world, other = await make_merchant(), await make_merchant()
    other_staff = await make_staff(other)
    consumer, card_id = await bought(world)
    code = await issue_code(client, consumer, card_id)
    before = await money_of(world)

    assert codes(await redeem(client, other_staff, code, other.stores[0], "10.00")) == [
        "REDEMPTION_CODE_INVALID"
    ]
    assert codes(await redeem(client, other.owner, code, other.stores[0], "10.00")) == [
        "REDEMPTION_CODE_INVALID"
    ]
    assert await money_of(world) == before
    assert (await money_of(other))[1] == 0
    # The code is untouched: its own merchant still redeems it.
    data_of(await redeem(client, world.owner, code, world.stores[0], "10.00"))
    await assert_ledger_clean()


@pytest.mark.parametrize("forged", ["000000000000000000", "12345", "", "not a code", "1" * 18])
async def test_a_forged_code_is_invalid(client, forged):
    world = await make_merchant()
    await bought(world)
    before = await money_of(world)

    assert codes(await redeem(client, world.owner, forged, world.stores[0], "10.00")) == [
        "REDEMPTION_CODE_INVALID"
    ]
    assert await money_of(world) == before


async def test_only_the_card_owner_gets_a_code(client):
    world = await make_merchant()
    _owner, card_id = await bought(world)
    stranger = await make_user()
    variables = {"cardId": encode_id("Card", card_id)}

    assert codes(await call(client, ISSUE_REDEMPTION_CODE, variables, stranger)) == ["NOT_FOUND"]
    assert codes(await call(client, ISSUE_REDEMPTION_CODE, variables, world.owner)) == ["FORBIDDEN"]
    assert codes(await gql(client, ISSUE_REDEMPTION_CODE, variables)) == ["UNAUTHENTICATED"]
    result = await call(
        client, ISSUE_REDEMPTION_CODE, {"cardId": encode_id("Card", 10**9)}, stranger
    )
    assert codes(result) == ["NOT_FOUND"]
