"""Channel-paid cards for the refund tests, through the WeChat Pay simulator: orders are created
by services/payment_orders.py at the simulator, paid there, and its signed notifications (the
payment's, then each refund's) reach the app's /payments/wechat/notify.

    async def test_x(channel):            # the fixture below
        card = await channel_card(consumer, world)
        ... refund ...
        await channel.settle()            # the refund notifications delivered
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from channel.interface import ChannelRefundResult
from channel.wechat import WeChatPayChannel
from models import Card, PaymentOrder, User
from services import payment_orders, payments
from settings import Settings
from tests.payment_support import WeChatFixture, unreachable
from tests.support import MerchantWorld, principal_of


class SimulatedChannel:
    """The simulator behind the real adapter, installed for the services, with the test's
    levers: refuse refunds, end them ABNORMAL, or be unreachable."""

    def __init__(self, wechat: WeChatFixture, settings: Settings) -> None:
        self.wechat = wechat
        self.simulator = wechat.simulator
        self._base = settings
        self._down: WeChatPayChannel | None = None

    def refuse(self, code: str) -> None:
        self.simulator.control(refuse_refunds={"code": code, "message": "不能退款"})

    def abnormal(self) -> None:
        self.simulator.control(abnormal_refunds=True)

    def set_down(self, down: bool) -> None:
        """The same adapter, but nothing answers at the gateway (the channel's outage)."""
        if down:
            self._down = unreachable(self.wechat, self._base)
            payments.use_channel(self._down)
        else:
            payments.use_channel(self.wechat.channel)

    def hold_notifications(self) -> None:
        """The channel's notifications are lost on the way (the sweep must ask)."""
        self.simulator.use_notifier(None)

    async def settle(self) -> None:
        await self.simulator.settle()

    async def notice(self, out_refund_no: str) -> ChannelRefundResult:
        """What a (re)delivered notification of this refund says: the channel's view now."""
        return await self.wechat.channel.query_refund(out_refund_no)

    async def aclose(self) -> None:
        if self._down is not None:
            await self._down.aclose()


@pytest.fixture(name="channel")
async def channel_fixture(
    paying: WeChatFixture, settings: Settings
) -> AsyncIterator[SimulatedChannel]:
    simulated = SimulatedChannel(paying, settings)
    try:
        yield simulated
    finally:
        await simulated.settle()
        payments.use_channel(paying.channel)  # were it down; `paying` restores the sandbox
        await simulated.aclose()


async def pay(
    channel: SimulatedChannel,
    consumer: User,
    *,
    product_id: int | None = None,
    card_id: int | None = None,
    pay_fen: int | None = None,
) -> PaymentOrder:
    """Order through the services, pay at the simulator, the notification applied."""
    start = await payment_orders.create_order(
        principal=principal_of(consumer),
        idempotency_key=uuid.uuid4().hex,
        product_id=product_id,
        card_id=card_id,
        pay_fen=pay_fen,
    )
    assert start.payment is not None
    await channel.simulator.pay(start.payment.package.removeprefix("prepay_id="))
    await channel.settle()
    return await PaymentOrder.get(id=start.order.id)


async def channel_card(
    channel: SimulatedChannel, consumer: User, world: MerchantWorld, *top_ups: int
) -> Card:
    """A card bought through the channel, then topped up through it by each amount."""
    order = await pay(channel, consumer, product_id=world.product.id)
    assert order.card_id is not None, order.status_reason
    for amount in top_ups:
        topped = await pay(channel, consumer, card_id=order.card_id, pay_fen=amount)
        assert topped.status == "PAID", topped.status_reason
    return await Card.get(id=order.card_id)
