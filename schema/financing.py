"""Financing applications: the financing domain's types and its root fields.

The root types in schema/root.py merge FinancingQuery and FinancingMutation with
the other domains'; each field declares who may call it (schema/permissions.py)
and hands the decoded arguments to resolvers/financing.py.
"""

from __future__ import annotations

import datetime as dt

import strawberry

from models import FinancingApplication as FinancingApplicationRow
from models.enums import Role
from resolvers import financing
from schema.context import Info
from schema.enums import CreditGrade, FinancingStatus
from schema.ids import decode_id, encode_id
from schema.merchants import Merchant, load_merchant
from schema.node import Node
from schema.pagination import Connection, to_connection
from schema.permissions import allow
from schema.scalars import Money


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


@strawberry.input
class FinancingInput:
    amount: Money
    term_months: int
    purpose: str


@strawberry.type
class FinancingQuery:
    @strawberry.field(
        description="Regulators see every application, a merchant its own; newest first.",
        extensions=[allow(Role.MERCHANT, Role.REGULATOR)],
    )
    async def financing_applications(
        self,
        info: Info,
        status: FinancingStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[FinancingApplication]:
        page = await financing.financing_applications(
            info.context.principal, status=status, first=first, after=after
        )
        return to_connection(page, FinancingApplication.of)


@strawberry.type
class FinancingMutation:
    @strawberry.mutation(
        description="The merchant's owner asks the partner bank for credit: the merchant must "
        "be active, graded A or B, with no open HIGH risk alert and no complaint unresolved "
        "after 15 days.",
        extensions=[allow(Role.MERCHANT)],
    )
    async def apply_for_financing(self, info: Info, input: FinancingInput) -> FinancingApplication:
        row = await financing.apply_for_financing(
            info.context.principal,
            amount_fen=input.amount,
            term_months=input.term_months,
            purpose=input.purpose,
        )
        return FinancingApplication.of(row)

    @strawberry.mutation(
        description="Regulators approve or reject a SUBMITTED application (a rejection needs "
        "a note).",
        extensions=[allow(Role.REGULATOR)],
    )
    async def decide_financing(
        self, info: Info, application_id: strawberry.ID, approve: bool, note: str | None = None
    ) -> FinancingApplication:
        row = await financing.decide_financing(
            info.context.principal,
            decode_id(application_id, "FinancingApplication"),
            approve=approve,
            note=note,
        )
        return FinancingApplication.of(row)
