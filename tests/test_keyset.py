"""Newest-first feeds page by keyset: rows inserted while a client pages are neither skipped
nor repeated, ties on the sort key included (services/pagination.py)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from core.errors import BadInput
from models import Announcement
from models.enums import AnnouncementKind
from services.pagination import newest_first, page_of
from tests.support import data_of, gql

from .test_announcements import ANNOUNCEMENTS, PUBLISH, announcement, regulator_token

FEED = newest_first("pinned", "published_at")
START = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


async def _rows(tag: str, count: int, *, pinned_every: int = 4) -> list[Announcement]:
    """Rows whose times repeat (three share each minute), so ties are broken by id."""
    return [
        await Announcement.create(
            kind=AnnouncementKind.NOTICE,
            title=f"{tag} {index}",
            body="正文",
            pinned=index % pinned_every == 0,
            published_at=START + dt.timedelta(minutes=index // 3),
        )
        for index in range(count)
    ]


def _expected(rows: list[Announcement]) -> list[int]:
    ordered = sorted(rows, key=lambda row: (row.pinned, row.published_at, row.id), reverse=True)
    return [row.id for row in ordered]


async def _walk(scope, feed, size: int, tag: str) -> tuple[list[int], int]:
    """Every page in turn; before each next page a newer row arrives (every other one pinned).
    The ids read, and how many rows arrived."""
    seen: list[int] = []
    after = None
    newer = 0
    while True:
        page = await page_of(scope, feed, size, after)
        seen += [row.id for row in page.items]
        assert page.has_previous is (after is not None)
        if not page.has_next:
            return seen, newer
        after = page.cursors[-1]
        newer += 1
        await Announcement.create(
            kind=AnnouncementKind.NOTICE,
            title=f"{tag} newer {newer}",
            body="正文",
            pinned=newer % 2 == 0,
            published_at=START + dt.timedelta(days=1, minutes=newer),
        )


@pytest.mark.parametrize("size", [1, 2, 5, 7])
async def test_rows_inserted_between_pages_are_neither_skipped_nor_repeated(database, size):
    tag = uuid.uuid4().hex[:8]
    rows = await _rows(tag, 23)
    scope = Announcement.filter(title__startswith=tag)
    # Newest first by time alone (transactions, complaints, alerts, the audit trail): what
    # arrives is newer than every row read, so the walk reads exactly the rows there were.
    seen, _ = await _walk(scope, newest_first("published_at"), size, tag)
    by_time = sorted(rows, key=lambda row: (row.published_at, row.id), reverse=True)
    assert seen == [row.id for row in by_time]


@pytest.mark.parametrize("size", [1, 2, 5, 7])
async def test_pinned_first_reads_each_row_once_with_arrivals_after_the_cursor(database, size):
    tag = uuid.uuid4().hex[:8]
    rows = await _rows(tag, 23)
    scope = Announcement.filter(title__startswith=tag)
    # Pinned first: a newer unpinned row sorts after the pinned ones a reader may be on, so
    # it is read once, in its place; the rows that were there are each read once, in order.
    seen, newer = await _walk(scope, FEED, size, tag)
    assert len(seen) == len(set(seen))
    assert [id_ for id_ in seen if id_ in {row.id for row in rows}] == _expected(rows)
    everything = _expected(await scope)
    assert seen == [id_ for id_ in everything if id_ in set(seen)]
    assert (await page_of(scope, FEED, 0, None)).total == len(rows) + newer


async def test_a_row_deleted_between_pages_does_not_shift_the_next_page(database):
    tag = uuid.uuid4().hex[:8]
    rows = await _rows(tag, 10)
    scope = Announcement.filter(title__startswith=tag)
    first = await page_of(scope, FEED, 4, None)
    await Announcement.filter(id=first.items[0].id).delete()
    second = await page_of(scope, FEED, 4, first.cursors[-1])
    assert [row.id for row in second.items] == _expected(rows)[4:8]


async def test_filters_given_as_none_are_not_applied(database):
    tag = uuid.uuid4().hex[:8]
    rows = await _rows(tag, 6)
    scope = Announcement.filter(title__startswith=tag)
    everything = await page_of(scope, FEED, 100, None, {"pinned": None})
    pinned = await page_of(scope, FEED, 100, None, {"pinned": True})
    assert [row.id for row in everything.items] == _expected(rows)
    assert [row.id for row in pinned.items] == _expected([row for row in rows if row.pinned])


@pytest.mark.parametrize(
    "cursor",
    [
        "b2Zmc2V0OjM=",  # an offset cursor ("offset:3") on a feed
        "a2V5c2V0Olsx",  # "keyset:[1" (not JSON)
        "a2V5c2V0OlsxLDJd",  # "keyset:[1,2]" (two keys where the feed has three)
        "a2V5c2V0Olt0cnVlLCJub3QgYSB0aW1lIiwxXQ==",  # a time that is not one
        "a2V5c2V0Olt0cnVlLG51bGwsMV0=",  # null where a time goes
    ],
)
async def test_a_cursor_this_feed_did_not_give_out_is_bad_input(database, cursor):
    with pytest.raises(BadInput):
        await page_of(Announcement.all(), FEED, 5, cursor)


async def test_the_announcements_feed_pages_by_keyset_through_the_api(client):
    """The same through GraphQL: a regulator publishes while an anonymous reader pages."""
    token = await regulator_token()
    tag = uuid.uuid4().hex[:8]
    for index in range(5):
        data_of(await gql(client, PUBLISH, {"input": announcement(tag, f"old {index}")}, token))
    before = await _titles(client, tag)
    seen: list[str] = []
    after = None
    while True:
        page = data_of(
            await gql(
                client,
                ANNOUNCEMENTS.replace("first: 100", "first: 2"),
                {"kind": "NOTICE", "after": after},
            )
        )["announcements"]
        seen += [
            edge["node"]["title"] for edge in page["edges"] if edge["node"]["title"].startswith(tag)
        ]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        # Pinned and newest: it sorts before every row read so far.
        fresh = announcement(tag, f"new {len(seen)}", pinned=True)
        data_of(await gql(client, PUBLISH, {"input": fresh}, token))
    assert seen == before


async def _titles(client, tag: str) -> list[str]:
    page = data_of(await gql(client, ANNOUNCEMENTS, {"kind": "NOTICE", "after": None}))
    return [
        edge["node"]["title"]
        for edge in page["announcements"]["edges"]
        if edge["node"]["title"].startswith(tag)
    ]
