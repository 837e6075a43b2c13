"""The simulated WeChat Pay API v3 endpoints (the ones channel/wechat.py calls).

Every request must carry a valid merchant signature (else 401 SIGN_ERROR), every answer is
signed with the platform key. Orders are idempotent on out_trade_no, refunds on
out_refund_no; orders past time_expire close; refunds start PROCESSING and finish (SUCCESS or,
on request, ABNORMAL) in the background with their notification."""

from __future__ import annotations

import gzip
import hashlib
import json
import secrets
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from channel import crypto
from channel.simulator.bills import trade_bill
from channel.simulator.state import new_prepay_id, new_refund_id, refund_record, transaction_view

if TYPE_CHECKING:
    from channel.simulator import Simulator

REFUND_WINDOW = timedelta(days=365)
# The HTTP status the real API answers each refusal with.
ERROR_STATUS = {
    "SYSTEM_ERROR": 500,
    "FREQUENCY_LIMITED": 429,
    "NOT_ENOUGH": 403,
    "USER_ACCOUNT_ABNORMAL": 403,
    "NO_AUTH": 403,
    "SIGN_ERROR": 401,
    "ORDER_NOT_EXIST": 404,
    "RESOURCE_NOT_EXISTS": 404,
}


class Refusal(Exception):
    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.status = status or ERROR_STATUS.get(code, 400)


def routes(sim: Simulator) -> list[Route]:
    def endpoint(handler: Any) -> Any:
        async def run(request: Request) -> Response:
            body = await request.body()
            try:
                sim.authenticate(request, body)
                status, answer = await handler(request, _json(body) if body else {})
            except Refusal as refusal:
                status, answer = refusal.status, {"code": refusal.code, "message": refusal.message}
            return sim.signed_response(status, answer)

        return run

    async def jsapi(request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, sim.create_order(body)

    async def query(request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        if request.query_params.get("mchid") != sim.config.mchid:
            raise Refusal("PARAM_ERROR", "mchid 与请求签名不一致")
        return 200, transaction_view(sim.order(request.path_params["no"]))

    async def close(request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        if body.get("mchid") != sim.config.mchid:
            raise Refusal("PARAM_ERROR", "mchid 与请求签名不一致")
        order = sim.order(request.path_params["no"])
        if order["trade_state"] in ("SUCCESS", "REFUND"):
            raise Refusal("ORDERPAID", "订单已支付")
        order["trade_state"] = "CLOSED"
        sim.store.save()
        return 204, None

    async def refund(request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, sim.refund(body)

    async def query_refund(request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        found = sim.store.refunds.get(request.path_params["no"])
        if found is None:
            raise Refusal("RESOURCE_NOT_EXISTS", "退款单不存在")
        return 200, refund_view(found)

    async def bill(request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, sim.bill_answer(request)

    async def download(request: Request) -> Response:
        try:
            sim.authenticate(request, b"")
        except Refusal as refusal:
            answer = {"code": refusal.code, "message": refusal.message}
            return sim.signed_response(refusal.status, answer)
        data = sim.bill_files.get(request.query_params.get("token", ""))
        if data is None:
            return sim.signed_response(
                404, {"code": "RESOURCE_NOT_EXISTS", "message": "文件不存在"}
            )
        # Like the real API: the file itself is not signed; its SHA1 was in the bill answer.
        return Response(data, media_type="application/octet-stream")

    return [
        Route("/v3/pay/transactions/jsapi", endpoint(jsapi), methods=["POST"]),
        Route("/v3/pay/transactions/out-trade-no/{no}", endpoint(query), methods=["GET"]),
        Route("/v3/pay/transactions/out-trade-no/{no}/close", endpoint(close), methods=["POST"]),
        Route("/v3/refund/domestic/refunds", endpoint(refund), methods=["POST"]),
        Route("/v3/refund/domestic/refunds/{no}", endpoint(query_refund), methods=["GET"]),
        Route("/v3/bill/tradebill", endpoint(bill), methods=["GET"]),
        Route("/v3/billdownload/file", download, methods=["GET"]),
    ]


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        raise Refusal("PARAM_ERROR", "请求体不是 JSON") from None
    if not isinstance(data, dict):
        raise Refusal("PARAM_ERROR", "请求体不是 JSON 对象")
    return data


def refund_view(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("reason", "notify_url")}


def check_order_body(body: dict[str, Any], mchid: str, appid: str) -> None:
    if body.get("mchid") != mchid or body.get("appid") != appid:
        raise Refusal("APPID_MCHID_NOT_MATCH", "appid 和 mch_id 不匹配")
    for name in ("description", "out_trade_no", "notify_url"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise Refusal("PARAM_ERROR", f"{name} 缺失")
    amount = body.get("amount") or {}
    total = amount.get("total")
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        raise Refusal("PARAM_ERROR", "amount.total 无效")
    if amount.get("currency", "CNY") != "CNY":
        raise Refusal("PARAM_ERROR", "currency 无效")
    if not isinstance((body.get("payer") or {}).get("openid"), str):
        raise Refusal("PARAM_ERROR", "payer.openid 缺失")
    try:
        crypto.parse_rfc3339(str(body.get("time_expire")))
    except ValueError:
        raise Refusal("PARAM_ERROR", "time_expire 格式错误") from None


def new_order(body: dict[str, Any], moment: datetime) -> dict[str, Any]:
    return {
        "appid": body["appid"],
        "mchid": body["mchid"],
        "description": body["description"],
        "out_trade_no": body["out_trade_no"],
        "time_expire": body["time_expire"],
        "attach": body.get("attach", ""),
        "notify_url": body["notify_url"],
        "amount": {"total": body["amount"]["total"], "currency": "CNY"},
        "payer": {"openid": body["payer"]["openid"]},
        "prepay_id": new_prepay_id(moment),
        "trade_state": "NOTPAY",
        "transaction_id": None,
        "success_time": None,
    }


def same_order(order: dict[str, Any], body: dict[str, Any]) -> bool:
    return all(
        (
            order["description"] == body["description"],
            order["amount"]["total"] == body["amount"]["total"],
            order["payer"]["openid"] == body["payer"]["openid"],
            order["attach"] == body.get("attach", ""),
        )
    )


def check_refund(sim: Simulator, order: dict[str, Any], body: dict[str, Any]) -> int:
    """The refund's amount once every rule of the real API (and the controls) allows it."""
    amount = body.get("amount") or {}
    refund_fen, total_fen = amount.get("refund"), amount.get("total")
    if not isinstance(refund_fen, int) or refund_fen <= 0 or not isinstance(total_fen, int):
        raise Refusal("PARAM_ERROR", "amount 无效")
    if total_fen != order["amount"]["total"]:
        raise Refusal("PARAM_ERROR", "订单金额与原订单不一致")
    if len(str(body.get("reason", ""))) > 80:
        raise Refusal("PARAM_ERROR", "reason 长度超过80个字符")
    if order["trade_state"] not in ("SUCCESS", "REFUND"):
        raise Refusal("INVALID_REQUEST", "订单未支付")
    refusal = sim.controls.for_order(order["out_trade_no"]).refuse_refunds
    if refusal:
        raise Refusal(refusal["code"], refusal.get("message", ""))
    paid_at = crypto.parse_rfc3339(order["success_time"])
    if sim.moment() - paid_at > REFUND_WINDOW:
        raise Refusal("INVALID_REQUEST", "订单已超过退款期限")
    if sim.store.refunded_fen(order["out_trade_no"]) + refund_fen > total_fen:
        raise Refusal("INVALID_REQUEST", "申请退款金额超过订单可退金额")
    return refund_fen


def make_refund(sim: Simulator, order: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    refund_fen = check_refund(sim, order, body)
    record = refund_record(
        order,
        out_refund_no=body["out_refund_no"],
        amount_fen=refund_fen,
        reason=str(body.get("reason", "")),
        notify_url=str(body.get("notify_url") or order["notify_url"]),
        created_at=sim.moment(),
        refund_id=new_refund_id(),
    )
    sim.store.refunds[record["out_refund_no"]] = record
    order["trade_state"] = "REFUND"
    sim.store.save()
    return record


def bill_file(sim: Simulator, request: Request) -> dict[str, Any]:
    """The bill answer: SHA1 of the bill and a URL to download it (gzip on request)."""
    params = request.query_params
    try:
        bill_date = date.fromisoformat(params.get("bill_date", ""))
    except ValueError:
        raise Refusal("PARAM_ERROR", "bill_date 格式错误") from None
    if params.get("bill_type", "ALL") != "ALL":
        raise Refusal("PARAM_ERROR", "模拟器只提供 ALL 账单")
    data = None
    if bill_date <= sim.moment().astimezone(crypto.SHANGHAI).date():
        data = trade_bill(sim.store, bill_date)
    if data is None:
        raise Refusal("NO_STATEMENT_EXIST", "账单文件不存在")
    digest = hashlib.sha1(data).hexdigest()
    if sim.controls.tamper_bills:
        data = data.replace(b".", b",", 1)
    if params.get("tar_type") == "GZIP":
        data = gzip.compress(data)
    token = secrets.token_urlsafe(16)
    sim.bill_files[token] = data
    base = str(request.base_url).rstrip("/")
    return {
        "hash_type": "SHA1",
        "hash_value": digest,
        "download_url": f"{base}/v3/billdownload/file?token={token}",
    }
