"""GraphiQL works without internet: its page loads every script and style from this server."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from server import create_app
from settings import MIN_JWT_SECRET_BYTES, Settings

BASE_URL = "http://anfu.test"
PAGE_URL = f"{BASE_URL}/graphql"
# What a browser fetches from a stylesheet: @import targets and url(...) values.
CSS_FETCHES = re.compile(r"""@import\s+(?:url\()?\s*['"]?([^'")\s;]+)|url\(\s*['"]?([^'")]+)""")


class References(HTMLParser):
    """Every src and href in a page, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def references(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    return parser.urls


def fetched_from_here(url: str) -> bool:
    """A relative URL, one on this server, or inline data: never another host."""
    parts = urlsplit(urljoin(PAGE_URL, url))
    return parts.scheme == "data" or parts.netloc == urlsplit(BASE_URL).netloc


async def get(settings: Settings, url: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(settings, manage_database=False))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        return await http.get(url, headers=headers)


@pytest.fixture(scope="module")
async def page() -> httpx.Response:
    return await get(Settings(), "/graphql", Accept="text/html")


def test_the_page_names_no_outside_host(page):
    urls = references(page.text)

    assert page.status_code == 200
    assert "GraphiQL" in page.text
    # React, ReactDOM, js-cookie, GraphiQL's script and style, the explorer's script and style
    assert len([url for url in urls if not url.startswith("data:")]) == 7
    assert [url for url in urls if not fetched_from_here(url)] == []
    assert "integrity=" not in page.text


async def test_every_asset_the_page_names_is_served(page):
    for url in references(page.text):
        if url.startswith("data:"):
            continue

        response = await get(Settings(), urljoin(PAGE_URL, url))

        assert response.status_code == 200, url
        assert len(response.content) > 500, url
        expected = "text/css" if url.endswith(".css") else "javascript"
        assert expected in response.headers["content-type"], url
        if url.endswith(".css"):
            fetched = [a or b for a, b in CSS_FETCHES.findall(response.text)]
            assert [target for target in fetched if not fetched_from_here(target)] == [], url


async def test_production_serves_no_graphiql_assets(page):
    asset = next(url for url in references(page.text) if url.endswith(".js"))
    production = Settings(anfu_env="production", anfu_jwt_secret="s" * MIN_JWT_SECRET_BYTES)

    response = await get(production, urljoin(PAGE_URL, asset))

    assert response.status_code == 404
