"""Credit scores with their factors."""

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model
from tortoise.timezone import now

from models.enums import CreditGrade


class CreditScore(Model):
    """One computed score of a merchant (history is kept, the newest is current)."""

    id = fields.IntField(primary_key=True)
    merchant: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "anfu.Merchant", related_name="credit_scores", on_delete=fields.RESTRICT
    )
    score = fields.IntField()
    grade = fields.CharEnumField(CreditGrade, max_length=1)
    model_version = fields.CharField(max_length=32)
    computed_at = fields.DatetimeField(default=now)

    merchant_id: int

    class Meta:
        table = "credit_scores"
        indexes = (("merchant_id", "computed_at"),)
        constraints = (
            CheckConstraint(check="score >= 0 AND score <= 1000", name="credit_score_range"),
        )


class CreditFactor(Model):
    """What one factor contributed to a score, with a sentence of explanation."""

    id = fields.IntField(primary_key=True)
    score: fields.ForeignKeyRelation[CreditScore] = fields.ForeignKeyField(
        "anfu.CreditScore", related_name="factors", on_delete=fields.CASCADE
    )
    position = fields.IntField(default=0)
    code = fields.CharField(max_length=48)
    name = fields.CharField(max_length=64)
    value = fields.FloatField()
    weight = fields.FloatField()
    contribution = fields.FloatField()
    explanation = fields.TextField()

    score_id: int

    class Meta:
        table = "credit_factors"
