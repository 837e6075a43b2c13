"""Reconciliation runs: a statement of the channel or the custody bank for one day against ours."""

from tortoise import fields
from tortoise.models import Model
from tortoise.timezone import now

from models.enums import DifferenceKind, ReconciliationSource


class ReconciliationReport(Model):
    """One run over the statement of one day, with every difference it found."""

    id = fields.IntField(primary_key=True)
    source = fields.CharEnumField(ReconciliationSource, max_length=8)
    statement_date = fields.DateField()
    # The statement as received: its file name (or bill URL) and SHA-256.
    statement_name = fields.CharField(max_length=255)
    statement_sha256 = fields.CharField(max_length=64)
    matched_count = fields.IntField(default=0)
    matched_fen = fields.BigIntField(default=0)
    statement_count = fields.IntField(default=0)
    statement_fen = fields.BigIntField(default=0)
    ledger_count = fields.IntField(default=0)
    ledger_fen = fields.BigIntField(default=0)
    difference_count = fields.IntField(default=0)
    created_at = fields.DatetimeField(default=now)

    class Meta:
        table = "reconciliation_reports"
        indexes = (("source", "statement_date"),)


class ReconciliationDifference(Model):
    """One item that the statement and the ledger do not agree on."""

    id = fields.IntField(primary_key=True)
    report: fields.ForeignKeyRelation[ReconciliationReport] = fields.ForeignKeyField(
        "anfu.ReconciliationReport", related_name="differences", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(DifferenceKind, max_length=24)
    # The item's reference on both sides: out_trade_no, out_refund_no or a transfer reference.
    reference = fields.CharField(max_length=64)
    merchant: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "anfu.Merchant",
        related_name="reconciliation_differences",
        null=True,
        on_delete=fields.RESTRICT,
    )
    ledger_amount_fen = fields.BigIntField(null=True)
    statement_amount_fen = fields.BigIntField(null=True)
    ledger_status = fields.CharField(max_length=32, null=True)
    statement_status = fields.CharField(max_length=32, null=True)
    detail = fields.TextField()
    # Explained differences (a known cause, written down) raise no alert.
    explanation = fields.TextField(null=True)
    alert: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "anfu.RiskAlert",
        related_name="reconciliation_differences",
        null=True,
        on_delete=fields.SET_NULL,
    )

    report_id: int
    merchant_id: int | None
    alert_id: int | None

    class Meta:
        table = "reconciliation_differences"
