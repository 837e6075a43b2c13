"""What regulators get back from supervision: closure reports and the audit trail."""

from __future__ import annotations

import datetime as dt
import json

import strawberry

from models import AuditEntry as AuditEntryRow
from schema.accounts import User, load_user
from schema.context import Info
from schema.ids import encode_id
from schema.merchants import Merchant
from schema.node import Node
from schema.scalars import Money


@strawberry.type
class MerchantClosureReport:
    merchant: Merchant
    cards_refunded: int
    cash_refunded: Money
    shortfall: Money = strawberry.field(
        description="Liability that custody could not cover (0.00 when fully covered)."
    )


@strawberry.type
class AuditDetail:
    key: str
    value: str


@strawberry.type(description="A regulator's action: who did what, to which object, when and why.")
class AuditEntry(Node):
    row: strawberry.Private[AuditEntryRow]

    @classmethod
    def of(cls, row: AuditEntryRow) -> AuditEntry:
        return cls(id=strawberry.ID(encode_id("AuditEntry", row.id)), row=row)

    @strawberry.field
    async def actor(self, info: Info) -> User:
        return await load_user(info, self.row.actor_id)

    @strawberry.field(
        description="e.g. MERCHANT_APPROVED, MERCHANT_SUSPENDED, MERCHANT_CLOSED, CUSTODY_RATIO_SET, "
        "COMPLAINT_RESOLVED, REFUND_APPROVED, ANNOUNCEMENT_PUBLISHED."
    )
    def action(self) -> str:
        return self.row.action

    @strawberry.field(description="The type of the object acted on, e.g. Merchant.")
    def subject_type(self) -> str:
        return self.row.subject_type

    @strawberry.field(description="The global ID of the object acted on.")
    def subject_id(self) -> strawberry.ID:
        return strawberry.ID(encode_id(self.row.subject_type, self.row.subject_id))

    @strawberry.field
    async def merchant(self, info: Info) -> Merchant | None:
        if self.row.merchant_id is None:
            return None
        row = await info.context.loaders.merchant.load(self.row.merchant_id)
        return Merchant.of(row) if row else None

    @strawberry.field
    def reason(self) -> str | None:
        return self.row.reason

    @strawberry.field(
        description="What changed, e.g. from/to status or ratio, cards refunded. Values that are "
        'not text are written as JSON: "true", "0.8", "3".'
    )
    def details(self) -> list[AuditDetail]:
        # str() would leak Python spellings ("True", "None") to API clients.
        return [
            AuditDetail(
                key=key,
                value=value if isinstance(value, str) else json.dumps(value, ensure_ascii=False),
            )
            for key, value in sorted(self.row.details.items())
        ]

    @strawberry.field
    def at(self) -> dt.datetime:
        return self.row.at


@strawberry.input
class AuditFilter:
    merchant_id: strawberry.ID | None = None
    action: str | None = None
    actor_id: strawberry.ID | None = None
    from_: dt.datetime | None = strawberry.field(default=None, name="from")
    to: dt.datetime | None = None
