"""Announcements: regulators publish, everyone reads them, pinned first, then newest.

Other tests publish announcements into the shared database too: these tests
tag their titles and check the order of everything they read.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from models import Announcement
from models.enums import Role
from tests.support import codes, data_of, gql, make_merchant, make_user, token_for

PUBLISH = """
mutation Publish($input: AnnouncementInput!) {
  publishAnnouncement(input: $input) { id kind title body pinned publishedAt }
}
"""
ANNOUNCEMENTS = """
query Announcements($kind: AnnouncementKind, $after: String) {
  announcements(kind: $kind, first: 100, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id kind title body pinned publishedAt } }
  }
}
"""


async def regulator_token() -> str:
    return token_for(await make_user(Role.REGULATOR))


def announcement(tag: str, title: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "kind": "NOTICE",
        "title": f"{tag} {title}",
        "body": "为保障消费者权益，预付卡资金纳入存管。",
    }
    values.update(overrides)
    return values


async def everything(client, kind: str | None = None, token: str | None = None) -> list[dict]:
    """Every announcement, page after page, as an anonymous reader (or `token`) sees them."""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = data_of(await gql(client, ANNOUNCEMENTS, {"kind": kind, "after": after}, token))
        connection = page["announcements"]
        nodes += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return nodes
        after = connection["pageInfo"]["endCursor"]


def assert_pinned_first_then_newest(nodes: list[dict[str, Any]]) -> None:
    keys = [(node["pinned"], dt.datetime.fromisoformat(node["publishedAt"])) for node in nodes]
    assert keys == sorted(keys, reverse=True)


async def test_regulator_publishes_and_anonymous_users_read_it(client):
    # Given a regulator
    regulator = await regulator_token()
    tag = uuid.uuid4().hex[:8]

    # When the regulator publishes an announcement
    values = announcement(tag, "关于预付卡资金存管的通知", kind="POLICY", pinned=True)
    published = data_of(await gql(client, PUBLISH, {"input": values}, regulator))[
        "publishAnnouncement"
    ]

    # Then it is published as given
    assert published["kind"] == "POLICY"
    assert published["title"] == values["title"]
    assert published["body"] == values["body"]
    assert published["pinned"] is True
    assert published["publishedAt"]

    # And anonymous users read it
    ours = [node for node in await everything(client) if tag in node["title"]]
    assert ours == [published]


async def test_unpinned_is_the_default(client):
    # Given a regulator
    regulator = await regulator_token()

    # When an announcement is published without saying whether it is pinned
    result = await gql(client, PUBLISH, {"input": announcement("默认", "不置顶")}, regulator)

    # Then it is not pinned
    assert data_of(result)["publishAnnouncement"]["pinned"] is False


async def test_pinned_first_then_newest_with_kind_filter(client, frozen_clock):
    # Given announcements published out of order in time, some pinned
    regulator = await make_user(Role.REGULATOR)
    tag = uuid.uuid4().hex[:8]
    # In the past: a pinned announcement dated ahead of the real clock would sort before
    # everything later tests publish, in the database they all share.
    start = frozen_clock.current - dt.timedelta(hours=1)
    for title, pinned, minutes, kind in (
        ("older pinned", True, 1, "POLICY"),
        ("newest", False, 5, "NOTICE"),
        ("newer pinned", True, 2, "RISK_WARNING"),
        ("oldest", False, 0, "RISK_WARNING"),
        ("middle", False, 3, "NOTICE"),
    ):
        frozen_clock.current = start + dt.timedelta(minutes=minutes)
        values = announcement(tag, title, kind=kind, pinned=pinned)
        data_of(await gql(client, PUBLISH, {"input": values}, token_for(regulator)))

    # When anyone reads them
    nodes = await everything(client)
    warnings = await everything(client, "RISK_WARNING")

    # Then pinned ones come first, each group newest first (not in order of publication)
    ours = [node["title"].removeprefix(f"{tag} ") for node in nodes if tag in node["title"]]
    assert ours == ["newer pinned", "older pinned", "newest", "middle", "oldest"]
    assert_pinned_first_then_newest(nodes)

    # And the kind filter keeps that kind only, in the same order
    assert {node["kind"] for node in warnings} == {"RISK_WARNING"}
    assert [node["title"].removeprefix(f"{tag} ") for node in warnings if tag in node["title"]] == [
        "newer pinned",
        "oldest",
    ]
    assert_pinned_first_then_newest(warnings)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"title": ""}, id="empty title"),
        pytest.param({"title": "   "}, id="blank title"),
        pytest.param({"title": "题" * 201}, id="title too long"),
        pytest.param({"body": ""}, id="empty body"),
        pytest.param({"kind": "GOSSIP"}, id="unknown kind"),
    ],
)
async def test_bad_announcement_is_bad_input(client, overrides):
    # Given a regulator
    regulator = await regulator_token()
    body = f"正文 {uuid.uuid4().hex}"

    # When an announcement with one bad field is published
    values = announcement("坏", "标题", body=body)
    values.update(overrides)
    result = await gql(client, PUBLISH, {"input": values}, regulator)

    # Then it is refused as bad input and nothing is published
    assert codes(result) in (["BAD_USER_INPUT"], ["GRAPHQL_VALIDATION_FAILED"])
    if "kind" not in overrides:
        assert codes(result) == ["BAD_USER_INPUT"]
    assert not await Announcement.exists(body=values["body"])


async def test_only_regulators_publish(client):
    # Given a consumer, a merchant owner and an anonymous user
    consumer = token_for(await make_user(Role.CONSUMER))
    merchant = (await make_merchant()).token
    body = f"越权发布 {uuid.uuid4().hex}"
    values = announcement("越权", "通知", body=body, pinned=True)

    # When each tries to publish
    results = [
        (await gql(client, PUBLISH, {"input": values}), "UNAUTHENTICATED"),
        (await gql(client, PUBLISH, {"input": values}, consumer), "FORBIDDEN"),
        (await gql(client, PUBLISH, {"input": values}, merchant), "FORBIDDEN"),
    ]

    # Then they are refused and nothing is published
    for result, code in results:
        assert codes(result) == [code]
    assert not await Announcement.exists(body=body)
