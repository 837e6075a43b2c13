"""A simulator of WeChat Pay API v3 for tests and the demo: the same endpoints, signatures and
encryption as the real gateway, with test keys (channel/keys.py), plus what the real one has
no API for: a stand-in for `wx.requestPayment` (POST /simulator/pay/{prepay_id}) and controls
that make refunds fail (POST /simulator/control).

    sim = Simulator(SimulatorConfig.from_keys(generate_test_keys(path)))
    app = sim.app  # a Starlette app; or create_simulator_app(config)
    sim.use_notifier(httpx.AsyncClient(transport=httpx.ASGITransport(anfu_app)))
    await sim.pay(prepay_id, duplicates=3, parallel=True)
    await sim.settle()  # every notification delivered (sim.deliveries)
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from channel import crypto
from channel.keys import TestKeys
from channel.simulator import app as api
from channel.simulator.app import Refusal
from channel.simulator.notify import Delivery, Notifier, notification_body, signed_headers
from channel.simulator.state import (
    HistoryPayment,
    HistoryRefund,
    Store,
    new_transaction_id,
    record_history,
    transaction_view,
)

__all__ = [
    "Delivery",
    "HistoryPayment",
    "HistoryRefund",
    "Refusal",
    "Simulator",
    "SimulatorConfig",
    "create_simulator_app",
    "record_history",
]

# WeChat Pay retries at 15 s, 15 s, 30 s, 3 min, 10 min, ...: compressed for tests.
TEST_RETRY_DELAYS = (0.05, 0.05, 0.1)
REAL_RETRY_DELAYS = (15.0, 15.0, 30.0, 180.0, 600.0, 1200.0, 1800.0)


@dataclass
class SimulatorConfig:
    mchid: str
    appid: str
    merchant_public_key: rsa.RSAPublicKey
    merchant_cert_serial: str
    platform_private_key: rsa.RSAPrivateKey
    platform_public_key_id: str
    apiv3_key: bytes
    state_file: Path | None = None
    retry_delays: tuple[float, ...] = TEST_RETRY_DELAYS
    refund_delay_seconds: float = 0
    max_skew_seconds: int = 300
    notifier: httpx.AsyncClient | None = None

    @classmethod
    def from_keys(cls, keys: TestKeys, **options: Any) -> SimulatorConfig:
        return cls(
            mchid=keys.mchid,
            appid=keys.appid,
            merchant_public_key=crypto.load_public_key(keys.merchant_public_key),
            merchant_cert_serial=keys.merchant_cert_serial,
            platform_private_key=crypto.load_private_key(keys.platform_private_key),
            platform_public_key_id=keys.platform_public_key_id,
            apiv3_key=keys.apiv3_key.encode(),
            **options,
        )


@dataclass
class OrderControls:
    refuse_refunds: dict[str, str] | None = None  # {"code", "message"}: refunds are refused
    abnormal_refunds: bool = False  # refunds end ABNORMAL (REFUND.ABNORMAL)


@dataclass
class Controls(OrderControls):
    tamper_bills: bool = False  # downloads differ from the hash the bill answer gives
    refund_delay_seconds: float = 0
    per_order: dict[str, OrderControls] = field(default_factory=dict)

    def for_order(self, out_trade_no: str) -> OrderControls:
        return self.per_order.get(out_trade_no, self)


class Simulator:
    """The simulated gateway: its records, controls, deliveries and Starlette app."""

    def __init__(self, config: SimulatorConfig, *, now: Callable[[], float] | None = None) -> None:
        self.config = config
        self.now: Callable[[], float] = now or time.time
        self.store = Store(config.state_file)
        self.controls = Controls(refund_delay_seconds=config.refund_delay_seconds)
        self.bill_files: dict[str, bytes] = {}
        self.notifier = Notifier(
            private_key=config.platform_private_key,
            serial=config.platform_public_key_id,
            retry_delays=config.retry_delays,
            now=lambda: self.now(),
            client=config.notifier,
        )
        from channel.simulator.control import control_routes

        self.app = Starlette(routes=[*api.routes(self), *control_routes(self)])
        self.app.state.simulator = self

    @property
    def deliveries(self) -> list[Delivery]:
        return self.notifier.deliveries

    def use_notifier(self, client: httpx.AsyncClient | None) -> None:
        """The HTTP client notifications go out with (tests: an ASGITransport to the app)."""
        self.notifier.client = client

    async def settle(self, limit_seconds: float = 30) -> None:
        await self.notifier.settle(limit_seconds)

    async def aclose(self) -> None:
        await self.notifier.cancel()

    def moment(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    # -- the wire ---------------------------------------------------------------------

    def authenticate(self, request: Request, body: bytes) -> None:
        fields = crypto.parse_authorization(request.headers.get("authorization", ""))
        if fields is None:
            raise Refusal("SIGN_ERROR", "Authorization 缺失或格式错误")
        if fields["mchid"] != self.config.mchid:
            raise Refusal("SIGN_ERROR", "mchid 不匹配")
        if fields["serial_no"] != self.config.merchant_cert_serial:
            raise Refusal("SIGN_ERROR", "商户证书序列号不匹配")
        try:
            skew = abs(self.now() - int(fields["timestamp"]))
        except ValueError:
            raise Refusal("SIGN_ERROR", "timestamp 格式错误") from None
        if skew > self.config.max_skew_seconds:
            raise Refusal("SIGN_ERROR", "timestamp 过期")
        path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
        if request.url.query:
            path += "?" + request.url.query
        message = crypto.request_message(
            request.method, path, fields["timestamp"], fields["nonce_str"], body.decode("utf-8")
        )
        if not crypto.verify(self.config.merchant_public_key, message, fields["signature"]):
            raise Refusal("SIGN_ERROR", "签名错误")

    def signed_response(self, status: int, answer: Any) -> Response:
        text = "" if answer is None else api_json(answer)
        headers = signed_headers(
            self.config.platform_private_key,
            self.config.platform_public_key_id,
            text,
            timestamp=int(self.now()),
        )
        headers["Request-ID"] = crypto.nonce()
        return Response(text, status_code=status, headers=headers, media_type="application/json")

    # -- orders -----------------------------------------------------------------------

    def order(self, out_trade_no: str) -> dict[str, Any]:
        order = self.store.orders.get(out_trade_no)
        if order is None:
            raise Refusal("ORDER_NOT_EXIST", "订单不存在")
        self._expire(order)
        return order

    def _expire(self, order: dict[str, Any]) -> None:
        if order["trade_state"] == "NOTPAY" and self.moment() > crypto.parse_rfc3339(
            order["time_expire"]
        ):
            order["trade_state"] = "CLOSED"
            self.store.save()

    def create_order(self, body: dict[str, Any]) -> dict[str, str]:
        api.check_order_body(body, self.config.mchid, self.config.appid)
        existing = self.store.orders.get(body["out_trade_no"])
        if existing is not None:
            self._expire(existing)
            if existing["trade_state"] in ("SUCCESS", "REFUND"):
                raise Refusal("ORDERPAID", "该订单已支付")
            if existing["trade_state"] == "CLOSED":
                raise Refusal("ORDER_CLOSED", "订单已关闭")
            if not api.same_order(existing, body):
                raise Refusal("INVALID_REQUEST", "商户订单号重复")
            return {"prepay_id": existing["prepay_id"]}
        order = api.new_order(body, self.moment())
        self.store.orders[order["out_trade_no"]] = order
        self.store.prepay[order["prepay_id"]] = order["out_trade_no"]
        self.store.save()
        return {"prepay_id": order["prepay_id"]}

    async def pay(
        self,
        prepay_id: str,
        *,
        duplicates: int = 1,
        delay_seconds: float = 0,
        parallel: bool = False,
    ) -> dict[str, Any]:
        """The payer confirms in the mini-program: the order is paid and TRANSACTION.SUCCESS
        goes to its notify_url `duplicates` times (all the same notification), after
        `delay_seconds`, one after another or all at once. Refusal when it cannot be paid."""
        out_trade_no = self.store.prepay.get(prepay_id)
        if out_trade_no is None:
            raise Refusal("RESOURCE_NOT_EXISTS", "prepay_id 不存在")
        order = self.order(out_trade_no)
        if order["trade_state"] == "CLOSED":
            raise Refusal("ORDER_CLOSED", "订单已关闭")
        if order["trade_state"] != "NOTPAY":
            raise Refusal("ORDERPAID", "订单已支付")
        moment = self.moment()
        order |= {
            "trade_state": "SUCCESS",
            "transaction_id": new_transaction_id(moment),
            "success_time": crypto.rfc3339(moment),
        }
        self.store.save()
        self.notify(
            "TRANSACTION.SUCCESS",
            transaction_view(order),
            order["notify_url"],
            copies=max(1, duplicates),
            delay_seconds=delay_seconds,
            parallel=parallel,
        )
        return transaction_view(order)

    def resend_payment(self, out_trade_no: str, **options: Any) -> None:
        """Send a paid order's TRANSACTION.SUCCESS again (a late retry by the channel)."""
        order = self.order(out_trade_no)
        self.notify("TRANSACTION.SUCCESS", transaction_view(order), order["notify_url"], **options)

    def notify(self, event_type: str, resource: dict[str, Any], url: str, **options: Any) -> str:
        notification_id, body = notification_body(
            event_type, resource, self.config.apiv3_key, created=crypto.rfc3339(self.moment())
        )
        self.notifier.send(url, notification_id, event_type, body, resource, **options)
        return notification_id

    # -- refunds ----------------------------------------------------------------------

    def refund(self, body: dict[str, Any]) -> dict[str, Any]:
        out_refund_no = body.get("out_refund_no")
        if not isinstance(out_refund_no, str) or not out_refund_no:
            raise Refusal("PARAM_ERROR", "out_refund_no 缺失")
        existing = self.store.refunds.get(out_refund_no)
        if existing is not None:
            return api.refund_view(existing)
        order = self.order(str(body.get("out_trade_no", "")))
        record = api.make_refund(self, order, body)
        controls = self.controls.for_order(order["out_trade_no"])
        self.notifier.spawn(self._finish_refund(record, abnormal=controls.abnormal_refunds))
        return api.refund_view(record)

    async def _finish_refund(self, record: dict[str, Any], *, abnormal: bool) -> None:
        if self.controls.refund_delay_seconds:
            await asyncio.sleep(self.controls.refund_delay_seconds)
        if abnormal:
            record["status"] = "ABNORMAL"
        else:
            record |= {"status": "SUCCESS", "success_time": crypto.rfc3339(self.moment())}
        self.store.save()
        resource = {
            "mchid": self.config.mchid,
            "out_trade_no": record["out_trade_no"],
            "transaction_id": record["transaction_id"],
            "out_refund_no": record["out_refund_no"],
            "refund_id": record["refund_id"],
            "refund_status": record["status"],
            "success_time": record["success_time"],
            "user_received_account": record["user_received_account"],
            "amount": {
                k: record["amount"][k] for k in ("total", "refund", "payer_total", "payer_refund")
            },
        }
        if not resource["success_time"]:
            del resource["success_time"]
        self.notify(f"REFUND.{record['status']}", resource, record["notify_url"])

    def bill_answer(self, request: Request) -> dict[str, Any]:
        return api.bill_file(self, request)

    def control(self, **options: Any) -> None:
        """Like POST /simulator/control: refuse_refunds={"code","message"} | None,
        abnormal_refunds, tamper_bills, refund_delay_seconds, out_trade_no (that order only)."""
        from channel.simulator.control import apply_controls

        apply_controls(self, options)

    def shift(self, **delta: float) -> None:
        """Move the simulator's clock (e.g. a year on, for the refund window)."""
        before = self.now
        seconds = timedelta(**delta).total_seconds()
        self.now = lambda: before() + seconds


def api_json(answer: Any) -> str:
    return json.dumps(answer, ensure_ascii=False, separators=(",", ":"))


def create_simulator_app(config: SimulatorConfig) -> Starlette:
    """The simulator as an ASGI app; its Simulator is `app.state.simulator`."""
    return Simulator(config).app
