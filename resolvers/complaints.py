"""Root fields and mutations for complaints."""

from __future__ import annotations

from auth import scoping
from models.enums import ComplaintOutcome, Role
from schema.complaints import Complaint, ComplaintFilter, ComplaintInput
from schema.context import Info
from schema.ids import decode_id
from schema.pagination import Connection, to_connection
from services import complaints as complaint_service
from services.pagination import newest_first, page_of


async def complaints(
    info: Info, filter: ComplaintFilter | None, first: int | None, after: str | None
) -> Connection[Complaint]:
    principal = info.context.principal
    principal.require_user()
    given = filter or ComplaintFilter()
    page = await page_of(
        scoping.readable_complaints(principal),
        newest_first("created_at"),
        first,
        after,
        {
            "merchant_id": decode_id(given.merchant_id, "Merchant") if given.merchant_id else None,
            "status": given.status,
            "category": given.category,
        },
    )
    return to_connection(page, Complaint.of)


async def file_complaint(info: Info, input: ComplaintInput) -> Complaint:
    consumer_id = info.context.principal.require_role(Role.CONSUMER)
    row = await complaint_service.file_complaint(
        consumer_id=consumer_id,
        merchant_id=decode_id(input.merchant_id, "Merchant"),
        card_id=decode_id(input.card_id, "Card") if input.card_id is not None else None,
        category=input.category,
        description=input.description,
    )
    return Complaint.of(row)


async def respond_to_complaint(info: Info, complaint_id: str, message: str) -> Complaint:
    row = await complaint_service.respond(
        principal=info.context.principal,
        complaint_id=decode_id(complaint_id, "Complaint"),
        message=message,
    )
    return Complaint.of(row)


async def escalate_complaint(info: Info, complaint_id: str, message: str | None) -> Complaint:
    row = await complaint_service.escalate(
        principal=info.context.principal,
        complaint_id=decode_id(complaint_id, "Complaint"),
        message=message,
    )
    return Complaint.of(row)


async def withdraw_complaint(info: Info, complaint_id: str) -> Complaint:
    row = await complaint_service.withdraw(
        principal=info.context.principal, complaint_id=decode_id(complaint_id, "Complaint")
    )
    return Complaint.of(row)


async def resolve_complaint(
    info: Info,
    complaint_id: str,
    outcome: ComplaintOutcome,
    resolution: str,
    refund_card: bool | None,
) -> Complaint:
    row = await complaint_service.resolve(
        principal=info.context.principal,
        complaint_id=decode_id(complaint_id, "Complaint"),
        outcome=outcome,
        resolution=resolution,
        refund_card_too=bool(refund_card),
    )
    return Complaint.of(row)
