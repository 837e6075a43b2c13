"""The risk domain's reads and writes for the API: the caller has passed the field's rule."""

from __future__ import annotations

from collections.abc import AsyncIterator

from auth import scoping
from core.principal import Principal
from models import RiskAlert
from models.enums import AlertStatus, RiskAlertKind, RiskLevel
from services import events
from services import risk as risk_service
from services.pagination import Page, newest_first, page_of
from services.risk_rules import SEVERITY_RANK


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
    severities = None
    if min_severity is not None:
        floor = SEVERITY_RANK[min_severity]
        severities = [level for level, rank in SEVERITY_RANK.items() if rank >= floor]
    return await page_of(
        scoping.readable_risk_alerts(principal),
        newest_first("raised_at"),
        first,
        after,
        {"merchant_id": merchant_id, "kind": kind, "status": status, "severity__in": severities},
    )


async def update_risk_alert(
    principal: Principal, alert_id: int, status: AlertStatus, note: str | None
) -> RiskAlert:
    return await risk_service.update_alert(principal, alert_id, status, note)


async def risk_alerts_raised(principal: Principal) -> AsyncIterator[RiskAlert]:
    """Every new alert the caller may read, as it is raised."""
    async for event in events.bus().subscribe(events.RISK_ALERTS):
        row = await scoping.readable_risk_alerts(principal).get_or_none(id=event["alert_id"])
        if row is not None:
            yield row
