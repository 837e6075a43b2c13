"""What regulators publish and decide: announcements, financing, the audit trail."""

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model
from tortoise.timezone import now

from models.enums import AnnouncementKind, CreditGrade, FinancingStatus


class Announcement(Model):
    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(AnnouncementKind, max_length=16)
    title = fields.CharField(max_length=200)
    body = fields.TextField()
    pinned = fields.BooleanField(default=False)
    published_at = fields.DatetimeField(default=now)
    published_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "anfu.User", related_name="announcements", null=True, on_delete=fields.RESTRICT
    )

    class Meta:
        table = "announcements"


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
