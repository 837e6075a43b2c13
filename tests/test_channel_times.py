"""The adapter hands the services times in UTC, whatever offset WeChat Pay writes (+08:00):
stored times are compared as text on SQLite, so a Beijing-time paid_at fell on the wrong day
of a reconciliation (found by the demo's week of statements)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.payment_support import wechat_fixture as wechat_fixture  # the `wechat` fixture


async def test_payment_times_come_in_utc(wechat):
    paid_at = datetime(2026, 11, 24, 9, 27, tzinfo=UTC)  # 17:27 in Beijing
    wechat.simulator.now = paid_at.timestamp
    wechat.clock.offset = paid_at.timestamp() - datetime.now(UTC).timestamp()
    prepay_id = await wechat.channel.create_order(
        out_trade_no="T-UTC-1",
        description="x",
        amount_fen=100,
        payer_openid="o",
        attach="",
        expires_at=paid_at + timedelta(minutes=15),
    )
    await wechat.simulator.pay(prepay_id)
    assert "+08:00" in wechat.simulator.store.orders["T-UTC-1"]["success_time"]

    seen = await wechat.channel.query_order("T-UTC-1")

    assert seen.success_time == paid_at
    assert seen.success_time is not None and seen.success_time.tzinfo is UTC
