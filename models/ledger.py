"""The append-only double-entry custody ledger.

Only services/ledger.py writes these tables. A transfer is one money movement;
its postings balance (debits equal credits). Account rows hold running totals
of their postings so balances are read without summing history.
"""

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model
from tortoise.timezone import now

from models.enums import LedgerSide, TransferKind


class LedgerAccount(Model):
    """Running totals of one account, e.g. escrow:merchant:42."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    debits_fen = fields.BigIntField(default=0)
    credits_fen = fields.BigIntField(default=0)

    class Meta:
        table = "ledger_accounts"
        constraints = (
            CheckConstraint(
                check="debits_fen >= 0 AND credits_fen >= 0", name="account_totals_nonneg"
            ),
        )


class Transfer(Model):
    """One money movement. Those with a card are the API's transactions."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(TransferKind, max_length=24)
    merchant: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "anfu.Merchant", related_name="transfers", on_delete=fields.RESTRICT
    )
    card: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "anfu.Card", related_name="transfers", null=True, on_delete=fields.RESTRICT
    )
    store: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "anfu.Store", related_name="transfers", null=True, on_delete=fields.RESTRICT
    )
    initiated_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "anfu.User", related_name="transfers", null=True, on_delete=fields.RESTRICT
    )
    # Change of the card's face-value balance (positive; kind gives the direction).
    amount_fen = fields.BigIntField(default=0)
    # Cash that moved into, out of or within custody.
    cash_amount_fen = fields.BigIntField(default=0)
    balance_after_fen = fields.BigIntField(default=0)
    cash_value_after_fen = fields.BigIntField(default=0)
    escrow_held_after_fen = fields.BigIntField(default=0)
    created_at = fields.DatetimeField(default=now, db_index=True)

    merchant_id: int
    card_id: int | None
    store_id: int | None

    class Meta:
        table = "ledger_transfers"
        indexes = (("merchant_id", "created_at"), ("card_id", "created_at"))
        constraints = (
            CheckConstraint(
                check="amount_fen >= 0 AND cash_amount_fen >= 0 AND balance_after_fen >= 0 "
                "AND cash_value_after_fen >= 0 AND escrow_held_after_fen >= 0",
                name="transfer_amounts_nonneg",
            ),
        )


class Posting(Model):
    """One side of a transfer on one account, never updated or deleted."""

    id = fields.IntField(primary_key=True)
    transfer: fields.ForeignKeyRelation[Transfer] = fields.ForeignKeyField(
        "anfu.Transfer", related_name="postings", on_delete=fields.RESTRICT
    )
    account = fields.CharField(max_length=64, db_index=True)
    side = fields.CharEnumField(LedgerSide, max_length=6)
    amount_fen = fields.BigIntField()

    transfer_id: int

    class Meta:
        table = "ledger_postings"
        constraints = (CheckConstraint(check="amount_fen > 0", name="posting_amount_positive"),)


class IdempotencyRecord(Model):
    """The first result of a money mutation under a caller's idempotency key."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "anfu.User", related_name="idempotency_records", on_delete=fields.CASCADE
    )
    key = fields.CharField(max_length=255)
    operation = fields.CharField(max_length=32)
    request_hash = fields.CharField(max_length=64)
    transfer: fields.ForeignKeyNullableRelation[Transfer] = fields.ForeignKeyField(
        "anfu.Transfer", related_name="idempotency_records", null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(default=now, db_index=True)

    user_id: int
    transfer_id: int | None

    class Meta:
        table = "idempotency_records"
        unique_together = (("user", "key"),)
