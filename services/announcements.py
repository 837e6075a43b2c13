"""Announcements published by regulators for everyone, pinned first, then newest."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from core import clock, public_cache
from core.errors import BadInput
from models import Announcement
from models.enums import AnnouncementKind
from services import audit

MAX_TITLE = 200
MAX_BODY = 10_000


async def publish(
    *, regulator_id: int, kind: AnnouncementKind, title: str, body: str, pinned: bool
) -> Announcement:
    title, body = title.strip(), body.strip()
    if not title or len(title) > MAX_TITLE:
        raise BadInput(f"A title has 1 to {MAX_TITLE} characters")
    if not body or len(body) > MAX_BODY:
        raise BadInput(f"A body has 1 to {MAX_BODY} characters")
    async with in_transaction():
        announcement = await Announcement.create(
            kind=kind,
            title=title,
            body=body,
            pinned=pinned,
            published_at=clock.now(),
            published_by_id=regulator_id,
        )
        await audit.record(
            actor_id=regulator_id,
            action="ANNOUNCEMENT_PUBLISHED",
            subject_type="Announcement",
            subject_id=announcement.id,
            details={"kind": kind.value, "title": title, "pinned": pinned},
        )
    await public_cache.changed(public_cache.ANNOUNCEMENTS)
    return announcement
