"""Two-step payments through WeChat Pay (the simulator): createPaymentOrder, the consumer
pays in the mini-program, the channel's signed notification issues or tops up the card.

Every test installs the adapter into the services and routes the simulator's notifications
to the API app (`paying`); nothing leaves the machine (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import httpx
import pytest

from channel import crypto
from channel.wechat import WeChatPayChannel
from models import Card, ChannelRefund, Merchant, PaymentOrder, Posting, Transfer
from models.enums import (
    CardStatus,
    MerchantStatus,
    PaymentOrderStatus,
    Role,
)
from schema.ids import encode_id
from services import ledger, payment_orders, payments
from tests.payment_support import WeChatFixture, unreachable
from tests.support import (
    assert_ledger_clean,
    buy_card,
    call,
    codes,
    data_of,
    make_merchant,
    make_user,
    money_of,
)

CREATE = """
mutation Create($key: String!, $product: ID, $card: ID, $pay: Money) {
  createPaymentOrder(idempotencyKey: $key, productId: $product, cardId: $card, payAmount: $pay) {
    order { id kind status amount outTradeNo channel expiresAt card { id balance cashValue } }
    payment { appId timeStamp nonceStr package signType paySign }
  }
}
"""
ORDER = """
query Order($id: ID!) {
  paymentOrder(id: $id) {
    status statusReason paidAt channelTransactionId
    card { id balance cashValue status }
    transaction { kind amount cashAmount }
    refunds { amount status reason }
  }
}
"""
NOTIFY = "/payments/wechat/notify"


async def bought_in_the_sandbox(consumer: Any, world: Any) -> Any:
    """A card bought in one step, as before the channel came (test setup)."""
    previous = payments.use_channel(None)
    try:
        return await buy_card(consumer, world)
    finally:
        payments.use_channel(previous)


async def create(client: httpx.AsyncClient, user: Any, **variables: Any) -> dict[str, Any]:
    variables.setdefault("key", uuid.uuid4().hex)
    return await call(client, CREATE, variables, user)


async def read_order(client: httpx.AsyncClient, user: Any, order_id: str) -> dict[str, Any]:
    return data_of(await call(client, ORDER, {"id": order_id}, user))["paymentOrder"]


def prepay_of(created: dict[str, Any]) -> str:
    return created["payment"]["package"].removeprefix("prepay_id=")


async def paid(paying: WeChatFixture, created: dict[str, Any], **options: Any) -> None:
    await paying.simulator.pay(prepay_of(created), **options)
    await paying.simulator.settle()


async def test_a_card_bought_the_two_step_way(client, paying):
    world = await make_merchant(price_fen=70_000, face_fen=100_000, custody_ratio_bp=6_000)
    consumer = await make_user()
    product = encode_id("CardProduct", world.product.id)

    created = data_of(await create(client, consumer, product=product))["createPaymentOrder"]

    order = created["order"]
    assert (order["kind"], order["status"], order["amount"], order["channel"]) == (
        "PURCHASE",
        "CREATED",
        "700.00",
        "wechat",
    )
    assert order["card"] is None
    assert await Card.filter(owner_id=consumer.id).count() == 0
    # wx.requestPayment's parameters, signed with the merchant's key as WeChat checks them.
    payment = created["payment"]
    assert payment["signType"] == "RSA" and payment["package"].startswith("prepay_id=")
    assert payment["appId"] == paying.keys.appid
    message = "".join(
        f"{payment[name]}\n" for name in ("appId", "timeStamp", "nonceStr", "package")
    )
    public_key = crypto.load_public_key(paying.keys.merchant_public_key)
    assert crypto.verify(public_key, message, payment["paySign"])
    assert not crypto.verify(
        public_key, message.replace("prepay_id", "prepay_xd"), payment["paySign"]
    )

    await paid(paying, created)

    seen = await read_order(client, consumer, order["id"])
    assert seen["status"] == "PAID" and seen["paidAt"] and seen["channelTransactionId"]
    assert (seen["card"]["balance"], seen["card"]["cashValue"], seen["card"]["status"]) == (
        "1000.00",
        "700.00",
        "ACTIVE",
    )
    assert seen["transaction"] == {"kind": "PURCHASE", "amount": "1000.00", "cashAmount": "700.00"}
    row = await PaymentOrder.get(out_trade_no=order["outTradeNo"])
    postings = await Posting.filter(transfer_id=row.transfer_id).values_list(
        "account", "side", "amount_fen"
    )
    assert sorted(postings) == sorted(
        [
            (ledger.channel_clearing_account("wechat"), "DEBIT", 70_000),
            (ledger.escrow_account(world.merchant.id), "CREDIT", 42_000),
            (ledger.settlement_account(world.merchant.id), "CREDIT", 28_000),
        ]
    )
    assert all(delivery.status == 204 for delivery in paying.simulator.deliveries)
    await assert_ledger_clean()


async def test_a_top_up_paid_the_two_step_way(client, paying):
    world = await make_merchant(price_fen=70_000, face_fen=100_000)
    consumer = await make_user()
    created = data_of(
        await create(client, consumer, product=encode_id("CardProduct", world.product.id))
    )["createPaymentOrder"]
    await paid(paying, created)
    card_id = (await read_order(client, consumer, created["order"]["id"]))["card"]["id"]

    top_up = data_of(await create(client, consumer, card=card_id, pay="350.00"))[
        "createPaymentOrder"
    ]
    assert (top_up["order"]["kind"], top_up["order"]["card"]["balance"]) == ("TOP_UP", "1000.00")
    await paid(paying, top_up)

    seen = await read_order(client, consumer, top_up["order"]["id"])
    assert seen["status"] == "PAID"
    assert (seen["card"]["balance"], seen["card"]["cashValue"]) == ("1500.00", "1050.00")
    assert seen["transaction"] == {"kind": "TOP_UP", "amount": "500.00", "cashAmount": "350.00"}
    await assert_ledger_clean()


async def test_the_same_key_returns_the_same_order_and_other_arguments_conflict(client, paying):
    world = await make_merchant()
    other = await make_merchant()
    consumer = await make_user()
    key = uuid.uuid4().hex
    product = encode_id("CardProduct", world.product.id)

    first = data_of(await create(client, consumer, key=key, product=product))
    again = data_of(await create(client, consumer, key=key, product=product))
    conflict = await create(
        client, consumer, key=key, product=encode_id("CardProduct", other.product.id)
    )

    assert again["createPaymentOrder"]["order"] == first["createPaymentOrder"]["order"]
    assert prepay_of(again["createPaymentOrder"]) == prepay_of(first["createPaymentOrder"])
    assert codes(conflict) == ["IDEMPOTENCY_CONFLICT"]
    assert await PaymentOrder.filter(user_id=consumer.id).count() == 1

    await paid(paying, first["createPaymentOrder"])
    after = data_of(await create(client, consumer, key=key, product=product))
    assert after["createPaymentOrder"]["order"]["status"] == "PAID"
    assert after["createPaymentOrder"]["payment"] is None


@pytest.mark.parametrize("parallel", [False, True], ids=["one after another", "in parallel"])
async def test_a_notification_delivered_three_times_issues_one_card(client, paying, parallel):
    world = await make_merchant()
    consumer = await make_user()
    created = data_of(
        await create(client, consumer, product=encode_id("CardProduct", world.product.id))
    )["createPaymentOrder"]

    await paid(paying, created, duplicates=3, parallel=parallel)
    paying.simulator.resend_payment(created["order"]["outTradeNo"])  # and once more, late
    await paying.simulator.settle()

    deliveries = paying.simulator.deliveries
    assert len(deliveries) == 4 and all(delivery.status == 204 for delivery in deliveries)
    assert await Card.filter(owner_id=consumer.id).count() == 1
    assert await Transfer.filter(merchant_id=world.merchant.id).count() == 1
    await assert_ledger_clean()


async def _genuine_notification(
    client: httpx.AsyncClient, paying: WeChatFixture, consumer: Any, world: Any
) -> tuple[dict[str, Any], dict[str, str], bytes]:
    """A real notification for a new paid order, captured before it reached the API."""
    created = data_of(
        await create(client, consumer, product=encode_id("CardProduct", world.product.id))
    )["createPaymentOrder"]
    paying.simulator.use_notifier(None)  # the channel cannot reach us for now
    await paying.simulator.pay(prepay_of(created))
    await paying.simulator.settle()
    attempt = paying.simulator.deliveries[-1]
    return created, dict(attempt.headers), attempt.body


async def _refused(client: httpx.AsyncClient, headers: dict[str, str], body: bytes) -> None:
    response = await client.post(NOTIFY, content=body, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"code": "FAIL", "message": "签名验证失败"}


async def test_forged_stale_or_wrongly_keyed_notifications_change_nothing(client, paying, settings):
    world = await make_merchant()
    consumer = await make_user()
    created, headers, body = await _genuine_notification(client, paying, consumer, world)
    before = await money_of(world)

    forged = json.loads(body)
    forged["resource"]["associated_data"] = "transaction!"
    await _refused(client, headers, json.dumps(forged).encode())  # signature no longer fits
    signature = bytearray(base64.b64decode(headers["Wechatpay-Signature"]))
    signature[0] ^= 1
    await _refused(
        client, headers | {"Wechatpay-Signature": base64.b64encode(signature).decode()}, body
    )
    await _refused(client, headers | {"Wechatpay-Serial": "PUB_KEY_ID_SOMEBODY_ELSE"}, body)
    paying.clock.offset = 301  # five minutes and a second later
    await _refused(client, headers, body)
    paying.clock.offset = 0
    wrong_key = WeChatPayChannel.from_settings(
        paying.settings(settings).model_copy(update={"wechatpay_apiv3_key": "y" * 32})
    )
    payments.use_channel(wrong_key)
    try:
        await _refused(client, headers, body)  # it cannot decrypt the resource
    finally:
        payments.use_channel(paying.channel)
        await wrong_key.aclose()

    assert await money_of(world) == before
    assert await Card.filter(owner_id=consumer.id).count() == 0
    order = await PaymentOrder.get(out_trade_no=created["order"]["outTradeNo"])
    assert order.status is PaymentOrderStatus.CREATED

    response = await client.post(NOTIFY, content=body, headers=headers)  # the genuine one
    assert response.status_code == 204
    assert await Card.filter(owner_id=consumer.id).count() == 1
    await assert_ledger_clean()


async def test_a_notification_about_an_unknown_order_is_refused_in_the_channels_format(
    client, paying
):
    paying.simulator.use_notifier(None)
    paying.simulator.notify(
        "TRANSACTION.SUCCESS",
        {
            "mchid": paying.keys.mchid,
            "appid": paying.keys.appid,
            "out_trade_no": "AF20261129NOSUCHORDER0",
            "transaction_id": "4200000000000000000000000000",
            "trade_state": "SUCCESS",
            "success_time": "2026-11-29T10:00:00+08:00",
            "amount": {"total": 100, "payer_total": 100, "currency": "CNY"},
        },
        "http://anfu.test" + NOTIFY,
    )
    await paying.simulator.settle()
    attempt = paying.simulator.deliveries[-1]

    response = await client.post(NOTIFY, content=attempt.body, headers=dict(attempt.headers))

    assert response.status_code == 404
    assert response.json() == {"code": "FAIL", "message": "订单不存在"}


async def test_an_order_paid_after_the_merchant_was_suspended_is_refunded_through_the_channel(
    client, paying
):
    world = await make_merchant()
    consumer = await make_user()
    created = data_of(
        await create(client, consumer, product=encode_id("CardProduct", world.product.id))
    )["createPaymentOrder"]
    await Merchant.filter(id=world.merchant.id).update(status=MerchantStatus.SUSPENDED)

    await paid(paying, created)
    await paying.simulator.settle()  # the refund's own notification

    seen = await read_order(client, consumer, created["order"]["id"])
    assert seen["status"] == "REFUNDED" and seen["card"] is None
    assert "suspended" in seen["statusReason"]
    assert [(r["amount"], r["status"]) for r in seen["refunds"]] == [("700.00", "SUCCESS")]
    order = await PaymentOrder.get(out_trade_no=created["order"]["outTradeNo"])
    refund = await ChannelRefund.get(order_id=order.id)
    assert (refund.amount_fen, refund.status.value) == (order.amount_fen, "SUCCESS")
    events = [delivery.event_type for delivery in paying.simulator.deliveries if delivery.ok]
    # The refund's notification may be answered before the payment's (it is sent while the
    # payment's notification is being applied).
    assert sorted(events) == ["REFUND.SUCCESS", "TRANSACTION.SUCCESS"]
    assert await Card.filter(owner_id=consumer.id).count() == 0
    assert await Transfer.filter(merchant_id=world.merchant.id).count() == 0
    await assert_ledger_clean()


async def test_an_order_nobody_pays_closes_after_asking_the_channel(client, paying, frozen_clock):
    world = await make_merchant()
    consumer = await make_user()
    created = data_of(
        await create(client, consumer, product=encode_id("CardProduct", world.product.id))
    )["createPaymentOrder"]
    assert await payment_orders.close_expired() == 0  # not yet due

    frozen_clock.advance(minutes=15, seconds=1)
    closed = await payment_orders.close_expired()

    seen = await read_order(client, consumer, created["order"]["id"])
    assert closed >= 1 and seen["status"] == "CLOSED" and seen["card"] is None
    assert seen["statusReason"] == "Not paid in time: closed at the channel"
    answer = await paying.channel.query_order(created["order"]["outTradeNo"])
    assert answer.trade_state == "CLOSED"
    assert await Card.filter(owner_id=consumer.id).count() == 0


async def test_an_order_paid_without_a_notification_is_applied_when_it_would_close(
    client, paying, frozen_clock
):
    world = await make_merchant()
    consumer = await make_user()
    created = data_of(
        await create(client, consumer, product=encode_id("CardProduct", world.product.id))
    )["createPaymentOrder"]
    paying.simulator.use_notifier(None)  # every delivery is lost
    await paid(paying, created)

    frozen_clock.advance(minutes=16)
    await payment_orders.close_expired()

    seen = await read_order(client, consumer, created["order"]["id"])
    assert seen["status"] == "PAID" and seen["card"]["balance"] == "1000.00"
    await assert_ledger_clean()


async def test_one_step_mutations_name_the_two_step_way(client, paying):
    world = await make_merchant()
    consumer = await make_user()

    result = await call(
        client,
        'mutation($p: ID!) { purchaseCard(productId: $p, idempotencyKey: "k") { card { id } } }',
        {"p": encode_id("CardProduct", world.product.id)},
        consumer,
    )

    assert codes(result) == ["INVALID_STATE"]
    assert "createPaymentOrder" in result["errors"][0]["message"]


async def test_without_a_channel_orders_are_refused_and_cards_bought_in_one_step(client):
    world = await make_merchant()
    consumer = await make_user()

    result = await create(client, consumer, product=encode_id("CardProduct", world.product.id))

    assert codes(result) == ["INVALID_STATE"]
    assert (await buy_card(consumer, world)).card.status is CardStatus.ACTIVE


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({}, "BAD_USER_INPUT"),
        ({"product": "P", "card": "C"}, "BAD_USER_INPUT"),
        ({"product": "P", "pay": "10.00"}, "BAD_USER_INPUT"),
        ({"card": "C"}, "BAD_USER_INPUT"),
        ({"card": "C", "pay": "0.00"}, "BAD_USER_INPUT"),
        ({"card": "C", "pay": "10"}, "BAD_USER_INPUT"),
        ({"card": "C", "pay": "4300.01"}, "LIMIT_EXCEEDED"),  # over 5,000.00 on one card
        ({"product": "P", "key": ""}, "BAD_USER_INPUT"),
        ({"product": "P", "key": "k" * 256}, "BAD_USER_INPUT"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(client, paying, variables, code):
    world = await make_merchant(price_fen=70_000, face_fen=100_000)
    consumer = await make_user()
    card = await bought_in_the_sandbox(consumer, world)
    names = {
        "P": encode_id("CardProduct", world.product.id),
        "C": encode_id("Card", card.card.id),
    }
    resolved = {
        name: names.get(value, value) if isinstance(value, str) else value
        for name, value in variables.items()
    }
    before = await money_of(world)

    result = await create(client, consumer, **resolved)

    assert codes(result) == [code]
    assert await PaymentOrder.filter(user_id=consumer.id).count() == 0
    assert await money_of(world) == before


async def test_orders_are_seen_by_their_consumer_merchant_and_regulators_only(client, paying):
    world = await make_merchant()
    elsewhere = await make_merchant()
    consumer, stranger = await make_user(), await make_user()
    regulator = await make_user(Role.REGULATOR)
    created = data_of(
        await create(client, consumer, product=encode_id("CardProduct", world.product.id))
    )["createPaymentOrder"]
    order_id = created["order"]["id"]
    listing = "{ paymentOrders(first: 100) { totalCount edges { node { id } } } }"

    for reader, sees in [
        (consumer, True),
        (world.owner, True),
        (regulator, True),
        (stranger, False),
        (elsewhere.owner, False),
    ]:
        single = data_of(await call(client, ORDER, {"id": order_id}, reader))["paymentOrder"]
        listed = data_of(await call(client, listing, {}, reader))["paymentOrders"]
        node = data_of(
            await call(client, "query($id: ID!) { node(id: $id) { id } }", {"id": order_id}, reader)
        )["node"]
        ids = [edge["node"]["id"] for edge in listed["edges"]]
        assert (single is not None, order_id in ids, node is not None) == (sees, sees, sees)
    anonymous = await call(client, listing, {}, None)
    assert codes(anonymous) == ["UNAUTHENTICATED"]


async def test_a_consumer_cannot_top_up_anothers_card_through_an_order(client, paying):
    world = await make_merchant()
    owner, stranger = await make_user(), await make_user()
    card = await bought_in_the_sandbox(owner, world)

    result = await create(client, stranger, card=encode_id("Card", card.card.id), pay="100.00")

    assert codes(result) == ["NOT_FOUND"]


async def test_concurrent_creates_with_one_key_make_one_order(client, paying):
    world = await make_merchant()
    consumer = await make_user()
    key = uuid.uuid4().hex
    product = encode_id("CardProduct", world.product.id)

    results = await asyncio.gather(
        *(create(client, consumer, key=key, product=product) for _ in range(4))
    )

    orders = {data_of(result)["createPaymentOrder"]["order"]["id"] for result in results}
    assert len(orders) == 1
    assert await PaymentOrder.filter(user_id=consumer.id).count() == 1


async def test_an_order_the_channel_did_not_open_is_retried_by_key_or_closed_here(
    client, paying, settings, frozen_clock
):
    world = await make_merchant()
    consumer = await make_user()
    product = encode_id("CardProduct", world.product.id)
    down = unreachable(paying, settings)
    payments.use_channel(down)
    try:
        first = await create(client, consumer, key="retry-me", product=product)
        second = await create(client, consumer, key="give-up", product=product)
    finally:
        payments.use_channel(paying.channel)
        await down.aclose()
    assert codes(first) == codes(second) == ["INVALID_STATE"]
    assert "same idempotency key" in first["errors"][0]["message"]

    retried = data_of(await create(client, consumer, key="retry-me", product=product))
    assert retried["createPaymentOrder"]["payment"]["package"].startswith("prepay_id=")
    frozen_clock.advance(minutes=16)
    await payment_orders.close_expired()

    statuses = dict(
        await PaymentOrder.filter(user_id=consumer.id).values_list("idempotency_key", "status")
    )
    assert statuses == {"retry-me": PaymentOrderStatus.CLOSED, "give-up": PaymentOrderStatus.CLOSED}
