"""Manual payouts for the API: the caller has passed the field's rule (schema/payouts.py)."""

from __future__ import annotations

from auth import scoping
from core.principal import Principal
from models import ManualPayout
from models.enums import PayoutStatus
from services import payouts
from services.pagination import Page, newest_first, page_of


async def manual_payouts(
    principal: Principal, status: PayoutStatus | None, first: int | None, after: str | None
) -> Page[ManualPayout]:
    return await page_of(
        scoping.readable_payouts(principal),
        newest_first("created_at"),
        first,
        after,
        {"status": status},
    )


async def mark_payout_paid(
    principal: Principal, payout_id: int, payment_reference: str, idempotency_key: str | None
) -> ManualPayout:
    return await payouts.mark_paid(
        principal=principal,
        payout_id=payout_id,
        payment_reference=payment_reference,
        idempotency_key=idempotency_key,
    )
