"""Credit scores with their factors, and risk alerts."""

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model
from tortoise.timezone import now

from models.enums import AlertStatus, CreditGrade, RiskAlertKind, RiskLevel


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


class RiskAlert(Model):
    """A risk signal raised about a merchant, with the metrics that tripped it."""

    id = fields.IntField(primary_key=True)
    merchant: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "anfu.Merchant", related_name="risk_alerts", on_delete=fields.RESTRICT
    )
    kind = fields.CharEnumField(RiskAlertKind, max_length=24)
    severity = fields.CharEnumField(RiskLevel, max_length=8)
    status = fields.CharEnumField(AlertStatus, max_length=16, default=AlertStatus.OPEN)
    summary = fields.TextField()
    # [{"name": ..., "value": ..., "threshold": ...}]
    metrics: fields.JSONField[list[dict[str, float | str]]] = fields.JSONField(default=list)
    raised_at = fields.DatetimeField(default=now)
    resolved_at = fields.DatetimeField(null=True)
    note = fields.TextField(null=True)

    merchant_id: int

    class Meta:
        table = "risk_alerts"
        indexes = (("merchant_id", "status"),)


class RiskAlertTransfer(Model):
    """A transfer an alert points at as evidence."""

    id = fields.IntField(primary_key=True)
    alert: fields.ForeignKeyRelation[RiskAlert] = fields.ForeignKeyField(
        "anfu.RiskAlert", related_name="transfer_links", on_delete=fields.CASCADE
    )
    transfer: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "anfu.Transfer", related_name="alert_links", on_delete=fields.RESTRICT
    )

    alert_id: int
    transfer_id: int

    class Meta:
        table = "risk_alert_transfers"
        unique_together = (("alert", "transfer"),)
