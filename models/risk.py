"""Risk alerts and the transfers that raised them."""

from tortoise import fields
from tortoise.models import Model
from tortoise.timezone import now

from models.enums import (
    AlertStatus,
    RiskAlertKind,
    RiskLevel,
)


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
