"""node(id:): the row behind a global ID, if the caller may read it.

The schema decodes the ID and wraps the row (schema/node_field.py); this module
only knows, per type name, the scoping function that says what the caller may
read of that type, so node(id:) reveals nothing a list hides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tortoise.models import Model
from tortoise.queryset import QuerySet

from auth import scoping
from core.principal import Principal

# Type name -> what the caller may read of it.
READABLE: dict[str, Callable[[Principal], QuerySet[Any]]] = {
    "User": scoping.readable_users,
    "Merchant": scoping.readable_merchants,
    "Store": scoping.readable_stores,
    "CardProduct": scoping.readable_card_products,
    "Card": scoping.readable_cards,
    "Transaction": scoping.readable_transactions,
    "RefundRequest": scoping.readable_refund_requests,
    "PaymentOrder": scoping.readable_payment_orders,
    "ReconciliationReport": scoping.readable_reconciliation_reports,
    "ReconciliationDifference": scoping.readable_reconciliation_differences,
    "Complaint": scoping.readable_complaints,
    "RiskAlert": scoping.readable_risk_alerts,
    "FinancingApplication": scoping.readable_financing,
    "Announcement": scoping.readable_announcements,
    "AuditEntry": scoping.readable_audit_entries,
    "ManualPayout": scoping.readable_payouts,
}


async def node(principal: Principal, type_name: str, key: int) -> Model | None:
    """The row of `type_name` with this key, or None when the caller may not read one."""
    readable = READABLE.get(type_name)
    if readable is None:
        return None
    row: Model | None = await readable(principal).get_or_none(id=key)
    return row
