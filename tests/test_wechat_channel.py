"""channel/wechat.py against the simulator: orders, payments and their notifications, refunds,
bills; every way a notification or an answer can be forged is refused; and no test can reach
the real gateway (tests/conftest.py's guard)."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from channel import crypto
from channel.bill import parse_trade_bill
from channel.interface import (
    BillUnavailable,
    ChannelError,
    NotificationRejected,
    OrderNotFound,
    RefundRefused,
)
from channel.simulator.notify import notification_body, signed_headers
from channel.wechat import WeChatPayChannel
from tests.conftest import OutsideNetworkBlocked
from tests.payment_support import (
    WeChatFixture,
)

OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Receiver:
    """A stand-in for the platform's notify endpoint: records, answers 204."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.app = Starlette(
            routes=[Route("/payments/wechat/notify", self.notify, methods=["POST"])]
        )

    async def notify(self, request: Request) -> Response:
        self.received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)


def _no() -> str:
    return f"T{time.time_ns()}"


async def _order(wechat: WeChatFixture, amount_fen: int = 70000, **extra: Any) -> tuple[str, str]:
    out_trade_no = extra.pop("out_trade_no", _no())
    prepay_id = await wechat.channel.create_order(
        out_trade_no=out_trade_no,
        description="安福健身 年卡",
        amount_fen=amount_fen,
        payer_openid="o-payer-1",
        attach="card:1",
        expires_at=extra.pop("expires_at", datetime.now(UTC) + timedelta(minutes=15)),
    )
    return out_trade_no, prepay_id


async def _paid(wechat: WeChatFixture, amount_fen: int = 70000) -> str:
    out_trade_no, prepay_id = await _order(wechat, amount_fen)
    await wechat.simulator.pay(prepay_id)
    await wechat.simulator.settle()
    return out_trade_no


def _notification(
    wechat: WeChatFixture,
    *,
    key: Any = None,
    serial: str | None = None,
    apiv3_key: bytes | None = None,
    timestamp: int | None = None,
    body: str | None = None,
) -> tuple[dict[str, str], bytes]:
    resource = {
        "appid": wechat.keys.appid,
        "mchid": wechat.keys.mchid,
        "out_trade_no": "T-forged",
        "transaction_id": "4200000000000000000000000001",
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "success_time": "2026-11-30T10:00:00+08:00",
        "attach": "",
        "payer": {"openid": "o"},
        "amount": {"total": 100, "payer_total": 100, "currency": "CNY"},
    }
    if body is None:
        _, body = notification_body(
            "TRANSACTION.SUCCESS",
            resource,
            apiv3_key or wechat.keys.apiv3_key.encode(),
            created="2026-11-30T10:00:00+08:00",
        )
    headers = signed_headers(
        key or wechat.simulator.config.platform_private_key,
        serial or wechat.keys.platform_public_key_id,
        body,
        timestamp=int(time.time()) if timestamp is None else timestamp,
    )
    return {name.lower(): value for name, value in headers.items()}, body.encode()


async def test_an_order_paid_in_the_mini_program_is_notified_signed_and_encrypted(wechat):
    receiver = Receiver()
    wechat.route_notifications_to(receiver.app)
    out_trade_no, prepay_id = await _order(wechat)
    assert (await wechat.channel.query_order(out_trade_no)).trade_state == "NOTPAY"

    await wechat.simulator.pay(prepay_id)
    await wechat.simulator.settle()

    [(headers, body)] = receiver.received
    notification = wechat.channel.verify_notification(headers, body)
    assert notification.event_type == "TRANSACTION.SUCCESS"
    payment = notification.payment
    assert payment is not None and notification.refund is None
    assert (payment.out_trade_no, payment.amount_fen, payment.attach) == (
        out_trade_no,
        70000,
        "card:1",
    )
    assert payment.paid and payment.payer_total_fen == 70000 and payment.transaction_id
    assert payment.success_time is not None and payment.success_time.utcoffset() == timedelta(
        hours=8
    )
    assert json.loads(body)["resource"]["algorithm"] == "AEAD_AES_256_GCM"
    assert await wechat.channel.query_order(out_trade_no) == payment


async def test_the_same_order_twice_is_the_same_prepay_id_and_a_changed_one_is_refused(wechat):
    out_trade_no, prepay_id = await _order(wechat)
    assert (await _order(wechat, out_trade_no=out_trade_no))[1] == prepay_id
    with pytest.raises(ChannelError, match="INVALID_REQUEST"):
        await _order(wechat, 100, out_trade_no=out_trade_no)


async def test_payment_request_is_signed_for_wx_request_payment(wechat):
    request = wechat.channel.payment_request("wx2024abc")
    assert (request.app_id, request.package, request.sign_type) == (
        wechat.keys.appid,
        "prepay_id=wx2024abc",
        "RSA",
    )
    assert abs(int(request.time_stamp) - time.time()) < 5 and len(request.nonce_str) == 32
    message = crypto.pay_sign_message(
        request.app_id, request.time_stamp, request.nonce_str, request.package
    )
    merchant = crypto.load_public_key(wechat.keys.merchant_public_key)
    assert crypto.verify(merchant, message, request.pay_sign)


async def test_a_closed_order_cannot_be_paid(wechat):
    out_trade_no, prepay_id = await _order(wechat)
    await wechat.channel.close_order(out_trade_no)
    assert (await wechat.channel.query_order(out_trade_no)).trade_state == "CLOSED"
    with pytest.raises(Exception, match="ORDER_CLOSED"):
        await wechat.simulator.pay(prepay_id)
    assert not (await wechat.channel.query_order(out_trade_no)).paid


async def test_an_order_past_its_expiry_closes_and_a_paid_one_does_not_close(wechat):
    expired, _ = await _order(wechat, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert (await wechat.channel.query_order(expired)).trade_state == "CLOSED"
    paid = await _paid(wechat)
    with pytest.raises(ChannelError, match="ORDERPAID"):
        await wechat.channel.close_order(paid)


async def test_an_order_the_channel_never_saw_is_order_not_found(wechat):
    with pytest.raises(OrderNotFound):
        await wechat.channel.query_order("T-never-created")


async def test_a_refund_is_processing_then_notified_successful(wechat):
    receiver = Receiver()
    wechat.route_notifications_to(receiver.app)
    out_trade_no = await _paid(wechat)
    refund = await wechat.channel.refund(
        out_refund_no=f"R{out_trade_no}", out_trade_no=out_trade_no, amount_fen=30000,
        total_fen=70000, reason="七天冷静期",
    )  # fmt: skip
    assert (refund.status, refund.amount_fen, refund.out_trade_no) == (
        "PROCESSING",
        30000,
        out_trade_no,
    )
    again = await wechat.channel.refund(
        out_refund_no=f"R{out_trade_no}", out_trade_no=out_trade_no, amount_fen=30000,
        total_fen=70000, reason="七天冷静期",
    )  # fmt: skip
    assert again.refund_id == refund.refund_id
    await wechat.simulator.settle()

    notification = wechat.channel.verify_notification(*receiver.received[-1])
    assert notification.event_type == "REFUND.SUCCESS" and notification.refund is not None
    assert notification.refund.status == "SUCCESS" and notification.refund.success_time
    assert notification.refund.refund_id == refund.refund_id
    queried = await wechat.channel.query_refund(f"R{out_trade_no}")
    assert queried == notification.refund
    assert (await wechat.channel.query_order(out_trade_no)).trade_state == "REFUND"
    with pytest.raises(RefundRefused) as refused:  # more than what is left
        await wechat.channel.refund(
            out_refund_no=f"S{out_trade_no}", out_trade_no=out_trade_no, amount_fen=40001,
            total_fen=70000, reason="",
        )  # fmt: skip
    assert refused.value.code == "INVALID_REQUEST"


@pytest.mark.parametrize(
    ("code", "refused"),
    [
        ("NOT_ENOUGH", True),
        ("USER_ACCOUNT_ABNORMAL", True),
        ("FREQUENCY_LIMITED", False),
        ("SYSTEM_ERROR", False),
    ],
)
async def test_refund_refusals_and_failures(wechat, code, refused):
    out_trade_no = await _paid(wechat)
    wechat.simulator.control(refuse_refunds={"code": code, "message": "不行"})
    kwargs = dict(out_refund_no=f"R{out_trade_no}", out_trade_no=out_trade_no, amount_fen=1,
                  total_fen=70000, reason="")  # fmt: skip
    if refused:
        with pytest.raises(RefundRefused) as error:
            await wechat.channel.refund(**kwargs)
        assert (error.value.code, error.value.message) == (code, "不行")
    else:
        with pytest.raises(ChannelError) as failure:
            await wechat.channel.refund(**kwargs)
        assert not isinstance(failure.value, RefundRefused) and code in str(failure.value)


async def test_a_refund_a_year_after_the_payment_is_refused_like_the_real_api(wechat):
    out_trade_no = await _paid(wechat)
    wechat.simulator.shift(days=366)  # a year on, for both sides
    wechat.clock.offset = timedelta(days=366).total_seconds()
    with pytest.raises(RefundRefused) as refused:
        await wechat.channel.refund(
            out_refund_no=f"R{out_trade_no}", out_trade_no=out_trade_no, amount_fen=100,
            total_fen=70000, reason="",
        )  # fmt: skip
    assert (refused.value.code, refused.value.message) == ("INVALID_REQUEST", "订单已超过退款期限")


async def test_an_abnormal_refund_is_notified_as_such_for_that_order_only(wechat):
    receiver = Receiver()
    wechat.route_notifications_to(receiver.app)
    abnormal, normal = await _paid(wechat), await _paid(wechat)
    wechat.simulator.control(out_trade_no=abnormal, abnormal_refunds=True)
    for out_trade_no in (abnormal, normal):
        await wechat.channel.refund(
            out_refund_no=f"R{out_trade_no}", out_trade_no=out_trade_no, amount_fen=100,
            total_fen=70000, reason="",
        )  # fmt: skip
    await wechat.simulator.settle()
    events = {
        n.refund.out_trade_no: n.event_type
        for n in (wechat.channel.verify_notification(*r) for r in receiver.received)
        if n.refund is not None
    }
    assert events == {abnormal: "REFUND.ABNORMAL", normal: "REFUND.SUCCESS"}
    assert (await wechat.channel.query_refund(f"R{abnormal}")).status == "ABNORMAL"


async def test_the_trade_bill_downloads_checked_and_unzipped(wechat):
    out_trade_no = await _paid(wechat)
    today = datetime.now(crypto.SHANGHAI).date()
    plain = await wechat.channel.trade_bill(today)
    assert await wechat.channel.trade_bill(today, gzipped=True) == plain
    bill = parse_trade_bill(plain)
    assert [(row.out_trade_no, row.amount_fen, row.fee_fen) for row in bill.rows] == [
        (out_trade_no, 70000, 420)
    ]


async def test_a_tampered_bill_or_a_day_without_trades_is_unavailable(wechat):
    await _paid(wechat)
    today = datetime.now(crypto.SHANGHAI).date()
    wechat.simulator.control(tamper_bills=True)
    for gzipped in (False, True):
        with pytest.raises(BillUnavailable, match="SHA1"):
            await wechat.channel.trade_bill(today, gzipped=gzipped)
    for day in (today - timedelta(days=3), today + timedelta(days=1)):
        with pytest.raises(BillUnavailable, match="NO_STATEMENT_EXIST"):
            await wechat.channel.trade_bill(day)


async def test_a_genuine_notification_passes(wechat):
    notification = wechat.channel.verify_notification(*_notification(wechat))
    assert notification.payment is not None and notification.payment.amount_fen == 100


@pytest.mark.parametrize(
    "forgery",
    ["signature", "serial", "stale", "future", "apiv3_key", "json", "unsigned", "body"],
)
async def test_a_forged_or_stale_notification_is_rejected(wechat, forgery):
    now = int(time.time())
    forgeries: dict[str, dict[str, Any]] = {
        "signature": {"key": OTHER_KEY},
        "serial": {"serial": "PUB_KEY_ID_0000000000000000000000"},
        "stale": {"timestamp": now - 301},
        "future": {"timestamp": now + 301},
        "apiv3_key": {"apiv3_key": b"0" * 32},
        "json": {"body": '{"id": "1", "resource": '},
    }
    options = forgeries.get(forgery, {})
    headers, body = _notification(wechat, **options)
    if forgery == "unsigned":
        del headers["wechatpay-signature"]
    if forgery == "body":
        body = body.replace(b"TRANSACTION.SUCCESS", b"REFUND.SUCCESS")
    with pytest.raises(NotificationRejected):
        wechat.channel.verify_notification(headers, body)


async def test_the_skew_follows_the_channels_clock(wechat):
    headers, body = _notification(wechat, timestamp=int(time.time()) - 299)
    wechat.channel.verify_notification(headers, body)
    wechat.clock.offset = 10
    with pytest.raises(NotificationRejected, match="from now"):
        wechat.channel.verify_notification(headers, body)


async def test_an_answer_with_a_forged_signature_is_a_channel_error(wechat):
    other = crypto.load_public_key(
        OTHER_KEY.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
    )
    fooled = WeChatPayChannel(
        gateway="http://wechat.test", mchid=wechat.keys.mchid, appid=wechat.keys.appid,
        private_key=crypto.load_private_key(wechat.keys.merchant_private_key),
        cert_serial=wechat.keys.merchant_cert_serial, public_key=other,
        public_key_id=wechat.keys.platform_public_key_id, apiv3_key=b"k" * 32,
        notify_url="http://anfu.test/n", transport=httpx.ASGITransport(app=wechat.simulator.app),
    )  # fmt: skip
    try:
        with pytest.raises(ChannelError, match="signature"):
            await fooled.query_order("T-any")
    finally:
        await fooled.aclose()


async def test_an_unsigned_answer_is_a_channel_error(wechat):
    async def answer(request: Request) -> Response:
        return JSONResponse({"prepay_id": "wx-from-an-impostor"})

    impostor = Starlette(routes=[Route("/v3/pay/transactions/jsapi", answer, methods=["POST"])])
    channel = WeChatPayChannel.from_settings(
        wechat.settings(_base_settings()), transport=httpx.ASGITransport(app=impostor)
    )
    try:
        with pytest.raises(ChannelError, match="unsigned"):
            await _order(
                WeChatFixture(channel, wechat.simulator, wechat.keys, wechat.clock, {}, [])
            )
    finally:
        await channel.aclose()


def _base_settings() -> Any:
    from settings import Settings

    return Settings()


def _blocked(error: BaseException) -> bool:
    """The guard's error, also inside the exception groups of anyio's happy eyeballs."""
    if isinstance(error, OutsideNetworkBlocked):
        return True
    return isinstance(error, BaseExceptionGroup) and any(map(_blocked, error.exceptions))


async def test_no_test_reaches_a_host_outside_the_machine(wechat):
    with pytest.raises(OutsideNetworkBlocked):
        socket.create_connection(("93.184.216.34", 443), timeout=1)
    with pytest.raises(OutsideNetworkBlocked):
        socket.getaddrinfo("api.mch.weixin.qq.com", 443)
    real = WeChatPayChannel.from_settings(
        wechat.settings(_base_settings()).model_copy(
            update={"wechatpay_gateway": "https://api.mch.weixin.qq.com"}
        )
    )
    async with httpx.AsyncClient() as http:
        attempts = (
            http.get("https://api.mch.weixin.qq.com/v3/certificates"),
            http.get("https://93.184.216.34/"),
            real.query_order("T-1"),
        )
        for attempt in attempts:
            with pytest.raises(BaseException) as caught:
                await attempt
            assert _blocked(caught.value), caught.value
    await real.aclose()


async def test_the_loopback_stays_reachable():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
        with socket.create_connection(("localhost", port), timeout=1):
            pass


async def test_a_long_refund_reason_is_cut_to_what_wechat_pay_takes(wechat):
    wechat.route_notifications_to(Receiver().app)
    out_trade_no = await _paid(wechat)

    refund = await wechat.channel.refund(
        out_refund_no=f"R{out_trade_no}", out_trade_no=out_trade_no, amount_fen=100,
        total_fen=70000, reason="监管部门注销该商户：" + "门店全部停业，经营者失联。" * 20,
    )  # fmt: skip

    assert refund.status == "PROCESSING"
    assert len(wechat.simulator.store.refunds[f"R{out_trade_no}"]["reason"]) == 80
