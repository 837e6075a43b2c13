"""Consumer complaints against merchants and every step taken on them."""

from tortoise import fields
from tortoise.models import Model
from tortoise.timezone import now

from models.enums import ComplaintCategory, ComplaintOutcome, ComplaintStatus, Role


class Complaint(Model):
    id = fields.IntField(primary_key=True)
    complainant: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "anfu.User", related_name="complaints", on_delete=fields.RESTRICT
    )
    merchant: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "anfu.Merchant", related_name="complaints", on_delete=fields.RESTRICT
    )
    card: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "anfu.Card", related_name="complaints", null=True, on_delete=fields.RESTRICT
    )
    category = fields.CharEnumField(ComplaintCategory, max_length=24)
    description = fields.TextField()
    status = fields.CharEnumField(ComplaintStatus, max_length=24, default=ComplaintStatus.SUBMITTED)
    outcome = fields.CharEnumField(ComplaintOutcome, max_length=24, null=True)
    resolution = fields.TextField(null=True)
    respond_by = fields.DatetimeField()
    refund: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "anfu.RefundRequest", related_name="complaints", null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(default=now)
    resolved_at = fields.DatetimeField(null=True)

    complainant_id: int
    merchant_id: int
    card_id: int | None
    refund_id: int | None

    class Meta:
        table = "complaints"
        indexes = (("merchant_id", "status"), ("status", "respond_by"))


class ComplaintEvent(Model):
    """One step of a complaint: who (by role) did what, when, and what they said."""

    id = fields.IntField(primary_key=True)
    complaint: fields.ForeignKeyRelation[Complaint] = fields.ForeignKeyField(
        "anfu.Complaint", related_name="events", on_delete=fields.CASCADE
    )
    at = fields.DatetimeField(default=now)
    actor_role = fields.CharEnumField(Role, max_length=16)
    actor: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "anfu.User", related_name="complaint_events", null=True, on_delete=fields.RESTRICT
    )
    action = fields.CharField(max_length=32)
    message = fields.TextField(null=True)

    complaint_id: int

    class Meta:
        table = "complaint_events"
