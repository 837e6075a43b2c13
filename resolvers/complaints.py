"""The complaints domain's reads and writes for the API: the caller has passed the field's rule."""

from __future__ import annotations

from auth import scoping
from core.principal import Principal
from models import Complaint
from models.enums import ComplaintCategory, ComplaintOutcome, ComplaintStatus
from services import complaints as complaint_service
from services.pagination import Page, newest_first, page_of


async def complaints(
    principal: Principal,
    *,
    merchant_id: int | None,
    status: ComplaintStatus | None,
    category: ComplaintCategory | None,
    first: int | None,
    after: str | None,
) -> Page[Complaint]:
    return await page_of(
        scoping.readable_complaints(principal),
        newest_first("created_at"),
        first,
        after,
        {"merchant_id": merchant_id, "status": status, "category": category},
    )


async def file_complaint(
    principal: Principal,
    *,
    merchant_id: int,
    card_id: int | None,
    category: ComplaintCategory,
    description: str,
) -> Complaint:
    return await complaint_service.file_complaint(
        consumer_id=principal.require_user(),
        merchant_id=merchant_id,
        card_id=card_id,
        category=category,
        description=description,
    )


async def respond_to_complaint(principal: Principal, complaint_id: int, message: str) -> Complaint:
    return await complaint_service.respond(
        principal=principal, complaint_id=complaint_id, message=message
    )


async def escalate_complaint(
    principal: Principal, complaint_id: int, message: str | None
) -> Complaint:
    return await complaint_service.escalate(
        principal=principal, complaint_id=complaint_id, message=message
    )


async def withdraw_complaint(principal: Principal, complaint_id: int) -> Complaint:
    return await complaint_service.withdraw(principal=principal, complaint_id=complaint_id)


async def resolve_complaint(
    principal: Principal,
    complaint_id: int,
    *,
    outcome: ComplaintOutcome,
    resolution: str,
    refund_card: bool,
) -> Complaint:
    return await complaint_service.resolve(
        principal=principal,
        complaint_id=complaint_id,
        outcome=outcome,
        resolution=resolution,
        refund_card_too=refund_card,
    )
