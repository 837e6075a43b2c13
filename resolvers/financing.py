"""The financing domain's reads and writes for the API: the caller has passed the field's rule."""

from __future__ import annotations

from auth import scoping
from core.principal import Principal
from models import FinancingApplication
from models.enums import FinancingStatus
from services import financing
from services.pagination import Page, newest_first, page_of


async def financing_applications(
    principal: Principal, *, status: FinancingStatus | None, first: int | None, after: str | None
) -> Page[FinancingApplication]:
    return await page_of(
        scoping.readable_financing(principal),
        newest_first("created_at"),
        first,
        after,
        {"status": status},
    )


async def apply_for_financing(
    principal: Principal, *, amount_fen: int, term_months: int, purpose: str
) -> FinancingApplication:
    return await financing.apply(
        principal, amount_fen=amount_fen, term_months=term_months, purpose=purpose
    )


async def decide_financing(
    principal: Principal, application_id: int, *, approve: bool, note: str | None
) -> FinancingApplication:
    return await financing.decide(principal, application_id, approve=approve, note=note)
