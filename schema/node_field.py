"""The `node(id:)` root field: any object by its global ID, wrapped in its type.

resolvers/node.py finds the row through the type's scoping function; this
module decodes the ID and holds, per type name, how to wrap a row. The two
tables name the same types.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry

from core.errors import BadInput
from resolvers import node
from schema.accounts import User
from schema.announcements import Announcement
from schema.cards import Card, Transaction
from schema.complaints import Complaint
from schema.context import Info
from schema.financing import FinancingApplication
from schema.ids import MAX_KEY, decode_any, is_key
from schema.merchants import CardProduct, Merchant, Store
from schema.node import Node
from schema.payments import PaymentOrder
from schema.payouts import ManualPayout
from schema.permissions import anyone
from schema.reconciliation import ReconciliationDifference, ReconciliationReport
from schema.refunds import RefundRequest
from schema.risk import RiskAlert
from schema.supervision import AuditEntry

# Type name -> how to wrap a row of it.
WRAP: dict[str, Callable[[Any], Node]] = {
    "User": User.of,
    "Merchant": Merchant.of,
    "Store": Store.of,
    "CardProduct": CardProduct.of,
    "Card": Card.of,
    "Transaction": Transaction.of,
    "RefundRequest": RefundRequest.of,
    "PaymentOrder": PaymentOrder.of,
    "ReconciliationReport": ReconciliationReport.of,
    "ReconciliationDifference": ReconciliationDifference.of,
    "Complaint": Complaint.of,
    "RiskAlert": RiskAlert.of,
    "FinancingApplication": FinancingApplication.of,
    "Announcement": Announcement.of,
    "AuditEntry": AuditEntry.of,
    "ManualPayout": ManualPayout.of,
}
assert set(WRAP) == set(node.READABLE)


@strawberry.type
class NodeQuery:
    @strawberry.field(
        description="Any object by its global ID, if the caller may read it.",
        extensions=[anyone()],
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        """Null for a type without nodes or a key with no readable row; BAD_USER_INPUT when
        malformed."""
        type_name, pk = decode_any(id)
        wrap = WRAP.get(type_name)
        if wrap is None:
            return None
        if not is_key(pk):
            raise BadInput(f"{id!r} is not a {type_name} ID")
        key = int(pk)
        if key > MAX_KEY:
            return None
        row = await node.node(info.context.principal, type_name, key)
        return wrap(row) if row is not None else None
