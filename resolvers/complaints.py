"""Root fields and mutations for complaints."""

from __future__ import annotations

from auth import scoping
from schema.complaints import Complaint, ComplaintFilter
from schema.context import Info
from schema.ids import decode_id
from schema.pagination import Connection, to_connection
from services.pagination import page_request, paginate


async def complaints(
    info: Info, filter: ComplaintFilter | None, first: int | None, after: str | None
) -> Connection[Complaint]:
    principal = info.context.principal
    principal.require_user()
    request = page_request(first, after)
    query = scoping.readable_complaints(principal)
    if filter is not None:
        if filter.merchant_id is not None:
            query = query.filter(merchant_id=decode_id(filter.merchant_id, "Merchant"))
        if filter.status is not None:
            query = query.filter(status=filter.status)
        if filter.category is not None:
            query = query.filter(category=filter.category)
    page = await paginate(query.order_by("-created_at", "-id"), request)
    return to_connection(page, Complaint.of)
