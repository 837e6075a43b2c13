"""channel/simulator/: it refuses requests not signed by the merchant, signs its answers,
delivers notifications as asked (duplicates, in parallel, late, retried), keeps its records in
a state file, and takes its controls over HTTP like the demo does."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from channel import crypto
from channel.bill import parse_trade_bill
from channel.interface import RefundRefused
from channel.simulator import (
    HistoryPayment,
    HistoryRefund,
    Simulator,
    SimulatorConfig,
    record_history,
)
from channel.wechat import WeChatPayChannel
from tests.payment_support import (
    GATEWAY,
    WeChatFixture,
    settings_overrides,
    test_keys,
)

QUERY_PATH = "/v3/pay/transactions/out-trade-no/T-1?mchid={mchid}"


class Receiver:
    """The notify endpoint: answers the statuses in `script` in turn, then 204."""

    def __init__(self, *script: int) -> None:
        self.script = list(script)
        self.times: list[float] = []
        self.app = Starlette(
            routes=[Route("/payments/wechat/notify", self.notify, methods=["POST"])]
        )

    async def notify(self, request: Request) -> Response:
        await request.body()
        self.times.append(time.monotonic())
        return Response(status_code=self.script.pop(0) if self.script else 204)


def _signed(
    wechat: WeChatFixture,
    method: str,
    path: str,
    body: str = "",
    *,
    key: rsa.RSAPrivateKey | None = None,
    mchid: str | None = None,
    serial: str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    return {
        "Authorization": crypto.authorization(
            mchid=mchid or wechat.keys.mchid,
            serial_no=serial or wechat.keys.merchant_cert_serial,
            private_key=key or crypto.load_private_key(wechat.keys.merchant_private_key),
            method=method,
            path=path,
            body=body,
            timestamp=str(int(time.time()) if timestamp is None else timestamp),
            nonce_str=crypto.nonce(),
        ),
        "Content-Type": "application/json",
    }


def _http(wechat: WeChatFixture) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=wechat.simulator.app), base_url=GATEWAY
    )


async def _order(wechat: WeChatFixture, amount_fen: int = 5000) -> tuple[str, str]:
    out_trade_no = f"T{time.time_ns()}"
    prepay_id = await wechat.channel.create_order(
        out_trade_no=out_trade_no, description="储值卡充值", amount_fen=amount_fen,
        payer_openid="o-2", attach="", expires_at=datetime.now(UTC) + timedelta(minutes=15),
    )  # fmt: skip
    return out_trade_no, prepay_id


@pytest.mark.parametrize("forgery", ["none", "other_key", "mchid", "serial", "stale", "body"])
async def test_requests_not_signed_by_the_merchant_are_refused(wechat, forgery):
    mchid = wechat.keys.mchid
    path = QUERY_PATH.format(mchid=mchid)
    forgeries: dict[str, dict[str, Any]] = {
        "other_key": {"key": rsa.generate_private_key(public_exponent=65537, key_size=2048)},
        "mchid": {"mchid": "1900000001"},
        "serial": {"serial": "0" * 40},
        "stale": {"timestamp": int(time.time()) - 600},
        "body": {"body": '{"mchid":"1"}'},
    }
    options = forgeries.get(forgery, {})
    headers = {} if forgery == "none" else _signed(wechat, "GET", path, **options)
    async with _http(wechat) as http:
        response = await http.request("GET", path, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "SIGN_ERROR"


async def test_answers_are_signed_with_the_platform_key(wechat):
    path = QUERY_PATH.format(mchid=wechat.keys.mchid)
    async with _http(wechat) as http:
        response = await http.get(path, headers=_signed(wechat, "GET", path))
    assert response.status_code == 404 and response.json()["code"] == "ORDER_NOT_EXIST"
    assert response.headers["wechatpay-serial"] == wechat.keys.platform_public_key_id
    message = crypto.response_message(
        response.headers["wechatpay-timestamp"], response.headers["wechatpay-nonce"], response.text
    )
    public_key = crypto.load_public_key(wechat.keys.platform_public_key)
    assert crypto.verify(public_key, message, response.headers["wechatpay-signature"])


async def test_an_order_for_another_app_is_refused(wechat):
    body = json.dumps(
        {
            "appid": "wx-other", "mchid": wechat.keys.mchid, "description": "x",
            "out_trade_no": "T-x", "time_expire": "2030-01-01T00:00:00+08:00",
            "notify_url": "http://anfu.test/n", "amount": {"total": 1}, "payer": {"openid": "o"},
        }
    )  # fmt: skip
    path = "/v3/pay/transactions/jsapi"
    async with _http(wechat) as http:
        response = await http.post(path, content=body, headers=_signed(wechat, "POST", path, body))
    assert (response.status_code, response.json()["code"]) == (400, "APPID_MCHID_NOT_MATCH")


@pytest.mark.parametrize("parallel", [False, True])
async def test_the_same_notification_three_times(wechat, parallel):
    receiver = Receiver()
    wechat.route_notifications_to(receiver.app)
    _, prepay_id = await _order(wechat)
    await wechat.simulator.pay(prepay_id, duplicates=3, parallel=parallel)
    await wechat.simulator.settle()
    deliveries = wechat.simulator.deliveries
    assert len(deliveries) == 3 and len(receiver.times) == 3
    assert len({d.notification_id for d in deliveries}) == 1
    assert len({d.body for d in deliveries}) == 1  # the same notification, signed afresh
    assert all(d.ok and d.status == 204 for d in deliveries)


async def test_a_late_notification_waits(wechat):
    receiver = Receiver()
    wechat.route_notifications_to(receiver.app)
    _, prepay_id = await _order(wechat)
    started = time.monotonic()
    await wechat.simulator.pay(prepay_id, delay_seconds=0.3)
    assert receiver.times == []
    await wechat.simulator.settle()
    assert receiver.times[0] - started >= 0.3


async def test_a_refused_delivery_is_retried_and_every_attempt_recorded(wechat):
    receiver = Receiver(500, 503)
    wechat.route_notifications_to(receiver.app)
    _, prepay_id = await _order(wechat)
    await wechat.simulator.pay(prepay_id)
    await wechat.simulator.settle()
    attempts = [(d.attempt, d.status) for d in wechat.simulator.deliveries]
    assert attempts == [(1, 500), (2, 503), (3, 204)]

    never = Receiver(*[500] * 10)
    wechat.route_notifications_to(never.app)
    _, prepay_id = await _order(wechat)
    await wechat.simulator.pay(prepay_id)
    await wechat.simulator.settle()
    retries = len(wechat.simulator.config.retry_delays)
    assert len(never.times) == 1 + retries
    assert not any(d.ok for d in wechat.simulator.deliveries[3:])


async def test_the_payers_page_and_the_pay_endpoint(wechat):
    receiver = Receiver()
    wechat.route_notifications_to(receiver.app)
    out_trade_no, prepay_id = await _order(wechat, 12345)
    async with _http(wechat) as http:
        page = await http.get(f"/simulator/pay/{prepay_id}")
        assert page.status_code == 200 and "¥123.45" in page.text and "<form" in page.text
        paid = await http.post(f"/simulator/pay/{prepay_id}", json={"duplicates": 2})
        assert paid.status_code == 200 and paid.json()["trade_state"] == "SUCCESS"
        again = await http.post(f"/simulator/pay/{prepay_id}", json={})
        assert (again.status_code, again.json()["code"]) == (400, "ORDERPAID")
        unknown = await http.post("/simulator/pay/wx-unknown", json={})
        assert unknown.status_code == 404
        await wechat.simulator.settle()
        listed = (await http.get("/simulator/deliveries")).json()
    assert [d["resource"]["out_trade_no"] for d in listed] == [out_trade_no] * 2
    assert (await wechat.channel.query_order(out_trade_no)).paid


async def test_refunds_are_refused_and_allowed_again_by_the_control_endpoint(wechat):
    out_trade_no, prepay_id = await _order(wechat)
    await wechat.simulator.pay(prepay_id)
    refusal = {"code": "USER_ACCOUNT_ABNORMAL", "message": "退款请求失败"}
    async with _http(wechat) as http:
        assert (await http.post("/simulator/control", json={"refuse_refunds": refusal})).is_success
        bad = await http.post("/simulator/control", json={"refuse_refunds": "yes"})
        assert bad.status_code == 400
        with pytest.raises(RefundRefused, match="USER_ACCOUNT_ABNORMAL"):
            await wechat.channel.refund(
                out_refund_no=f"R{out_trade_no}", out_trade_no=out_trade_no, amount_fen=10,
                total_fen=5000, reason="",
            )  # fmt: skip
        assert (await http.post("/simulator/control", json={"refuse_refunds": None})).is_success
    refund = await wechat.channel.refund(
        out_refund_no=f"R{out_trade_no}", out_trade_no=out_trade_no, amount_fen=10,
        total_fen=5000, reason="",
    )  # fmt: skip
    assert refund.status == "PROCESSING"
    await wechat.simulator.settle()


async def test_the_state_file_keeps_history_across_restarts_and_feeds_bills(tmp_path):
    keys = test_keys()
    state = tmp_path / "simulator.json"
    day = datetime(2026, 11, 20, 10, 0, tzinfo=crypto.SHANGHAI)
    record_history(
        state,
        [
            HistoryPayment("H-1", 70000, day, attach="card:1"),
            HistoryPayment("H-2", 5000, day + timedelta(hours=2)),
            HistoryPayment("H-3", 900, day + timedelta(days=1)),
        ],
        [HistoryRefund("HR-1", "H-1", 20000, day + timedelta(hours=5))],
        mchid=keys.mchid,
        appid=keys.appid,
    )
    first = Simulator(SimulatorConfig.from_keys(keys, state_file=state))
    channel = _channel_to(first)
    try:
        out_trade_no = f"T{time.time_ns()}"
        await channel.create_order(
            out_trade_no=out_trade_no, description="d", amount_fen=1, payer_openid="o",
            attach="", expires_at=datetime.now(UTC) + timedelta(minutes=15),
        )  # fmt: skip
    finally:
        await channel.aclose()

    second = Simulator(SimulatorConfig.from_keys(keys, state_file=state))
    channel = _channel_to(second)
    try:
        assert (await channel.query_order(out_trade_no)).trade_state == "NOTPAY"
        assert (await channel.query_order("H-1")).trade_state == "REFUND"
        bill = parse_trade_bill(await channel.trade_bill(day.date()))
    finally:
        await channel.aclose()
    assert [(r.out_trade_no, r.trade_state, r.amount_fen, r.refund_fen) for r in bill.rows] == [
        ("H-1", "SUCCESS", 70000, 0),
        ("H-2", "SUCCESS", 5000, 0),
        ("H-1", "REFUND", 0, 20000),
    ]
    assert (bill.settled_total_fen, bill.refund_total_fen) == (75000, 20000)


def _channel_to(simulator: Simulator) -> WeChatPayChannel:
    from settings import Settings

    settings = Settings().model_copy(update=settings_overrides(test_keys()))
    return WeChatPayChannel.from_settings(
        settings, transport=httpx.ASGITransport(app=simulator.app)
    )
