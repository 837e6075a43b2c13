"""Payment orders through a two-step channel, the refunds sent back through it, and the
manual payouts that stand in for refunds the channel refused."""

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model
from tortoise.timezone import now

from models.enums import ChannelRefundStatus, PaymentOrderKind, PaymentOrderStatus, PayoutStatus


class PaymentOrder(Model):
    """A purchase or top-up waiting for, or settled by, the notification of the channel."""

    id = fields.IntField(primary_key=True)
    # Our order number at the channel (WeChat's out_trade_no: 6-32 characters).
    out_trade_no = fields.CharField(max_length=32, unique=True)
    channel = fields.CharField(max_length=16)
    kind = fields.CharEnumField(PaymentOrderKind, max_length=16)
    status = fields.CharEnumField(
        PaymentOrderStatus, max_length=16, default=PaymentOrderStatus.CREATED, db_index=True
    )
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "anfu.User", related_name="payment_orders", on_delete=fields.RESTRICT
    )
    merchant: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "anfu.Merchant", related_name="payment_orders", on_delete=fields.RESTRICT
    )
    product: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "anfu.CardProduct", related_name="payment_orders", on_delete=fields.RESTRICT
    )
    # The card topped up, or the card the purchase issued once paid.
    card: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "anfu.Card", related_name="payment_orders", null=True, on_delete=fields.RESTRICT
    )
    amount_fen = fields.BigIntField()
    idempotency_key = fields.CharField(max_length=255)
    request_hash = fields.CharField(max_length=64)
    payer_openid = fields.CharField(max_length=128)
    prepay_id = fields.CharField(max_length=64, null=True)
    # The channel's own number for the payment (WeChat's transaction_id), once paid.
    channel_transaction_id = fields.CharField(max_length=64, null=True, unique=True)
    transfer: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "anfu.Transfer", related_name="payment_orders", null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(default=now)
    expires_at = fields.DatetimeField(db_index=True)
    paid_at = fields.DatetimeField(null=True, db_index=True)
    closed_at = fields.DatetimeField(null=True)
    # Why a paid order was refunded instead of fulfilled, or why it closed.
    status_reason = fields.TextField(null=True)

    user_id: int
    merchant_id: int
    product_id: int
    card_id: int | None
    transfer_id: int | None

    class Meta:
        table = "payment_orders"
        unique_together = (("user", "idempotency_key"),)
        indexes = (("user_id", "created_at"), ("merchant_id", "created_at"))
        constraints = (CheckConstraint(check="amount_fen > 0", name="payment_order_positive"),)


class ChannelRefund(Model):
    """Cash sent back to the payer against one paid order (refunding a card may take several)."""

    id = fields.IntField(primary_key=True)
    # Our refund number at the channel (WeChat's out_refund_no).
    out_refund_no = fields.CharField(max_length=64, unique=True)
    order: fields.ForeignKeyRelation[PaymentOrder] = fields.ForeignKeyField(
        "anfu.PaymentOrder", related_name="refunds", on_delete=fields.RESTRICT
    )
    card: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "anfu.Card", related_name="channel_refunds", null=True, on_delete=fields.RESTRICT
    )
    # The card's REFUND transfer this is part of; none when an unfulfilled order is returned.
    transfer: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "anfu.Transfer", related_name="channel_refunds", null=True, on_delete=fields.RESTRICT
    )
    amount_fen = fields.BigIntField()
    reason = fields.TextField()
    status = fields.CharEnumField(
        ChannelRefundStatus, max_length=16, default=ChannelRefundStatus.PENDING, db_index=True
    )
    channel_refund_id = fields.CharField(max_length=64, null=True)
    # What the channel said when it refused or failed the refund.
    failure = fields.TextField(null=True)
    created_at = fields.DatetimeField(default=now)
    submitted_at = fields.DatetimeField(null=True)
    succeeded_at = fields.DatetimeField(null=True, db_index=True)

    order_id: int
    card_id: int | None
    transfer_id: int | None

    class Meta:
        table = "channel_refunds"
        constraints = (CheckConstraint(check="amount_fen > 0", name="channel_refund_positive"),)


class ManualPayout(Model):
    """A refund the channel could not make, paid to the consumer by hand and marked paid."""

    id = fields.IntField(primary_key=True)
    channel_refund: fields.OneToOneRelation[ChannelRefund] = fields.OneToOneField(
        "anfu.ChannelRefund", related_name="payout", on_delete=fields.RESTRICT
    )
    payee: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "anfu.User", related_name="payouts", on_delete=fields.RESTRICT
    )
    merchant: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "anfu.Merchant", related_name="payouts", on_delete=fields.RESTRICT
    )
    amount_fen = fields.BigIntField()
    reason = fields.TextField()
    status = fields.CharEnumField(
        PayoutStatus, max_length=8, default=PayoutStatus.DUE, db_index=True
    )
    due_transfer: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "anfu.Transfer", related_name="payouts_due", on_delete=fields.RESTRICT
    )
    paid_transfer: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "anfu.Transfer", related_name="payouts_paid", null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(default=now)
    paid_at = fields.DatetimeField(null=True)
    paid_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "anfu.User", related_name="payouts_marked", null=True, on_delete=fields.RESTRICT
    )
    # The bank transfer's reference the regulator recorded.
    payment_reference = fields.CharField(max_length=128, null=True)

    channel_refund_id: int
    payee_id: int
    merchant_id: int
    due_transfer_id: int
    paid_transfer_id: int | None
    paid_by_id: int | None

    class Meta:
        table = "manual_payouts"
        constraints = (CheckConstraint(check="amount_fen > 0", name="payout_positive"),)
