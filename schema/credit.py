"""Credit scores with their factors: the credit domain's types and its root fields.

The root types in schema/root.py merge CreditMutation with the other domains';
scores themselves are read through a merchant (`Merchant.creditRating` for
everyone, `creditScore` and `creditHistory` for the merchant and regulators).
"""

from __future__ import annotations

import datetime as dt

import strawberry

from models import CreditFactor as CreditFactorRow
from models import CreditScore as CreditScoreRow
from models import Merchant as MerchantRow
from models.enums import Role
from resolvers import credit
from schema.context import Info
from schema.enums import CreditGrade
from schema.ids import decode_id
from schema.merchants import Merchant
from schema.permissions import allow


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
class CreditMutation:
    @strawberry.mutation(
        description="Recomputes scores (all merchants when merchantIds is omitted); returns how "
        "many. Without ids: every approved merchant that is not closed. A merchant that falls to "
        "grade D stops selling and keeps 100 % of its prepaid cash in custody at once.",
        extensions=[allow(Role.REGULATOR)],
    )
    async def recompute_credit_scores(
        self, info: Info, merchant_ids: list[strawberry.ID] | None = None
    ) -> int:
        ids = (
            None
            if merchant_ids is None
            else [decode_id(merchant_id, "Merchant") for merchant_id in merchant_ids]
        )
        return await credit.recompute_credit_scores(info.context.principal, ids)
