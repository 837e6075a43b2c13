"""Announcements: the announcements domain's types and its root fields.

The root types in schema/root.py merge AnnouncementsQuery and AnnouncementsMutation
with the other domains'; each field declares who may call it (schema/permissions.py)
and hands the arguments to resolvers/announcements.py.
"""

from __future__ import annotations

import datetime as dt

import strawberry

from models import Announcement as AnnouncementRow
from models.enums import Role
from resolvers import announcements
from schema.context import Info
from schema.enums import AnnouncementKind
from schema.ids import encode_id
from schema.node import Node
from schema.pagination import Connection, to_connection
from schema.permissions import allow, anyone


@strawberry.type
class Announcement(Node):
    row: strawberry.Private[AnnouncementRow]

    @classmethod
    def of(cls, row: AnnouncementRow) -> Announcement:
        return cls(id=strawberry.ID(encode_id("Announcement", row.id)), row=row)

    @strawberry.field
    def kind(self) -> AnnouncementKind:
        return self.row.kind

    @strawberry.field
    def title(self) -> str:
        return self.row.title

    @strawberry.field
    def body(self) -> str:
        return self.row.body

    @strawberry.field
    def pinned(self) -> bool:
        return self.row.pinned

    @strawberry.field
    def published_at(self) -> dt.datetime:
        return self.row.published_at


@strawberry.input
class AnnouncementInput:
    kind: AnnouncementKind
    title: str
    body: str
    pinned: bool | None = False


@strawberry.type
class AnnouncementsQuery:
    @strawberry.field(description="Pinned first, then newest.", extensions=[anyone()])
    async def announcements(
        self,
        info: Info,
        kind: AnnouncementKind | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Announcement]:
        page = await announcements.announcements(
            info.context.principal, kind=kind, first=first, after=after
        )
        return to_connection(page, Announcement.of)


@strawberry.type
class AnnouncementsMutation:
    @strawberry.mutation(
        description="Regulators publish an announcement for everyone.",
        extensions=[allow(Role.REGULATOR)],
    )
    async def publish_announcement(self, info: Info, input: AnnouncementInput) -> Announcement:
        row = await announcements.publish_announcement(
            info.context.principal,
            kind=input.kind,
            title=input.title,
            body=input.body,
            pinned=bool(input.pinned),
        )
        return Announcement.of(row)
