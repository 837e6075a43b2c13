"""Consumers' prepaid cards, their one-time redemption codes and refund requests."""

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model
from tortoise.timezone import now

from models.enums import CardStatus, RefundStatus


class Card(Model):
    """A consumer's prepaid card with one merchant, whose money fields mirror the ledger."""

    id = fields.IntField(primary_key=True)
    card_number = fields.CharField(max_length=20, unique=True)
    owner: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "anfu.User", related_name="cards", on_delete=fields.RESTRICT
    )
    product: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "anfu.CardProduct", related_name="cards", on_delete=fields.RESTRICT
    )
    merchant: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "anfu.Merchant", related_name="cards", on_delete=fields.RESTRICT
    )
    # Face value left (what the merchant owes in service).
    balance_fen = fields.BigIntField()
    # Prepaid cash behind the balance (what a refund pays).
    cash_value_fen = fields.BigIntField()
    # Part of the cash value still in the merchant's custody account.
    escrow_held_fen = fields.BigIntField()
    custody_ratio_bp = fields.IntField()
    status = fields.CharEnumField(CardStatus, max_length=16, default=CardStatus.ACTIVE)
    issued_at = fields.DatetimeField(default=now)
    expires_at = fields.DatetimeField()
    cooling_off_ends_at = fields.DatetimeField()
    first_redeemed_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)

    owner_id: int
    product_id: int
    merchant_id: int

    class Meta:
        table = "cards"
        indexes = (("merchant_id", "status"), ("owner_id", "merchant_id"))
        constraints = (
            CheckConstraint(check="balance_fen >= 0", name="card_balance_nonneg"),
            CheckConstraint(check="cash_value_fen >= 0", name="card_cash_value_nonneg"),
            CheckConstraint(
                check="escrow_held_fen >= 0 AND escrow_held_fen <= cash_value_fen",
                name="card_escrow_within_cash",
            ),
            CheckConstraint(
                check="custody_ratio_bp >= 4000 AND custody_ratio_bp <= 10000",
                name="card_custody_ratio_range",
            ),
        )


class RedemptionCode(Model):
    """A short-lived, single-use code bound to one card (only its SHA-256 is stored)."""

    id = fields.IntField(primary_key=True)
    code_hash = fields.CharField(max_length=64, unique=True)
    card: fields.ForeignKeyRelation[Card] = fields.ForeignKeyField(
        "anfu.Card", related_name="redemption_codes", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(default=now)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    card_id: int

    class Meta:
        table = "redemption_codes"


class RefundRequest(Model):
    """A consumer's request to be paid back a card's cash value."""

    id = fields.IntField(primary_key=True)
    card: fields.ForeignKeyRelation[Card] = fields.ForeignKeyField(
        "anfu.Card", related_name="refund_requests", on_delete=fields.RESTRICT
    )
    merchant: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "anfu.Merchant", related_name="refund_requests", on_delete=fields.RESTRICT
    )
    requested_by: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "anfu.User", related_name="refund_requests", on_delete=fields.RESTRICT
    )
    reason = fields.TextField()
    status = fields.CharEnumField(RefundStatus, max_length=16, default=RefundStatus.PENDING)
    amount_fen = fields.BigIntField()
    requested_at = fields.DatetimeField(default=now)
    decided_at = fields.DatetimeField(null=True)
    decision_note = fields.TextField(null=True)
    decided_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "anfu.User", related_name="refund_decisions", null=True, on_delete=fields.RESTRICT
    )
    transfer: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "anfu.Transfer", related_name="refund_requests", null=True, on_delete=fields.RESTRICT
    )

    card_id: int
    merchant_id: int
    requested_by_id: int
    transfer_id: int | None

    class Meta:
        table = "refund_requests"
        constraints = (CheckConstraint(check="amount_fen >= 0", name="refund_amount_nonneg"),)
