"""Refund requests for the API: the caller has passed the field's rule (schema/refunds.py)."""

from __future__ import annotations

from auth import scoping
from core.principal import Principal
from models import RefundRequest
from models.enums import RefundStatus
from services import refunds
from services.pagination import Page, newest_first, page_of


async def refund_requests(
    principal: Principal, status: RefundStatus | None, first: int | None, after: str | None
) -> Page[RefundRequest]:
    return await page_of(
        scoping.readable_refund_requests(principal),
        newest_first("requested_at"),
        first,
        after,
        {"status": status},
    )


async def request_refund(principal: Principal, card_id: int, reason: str) -> RefundRequest:
    return await refunds.request_refund(principal=principal, card_id=card_id, reason=reason)


async def decide_refund(
    principal: Principal, refund_id: int, approve: bool, note: str | None
) -> RefundRequest:
    return await refunds.decide_refund(
        principal=principal, refund_id=refund_id, approve=approve, note=note
    )
