"""Rows for reconciliation tests: payment orders and refunds on days of their own, and the
channel's bill rows that describe them."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from channel.bill import BillRow
from models import ChannelRefund, PaymentOrder, User
from models.enums import ChannelRefundStatus, PaymentOrderKind, PaymentOrderStatus
from services.payment_orders import merchant_tag
from tests.support import MerchantWorld

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Each test reconciles a day nothing else in the session touched: between 2001 and about 2020,
# years before the suite's other activity (which runs at today's date), and before 2100 (MT940
# writes the year in two digits).
_days = itertools.count(random.SystemRandom().randrange(0, 2000))


def fresh_day() -> dt.date:
    """A day of its own (and the two beside it)."""
    return dt.date(2001, 1, 1) + dt.timedelta(days=next(_days) * 3 + 1)


def at(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute, second), SHANGHAI)


_NO_REFUND: dict[str, Any] = {
    "refund_id": "",
    "out_refund_no": "",
    "refund_fen": 0,
    "refund_status": "",
    "attach": "",
    "fee_fen": 0,
    "order_fen": 0,
}


def bill_row(**fields: Any) -> BillRow:
    """A bill line; the refund's fields empty unless given."""
    return BillRow(**{**_NO_REFUND, **fields})


async def paid_order(
    world: MerchantWorld,
    consumer: User,
    paid_at: dt.datetime,
    amount_fen: int = 70_000,
    status: PaymentOrderStatus = PaymentOrderStatus.PAID,
) -> PaymentOrder:
    return await PaymentOrder.create(
        out_trade_no=f"T{uuid.uuid4().hex[:24]}",
        channel="wechat",
        kind=PaymentOrderKind.PURCHASE,
        status=status,
        user_id=consumer.id,
        merchant_id=world.merchant.id,
        product_id=world.product.id,
        amount_fen=amount_fen,
        idempotency_key=uuid.uuid4().hex,
        request_hash="0" * 64,
        payer_openid=f"openid-{consumer.id}",
        channel_transaction_id=f"42{uuid.uuid4().int % 10**26:026d}",
        expires_at=paid_at + dt.timedelta(minutes=15),
        paid_at=paid_at if status is not PaymentOrderStatus.CLOSED else None,
        created_at=paid_at - dt.timedelta(minutes=1),
    )


async def succeeded_refund(
    order: PaymentOrder, succeeded_at: dt.datetime, amount_fen: int
) -> ChannelRefund:
    return await ChannelRefund.create(
        out_refund_no=f"R{uuid.uuid4().hex[:24]}",
        order_id=order.id,
        amount_fen=amount_fen,
        reason="test",
        status=ChannelRefundStatus.SUCCESS,
        channel_refund_id=f"50{uuid.uuid4().int % 10**26:026d}",
        submitted_at=succeeded_at - dt.timedelta(minutes=1),
        succeeded_at=succeeded_at,
    )


def payment_row(order: PaymentOrder, **changes: Any) -> BillRow:
    fields: dict[str, Any] = {
        "trade_time": order.paid_at,
        "transaction_id": order.channel_transaction_id or "",
        "out_trade_no": order.out_trade_no,
        "trade_state": "SUCCESS",
        "amount_fen": order.amount_fen,
        "attach": merchant_tag(order.merchant_id),
        "order_fen": order.amount_fen,
    }
    return bill_row(**{**fields, **changes})


def refund_row(refund: ChannelRefund, order: PaymentOrder, **changes: Any) -> BillRow:
    fields: dict[str, Any] = {
        "trade_time": refund.succeeded_at,
        "transaction_id": order.channel_transaction_id or "",
        "out_trade_no": order.out_trade_no,
        "trade_state": "REFUND",
        "amount_fen": 0,
        "refund_id": refund.channel_refund_id or "",
        "out_refund_no": refund.out_refund_no,
        "refund_fen": refund.amount_fen,
        "refund_status": "SUCCESS",
        "attach": merchant_tag(order.merchant_id),
    }
    return bill_row(**{**fields, **changes})
