"""Notifications as WeChat Pay sends them: the resource encrypted with the APIv3 key, the body
signed with the platform key, POSTed to the notify_url, retried with back-off until the
receiver answers 2xx. Every attempt is recorded (tests read `Notifier.deliveries`)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from channel import crypto

SUMMARIES = {
    "TRANSACTION.SUCCESS": "支付成功",
    "REFUND.SUCCESS": "退款成功",
    "REFUND.ABNORMAL": "退款异常",
    "REFUND.CLOSED": "退款关闭",
}


@dataclass
class Delivery:
    """One attempt to deliver a notification; status None when no HTTP answer came."""

    notification_id: str
    event_type: str
    url: str
    attempt: int
    status: int | None
    error: str | None
    headers: dict[str, str]
    body: bytes
    resource: dict[str, Any] = field(default_factory=dict)  # the decrypted resource

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def signed_headers(
    private_key: rsa.RSAPrivateKey, serial: str, body: str, *, timestamp: int | None = None
) -> dict[str, str]:
    """Wechatpay-* headers for a body (responses and notifications alike)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce_str = crypto.nonce()
    return {
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce_str,
        "Wechatpay-Signature": crypto.sign(
            private_key, crypto.response_message(stamp, nonce_str, body)
        ),
        "Wechatpay-Serial": serial,
    }


def notification_body(
    event_type: str, resource: dict[str, Any], apiv3_key: bytes, *, created: str
) -> tuple[str, str]:
    """(notification id, JSON body) with the resource encrypted."""
    original_type = "transaction" if event_type.startswith("TRANSACTION") else "refund"
    plaintext = json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode()
    encrypted = crypto.encrypt_resource(apiv3_key, plaintext, original_type)
    notification_id = str(uuid.uuid4())
    envelope = {
        "id": notification_id,
        "create_time": created,
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": SUMMARIES.get(event_type, event_type),
        "resource": encrypted | {"original_type": original_type},
    }
    return notification_id, json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


class Notifier:
    """Sends notifications in background tasks; `settle()` waits for all of them."""

    def __init__(
        self,
        *,
        private_key: rsa.RSAPrivateKey,
        serial: str,
        retry_delays: tuple[float, ...],
        now: Callable[[], float],
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.private_key = private_key
        self.serial = serial
        self.retry_delays = retry_delays
        self.now = now
        self.client = client
        self.deliveries: list[Delivery] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self, limit_seconds: float = 30) -> None:
        """Wait until every delivery (and delayed refund) in flight is done."""
        async with asyncio.timeout(limit_seconds):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def send(
        self,
        url: str,
        notification_id: str,
        event_type: str,
        body: str,
        resource: dict[str, Any],
        *,
        copies: int = 1,
        delay_seconds: float = 0,
        parallel: bool = False,
    ) -> None:
        """Deliver the same notification `copies` times, one after another or all at once."""

        async def deliver_all() -> None:
            for _ in range(copies):
                await self._deliver(url, notification_id, event_type, body, resource, delay_seconds)

        if parallel:
            for _ in range(copies):
                self.spawn(
                    self._deliver(url, notification_id, event_type, body, resource, delay_seconds)
                )
        else:
            self.spawn(deliver_all())

    async def _deliver(
        self,
        url: str,
        notification_id: str,
        event_type: str,
        body: str,
        resource: dict[str, Any],
        delay_seconds: float,
    ) -> None:
        if delay_seconds:
            await asyncio.sleep(delay_seconds)
        for attempt, pause in enumerate((0.0, *self.retry_delays), start=1):
            if pause:
                await asyncio.sleep(pause)
            # Each attempt is signed afresh, as WeChat Pay does on its retries.
            headers = signed_headers(self.private_key, self.serial, body, timestamp=int(self.now()))
            headers["Content-Type"] = "application/json"
            status: int | None = None
            error: str | None = None
            if self.client is None:
                error = "no notification client configured"
            else:
                try:
                    response = await self.client.post(url, content=body.encode(), headers=headers)
                    status = response.status_code
                except httpx.HTTPError as failure:
                    error = f"{type(failure).__name__}: {failure}"
            delivery = Delivery(
                notification_id, event_type, url, attempt, status, error, headers,
                body.encode(), resource,
            )  # fmt: skip
            self.deliveries.append(delivery)
            if delivery.ok:
                return
