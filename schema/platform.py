"""Announcements and supervision statistics."""

from __future__ import annotations

import datetime as dt

import strawberry

from models import Announcement as AnnouncementRow
from schema.enums import AnnouncementKind, MerchantStatus
from schema.ids import encode_id
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
