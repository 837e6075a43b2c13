"""node(id:): any object by its global ID, if the caller may read it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tortoise.queryset import QuerySet

from auth import scoping
from core.errors import BadInput
from core.principal import Principal
from models import Announcement as AnnouncementRow
from schema.accounts import User
from schema.announcements import Announcement
from schema.cards import Card, Transaction
from schema.complaints import Complaint
from schema.context import Info
from schema.financing import FinancingApplication
from schema.ids import MAX_KEY, decode_any, is_key
from schema.merchants import CardProduct, Merchant, Store
from schema.node import Node
from schema.refunds import RefundRequest
from schema.risk import RiskAlert
from schema.supervision import AuditEntry

# Type name -> (what the caller may read of it, how to wrap a row).
READABLE: dict[str, tuple[Callable[[Principal], QuerySet[Any]], Callable[[Any], Node]]] = {
    "User": (scoping.readable_users, User.of),
    "Merchant": (scoping.readable_merchants, Merchant.of),
    "Store": (scoping.readable_stores, Store.of),
    "CardProduct": (scoping.readable_card_products, CardProduct.of),
    "Card": (scoping.readable_cards, Card.of),
    "Transaction": (scoping.readable_transactions, Transaction.of),
    "RefundRequest": (scoping.readable_refund_requests, RefundRequest.of),
    "Complaint": (scoping.readable_complaints, Complaint.of),
    "RiskAlert": (scoping.readable_risk_alerts, RiskAlert.of),
    "FinancingApplication": (scoping.readable_financing, FinancingApplication.of),
    "Announcement": (lambda _principal: AnnouncementRow.all(), Announcement.of),
    "AuditEntry": (scoping.readable_audit_entries, AuditEntry.of),
}


async def node(info: Info, id: str) -> Node | None:
    """Null for a type without nodes or a key with no readable row; BAD_USER_INPUT when malformed."""
    type_name, pk = decode_any(id)
    entry = READABLE.get(type_name)
    if entry is None:
        return None
    if not is_key(pk):
        raise BadInput(f"{id!r} is not a {type_name} ID")
    key = int(pk)
    if key > MAX_KEY:
        return None
    readable, wrap = entry
    row = await readable(info.context.principal).get_or_none(id=key)
    return wrap(row) if row else None
