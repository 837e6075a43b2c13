"""Announcements regulators publish to everyone."""

from tortoise import fields
from tortoise.models import Model
from tortoise.timezone import now

from models.enums import (
    AnnouncementKind,
)


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
