"""What the platform asks of a two-step payment channel, in the platform's own terms.

The services speak only these types; channel/wechat.py maps them to WeChat Pay API v3
and the simulator serves the same protocol. Amounts are integer fen, times are aware.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol


@dataclass(frozen=True)
class PaymentRequest:
    """The signed parameters the mini-program passes to `wx.requestPayment`."""

    app_id: str
    time_stamp: str
    nonce_str: str
    package: str  # "prepay_id=..."
    sign_type: str  # "RSA"
    pay_sign: str


@dataclass(frozen=True)
class ChannelPayment:
    """What the channel says of one order: from a query or a payment notification."""

    out_trade_no: str
    trade_state: str  # SUCCESS, NOTPAY, CLOSED, REFUND, USERPAYING, PAYERROR, REVOKED
    amount_fen: int  # amount.total: what the order asked for
    transaction_id: str | None = None
    payer_total_fen: int | None = None
    success_time: datetime | None = None
    attach: str = ""

    @property
    def paid(self) -> bool:
        # REFUND: paid, then (partly) refunded; the payment itself happened.
        return self.trade_state in ("SUCCESS", "REFUND")


@dataclass(frozen=True)
class ChannelRefundResult:
    """What the channel says of one refund: from the refund call, a query or a notification."""

    out_refund_no: str
    out_trade_no: str
    status: str  # SUCCESS, PROCESSING, CLOSED, ABNORMAL
    amount_fen: int  # amount.refund
    refund_id: str | None = None
    success_time: datetime | None = None


@dataclass(frozen=True)
class Notification:
    """A verified and decrypted notification: exactly one of `payment` and `refund` is set."""

    id: str
    event_type: str  # TRANSACTION.SUCCESS, REFUND.SUCCESS, REFUND.ABNORMAL, REFUND.CLOSED
    payment: ChannelPayment | None = None
    refund: ChannelRefundResult | None = None


class ChannelError(Exception):
    """The channel could not be reached or failed (network, 5xx, a malformed answer): try again
    later. The message is for logs, never for clients."""


class OrderNotFound(ChannelError):
    """The channel has no order with this out_trade_no: it was never created there, so it
    cannot have been paid."""


class RefundRefused(Exception):
    """The channel will not make this refund (too old, the payer's account closed, not enough
    balance...): it becomes a manual payout. `code` is the channel's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class NotificationRejected(Exception):
    """A notification that failed verification (signature, key, timestamp, decryption or
    format). Nothing is applied; the message is for logs."""


class BillUnavailable(Exception):
    """The channel has no trade bill for the day (yet), or its hash did not match."""


class PaymentChannel(Protocol):
    """A channel that takes the money in the mini-program and confirms by notification."""

    name: str  # the ledger's `channel_clearing:<name>` and PaymentOrder.channel

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
        """Open a JSAPI order; returns the prepay id. The same out_trade_no with the same
        content returns the same prepay id (the channel is idempotent on it)."""
        ...

    def payment_request(self, prepay_id: str) -> PaymentRequest:
        """Sign the parameters for `wx.requestPayment` (no network)."""
        ...

    async def query_order(self, out_trade_no: str) -> ChannelPayment:
        """The order as the channel sees it now; ChannelError when it cannot tell."""
        ...

    async def close_order(self, out_trade_no: str) -> None:
        """Close an unpaid order so it can no longer be paid."""
        ...

    async def refund(
        self,
        *,
        out_refund_no: str,
        out_trade_no: str,
        amount_fen: int,
        total_fen: int,
        reason: str,
    ) -> ChannelRefundResult:
        """Ask for a refund against a paid order; RefundRefused when the channel will not make
        it. The same out_refund_no is the same refund (safe to retry)."""
        ...

    async def query_refund(self, out_refund_no: str) -> ChannelRefundResult:
        """A refund as the channel sees it now."""
        ...

    async def trade_bill(self, bill_date: date) -> bytes:
        """The day's trade bill (all trades), downloaded, its hash checked and unzipped;
        BillUnavailable when there is none or the hash does not match."""
        ...

    def verify_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Check the signature and the timestamp, decrypt the resource; NotificationRejected
        otherwise. `headers` keys are lower case."""
        ...

    async def aclose(self) -> None:
        """Close the HTTP client (the lifespan's end)."""
        ...
