"""The announcements domain's reads and writes for the API: the caller has passed the
field's rule."""

from __future__ import annotations

from auth import scoping
from core import public_cache
from core.principal import Principal
from models import Announcement
from models.enums import AnnouncementKind
from services import announcements as announcement_service
from services.pagination import Page, newest_first, page_of


async def announcements(
    principal: Principal, *, kind: AnnouncementKind | None, first: int | None, after: str | None
) -> Page[Announcement]:
    async def load() -> Page[Announcement]:
        return await page_of(
            scoping.readable_announcements(principal),
            newest_first("pinned", "published_at"),
            first,
            after,
            {"kind": kind},
        )

    if public_cache.is_public(principal):
        return await public_cache.public_cache().get(
            "announcements-page", (kind, first, after), public_cache.ANNOUNCEMENTS, load
        )
    return await load()


async def publish_announcement(
    principal: Principal, *, kind: AnnouncementKind, title: str, body: str, pinned: bool
) -> Announcement:
    return await announcement_service.publish(
        regulator_id=principal.require_user(), kind=kind, title=title, body=body, pinned=pinned
    )
