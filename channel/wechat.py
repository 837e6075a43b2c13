"""WeChat Pay API v3 in public-key mode: the PaymentChannel the platform uses in production.

A thin client on httpx: every request is signed with the merchant's key, every answer's
Wechatpay-Signature is checked with WeChat Pay's public key (an unsigned or forged answer is a
ChannelError), notifications are verified, checked for freshness and decrypted with the APIv3
key. Tests and the demo point the gateway (or an httpx transport) at channel/simulator/."""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from channel import crypto
from channel.interface import (
    BillUnavailable,
    ChannelError,
    ChannelPayment,
    ChannelRefundResult,
    Notification,
    NotificationRejected,
    OrderNotFound,
    PaymentRequest,
    RefundRefused,
)
from settings import Settings

# Answers that say "not now" rather than "never": the refund is tried again, not paid by hand.
RETRYABLE_CODES = frozenset({"SYSTEM_ERROR", "FREQUENCY_LIMITED", "SIGN_ERROR", "NO_AUTH"})
MAX_REFUND_REASON = 80
NO_BILL_CODES = frozenset({"NO_STATEMENT_EXIST", "STATEMENT_CREATING"})


class WeChatPayChannel:
    """PaymentChannel (channel/interface.py) over WeChat Pay API v3."""

    name = "wechat"

    def __init__(
        self,
        *,
        gateway: str,
        mchid: str,
        appid: str,
        private_key: rsa.RSAPrivateKey,
        cert_serial: str,
        public_key: rsa.RSAPublicKey,
        public_key_id: str,
        apiv3_key: bytes,
        notify_url: str,
        timeout_seconds: float = 10,
        max_skew_seconds: int = 300,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Callable[[], float] | None = None,
    ) -> None:
        if len(apiv3_key) != 32:
            raise ValueError("the APIv3 key is 32 bytes")
        self.gateway = gateway.rstrip("/")
        self.mchid = mchid
        self.appid = appid
        self.cert_serial = cert_serial
        self.public_key_id = public_key_id
        self.notify_url = notify_url
        self.max_skew_seconds = max_skew_seconds
        self.now: Callable[[], float] = now or time.time
        self._private_key = private_key
        self._public_key = public_key
        self._apiv3_key = apiv3_key
        self._http = httpx.AsyncClient(
            base_url=self.gateway, transport=transport, timeout=timeout_seconds
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Callable[[], float] | None = None,
    ) -> WeChatPayChannel:
        return cls(
            gateway=settings.wechatpay_gateway,
            mchid=settings.wechatpay_mchid,
            appid=settings.wechatpay_appid,
            private_key=crypto.load_private_key(Path(settings.wechatpay_private_key_path)),
            cert_serial=settings.wechatpay_cert_serial,
            public_key=crypto.load_public_key(Path(settings.wechatpay_public_key_path)),
            public_key_id=settings.wechatpay_public_key_id,
            apiv3_key=settings.wechatpay_apiv3_key.encode(),
            notify_url=settings.wechatpay_notify_url,
            timeout_seconds=settings.wechatpay_timeout_seconds,
            max_skew_seconds=settings.notification_max_skew_seconds,
            transport=transport,
            now=now,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def create_order(
        self,
        *,
        out_trade_no: str,
        description: str,
        amount_fen: int,
        payer_openid: str,
        attach: str,
        expires_at: datetime,
    ) -> str:
        body = {
            "appid": self.appid,
            "mchid": self.mchid,
            "description": description,
            "out_trade_no": out_trade_no,
            "time_expire": crypto.rfc3339(expires_at),
            "attach": attach,
            "notify_url": self.notify_url,
            "amount": {"total": amount_fen, "currency": "CNY"},
            "payer": {"openid": payer_openid},
        }
        status, answer = await self._call("POST", "/v3/pay/transactions/jsapi", body)
        if status != 200:
            raise ChannelError(f"create_order {out_trade_no}: {_describe(status, answer)}")
        prepay_id = answer.get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id:
            raise ChannelError("create_order: no prepay_id in the answer")
        return prepay_id

    def payment_request(self, prepay_id: str) -> PaymentRequest:
        time_stamp = str(int(self.now()))
        nonce_str = crypto.nonce()
        package = f"prepay_id={prepay_id}"
        message = crypto.pay_sign_message(self.appid, time_stamp, nonce_str, package)
        return PaymentRequest(
            app_id=self.appid,
            time_stamp=time_stamp,
            nonce_str=nonce_str,
            package=package,
            sign_type="RSA",
            pay_sign=crypto.sign(self._private_key, message),
        )

    async def query_order(self, out_trade_no: str) -> ChannelPayment:
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}"
        status, answer = await self._call("GET", path, query={"mchid": self.mchid})
        if status == 404:
            raise OrderNotFound(f"query_order {out_trade_no}: {_describe(status, answer)}")
        if status != 200:
            raise ChannelError(f"query_order {out_trade_no}: {_describe(status, answer)}")
        return _payment(answer, "query_order", ChannelError)

    async def close_order(self, out_trade_no: str) -> None:
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}/close"
        status, answer = await self._call("POST", path, {"mchid": self.mchid})
        if status != 204:
            raise ChannelError(f"close_order {out_trade_no}: {_describe(status, answer)}")

    async def refund(
        self,
        *,
        out_refund_no: str,
        out_trade_no: str,
        amount_fen: int,
        total_fen: int,
        reason: str,
    ) -> ChannelRefundResult:
        body = {
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            # WeChat Pay takes at most 80 characters; the payer sees it with the refund.
            "reason": reason[:MAX_REFUND_REASON],
            "notify_url": self.notify_url,
            "amount": {"refund": amount_fen, "total": total_fen, "currency": "CNY"},
        }
        status, answer = await self._call("POST", "/v3/refund/domestic/refunds", body)
        if status == 200:
            return _refund(answer, "status", ChannelError)
        code = str(answer.get("code", ""))
        if 400 <= status < 500 and status != 429 and code and code not in RETRYABLE_CODES:
            raise RefundRefused(code, str(answer.get("message", "")))
        raise ChannelError(f"refund {out_refund_no}: {_describe(status, answer)}")

    async def query_refund(self, out_refund_no: str) -> ChannelRefundResult:
        path = f"/v3/refund/domestic/refunds/{quote(out_refund_no, safe='')}"
        status, answer = await self._call("GET", path)
        if status != 200:
            raise ChannelError(f"query_refund {out_refund_no}: {_describe(status, answer)}")
        return _refund(answer, "status", ChannelError)

    async def trade_bill(self, bill_date: date, *, gzipped: bool = False) -> bytes:
        query = {"bill_date": bill_date.isoformat(), "bill_type": "ALL"}
        if gzipped:
            query["tar_type"] = "GZIP"
        status, answer = await self._call("GET", "/v3/bill/tradebill", query=query)
        if status == 400 and answer.get("code") in NO_BILL_CODES:
            raise BillUnavailable(f"{bill_date}: {answer.get('code')}")
        if status != 200:
            raise ChannelError(f"trade_bill {bill_date}: {_describe(status, answer)}")
        url = answer.get("download_url")
        if answer.get("hash_type") != "SHA1" or not isinstance(url, str):
            raise ChannelError("trade_bill: the answer lacks a SHA1 hash or a download URL")
        data = await self._download(url)
        if gzipped:
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError) as error:
                raise BillUnavailable(f"{bill_date}: the bill does not unzip ({error})") from None
        # The hash is of the bill itself (after unzipping); the download is not signed.
        if hashlib.sha1(data).hexdigest().lower() != str(answer.get("hash_value", "")).lower():
            raise BillUnavailable(f"{bill_date}: the bill's SHA1 does not match its hash_value")
        return data

    async def _download(self, url: str) -> bytes:
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.gateway:
            raise ChannelError(f"trade_bill: download URL outside the gateway: {url}")
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            response = await self._http.request("GET", path, headers=self._headers("GET", path, ""))
        except httpx.HTTPError as error:
            raise ChannelError(f"download: {type(error).__name__}: {error}") from None
        if response.status_code != 200:
            raise ChannelError(f"download: HTTP {response.status_code}")
        return response.content

    def verify_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        text = self._verified_text(headers, body, NotificationRejected, check_time=True)
        try:
            envelope = json.loads(text)
            resource = envelope["resource"]
            event_type = envelope["event_type"]
            if resource.get("algorithm") != "AEAD_AES_256_GCM":
                raise NotificationRejected(f"algorithm {resource.get('algorithm')!r}")
            plaintext = crypto.decrypt_resource(
                self._apiv3_key,
                resource["ciphertext"],
                resource["nonce"],
                resource.get("associated_data", ""),
            )
            inner = json.loads(plaintext)
            notification_id = str(envelope["id"])
        except crypto.DecryptionFailed:
            raise NotificationRejected("the resource does not decrypt with the APIv3 key") from None
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise NotificationRejected(f"malformed notification: {error!r}") from None
        if not isinstance(inner, dict) or inner.get("mchid") != self.mchid:
            raise NotificationRejected("the resource names another merchant")
        if event_type == "TRANSACTION.SUCCESS":
            if inner.get("appid") != self.appid:
                raise NotificationRejected("the transaction names another app")
            payment = _payment(inner, "notification", NotificationRejected)
            return Notification(id=notification_id, event_type=event_type, payment=payment)
        if event_type in ("REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED"):
            refund = _refund(inner, "refund_status", NotificationRejected)
            return Notification(id=notification_id, event_type=event_type, refund=refund)
        raise NotificationRejected(f"unknown event type {event_type!r}")

    def _headers(self, method: str, path: str, body: str) -> dict[str, str]:
        return {
            "Authorization": crypto.authorization(
                mchid=self.mchid,
                serial_no=self.cert_serial,
                private_key=self._private_key,
                method=method,
                path=path,
                body=body,
                timestamp=str(int(self.now())),
                nonce_str=crypto.nonce(),
            ),
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": "anfu-wechatpay/1",
        }

    async def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        query: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Send a signed request; (status, JSON answer) once the answer's signature checks.
        5xx and network failures are ChannelError."""
        if query:
            path = f"{path}?{urlencode(query)}"
        text = "" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        try:
            response = await self._http.request(
                method, path, content=text.encode(), headers=self._headers(method, path, text)
            )
        except httpx.HTTPError as error:
            raise ChannelError(f"{method} {path}: {type(error).__name__}: {error}") from None
        if response.status_code >= 500:
            # Not trusted (it may be unsigned), only logged.
            excerpt = response.text[:200]
            raise ChannelError(f"{method} {path}: HTTP {response.status_code} {excerpt}")
        headers = {key.lower(): value for key, value in response.headers.items()}
        answer_text = self._verified_text(headers, response.content, ChannelError)
        if not answer_text:
            return response.status_code, {}
        try:
            answer = json.loads(answer_text)
        except ValueError:
            raise ChannelError(f"{method} {path}: the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise ChannelError(f"{method} {path}: the answer is not a JSON object")
        return response.status_code, answer

    def _verified_text(
        self,
        headers: Mapping[str, str],
        body: bytes,
        failure: type[Exception],
        *,
        check_time: bool = False,
    ) -> str:
        """The body as text once Wechatpay-Signature checks with the configured public key."""
        serial = headers.get("wechatpay-serial")
        timestamp = headers.get("wechatpay-timestamp")
        nonce_str = headers.get("wechatpay-nonce")
        signature = headers.get("wechatpay-signature")
        if not (serial and timestamp and nonce_str and signature):
            raise failure("unsigned: a Wechatpay-* header is missing")
        if serial != self.public_key_id:
            raise failure(f"signed with an unknown key {serial!r}")
        if check_time:
            try:
                skew = abs(self.now() - int(timestamp))
            except ValueError:
                raise failure(f"malformed timestamp {timestamp!r}") from None
            if skew > self.max_skew_seconds:
                raise failure(f"timestamp {timestamp} is {skew:.0f} s from now")
        try:
            text = body.decode()
        except UnicodeDecodeError:
            raise failure("the body is not UTF-8") from None
        if not crypto.verify(
            self._public_key, crypto.response_message(timestamp, nonce_str, text), signature
        ):
            raise failure("the signature does not match")
        return text


def _describe(status: int, answer: Mapping[str, Any]) -> str:
    return f"HTTP {status} {answer.get('code', '')} {answer.get('message', '')}".strip()


def _payment(data: Mapping[str, Any], where: str, failure: type[Exception]) -> ChannelPayment:
    try:
        amount = data.get("amount") or {}
        success_time = data.get("success_time")
        return ChannelPayment(
            out_trade_no=str(data["out_trade_no"]),
            trade_state=str(data["trade_state"]),
            amount_fen=int(amount["total"]),
            transaction_id=data.get("transaction_id") or None,
            payer_total_fen=(
                int(amount["payer_total"]) if amount.get("payer_total") is not None else None
            ),
            success_time=crypto.parse_rfc3339(success_time) if success_time else None,
            attach=str(data.get("attach") or ""),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise failure(f"{where}: malformed transaction: {error!r}") from None


def _refund(
    data: Mapping[str, Any], status_field: str, failure: type[Exception]
) -> ChannelRefundResult:
    """A refund object; the refund API calls its state `status`, notifications `refund_status`."""
    try:
        success_time = data.get("success_time")
        return ChannelRefundResult(
            out_refund_no=str(data["out_refund_no"]),
            out_trade_no=str(data["out_trade_no"]),
            status=str(data[status_field]),
            amount_fen=int(data["amount"]["refund"]),
            refund_id=data.get("refund_id") or None,
            success_time=crypto.parse_rfc3339(success_time) if success_time else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise failure(f"malformed refund: {error!r}") from None
