"""The supervision domain's reads and writes for the API: the caller has passed the field's rule."""

from __future__ import annotations

import datetime as dt

from auth import scoping
from core.principal import Principal
from models import AuditEntry, Merchant
from services import supervision
from services.pagination import Page, newest_first, page_of
from services.supervision import ClosureReport
from services.supervision_stats import SupervisionFigures, supervision_figures
from settings import get_settings


async def supervision_stats(
    principal: Principal, start: dt.date | None, end: dt.date | None
) -> SupervisionFigures:
    return await supervision_figures(start, end, get_settings().timezone)


async def audit_trail(
    principal: Principal,
    *,
    merchant_id: int | None,
    action: str | None,
    actor_id: int | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    first: int | None,
    after: str | None,
) -> Page[AuditEntry]:
    return await page_of(
        scoping.readable_audit_entries(principal),
        newest_first("at"),
        first,
        after,
        {
            "merchant_id": merchant_id,
            "action": action.strip().upper() if action else None,
            "actor_id": actor_id,
            "at__gte": start,
            "at__lt": end,
        },
    )


async def suspend_merchant(principal: Principal, merchant_id: int, reason: str) -> Merchant:
    return await supervision.suspend_merchant(
        principal=principal, merchant_id=merchant_id, reason=reason
    )


async def reinstate_merchant(principal: Principal, merchant_id: int, reason: str) -> Merchant:
    return await supervision.reinstate_merchant(
        principal=principal, merchant_id=merchant_id, reason=reason
    )


async def close_merchant(principal: Principal, merchant_id: int, reason: str) -> ClosureReport:
    return await supervision.close_merchant(
        principal=principal, merchant_id=merchant_id, reason=reason
    )
