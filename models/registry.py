"""The market-regulation registry: government static data about businesses."""

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model
from tortoise.timezone import now


class RegistryRecord(Model):
    """One business as the registry knows it, keyed by unified social credit code."""

    id = fields.IntField(primary_key=True)
    credit_code = fields.CharField(max_length=18, unique=True)
    name = fields.CharField(max_length=128)
    legal_representative = fields.CharField(max_length=64)
    registered_capital_fen = fields.BigIntField()
    established_on = fields.DateField()
    registration_status = fields.CharField(max_length=16)
    administrative_penalties = fields.IntField(default=0)
    on_abnormal_list = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField(default=now)

    class Meta:
        table = "registry_records"
        constraints = (
            CheckConstraint(check="registered_capital_fen >= 0", name="registry_capital_nonneg"),
            CheckConstraint(
                check="administrative_penalties >= 0", name="registry_penalties_nonneg"
            ),
        )
