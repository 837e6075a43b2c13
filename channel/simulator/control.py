"""What the real gateway has no API for: the payer's confirmation (a stand-in for
`wx.requestPayment`, with a page for humans), controls that make refunds fail, and the list
of notification deliveries. Unsigned: these are the tester's and the payer's side."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from channel.simulator.app import Refusal

if TYPE_CHECKING:
    from channel.simulator import Simulator

PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>微信支付（模拟）</title>
<style>body{{font-family:sans-serif;max-width:28em;margin:3em auto;text-align:center}}
button{{font-size:1.2em;padding:.6em 2em;background:#07c160;color:#fff;border:0;border-radius:6px}}
</style></head><body>
<h1>微信支付（模拟器）</h1><p>{description}</p><p style="font-size:2em">¥{amount}</p>
<p>商户订单号 {out_trade_no} · {state}</p>
<form method="post"><button type="submit">确认支付</button></form>
<p><small>This stands in for wx.requestPayment: confirming pays the order and sends the
notification.</small></p></body></html>"""


def control_routes(sim: Simulator) -> list[Route]:
    async def pay(request: Request) -> Response:
        options: dict[str, Any] = {}
        body = await request.body()
        if body and request.headers.get("content-type", "").startswith("application/json"):
            try:
                options = json.loads(body)
            except ValueError:
                return JSONResponse({"code": "PARAM_ERROR", "message": "not JSON"}, 400)
        try:
            transaction = await sim.pay(
                request.path_params["prepay_id"],
                duplicates=int(options.get("duplicates", 1)),
                delay_seconds=float(options.get("delay_seconds", 0)),
                parallel=bool(options.get("parallel", False)),
            )
        except Refusal as refusal:
            return JSONResponse({"code": refusal.code, "message": refusal.message}, refusal.status)
        except (TypeError, ValueError):
            return JSONResponse({"code": "PARAM_ERROR", "message": "bad options"}, 400)
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(f"<p>支付成功 {html.escape(transaction['out_trade_no'])}</p>")
        return JSONResponse(transaction)

    async def page(request: Request) -> Response:
        out_trade_no = sim.store.prepay.get(request.path_params["prepay_id"])
        if out_trade_no is None:
            return HTMLResponse("<p>prepay_id 不存在</p>", 404)
        order = sim.order(out_trade_no)
        total = order["amount"]["total"]
        return HTMLResponse(
            PAGE.format(
                description=html.escape(order["description"]),
                amount=f"{total // 100}.{total % 100:02d}",
                out_trade_no=html.escape(out_trade_no),
                state=order["trade_state"],
            )
        )

    async def control(request: Request) -> Response:
        try:
            apply_controls(sim, json.loads(await request.body() or b"{}"))
        except (ValueError, TypeError, KeyError) as error:
            return JSONResponse({"code": "PARAM_ERROR", "message": str(error)}, 400)
        return JSONResponse({"ok": True})

    async def deliveries(request: Request) -> Response:
        return JSONResponse(
            [
                {
                    "notification_id": d.notification_id,
                    "event_type": d.event_type,
                    "url": d.url,
                    "attempt": d.attempt,
                    "status": d.status,
                    "error": d.error,
                    "resource": d.resource,
                }
                for d in sim.deliveries
            ]
        )

    return [
        Route("/simulator/pay/{prepay_id}", pay, methods=["POST"]),
        Route("/simulator/pay/{prepay_id}", page, methods=["GET"]),
        Route("/simulator/control", control, methods=["POST"]),
        Route("/simulator/deliveries", deliveries, methods=["GET"]),
    ]


def apply_controls(sim: Simulator, options: dict[str, Any]) -> None:
    """{"refuse_refunds": {"code","message"} | null, "abnormal_refunds": bool,
    "tamper_bills": bool, "refund_delay_seconds": s, "out_trade_no": "..."}; with
    out_trade_no the refund controls apply to that order only."""
    from channel.simulator import OrderControls

    if not isinstance(options, dict):
        raise ValueError("the controls are a JSON object")
    refuse = options.get("refuse_refunds")
    if refuse is not None and not (
        isinstance(refuse, dict) and isinstance(refuse.get("code"), str)
    ):
        raise ValueError("refuse_refunds is {code, message} or null")
    target: OrderControls = sim.controls
    out_trade_no = options.get("out_trade_no")
    if out_trade_no is not None:
        target = sim.controls.per_order.setdefault(str(out_trade_no), OrderControls())
    if "refuse_refunds" in options:
        target.refuse_refunds = refuse
    if "abnormal_refunds" in options:
        target.abnormal_refunds = bool(options["abnormal_refunds"])
    if "tamper_bills" in options:
        sim.controls.tamper_bills = bool(options["tamper_bills"])
    if "refund_delay_seconds" in options:
        sim.controls.refund_delay_seconds = float(options["refund_delay_seconds"])
