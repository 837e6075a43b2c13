"""Times the channel gives in Beijing time (+08:00) are stored in UTC: SQLite compares stored
times as text, so a paid_at kept as +08:00 fell outside the reconciliation day it belongs to
(found by the demo's week of statements, whose evening payments showed as missing)."""

from __future__ import annotations

import datetime as dt

import pytest

from channel.interface import ChannelPayment
from models import PaymentOrder
from models.enums import PaymentOrderStatus
from services import payment_notices
from tests.reconciliation_support import paid_order
from tests.support import assert_ledger_clean, make_merchant, make_user

BEIJING = dt.timezone(dt.timedelta(hours=8))
pytestmark = pytest.mark.usefixtures("database")


async def test_a_payment_told_in_beijing_time_is_on_its_day_in_utc() -> None:
    world = await make_merchant()
    consumer = await make_user()
    # 03:00 in Beijing on the 25th is 19:00 UTC on the 24th.
    told = dt.datetime(2026, 11, 25, 3, 0, tzinfo=BEIJING)
    order = await paid_order(world, consumer, told, status=PaymentOrderStatus.CREATED)
    payment = ChannelPayment(
        out_trade_no=order.out_trade_no,
        trade_state="SUCCESS",
        amount_fen=order.amount_fen,
        transaction_id="4200002026112500000000001",
        payer_total_fen=order.amount_fen,
        success_time=told,
    )

    await payment_notices.apply_payment(payment)

    start = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    on_the_24th = PaymentOrder.filter(
        id=order.id, paid_at__gte=start, paid_at__lt=start + dt.timedelta(days=1)
    )
    assert await on_the_24th.filter(status=PaymentOrderStatus.PAID).exists()
    await assert_ledger_clean()
