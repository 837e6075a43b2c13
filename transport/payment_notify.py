"""POST /payments/wechat/notify: the channel's notifications, outside GraphQL.

The adapter verifies the signature with the channel's public key, refuses a timestamp
more than NOTIFICATION_MAX_SKEW_SECONDS off and decrypts the resource with the APIv3 key;
services/payment_notices.py applies it exactly once. The answer is in the channel's
format: 204 when taken, otherwise a status the channel retries on and
{"code": "FAIL", "message": ...}. No stack trace, SQL or detail ever goes back: the
reason is logged.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from channel.interface import NotificationRejected
from services import payment_notices, payments

log = logging.getLogger("anfu.payments")


def _fail(status: int, message: str) -> JSONResponse:
    return JSONResponse({"code": "FAIL", "message": message}, status_code=status)


async def wechat_notify(request: Request) -> Response:
    channel = payments.channel()
    if channel is None or channel.name != "wechat":
        return _fail(404, "WeChat Pay is not configured here")
    if request.method != "POST":
        return _fail(405, "POST only")
    body = await request.body()
    headers = {name.lower(): value for name, value in request.headers.items()}
    try:
        notification = channel.verify_notification(headers, body)
    except NotificationRejected as refused:
        log.warning("payment notification refused: %s", refused)
        return _fail(401, "签名验证失败")
    try:
        await payment_notices.apply(notification)
    except payment_notices.UnknownPayment as unknown:
        log.warning("notification %s: %s", notification.id, unknown.message)
        return _fail(404, "订单不存在")
    except Exception:
        # The channel retries: a fault now (a lock timeout, a restart) is applied later.
        log.exception("notification %s could not be applied", notification.id)
        return _fail(500, "处理失败")
    log.info("notification %s (%s) applied", notification.id, notification.event_type)
    return Response(status_code=204)
