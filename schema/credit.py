"""Credit scores with their factors, and risk alerts."""

from __future__ import annotations

import datetime as dt

import strawberry

from models import CreditFactor as CreditFactorRow
from models import CreditScore as CreditScoreRow
from models import Merchant as MerchantRow
from models import RiskAlert as RiskAlertRow
from schema.cards import Transaction
from schema.context import Info
from schema.enums import AlertStatus, CreditGrade, RiskAlertKind, RiskLevel
from schema.ids import encode_id
from schema.merchants import Merchant, load_merchant
from schema.node import Node


@strawberry.type
class CreditFactor:
    code: str = strawberry.field(
        description="Stable code, e.g. YEARS_IN_OPERATION, COMPLAINT_RATE, REDEMPTION_RATE."
    )
    name: str
    value: float
    weight: float
    contribution: float = strawberry.field(
        description="Points this factor added to or took from the score."
    )
    explanation: str

    @classmethod
    def of(cls, row: CreditFactorRow) -> CreditFactor:
        return cls(
            code=row.code,
            name=row.name,
            value=row.value,
            weight=row.weight,
            contribution=row.contribution,
            explanation=row.explanation,
        )


@strawberry.type
class CreditScore:
    row: strawberry.Private[CreditScoreRow]
    merchant_row: strawberry.Private[MerchantRow]

    @strawberry.field
    def merchant(self) -> Merchant:
        return Merchant.of(self.merchant_row)

    @strawberry.field(description="0 to 1000.")
    def score(self) -> int:
        return self.row.score

    @strawberry.field
    def grade(self) -> CreditGrade:
        return self.row.grade

    @strawberry.field
    def model_version(self) -> str:
        return self.row.model_version

    @strawberry.field
    def computed_at(self) -> dt.datetime:
        return self.row.computed_at

    @strawberry.field
    async def factors(self, info: Info) -> list[CreditFactor]:
        rows = await info.context.loaders.credit_factors_by_score.load(self.row.id)
        return [CreditFactor.of(row) for row in rows]


@strawberry.type
class RiskMetric:
    name: str
    value: float
    threshold: float


@strawberry.type
class RiskAlert(Node):
    row: strawberry.Private[RiskAlertRow]

    @classmethod
    def of(cls, row: RiskAlertRow) -> RiskAlert:
        return cls(id=strawberry.ID(encode_id("RiskAlert", row.id)), row=row)

    @strawberry.field
    async def merchant(self, info: Info) -> Merchant:
        return await load_merchant(info, self.row.merchant_id)

    @strawberry.field
    def kind(self) -> RiskAlertKind:
        return self.row.kind

    @strawberry.field
    def severity(self) -> RiskLevel:
        return self.row.severity

    @strawberry.field
    def status(self) -> AlertStatus:
        return self.row.status

    @strawberry.field
    def summary(self) -> str:
        return self.row.summary

    @strawberry.field
    def metrics(self) -> list[RiskMetric]:
        return [
            RiskMetric(
                name=str(m["name"]), value=float(m["value"]), threshold=float(m["threshold"])
            )
            for m in self.row.metrics or []
        ]

    @strawberry.field
    async def transactions(self, info: Info) -> list[Transaction]:
        loaders = info.context.loaders
        transfer_ids = await loaders.transfer_ids_by_risk_alert.load(self.row.id)
        rows = await loaders.transfer.load_many(transfer_ids)
        return [Transaction.of(row) for row in rows if row is not None and row.card_id is not None]

    @strawberry.field
    def raised_at(self) -> dt.datetime:
        return self.row.raised_at

    @strawberry.field
    def resolved_at(self) -> dt.datetime | None:
        return self.row.resolved_at

    @strawberry.field
    def note(self) -> str | None:
        return self.row.note


@strawberry.input
class RiskAlertFilter:
    merchant_id: strawberry.ID | None = None
    kind: RiskAlertKind | None = None
    status: AlertStatus | None = None
    min_severity: RiskLevel | None = None
