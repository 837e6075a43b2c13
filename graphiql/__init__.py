"""GraphiQL (development only) served entirely by this server, so it works on networks without
internet: strawberry's page with the scripts and styles it took from a public CDN vendored in
`assets/` and mounted at ASSETS_PATH. LICENSES.txt says where each file comes from.

To move to newer versions: take strawberry's static/graphiql.html again, fetch the files it
names (`npm pack <package>@<version>`), check them against its integrity values, and point
page.html at `graphiql-assets/<file>` (relative, so a path prefix in front of the app works).
"""

from __future__ import annotations

import functools
from pathlib import Path

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

HERE = Path(__file__).resolve().parent
ASSETS_PATH = "/graphiql-assets"


@functools.cache
def page_html() -> str:
    return (HERE / "page.html").read_text(encoding="utf-8")


def assets_route() -> Mount:
    return Mount(ASSETS_PATH, app=StaticFiles(directory=HERE / "assets"), name="graphiql-assets")
