"""How consumers pay: the one-step sandbox, or a two-step channel (WeChat Pay).

With the sandbox (the default, demos and most tests) purchaseCard and topUpCard pay in one
step. With a channel installed (`use_channel`, by the server's lifespan from settings) money
comes in through payment orders and the channel's notifications (services/payment_orders.py,
services/payment_notices.py) and goes back through the channel's refunds
(services/channel_refunds.py).

The sandbox provider: Payments are authorised before the
database transaction (never network I/O inside one) under a reference made of
the caller and the idempotency key, so a retried request is never charged twice,
and voided when the transaction does not commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from channel.interface import PaymentChannel
from core.errors import DomainError, ErrorCode


@dataclass(frozen=True)
class Payment:
    payment_id: str
    amount_fen: int


class PaymentDeclined(DomainError):
    code = ErrorCode.INVALID_STATE


class PaymentProvider(Protocol):
    async def authorize(self, reference: str, amount_fen: int) -> Payment:
        """Reserve `amount_fen` from the payer; the same reference returns the same payment."""
        ...

    async def void(self, payment: Payment) -> None:
        """Release an authorisation that was not used."""
        ...


class SandboxProvider:
    """Confirms every payment at once; keeps nothing beyond the process."""

    def __init__(self) -> None:
        self._by_reference: dict[str, Payment] = {}

    async def authorize(self, reference: str, amount_fen: int) -> Payment:
        payment = self._by_reference.get(reference)
        if payment is None or payment.amount_fen != amount_fen:
            payment = Payment(payment_id=f"sandbox-{uuid.uuid4()}", amount_fen=amount_fen)
            self._by_reference[reference] = payment
        return payment

    async def void(self, payment: Payment) -> None:
        for reference, known in list(self._by_reference.items()):
            if known == payment:
                del self._by_reference[reference]


_provider: PaymentProvider = SandboxProvider()


def provider() -> PaymentProvider:
    return _provider


def use_provider(new_provider: PaymentProvider) -> PaymentProvider:
    """Install a provider (deployment wiring and tests); returns the previous one."""
    global _provider
    previous, _provider = _provider, new_provider
    return previous


_channel: PaymentChannel | None = None


def channel() -> PaymentChannel | None:
    """The two-step channel in use, or None for the sandbox."""
    return _channel


def use_channel(new_channel: PaymentChannel | None) -> PaymentChannel | None:
    """Install a two-step channel (the lifespan, tests), or None for the sandbox; returns the
    previous one."""
    global _channel
    previous, _channel = _channel, new_channel
    return previous
