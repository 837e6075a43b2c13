"""Root fields and mutations for credit and risk."""

from __future__ import annotations

from auth import scoping
from models.enums import RiskLevel
from schema.context import Info
from schema.credit import RiskAlert, RiskAlertFilter
from schema.ids import decode_id
from schema.pagination import Connection, to_connection
from services.errors import Forbidden
from services.pagination import page_request, paginate

LEVELS_LOW_FIRST = [RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH]


async def risk_alerts(
    info: Info, filter: RiskAlertFilter | None, first: int | None, after: str | None
) -> Connection[RiskAlert]:
    principal = info.context.principal
    principal.require_user()
    if not (principal.is_regulator or principal.is_merchant):
        raise Forbidden("Only regulators and merchants (their own) see risk alerts")
    request = page_request(first, after)
    query = scoping.readable_risk_alerts(principal)
    if filter is not None:
        if filter.merchant_id is not None:
            query = query.filter(merchant_id=decode_id(filter.merchant_id, "Merchant"))
        if filter.kind is not None:
            query = query.filter(kind=filter.kind)
        if filter.status is not None:
            query = query.filter(status=filter.status)
        if filter.min_severity is not None:
            at_least = LEVELS_LOW_FIRST[LEVELS_LOW_FIRST.index(filter.min_severity) :]
            query = query.filter(severity__in=at_least)
    page = await paginate(query.order_by("-raised_at", "-id"), request)
    return to_connection(page, RiskAlert.of)
