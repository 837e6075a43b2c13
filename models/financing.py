"""Financing applications merchants file and regulators decide."""

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model
from tortoise.timezone import now

from models.enums import (
    CreditGrade,
    FinancingStatus,
)


class FinancingApplication(Model):
    """A merchant's request for credit from the partner bank."""

    id = fields.IntField(primary_key=True)
    merchant: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "anfu.Merchant", related_name="financing_applications", on_delete=fields.RESTRICT
    )
    amount_fen = fields.BigIntField()
    term_months = fields.IntField()
    purpose = fields.TextField()
    status = fields.CharEnumField(FinancingStatus, max_length=16, default=FinancingStatus.SUBMITTED)
    grade_at_application = fields.CharEnumField(CreditGrade, max_length=1)
    created_at = fields.DatetimeField(default=now)
    decided_at = fields.DatetimeField(null=True)
    decision_note = fields.TextField(null=True)

    merchant_id: int

    class Meta:
        table = "financing_applications"
        constraints = (
            CheckConstraint(check="amount_fen > 0", name="financing_amount_positive"),
            CheckConstraint(check="term_months > 0", name="financing_term_positive"),
        )
