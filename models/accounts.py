"""Accounts and their refresh tokens."""

from tortoise import fields
from tortoise.models import Model
from tortoise.timezone import now

from models.enums import Role


class User(Model):
    """A consumer, a merchant owner or staff member, or a regulator."""

    id = fields.IntField(primary_key=True)
    role = fields.CharEnumField(Role, max_length=16)
    phone = fields.CharField(max_length=11, unique=True)
    password_hash = fields.CharField(max_length=255)
    display_name = fields.CharField(max_length=64)
    merchant: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "anfu.Merchant", related_name="users", null=True, on_delete=fields.RESTRICT
    )
    store: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "anfu.Store", related_name="staff", null=True, on_delete=fields.RESTRICT
    )
    is_merchant_owner = fields.BooleanField(default=False)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(default=now)

    merchant_id: int | None
    store_id: int | None

    class Meta:
        table = "users"


class RefreshToken(Model):
    """An opaque refresh token, stored as its SHA-256, single use and rotated within a family."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "anfu.User", related_name="refresh_tokens", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    family = fields.CharField(max_length=36, db_index=True)
    created_at = fields.DatetimeField(default=now)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    user_id: int

    class Meta:
        table = "refresh_tokens"
