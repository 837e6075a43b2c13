"""Channel-paid cards for the refund tests, paid the two-step way (createPaymentOrder, then the
channel's payment notification applied by services/payment_notices.py).

FakeChannel stands in for the WeChat channel until the simulator lands on main; it keeps each
refund's state and can refuse refunds or be down.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime

from channel.interface import (
    ChannelError,
    ChannelPayment,
    ChannelRefundResult,
    Notification,
    PaymentRequest,
    RefundRefused,
)
from core import clock
from models import Card, User
from services import payment_notices, payment_orders, payments
from tests.support import MerchantWorld, principal_of

_numbers = itertools.count(1)


class FakeChannel:
    """The PaymentChannel protocol in memory."""

    name = "wechat"

    def __init__(self) -> None:
        self.refunds: dict[str, ChannelRefundResult] = {}
        self.refuse: str | None = None  # the channel's error code, when it refuses refunds
        self.down = False
        self.calls = 0

    async def create_order(self, *, out_trade_no: str, **_: object) -> str:
        return f"prepay-{out_trade_no}"

    def payment_request(self, prepay_id: str) -> PaymentRequest:
        return PaymentRequest("wx-app", "0", "nonce", f"prepay_id={prepay_id}", "RSA", "sig")

    async def query_order(self, out_trade_no: str) -> ChannelPayment:
        raise ChannelError("not used")

    async def close_order(self, out_trade_no: str) -> None:
        return None

    async def refund(
        self, *, out_refund_no: str, out_trade_no: str, amount_fen: int, total_fen: int, reason: str
    ) -> ChannelRefundResult:
        self.calls += 1
        if self.down:
            raise ChannelError("connection refused")
        if self.refuse:
            raise RefundRefused(self.refuse, "the channel will not refund this payment")
        assert 0 < amount_fen <= total_fen
        known = self.refunds.get(out_refund_no)
        if known is None:
            known = ChannelRefundResult(
                out_refund_no, out_trade_no, "PROCESSING", amount_fen, f"50{next(_numbers):010d}"
            )
            self.refunds[out_refund_no] = known
        return known

    async def query_refund(self, out_refund_no: str) -> ChannelRefundResult:
        if self.down:
            raise ChannelError("connection refused")
        if out_refund_no not in self.refunds:
            raise ChannelError("RESOURCE_NOT_EXISTS")
        return self.refunds[out_refund_no]

    def finish(self, out_refund_no: str, status: str = "SUCCESS") -> ChannelRefundResult:
        """The channel completes a refund; returns what its notification says."""
        known = self.refunds[out_refund_no]
        done = ChannelRefundResult(
            known.out_refund_no,
            known.out_trade_no,
            status,
            known.amount_fen,
            known.refund_id,
            clock.now() if status == "SUCCESS" else None,
        )
        self.refunds[out_refund_no] = done
        return done

    async def trade_bill(self, bill_date: date) -> bytes:
        raise ChannelError("not used")

    def verify_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


@contextlib.asynccontextmanager
async def channel_installed() -> AsyncIterator[FakeChannel]:
    fake = FakeChannel()
    previous = payments.use_channel(fake)
    try:
        yield fake
    finally:
        payments.use_channel(previous)


async def pay(
    consumer: User,
    *,
    product_id: int | None = None,
    card_id: int | None = None,
    pay_fen: int | None = None,
    paid_at: datetime | None = None,
) -> int:
    """Order and pay through the installed channel; returns the card's id."""
    start = await payment_orders.create_order(
        principal=principal_of(consumer),
        idempotency_key=uuid.uuid4().hex,
        product_id=product_id,
        card_id=card_id,
        pay_fen=pay_fen,
    )
    order = start.order
    paid = await payment_notices.apply_payment(
        ChannelPayment(
            order.out_trade_no,
            "SUCCESS",
            order.amount_fen,
            f"42{uuid.uuid4().int % 10**26:026d}",
            order.amount_fen,
            paid_at or clock.now(),
        )
    )
    assert paid.card_id is not None, paid.status_reason
    return paid.card_id


async def channel_card(consumer: User, world: MerchantWorld, *top_ups: int) -> Card:
    """A card bought through the channel, then topped up through it by each amount."""
    card_id = await pay(consumer, product_id=world.product.id)
    for amount in top_ups:
        await pay(consumer, card_id=card_id, pay_fen=amount)
    return await Card.get(id=card_id)
