"""The risk domain's reads and writes for the API: the caller has passed the field's rule."""

from __future__ import annotations

from auth import scoping
from auth.principal import Principal
from models import RiskAlert
from models.enums import AlertStatus, RiskAlertKind, RiskLevel
from services.pagination import Page, page_request, paginate

LEVELS_LOW_FIRST = [RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH]


async def risk_alerts(
    principal: Principal,
    *,
    merchant_id: int | None,
    kind: RiskAlertKind | None,
    status: AlertStatus | None,
    min_severity: RiskLevel | None,
    first: int | None,
    after: str | None,
) -> Page[RiskAlert]:
    request = page_request(first, after)
    query = scoping.readable_risk_alerts(principal)
    if merchant_id is not None:
        query = query.filter(merchant_id=merchant_id)
    if kind is not None:
        query = query.filter(kind=kind)
    if status is not None:
        query = query.filter(status=status)
    if min_severity is not None:
        query = query.filter(severity__in=LEVELS_LOW_FIRST[LEVELS_LOW_FIRST.index(min_severity) :])
    return await paginate(query.order_by("-raised_at", "-id"), request)
