"""The audit trail of what regulators (and the platform itself) did."""

from tortoise import fields
from tortoise.models import Model
from tortoise.timezone import now


class AuditEntry(Model):
    """A regulator's action: who, when, what (on which object) and why."""

    id = fields.IntField(primary_key=True)
    actor: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "anfu.User", related_name="audit_entries", on_delete=fields.RESTRICT
    )
    action = fields.CharField(max_length=48)
    subject_type = fields.CharField(max_length=32)
    subject_id = fields.IntField()
    merchant: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "anfu.Merchant", related_name="audit_entries", null=True, on_delete=fields.RESTRICT
    )
    reason = fields.TextField(null=True)
    details: fields.JSONField[dict[str, object]] = fields.JSONField(default=dict)
    at = fields.DatetimeField(default=now, db_index=True)

    actor_id: int
    merchant_id: int | None

    class Meta:
        table = "audit_entries"
