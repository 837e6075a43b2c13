from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import ChannelRefundStatus, DifferenceKind, PaymentOrderKind, PaymentOrderStatus, PayoutStatus, ReconciliationSource, RiskAlertKind, TransferKind
from tortoise.fields.base import OnDelete
from tortoise.timezone import now
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint

class Migration(migrations.Migration):
    dependencies = [('anfu', '0003_credit_code_unique_unless_rejected')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PaymentOrder',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('out_trade_no', fields.CharField(unique=True, max_length=32)),
                ('channel', fields.CharField(max_length=16)),
                ('kind', fields.CharEnumField(description='PURCHASE: PURCHASE\nTOP_UP: TOP_UP', enum_type=PaymentOrderKind, max_length=16)),
                ('status', fields.CharEnumField(default=PaymentOrderStatus.CREATED, db_index=True, description='CREATED: CREATED\nPAID: PAID\nCLOSED: CLOSED\nREFUNDED: REFUNDED', enum_type=PaymentOrderStatus, max_length=16)),
                ('user', fields.ForeignKeyField('anfu.User', source_field='user_id', db_constraint=True, to_field='id', related_name='payment_orders', on_delete=OnDelete.RESTRICT)),
                ('merchant', fields.ForeignKeyField('anfu.Merchant', source_field='merchant_id', db_constraint=True, to_field='id', related_name='payment_orders', on_delete=OnDelete.RESTRICT)),
                ('product', fields.ForeignKeyField('anfu.CardProduct', source_field='product_id', db_constraint=True, to_field='id', related_name='payment_orders', on_delete=OnDelete.RESTRICT)),
                ('card', fields.ForeignKeyField('anfu.Card', source_field='card_id', null=True, db_constraint=True, to_field='id', related_name='payment_orders', on_delete=OnDelete.RESTRICT)),
                ('amount_fen', fields.BigIntField()),
                ('idempotency_key', fields.CharField(max_length=255)),
                ('request_hash', fields.CharField(max_length=64)),
                ('payer_openid', fields.CharField(max_length=128)),
                ('prepay_id', fields.CharField(null=True, max_length=64)),
                ('channel_transaction_id', fields.CharField(null=True, unique=True, max_length=64)),
                ('transfer', fields.ForeignKeyField('anfu.Transfer', source_field='transfer_id', null=True, db_constraint=True, to_field='id', related_name='payment_orders', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(default=now, auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('paid_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('status_reason', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'payment_orders', 'app': 'anfu', 'unique_together': (('user', 'idempotency_key'),), 'constraints': [CheckConstraint(check='amount_fen > 0', name='payment_order_positive')], 'indexes': [Index(fields=['user_id', 'created_at']), Index(fields=['merchant_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'A purchase or top-up waiting for, or settled by, the notification of the channel.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ChannelRefund',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('out_refund_no', fields.CharField(unique=True, max_length=64)),
                ('order', fields.ForeignKeyField('anfu.PaymentOrder', source_field='order_id', db_constraint=True, to_field='id', related_name='refunds', on_delete=OnDelete.RESTRICT)),
                ('card', fields.ForeignKeyField('anfu.Card', source_field='card_id', null=True, db_constraint=True, to_field='id', related_name='channel_refunds', on_delete=OnDelete.RESTRICT)),
                ('transfer', fields.ForeignKeyField('anfu.Transfer', source_field='transfer_id', null=True, db_constraint=True, to_field='id', related_name='channel_refunds', on_delete=OnDelete.RESTRICT)),
                ('amount_fen', fields.BigIntField()),
                ('reason', fields.TextField(unique=False)),
                ('status', fields.CharEnumField(default=ChannelRefundStatus.PENDING, db_index=True, description='PENDING: PENDING\nPROCESSING: PROCESSING\nSUCCESS: SUCCESS\nMANUAL: MANUAL', enum_type=ChannelRefundStatus, max_length=16)),
                ('channel_refund_id', fields.CharField(null=True, max_length=64)),
                ('failure', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(default=now, auto_now=False, auto_now_add=False)),
                ('submitted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('succeeded_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'channel_refunds', 'app': 'anfu', 'constraints': [CheckConstraint(check='amount_fen > 0', name='channel_refund_positive')], 'pk_attr': 'id', 'table_description': 'Cash sent back to the payer against one paid order (refunding a card may take several).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ManualPayout',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel_refund', fields.OneToOneField('anfu.ChannelRefund', source_field='channel_refund_id', db_constraint=True, to_field='id', related_name='payout', on_delete=OnDelete.RESTRICT)),
                ('payee', fields.ForeignKeyField('anfu.User', source_field='payee_id', db_constraint=True, to_field='id', related_name='payouts', on_delete=OnDelete.RESTRICT)),
                ('merchant', fields.ForeignKeyField('anfu.Merchant', source_field='merchant_id', db_constraint=True, to_field='id', related_name='payouts', on_delete=OnDelete.RESTRICT)),
                ('amount_fen', fields.BigIntField()),
                ('reason', fields.TextField(unique=False)),
                ('status', fields.CharEnumField(default=PayoutStatus.DUE, db_index=True, description='DUE: DUE\nPAID: PAID', enum_type=PayoutStatus, max_length=8)),
                ('due_transfer', fields.ForeignKeyField('anfu.Transfer', source_field='due_transfer_id', db_constraint=True, to_field='id', related_name='payouts_due', on_delete=OnDelete.RESTRICT)),
                ('paid_transfer', fields.ForeignKeyField('anfu.Transfer', source_field='paid_transfer_id', null=True, db_constraint=True, to_field='id', related_name='payouts_paid', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(default=now, auto_now=False, auto_now_add=False)),
                ('paid_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('paid_by', fields.ForeignKeyField('anfu.User', source_field='paid_by_id', null=True, db_constraint=True, to_field='id', related_name='payouts_marked', on_delete=OnDelete.RESTRICT)),
                ('payment_reference', fields.CharField(null=True, max_length=128)),
            ],
            options={'table': 'manual_payouts', 'app': 'anfu', 'constraints': [CheckConstraint(check='amount_fen > 0', name='payout_positive')], 'pk_attr': 'id', 'table_description': 'A refund the channel could not make, paid to the consumer by hand and marked paid.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReconciliationReport',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('source', fields.CharEnumField(description='CHANNEL: CHANNEL\nBANK: BANK', enum_type=ReconciliationSource, max_length=8)),
                ('statement_date', fields.DateField()),
                ('statement_name', fields.CharField(max_length=255)),
                ('statement_sha256', fields.CharField(max_length=64)),
                ('matched_count', fields.IntField(default=0)),
                ('matched_fen', fields.BigIntField(default=0)),
                ('statement_count', fields.IntField(default=0)),
                ('statement_fen', fields.BigIntField(default=0)),
                ('ledger_count', fields.IntField(default=0)),
                ('ledger_fen', fields.BigIntField(default=0)),
                ('difference_count', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(default=now, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'reconciliation_reports', 'app': 'anfu', 'indexes': [Index(fields=['source', 'statement_date'])], 'pk_attr': 'id', 'table_description': 'One run over the statement of one day, with every difference it found.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReconciliationDifference',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('report', fields.ForeignKeyField('anfu.ReconciliationReport', source_field='report_id', db_constraint=True, to_field='id', related_name='differences', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='MISSING_IN_LEDGER: MISSING_IN_LEDGER\nMISSING_AT_SOURCE: MISSING_AT_SOURCE\nAMOUNT_DIFFERS: AMOUNT_DIFFERS\nSTATUS_DIFFERS: STATUS_DIFFERS', enum_type=DifferenceKind, max_length=24)),
                ('reference', fields.CharField(max_length=64)),
                ('merchant', fields.ForeignKeyField('anfu.Merchant', source_field='merchant_id', null=True, db_constraint=True, to_field='id', related_name='reconciliation_differences', on_delete=OnDelete.RESTRICT)),
                ('ledger_amount_fen', fields.BigIntField(null=True)),
                ('statement_amount_fen', fields.BigIntField(null=True)),
                ('ledger_status', fields.CharField(null=True, max_length=32)),
                ('statement_status', fields.CharField(null=True, max_length=32)),
                ('detail', fields.TextField(unique=False)),
                ('explanation', fields.TextField(null=True, unique=False)),
                ('alert', fields.ForeignKeyField('anfu.RiskAlert', source_field='alert_id', null=True, db_constraint=True, to_field='id', related_name='reconciliation_differences', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'reconciliation_differences', 'app': 'anfu', 'pk_attr': 'id', 'table_description': 'One item that the statement and the ledger do not agree on.'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='RiskAlert',
            name='kind',
            field=fields.CharEnumField(description='SALES_SPIKE: SALES_SPIKE\nREDEMPTION_ANOMALY: REDEMPTION_ANOMALY\nLARGE_PURCHASE: LARGE_PURCHASE\nESCROW_SHORTFALL: ESCROW_SHORTFALL\nCOMPLAINT_SURGE: COMPLAINT_SURGE\nSTORE_CLOSURES: STORE_CLOSURES\nRECONCILIATION_MISMATCH: RECONCILIATION_MISMATCH', enum_type=RiskAlertKind, max_length=24),
        ),
        ops.AlterField(
            model_name='Transfer',
            name='kind',
            field=fields.CharEnumField(description='PURCHASE: PURCHASE\nTOP_UP: TOP_UP\nREDEMPTION: REDEMPTION\nREFUND: REFUND\nCUSTODY_ADJUSTMENT: CUSTODY_ADJUSTMENT\nPAYOUT_DUE: PAYOUT_DUE\nPAYOUT_PAID: PAYOUT_PAID', enum_type=TransferKind, max_length=24),
        ),
    ]
