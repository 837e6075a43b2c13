"""Root fields for announcements and supervision statistics."""

from __future__ import annotations

import datetime as dt

from core.errors import Forbidden
from models import Announcement as AnnouncementRow
from models.enums import AnnouncementKind
from schema.context import Info
from schema.pagination import Connection, to_connection
from schema.platform import Announcement, SupervisionStats
from services import stats
from services.pagination import newest_first, page_of
from settings import get_settings


async def announcements(
    kind: AnnouncementKind | None, first: int | None, after: str | None
) -> Connection[Announcement]:
    page = await page_of(
        AnnouncementRow.all(), newest_first("pinned", "published_at"), first, after, {"kind": kind}
    )
    return to_connection(page, Announcement.of)


async def supervision_stats(
    info: Info, from_: dt.date | None, to: dt.date | None
) -> SupervisionStats:
    principal = info.context.principal
    principal.require_user()
    if not principal.is_regulator:
        raise Forbidden("Only regulators see supervision statistics")
    figures = await stats.supervision_figures(from_, to, get_settings().timezone)
    return SupervisionStats(figures=figures)
