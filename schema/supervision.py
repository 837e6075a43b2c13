"""Supervision: regulators' statistics, the audit trail, and suspending, reinstating and
closing merchants; the supervision domain's types and its root fields.

The root types in schema/root.py merge SupervisionQuery and SupervisionMutation with
the other domains'; each field declares who may call it (schema/permissions.py)
and hands the decoded arguments to resolvers/supervision.py.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import strawberry

from models import AuditEntry as AuditEntryRow
from models.enums import Role
from resolvers import supervision
from schema.accounts import User, load_user
from schema.context import Info
from schema.enums import MerchantStatus
from schema.ids import decode_id, encode_id
from schema.merchants import Merchant
from schema.node import Node
from schema.pagination import Connection, to_connection
from schema.permissions import allow
from schema.scalars import Money
from services.supervision import ClosureReport
from services.supervision_stats import SupervisionFigures


@strawberry.type
class MerchantClosureReport:
    merchant: Merchant
    cards_refunded: int
    cash_refunded: Money
    shortfall: Money = strawberry.field(
        description="Liability that custody could not cover (0.00 when fully covered)."
    )

    @classmethod
    def of(cls, report: ClosureReport) -> MerchantClosureReport:
        return cls(
            merchant=Merchant.of(report.merchant),
            cards_refunded=report.cards_refunded,
            cash_refunded=Money(report.cash_refunded_fen),
            shortfall=Money(report.shortfall_fen),
        )


@strawberry.type
class MerchantStatusCount:
    status: MerchantStatus
    count: int


@strawberry.type(description="Cash flows of one day in the platform's time zone.")
class DailyFlow:
    date: dt.date
    sales: Money = strawberry.field(description="Cash paid for cards and top-ups.")
    redemptions: Money = strawberry.field(description="Cash released to merchants by redemptions.")
    refunds: Money = strawberry.field(description="Cash paid back to consumers.")


@strawberry.type
class SupervisionStats:
    figures: strawberry.Private[SupervisionFigures]

    @strawberry.field
    def merchants_by_status(self) -> list[MerchantStatusCount]:
        return [
            MerchantStatusCount(status=status, count=count)
            for status, count in self.figures.merchants_by_status.items()
        ]

    @strawberry.field(description="Cards that are ACTIVE now.")
    def active_cards(self) -> int:
        return self.figures.active_cards

    @strawberry.field(description="Cash in custody now, over all merchants.")
    def escrow_held(self) -> Money:
        return Money(self.figures.escrow_held_fen)

    @strawberry.field(description="Cash value of every live card now.")
    def outstanding_liability(self) -> Money:
        return Money(self.figures.outstanding_liability_fen)

    @strawberry.field(description="Cash paid for cards and top-ups within the period.")
    def sales_total(self) -> Money:
        return Money(self.figures.sales_fen)

    @strawberry.field(description="Cash released to merchants by redemptions within the period.")
    def redemptions_total(self) -> Money:
        return Money(self.figures.redemptions_fen)

    @strawberry.field(description="Cash paid back to consumers within the period.")
    def refunds_total(self) -> Money:
        return Money(self.figures.refunds_fen)

    @strawberry.field(description="Complaints submitted, answered or under mediation now.")
    def open_complaints(self) -> int:
        return self.figures.open_complaints

    @strawberry.field(description="Risk alerts OPEN or ACKNOWLEDGED now.")
    def open_alerts(self) -> int:
        return self.figures.open_alerts

    @strawberry.field(description="One entry per day of the period, oldest first.")
    def daily(self) -> list[DailyFlow]:
        return [
            DailyFlow(
                date=day.date,
                sales=Money(day.sales_fen),
                redemptions=Money(day.redemptions_fen),
                refunds=Money(day.refunds_fen),
            )
            for day in self.figures.daily
        ]


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


@strawberry.type
class SupervisionQuery:
    @strawberry.field(description="Regulators only.", extensions=[allow(Role.REGULATOR)])
    async def supervision_stats(
        self,
        info: Info,
        from_: Annotated[dt.date | None, strawberry.argument(name="from")] = None,
        to: dt.date | None = None,
    ) -> SupervisionStats:
        figures = await supervision.supervision_stats(info.context.principal, from_, to)
        return SupervisionStats(figures=figures)

    @strawberry.field(
        description="Regulators only: their actions (reviews, suspensions, closures, custody "
        "changes, complaint rulings, refund decisions, announcements), newest first.",
        extensions=[allow(Role.REGULATOR)],
    )
    async def audit_trail(
        self,
        info: Info,
        filter: AuditFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditEntry]:
        filter = filter or AuditFilter()
        page = await supervision.audit_trail(
            info.context.principal,
            merchant_id=decode_id(filter.merchant_id, "Merchant") if filter.merchant_id else None,
            action=filter.action,
            actor_id=decode_id(filter.actor_id, "User") if filter.actor_id else None,
            start=filter.from_,
            end=filter.to,
            first=first,
            after=after,
        )
        return to_connection(page, AuditEntry.of)


@strawberry.type
class SupervisionMutation:
    @strawberry.mutation(
        description="Regulators: stops sales; redemption and refunds go on.",
        extensions=[allow(Role.REGULATOR)],
    )
    async def suspend_merchant(
        self, info: Info, merchant_id: strawberry.ID, reason: str
    ) -> Merchant:
        row = await supervision.suspend_merchant(
            info.context.principal, decode_id(merchant_id, "Merchant"), reason
        )
        return Merchant.of(row)

    @strawberry.mutation(
        description="Regulators: a suspended merchant sells again.",
        extensions=[allow(Role.REGULATOR)],
    )
    async def reinstate_merchant(
        self, info: Info, merchant_id: strawberry.ID, reason: str
    ) -> Merchant:
        row = await supervision.reinstate_merchant(
            info.context.principal, decode_id(merchant_id, "Merchant"), reason
        )
        return Merchant.of(row)

    @strawberry.mutation(
        description="Closes a merchant and refunds every live card from custody.",
        extensions=[allow(Role.REGULATOR)],
    )
    async def close_merchant(
        self, info: Info, merchant_id: strawberry.ID, reason: str
    ) -> MerchantClosureReport:
        report = await supervision.close_merchant(
            info.context.principal, decode_id(merchant_id, "Merchant"), reason
        )
        return MerchantClosureReport.of(report)
