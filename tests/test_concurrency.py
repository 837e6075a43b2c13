"""Money under concurrency, on SQLite and PostgreSQL: no double spending, no limit overshoot.

Requests are fired together with asyncio.gather over the GraphQL API (one event loop, so on
PostgreSQL they run on separate pooled connections and really race in the database).
A few races are made deterministic by running the competing operation at the exact point
where it would interleave (while a payment is being authorised, or between a refund's checks
and its transaction).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from core import clock
from models import Card, Merchant, RedemptionCode, RefundRequest, Transfer, User
from models.enums import CardStatus, MerchantStatus, RefundStatus, Role, TransferKind
from schema.ids import encode_id
from services import cards, escrow, ledger, payments, redemption, refunds
from services.money import format_money
from tests.support import (
    assert_ledger_clean,
    buy_card,
    call,
    codes,
    data_of,
    make_merchant,
    make_user,
    principal_of,
    redeem_fen,
)

PURCHASE_CARD = """
mutation PurchaseCard($productId: ID!, $key: String!) {
  purchaseCard(productId: $productId, idempotencyKey: $key) {
    card { id cashValue }
    transaction { id kind cashAmount }
  }
}
"""

TOP_UP_CARD = """
mutation TopUpCard($cardId: ID!, $pay: Money!, $key: String!) {
  topUpCard(cardId: $cardId, payAmount: $pay, idempotencyKey: $key) {
    card { id cashValue }
    transaction { id }
  }
}
"""

ISSUE_REDEMPTION_CODE = """
mutation IssueRedemptionCode($cardId: ID!) { issueRedemptionCode(cardId: $cardId) { code } }
"""

REDEEM = """
mutation Redeem($code: String!, $storeId: ID!, $amount: Money!, $key: String!) {
  redeem(code: $code, storeId: $storeId, amount: $amount, idempotencyKey: $key) {
    card { balance cashValue }
    transaction { id amount }
  }
}
"""

REQUEST_REFUND = """
mutation RequestRefund($cardId: ID!, $reason: String!) {
  requestRefund(cardId: $cardId, reason: $reason) { id status amount }
}
"""

CARD = "query Card($id: ID!) { card(id: $id) { balance cashValue status } }"


def first_code(result: dict) -> str | None:
    found = codes(result)
    return found[0] if found else None


async def purchase(client, consumer: User, world, key: str | None = None) -> dict:
    variables = {
        "productId": encode_id("CardProduct", world.product.id),
        "key": key or uuid.uuid4().hex,
    }
    return await call(client, PURCHASE_CARD, variables, consumer)


async def redeem_with(client, world, code: str, amount: str = "10.00") -> dict:
    variables = {
        "code": code,
        "storeId": encode_id("Store", world.stores[0].id),
        "amount": amount,
        "key": uuid.uuid4().hex,
    }
    return await call(client, REDEEM, variables, world.owner)


async def plant_live_codes(card_id: int, count: int) -> list[str]:
    """Live codes written straight into the database: no API path leaves a card more than one,
    but the balance must hold even if something did."""
    now = clock.now()
    planted = [f"{card_id:09d}{n:09d}" for n in range(count)]
    await RedemptionCode.bulk_create(
        RedemptionCode(
            code_hash=hashlib.sha256(code.encode()).hexdigest(),
            card_id=card_id,
            created_at=now,
            expires_at=now + dt.timedelta(minutes=5),
        )
        for code in planted
    )
    return planted


async def test_50_redemptions_of_one_code_redeem_once(client):
    world = await make_merchant()
    consumer = await make_user()
    card_id = (await buy_card(consumer, world)).card.id
    issued = await redemption.issue_redemption_code(
        principal=principal_of(consumer), card_id=card_id
    )

    results = await asyncio.gather(*(redeem_with(client, world, issued.code) for _ in range(50)))

    assert Counter(first_code(result) for result in results) == {
        None: 1,
        "REDEMPTION_CODE_INVALID": 49,
    }
    assert await Transfer.filter(card_id=card_id, kind=TransferKind.REDEMPTION).count() == 1
    await assert_ledger_clean()


async def test_50_redemptions_race_for_the_last_100(client):
    # Given a card holding exactly 100.00 and 50 live codes for it
    world = await make_merchant(price_fen=7_000, face_fen=10_000)
    consumer = await make_user()
    card_id = (await buy_card(consumer, world)).card.id
    planted = await plant_live_codes(card_id, 50)

    # When 50 redemptions of 10.00 arrive at once, each with its own code and key
    results = await asyncio.gather(*(redeem_with(client, world, code) for code in planted))

    # Then exactly 10 succeed, the other 40 are INSUFFICIENT_BALANCE, and the card is empty
    outcomes = Counter(first_code(result) for result in results)
    assert outcomes == {None: 10, "INSUFFICIENT_BALANCE": 40}
    card = data_of(await call(client, CARD, {"id": encode_id("Card", card_id)}, consumer))["card"]
    assert (card["balance"], card["cashValue"]) == ("0.00", "0.00")
    assert await Transfer.filter(card_id=card_id, kind=TransferKind.REDEMPTION).count() == 10
    balances = await ledger.account_balances(
        [ledger.escrow_account(world.merchant.id), ledger.settlement_account(world.merchant.id)]
    )
    assert balances == {
        ledger.escrow_account(world.merchant.id): 0,
        ledger.settlement_account(world.merchant.id): 7_000,
    }
    await assert_ledger_clean()


async def test_20_purchases_with_one_key_make_one_card(client):
    world = await make_merchant()
    consumer = await make_user()
    key = uuid.uuid4().hex

    results = await asyncio.gather(*(purchase(client, consumer, world, key) for _ in range(20)))

    payloads = [data_of(result)["purchaseCard"] for result in results]
    assert len({payload["transaction"]["id"] for payload in payloads}) == 1
    assert len({payload["card"]["id"] for payload in payloads}) == 1
    assert await Card.filter(owner_id=consumer.id).count() == 1
    assert await Transfer.filter(merchant_id=world.merchant.id).count() == 1
    await assert_ledger_clean()


async def test_redemptions_with_one_key_redeem_once(client):
    world = await make_merchant()
    consumer = await make_user()
    card_id = (await buy_card(consumer, world)).card.id
    code = (
        await redemption.issue_redemption_code(principal=principal_of(consumer), card_id=card_id)
    ).code
    variables = {
        "code": code,
        "storeId": encode_id("Store", world.stores[0].id),
        "amount": "100.00",
        "key": uuid.uuid4().hex,
    }

    results = await asyncio.gather(
        *(call(client, REDEEM, variables, world.owner) for _ in range(10))
    )

    payloads = [data_of(result)["redeem"] for result in results]
    assert len({payload["transaction"]["id"] for payload in payloads}) == 1
    assert (await Card.get(id=card_id)).balance_fen == 90_000
    await assert_ledger_clean()


async def test_purchases_racing_past_the_merchant_cap_never_exceed_it(client):
    # Given a consumer holding 16,000.00 with a merchant that sells 4,000.00 cards
    world = await make_merchant(price_fen=400_000, face_fen=450_000)
    consumer = await make_user()
    for _ in range(4):
        await buy_card(consumer, world)

    # When 6 purchases arrive at once
    results = await asyncio.gather(*(purchase(client, consumer, world) for _ in range(6)))

    # Then exactly one fits and the consumer holds exactly 20,000.00
    assert Counter(first_code(result) for result in results) == {None: 1, "LIMIT_EXCEEDED": 5}
    cash = [card.cash_value_fen for card in await Card.filter(owner_id=consumer.id)]
    assert sum(cash) == 2_000_000
    await assert_ledger_clean()


async def test_top_ups_racing_past_the_caps_never_exceed_them(client):
    # Given a consumer with 4 cards of 4,000.00 (16,000.00 with the merchant)
    world = await make_merchant(price_fen=400_000, face_fen=400_000)
    consumer = await make_user()
    card_ids = [(await buy_card(consumer, world)).card.id for _ in range(4)]

    # When 4 top-ups of 1,000.00 hit one card (card cap 5,000.00) and 9 more spread over
    # the others (merchant cap 20,000.00) at once
    async def top_up(card_id: int) -> dict:
        variables = {
            "cardId": encode_id("Card", card_id),
            "pay": "1000.00",
            "key": uuid.uuid4().hex,
        }
        return await call(client, TOP_UP_CARD, variables, consumer)

    targets = [card_ids[0]] * 4 + card_ids[1:] * 3
    results = await asyncio.gather(*(top_up(card_id) for card_id in targets))

    # Then neither cap is exceeded and exactly 4 top-ups fit
    assert Counter(first_code(result) for result in results) == {None: 4, "LIMIT_EXCEEDED": 9}
    cash = [card.cash_value_fen for card in await Card.filter(owner_id=consumer.id)]
    assert sum(cash) == 2_000_000
    assert max(cash) <= 500_000
    await assert_ledger_clean()


async def test_purchases_and_refunds_of_one_merchant_race_without_failing(client):
    # Given 12 consumers with a fresh card each and 12 more about to buy
    world = await make_merchant(custody_ratio_bp=7_000)
    holders = [await make_user() for _ in range(12)]
    held = [(await buy_card(holder, world)).card.id for holder in holders]
    buyers = [await make_user() for _ in range(12)]

    # When the holders ask for refunds while the others buy, all at once
    async def refund(holder: User, card_id: int) -> dict:
        variables = {"cardId": encode_id("Card", card_id), "reason": "不要了"}
        return await call(client, REQUEST_REFUND, variables, holder)

    results = await asyncio.gather(
        *(refund(holder, card_id) for holder, card_id in zip(holders, held, strict=True)),
        *(purchase(client, buyer, world) for buyer in buyers),
    )

    # Then every one of them succeeds (no deadlock, no lost update)
    assert [codes(result) for result in results] == [[]] * 24
    assert {data_of(r)["requestRefund"]["status"] for r in results[:12]} == {"APPROVED"}
    assert await Card.filter(merchant_id=world.merchant.id, status="ACTIVE").count() == 12
    await assert_ledger_clean()


async def test_redemptions_and_top_ups_of_many_cards_race_consistently(client):
    # Given a merchant at 60 % custody with 8 consumers holding a card each
    world = await make_merchant(custody_ratio_bp=6_000)
    holders = [await make_user() for _ in range(8)]
    card_ids = [(await buy_card(holder, world)).card.id for holder in holders]

    async def redeem_twice(holder: User, card_id: int) -> None:
        # One after the other: a card has one live code at a time.
        for _ in range(2):
            await redeem_fen(world, card_id, holder, 3_333)

    async def top_up(holder: User, card_id: int) -> None:
        await cards.top_up(
            principal=principal_of(holder),
            card_id=card_id,
            pay_fen=1_001,
            idempotency_key=uuid.uuid4().hex,
        )

    # When each card is redeemed twice while it is topped up twice, all cards at once
    await asyncio.gather(
        *(
            operation(holder, card_id)
            for holder, card_id in zip(holders, card_ids, strict=True)
            for operation in (redeem_twice, top_up, top_up)
        )
    )

    # Then every card ends where the rules say, whatever the order
    for card_id in card_ids:
        card = await Card.get(id=card_id)
        assert card.balance_fen == 100_000 - 2 * 3_333 + 2 * (1_001 * 100_000 // 70_000)
        assert card.escrow_held_fen == -(-6_000 * card.cash_value_fen // 10_000)
    await assert_ledger_clean()


async def test_a_custody_change_racing_purchases_and_redemptions_keeps_custody_exact(client):
    world = await make_merchant()
    regulator = await make_user(Role.REGULATOR)
    holders = [await make_user() for _ in range(6)]
    card_ids = [(await buy_card(holder, world)).card.id for holder in holders]
    buyers = [await make_user() for _ in range(6)]

    await asyncio.gather(
        *(purchase(client, buyer, world) for buyer in buyers),
        *(
            redeem_fen(world, card_id, holder, 5_000)
            for holder, card_id in zip(holders, card_ids, strict=True)
        ),
        escrow.set_custody_ratio(
            principal=principal_of(regulator),
            merchant_id=world.merchant.id,
            ratio=0.55,
            reason="风险",
        ),
    )

    ratios = await Card.filter(merchant_id=world.merchant.id).values_list(
        "custody_ratio_bp", flat=True
    )
    assert set(ratios) == {5_500}
    await assert_ledger_clean()


# ---------------------------------------------------------------- forced interleavings


class MeanwhileProvider:
    """Confirms payments, but first lets something else happen (as if concurrently)."""

    def __init__(self, meanwhile: Callable[[], Awaitable[None]]) -> None:
        self.meanwhile = meanwhile
        self.voided: list[payments.Payment] = []

    async def authorize(self, reference: str, amount_fen: int) -> payments.Payment:
        await self.meanwhile()
        return payments.Payment(payment_id=f"meanwhile-{reference[:8]}", amount_fen=amount_fen)

    async def void(self, payment: payments.Payment) -> None:
        self.voided.append(payment)


async def test_a_merchant_suspended_while_a_purchase_is_paid_sells_nothing(client):
    world = await make_merchant()
    consumer = await make_user()

    async def suspend() -> None:
        await Merchant.filter(id=world.merchant.id).update(status=MerchantStatus.SUSPENDED)

    provider = MeanwhileProvider(suspend)
    previous = payments.use_provider(provider)
    try:
        result = await purchase(client, consumer, world)
    finally:
        payments.use_provider(previous)

    assert codes(result) == ["MERCHANT_NOT_ACTIVE"]
    assert await Card.filter(owner_id=consumer.id).count() == 0
    assert len(provider.voided) == 1
    await assert_ledger_clean()


async def test_a_custody_change_while_a_purchase_is_paid_applies_to_the_new_card(client):
    world = await make_merchant()
    regulator = await make_user(Role.REGULATOR)
    consumer = await make_user()

    async def lower_custody() -> None:
        await escrow.set_custody_ratio(
            principal=principal_of(regulator),
            merchant_id=world.merchant.id,
            ratio=0.5,
            reason="评级提升",
        )

    previous = payments.use_provider(MeanwhileProvider(lower_custody))
    try:
        data_of(await purchase(client, consumer, world))
    finally:
        payments.use_provider(previous)

    card = await Card.get(owner_id=consumer.id)
    assert (card.custody_ratio_bp, card.escrow_held_fen) == (5_000, 35_000)
    await assert_ledger_clean()


async def test_a_redemption_between_a_refund_check_and_its_transaction_is_seen(client, monkeypatch):
    # Given an unused card in its cooling-off period, and a redemption that commits just after
    # the refund request read the card (as a concurrent request would)
    world = await make_merchant()
    consumer = await make_user()
    card_id = (await buy_card(consumer, world)).card.id
    real_in_transaction = refunds.in_transaction

    @contextlib.asynccontextmanager
    async def redemption_first() -> AsyncIterator[Any]:
        monkeypatch.setattr(refunds, "in_transaction", real_in_transaction)
        await redeem_fen(world, card_id, consumer, 10_000)
        async with real_in_transaction() as connection:
            yield connection

    monkeypatch.setattr(refunds, "in_transaction", redemption_first)

    # When the refund request goes on
    request = await refunds.request_refund(
        principal=principal_of(consumer), card_id=card_id, reason="不要了"
    )

    # Then it sees the used card: it waits for a decision, for the cash value left
    assert request.status is RefundStatus.PENDING
    assert request.amount_fen == 63_000
    assert (await Card.get(id=card_id)).balance_fen == 90_000
    await assert_ledger_clean()


DECIDE_REFUND = """
mutation DecideRefund($refundId: ID!) {
  decideRefund(refundId: $refundId, approve: true) { amount transaction { cashAmount } }
}
"""


async def test_a_refund_request_amount_is_what_the_refund_paid(client):
    # Given six used cards (past cooling-off: a request waits), each with a code already shown
    world = await make_merchant()
    consumer = await make_user()
    cards_ = [(await buy_card(consumer, world)).card.id for _ in range(6)]
    for card_id in cards_:
        await redeem_fen(world, card_id, consumer, 10_000)
    shown = [
        await redemption.issue_redemption_code(principal=principal_of(consumer), card_id=c)
        for c in cards_
    ]

    # When refund requests race redemptions of those codes
    async def redeem_shown(card_id: int, code: str) -> Any:
        return await redemption.redeem(
            principal=principal_of(world.owner),
            code=code,
            store_id=world.stores[0].id,
            amount_fen=30_000,
            idempotency_key=uuid.uuid4().hex,
        )

    outcomes = await asyncio.gather(
        *(
            refunds.request_refund(principal=principal_of(consumer), card_id=c, reason="x")
            for c in cards_
        ),
        *(redeem_shown(c, issued.code) for c, issued in zip(cards_, shown, strict=True)),
        return_exceptions=True,
    )

    # Then every request waits on a frozen card holding exactly the amount it asked for, a
    # redemption that lost the race was refused, and approval pays that amount
    assert all(isinstance(r, RefundRequest) for r in outcomes[:6]), outcomes
    lost = [r for r in outcomes[6:] if isinstance(r, BaseException)]
    assert all(isinstance(r, cards.CardNotActive) for r in lost), lost
    for request in await RefundRequest.filter(card_id__in=cards_):
        card = await Card.get(id=request.card_id)
        assert (request.status, card.status) == (RefundStatus.PENDING, CardStatus.FROZEN)
        assert request.amount_fen == card.cash_value_fen
        result = await call(
            client,
            DECIDE_REFUND,
            {"refundId": encode_id("RefundRequest", request.id)},
            world.owner,
        )
        paid = data_of(result)["decideRefund"]
        assert (
            paid["amount"] == paid["transaction"]["cashAmount"] == format_money(request.amount_fen)
        )
    await assert_ledger_clean()


async def test_codes_issued_at_once_leave_one_live_code(client):
    world = await make_merchant()
    consumer = await make_user()
    card_id = (await buy_card(consumer, world)).card.id

    await asyncio.gather(
        *(
            redemption.issue_redemption_code(principal=principal_of(consumer), card_id=card_id)
            for _ in range(10)
        )
    )

    live = RedemptionCode.filter(card_id=card_id, used_at__isnull=True, expires_at__gt=clock.now())
    assert await live.count() == 1
