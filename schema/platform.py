"""Announcements, financing applications and supervision statistics."""

from __future__ import annotations

import datetime as dt

import strawberry

from models import Announcement as AnnouncementRow
from models import FinancingApplication as FinancingApplicationRow
from schema.context import Info
from schema.enums import AnnouncementKind, CreditGrade, FinancingStatus, MerchantStatus
from schema.ids import encode_id
from schema.merchants import Merchant, load_merchant
from schema.node import Node
from schema.scalars import Money
from services.stats import SupervisionFigures


@strawberry.type
class Announcement(Node):
    row: strawberry.Private[AnnouncementRow]

    @classmethod
    def of(cls, row: AnnouncementRow) -> Announcement:
        return cls(id=strawberry.ID(encode_id("Announcement", row.id)), row=row)

    @strawberry.field
    def kind(self) -> AnnouncementKind:
        return self.row.kind

    @strawberry.field
    def title(self) -> str:
        return self.row.title

    @strawberry.field
    def body(self) -> str:
        return self.row.body

    @strawberry.field
    def pinned(self) -> bool:
        return self.row.pinned

    @strawberry.field
    def published_at(self) -> dt.datetime:
        return self.row.published_at


@strawberry.type
class FinancingApplication(Node):
    row: strawberry.Private[FinancingApplicationRow]

    @classmethod
    def of(cls, row: FinancingApplicationRow) -> FinancingApplication:
        return cls(id=strawberry.ID(encode_id("FinancingApplication", row.id)), row=row)

    @strawberry.field
    async def merchant(self, info: Info) -> Merchant:
        return await load_merchant(info, self.row.merchant_id)

    @strawberry.field
    def amount(self) -> Money:
        return Money(self.row.amount_fen)

    @strawberry.field
    def term_months(self) -> int:
        return self.row.term_months

    @strawberry.field
    def purpose(self) -> str:
        return self.row.purpose

    @strawberry.field
    def status(self) -> FinancingStatus:
        return self.row.status

    @strawberry.field(description="The merchant's credit grade when it applied.")
    def grade_at_application(self) -> CreditGrade:
        return self.row.grade_at_application

    @strawberry.field
    def created_at(self) -> dt.datetime:
        return self.row.created_at

    @strawberry.field
    def decided_at(self) -> dt.datetime | None:
        return self.row.decided_at

    @strawberry.field
    def decision_note(self) -> str | None:
        return self.row.decision_note


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


@strawberry.input
class AnnouncementInput:
    kind: AnnouncementKind
    title: str
    body: str
    pinned: bool | None = False
