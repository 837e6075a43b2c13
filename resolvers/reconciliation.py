"""Reconciliation reports for the API: the caller has passed the field's rule (regulators)."""

from __future__ import annotations

import datetime as dt

from auth import scoping
from core.principal import Principal
from models import ReconciliationDifference, ReconciliationReport
from models.enums import ReconciliationSource
from services import reconciliation
from services.pagination import Page, newest_first, page_of


async def reconciliation_reports(
    principal: Principal,
    source: ReconciliationSource | None,
    from_: dt.date | None,
    to: dt.date | None,
    first: int | None,
    after: str | None,
) -> Page[ReconciliationReport]:
    """Newest run first; `from` and `to` bound the statement's date, both included."""
    return await page_of(
        scoping.readable_reconciliation_reports(principal),
        newest_first("created_at"),
        first,
        after,
        {"source": source, "statement_date__gte": from_, "statement_date__lte": to},
    )


async def reconciliation_report(
    principal: Principal, report_id: int
) -> ReconciliationReport | None:
    return await scoping.readable_reconciliation_reports(principal).get_or_none(id=report_id)


async def explain_reconciliation_difference(
    principal: Principal, difference_id: int, explanation: str
) -> ReconciliationDifference:
    return await reconciliation.explain_difference(principal, difference_id, explanation)
